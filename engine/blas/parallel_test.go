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

// TestGemmLarge checks products large enough to be split into small-kernel
// pieces (see smallPieces) against the naive loop, in float32.
func TestGemmLarge(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		ta, tb  bool
		m, n, k int
	}{
		{false, false, 16, 1024, 144}, {false, false, 100, 40, 600}, {true, false, 150, 260, 32},
		{false, true, 150, 16, 1024}, {true, true, 90, 120, 100},
	} {
		m, n, k := tc.m, tc.n, tc.k
		lda, ldb := k, n
		if tc.ta {
			lda = m
		}
		if tc.tb {
			ldb = k
		}
		a, b, c := randn(rng, m*k), randn(rng, k*n), randn(rng, m*n)
		want := append([]float64(nil), c...)
		naive(tc.ta, tc.tb, m, n, k, 0.5, a, lda, b, ldb, 0.25, want, n)
		got := f32(c)
		Gemm(tc.ta, tc.tb, m, n, k, float32(0.5), f32(a), lda, f32(b), ldb, float32(0.25), got, n)
		for i := range want {
			if d := float64(got[i]) - want[i]; d > 1e-3 || d < -1e-3 {
				t.Fatalf("%+v: c[%d]=%v want %v", tc, i, got[i], want[i])
			}
		}
	}
}

// TestSmallPieces checks the block sizes stay within the small-kernel size and
// cover the product.
func TestSmallPieces(t *testing.T) {
	for _, tc := range []struct {
		tb      bool
		m, n, k int
	}{{false, 16, 1024, 144}, {false, 64, 64, 576}, {true, 144, 16, 1024}, {true, 288, 32, 256}, {false, 4000, 4000, 4000}, {false, 10, 10, 10}} {
		pm, pn := smallPieces(tc.tb, tc.m, tc.n, tc.k)
		if pm < 1 || pn < 1 || pm > tc.m || pn > tc.n {
			t.Fatalf("%+v: pieces %d x %d", tc, pm, pn)
		}
		if (pm < tc.m || pn < tc.n) && pm*pn*tc.k > smallMNK {
			t.Fatalf("%+v: split into %d x %d pieces above the small size", tc, pm, pn)
		}
	}
}
