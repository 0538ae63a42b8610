package blas

import (
	"math"
	"math/rand/v2"
	"testing"
)

func naive(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var x, y float64
				if transA {
					x = a[p*lda+i]
				} else {
					x = a[i*lda+p]
				}
				if transB {
					y = b[j*ldb+p]
				} else {
					y = b[p*ldb+j]
				}
				s += x * y
			}
			c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
		}
	}
}

// TestGemm checks every transpose combination, in both precisions, against a
// naive triple loop, including padded leading dimensions and k = 0.
func TestGemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ m, n, k int }{{1, 1, 1}, {7, 5, 3}, {33, 17, 65}, {4, 6, 0}} {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				m, n, k := tc.m, tc.n, tc.k
				ar, ac := m, k
				if ta {
					ar, ac = k, m
				}
				br, bc := k, n
				if tb {
					br, bc = n, k
				}
				lda, ldb, ldc := ac+2, bc+1, n+3
				a, b, c := randn(rng, max(ar*lda, 1)), randn(rng, max(br*ldb, 1)), randn(rng, m*ldc)
				want := append([]float64(nil), c...)
				naive(ta, tb, m, n, k, 0.7, a, lda, b, ldb, 0.3, want, ldc)
				got := append([]float64(nil), c...)
				Gemm(ta, tb, m, n, k, 0.7, a, lda, b, ldb, 0.3, got, ldc)
				a32, b32, c32 := f32(a), f32(b), f32(c)
				Gemm(ta, tb, m, n, k, float32(0.7), a32, lda, b32, ldb, float32(0.3), c32, ldc)
				for i := range want {
					if math.Abs(got[i]-want[i]) > 1e-12 {
						t.Fatalf("dgemm %v ta=%v tb=%v: c[%d]=%v want %v", tc, ta, tb, i, got[i], want[i])
					}
					if math.Abs(float64(c32[i])-want[i]) > 1e-4*(1+math.Abs(want[i])) {
						t.Fatalf("sgemm %v ta=%v tb=%v: c[%d]=%v want %v", tc, ta, tb, i, c32[i], want[i])
					}
				}
			}
		}
	}
}

func f32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// randn returns n N(0,1) values.
func randn(rng *rand.Rand, n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	return x
}
