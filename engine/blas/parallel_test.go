package blas

import (
	"math/rand/v2"
	"testing"
)

// TestGemmParallel checks that the split gemm agrees with the single call (to
// rounding: the kernels' edge handling may differ) for every transpose
// combination, splitting rows and columns.
func TestGemmParallel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct{ m, n, k int }{{300, 70, 200}, {40, 500, 150}, {130, 129, 131}} {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				m, n, k := tc.m, tc.n, tc.k
				lda, ldb := k, n
				if ta {
					lda = m
				}
				if tb {
					ldb = k
				}
				a := make([]float32, m*k)
				b := make([]float32, k*n)
				c := make([]float32, m*n)
				for i := range a {
					a[i] = float32(rng.NormFloat64())
				}
				for i := range b {
					b[i] = float32(rng.NormFloat64())
				}
				for i := range c {
					c[i] = float32(rng.NormFloat64())
				}
				want := append([]float32(nil), c...)
				Gemm(ta, tb, m, n, k, 1.5, a, lda, b, ldb, 0.5, want, n)
				for _, th := range []int{2, 3} {
					got := append([]float32(nil), c...)
					GemmParallel(th, ta, tb, m, n, k, 1.5, a, lda, b, ldb, 0.5, got, n)
					for i := range want {
						d := got[i] - want[i]
						if d > 1e-4 || d < -1e-4 {
							t.Fatalf("%v ta=%v tb=%v threads=%d: c[%d]=%v want %v", tc, ta, tb, th, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}
