// Package blas holds the engine's matrix-multiply kernel: OpenBLAS through cgo
// when built with the openblas tag (the Makefile adds it when Debian's
// libopenblas-dev is installed), and gonum's pure-Go BLAS otherwise.
package blas

// Float is the set of element types Gemm accepts.
type Float interface {
	~float32 | ~float64
}

// Gemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices, where op(X)
// is X or its transpose; op(A) is m x k, op(B) is k x n and C is m x n, with leading
// dimensions lda, ldb and ldc.
func Gemm[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	switch av := any(a).(type) {
	case []float32:
		sgemm(transA, transB, m, n, k, float32(alpha), av, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		dgemm(transA, transB, m, n, k, float64(alpha), av, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	default:
		panic("blas: Gemm needs []float32 or []float64 slices")
	}
}
