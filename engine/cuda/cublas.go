package cuda

import (
	"fmt"
	"time"
)

type cublasAPI struct {
	file          string
	cublasCreate  func(h *uintptr) result
	cublasDestroy func(h uintptr) result
	cublasSgemm   func(h uintptr, ta, tb, m, n, k int32, alpha *float32, a uint64, lda int32, b uint64, ldb int32, beta *float32, c uint64, ldc int32) result
	// cublasSgemmStridedBatched is nil when the library lacks it.
	cublasSgemmStridedBatched func(h uintptr, ta, tb, m, n, k int32, alpha *float32, a uint64, lda int32, sa int64, b uint64, ldb int32, sb int64, beta *float32, c uint64, ldc int32, sc int64, count int32) result
}

func loadCublas(s Search) (*cublasAPI, error) {
	h, file, err := s.open(cublasLib)
	if err != nil {
		return nil, err
	}
	c := &cublasAPI{file: file}
	for _, e := range []struct {
		name string
		f    any
	}{{"cublasCreate_v2", &c.cublasCreate}, {"cublasDestroy_v2", &c.cublasDestroy}, {"cublasSgemm_v2", &c.cublasSgemm}} {
		if err := sym(h, file, e.name, e.f); err != nil {
			return nil, err
		}
	}
	if sym(h, file, "cublasSgemmStridedBatched", &c.cublasSgemmStridedBatched) != nil {
		c.cublasSgemmStridedBatched = nil
	}
	return c, nil
}

const (
	opN = 0 // CUBLAS_OP_N
	opT = 1 // CUBLAS_OP_T
)

// Gemm computes C = alpha * op(A) op(B) + beta * C on row-major matrices:
// op(A) is [m, k], op(B) is [k, n], C is [m, n]; transA / transB say A is
// stored [k, m] / B is [n, k]. cuBLAS is column-major, so it computes the
// transposed product C^T = op(B)^T op(A)^T.
func (dv *Device) Gemm(transA, transB bool, m, n, k int, alpha float32, a, b *Buffer, beta float32, c *Buffer) error {
	if a.host != nil || b.host != nil || c.host != nil {
		return fmt.Errorf("cuda: gemm on a host buffer")
	}
	if a.n < m*k || b.n < k*n || c.n < m*n {
		return fmt.Errorf("cuda: gemm %dx%dx%d on buffers of %d, %d, %d values", m, n, k, a.n, b.n, c.n)
	}
	unlock, err := dv.bind()
	if err != nil {
		return err
	}
	defer unlock()
	if err := dv.blasHandle(); err != nil {
		return err
	}
	ta, lda := int32(opN), int32(k)
	if transA {
		ta, lda = opT, int32(m)
	}
	tb, ldb := int32(opN), int32(n)
	if transB {
		tb, ldb = opT, int32(k)
	}
	start := time.Now()
	if r := dv.blas.cublasSgemm(dv.blasH, tb, ta, int32(n), int32(m), int32(k), &alpha, b.ptr, ldb, a.ptr, lda, &beta, c.ptr, int32(n)); r != 0 {
		return fmt.Errorf("cuda: cublasSgemm %dx%dx%d: status %d", m, n, k, r)
	}
	kind := "sgemm " + opName(transA) + opName(transB)
	return dv.afterLaunch(fmt.Sprintf("cublasSgemm %dx%dx%d", m, n, k), kind, start)
}

// blasHandle creates the device's cuBLAS handle at first use (the caller
// holds the device's thread).
func (dv *Device) blasHandle() error {
	if dv.blasH == 0 {
		if r := dv.blas.cublasCreate(&dv.blasH); r != 0 {
			return fmt.Errorf("cuda: cublasCreate: status %d", r)
		}
	}
	return nil
}

func opName(trans bool) string {
	if trans {
		return "T"
	}
	return "N"
}

// HasStridedBatched reports whether cuBLAS has cublasSgemmStridedBatched.
func (dv *Device) HasStridedBatched() bool { return dv.blas.cublasSgemmStridedBatched != nil }

// GemmWeightSlices computes, for s = 0..count-1, work[s] [m, n] = dy[:, s*chunk:(s+1)*chunk]
// x col[:, s*chunk:(s+1)*chunk]^T, where dy is row-major [m, ld] and col
// row-major [n, ld]: one strided-batched GEMM whose count partial weight
// gradients a fixed-order sum then adds (a deterministic split-K).
func (dv *Device) GemmWeightSlices(m, n, chunk, ld, count int, dy, col, work *Buffer) error {
	if dv.blas.cublasSgemmStridedBatched == nil {
		return fmt.Errorf("cuda: %s has no cublasSgemmStridedBatched", dv.blas.file)
	}
	if dy.host != nil || col.host != nil || work.host != nil {
		return fmt.Errorf("cuda: gemm on a host buffer")
	}
	if count*chunk > ld || dy.n < m*ld || col.n < n*ld || work.n < count*m*n {
		return fmt.Errorf("cuda: weight slices %dx%d, %d x %d of %d, on buffers of %d, %d, %d values", m, n, count, chunk, ld, dy.n, col.n, work.n)
	}
	unlock, err := dv.bind()
	if err != nil {
		return err
	}
	defer unlock()
	if err := dv.blasHandle(); err != nil {
		return err
	}
	alpha, beta := float32(1), float32(0)
	start := time.Now()
	// Column-major: work_s^T [n, m] = col_s (as [chunk, n], ld) ^T x dy_s (as [chunk, m], ld).
	if r := dv.blas.cublasSgemmStridedBatched(dv.blasH, opT, opN, int32(n), int32(m), int32(chunk), &alpha,
		col.ptr, int32(ld), int64(chunk), dy.ptr, int32(ld), int64(chunk), &beta, work.ptr, int32(n), int64(m*n), int32(count)); r != 0 {
		return fmt.Errorf("cuda: cublasSgemmStridedBatched %dx%dx%d x%d: status %d", m, n, chunk, count, r)
	}
	return dv.afterLaunch(fmt.Sprintf("cublasSgemmStridedBatched %dx%dx%d x%d", m, n, chunk, count), "sgemm strided NT", start)
}
