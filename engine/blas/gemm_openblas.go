//go:build cgo && openblas

package blas

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
char* openblas_get_corename(void);
*/
import "C"

import (
	"strings"
	"sync"
	"unsafe"
)

// Impl names the BLAS implementation this binary was built with.
const Impl = "openblas"

// The engine parallelises in Go (GemmParallel, and kernels that run one
// single-threaded Gemm per goroutine), so OpenBLAS starts single-threaded;
// threaded OpenBLAS called from several goroutines would oversubscribe the cores.
func init() { C.openblas_set_num_threads(1) }

// SetThreads sets the number of threads OpenBLAS uses (process-wide, as OpenBLAS
// keeps it in the library). The engine's kernels expect 1, the default set at
// start; raise it only for code that calls Gemm from a single goroutine.
func SetThreads(n int) {
	if n < 1 {
		n = 1
	}
	C.openblas_set_num_threads(C.int(n))
}

func trans(t bool) C.enum_CBLAS_TRANSPOSE {
	if t {
		return C.CblasTrans
	}
	return C.CblasNoTrans
}

// smallKernels reports whether OpenBLAS runs with an AVX-512 core type whose
// sgemm has "small matrix" kernels (no packing; used for M*N*K <= 1e6), which
// are up to 1.7x faster than the packed path on conv-shaped products.
var smallKernels = sync.OnceValue(func() bool {
	name := strings.ToLower(C.GoString(C.openblas_get_corename()))
	for _, c := range []string{"skylakex", "cooperlake", "sapphirerapids"} {
		if strings.Contains(name, c) {
			return true
		}
	}
	return false
})

func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if k == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	pm, pn := m, n
	if smallKernels() {
		pm, pn = smallPieces(transB, m, n, k)
	}
	for i := 0; i < m; i += pm {
		for j := 0; j < n; j += pn {
			aOff, bOff := i*lda, j
			if transA {
				aOff = i
			}
			if transB {
				bOff = j * ldb
			}
			sgemmCall(transA, transB, min(pm, m-i), min(pn, n-j), k, alpha, a[aOff:], lda, b[bOff:], ldb, beta, c[i*ldc+j:], ldc)
		}
	}
}

func sgemmCall(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	C.cblas_sgemm(C.CblasRowMajor, trans(transA), trans(transB), C.blasint(m), C.blasint(n), C.blasint(k),
		C.float(alpha), (*C.float)(unsafe.Pointer(&a[0])), C.blasint(lda),
		(*C.float)(unsafe.Pointer(&b[0])), C.blasint(ldb),
		C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.blasint(ldc))
}

func dgemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	if k == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	C.cblas_dgemm(C.CblasRowMajor, trans(transA), trans(transB), C.blasint(m), C.blasint(n), C.blasint(k),
		C.double(alpha), (*C.double)(unsafe.Pointer(&a[0])), C.blasint(lda),
		(*C.double)(unsafe.Pointer(&b[0])), C.blasint(ldb),
		C.double(beta), (*C.double)(unsafe.Pointer(&c[0])), C.blasint(ldc))
}
