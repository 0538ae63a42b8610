package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// TestSpmmEpBits checks the product with the fused row epilogue (bias start,
// residual add, ReLU) against the unfused passes it replaces (bias fill,
// spmm, epilogue pass): the same bits, in Go and (where built) AVX2 assembly,
// for every tile width, ragged tails, the blocked passes (k > 2*kBlock),
// empty rows and columns and fully sparse matrices, on column and row
// sub-ranges; and against a float64 reference to float32 tolerance.
func TestSpmmEpBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, rows := range []int{1, 6, 13} {
		for _, k := range []int{1, 9, 70, 1300} {
			for _, n := range []int{1, 7, 8, 40, 64, 99, 203} {
				if k == 1300 && n != 99 && n != 203 {
					continue
				}
				for _, sp := range []float64{0, 0.5, 0.9, 1} {
					for _, empty := range []bool{false, true} {
						w, s, val := randomSparse(t, rng, rows, k, sp, empty)
						ldb, ldc := n+3, n+5
						b := make([]float32, k*ldb)
						for i := range b {
							b[i] = float32(rng.NormFloat64())
						}
						bias := make([]float32, rows)
						for i := range bias {
							bias[i] = float32(rng.NormFloat64())
						}
						res := make([]float32, rows*ldc)
						for i := range res {
							res[i] = float32(rng.NormFloat64())
						}
						for _, mode := range []struct{ res, relu bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
							for _, asm := range []bool{false, haveAVX2} {
								name := fmt.Sprintf("rows %d k %d n %d sparsity %.1f empty %v res %v relu %v asm %v",
									rows, k, n, sp, empty, mode.res, mode.relu, asm)
								// Unfused: bias fill, product, epilogue pass.
								want := make([]float32, rows*ldc)
								for r := 0; r < rows; r++ {
									for j := 0; j < n; j++ {
										want[r*ldc+j] = bias[r]
									}
								}
								// The same column pieces as the fused run below (the
								// tiles an element goes through, FMA or not, depend on them).
								mid, rm := n/2, rows/2
								for _, cc := range [][2]int{{0, mid}, {mid, n}} {
									spmm(asm, &s.fwd, val, 0, rows, b, ldb, want, ldc, cc[0], cc[1])
								}
								ep := &epilogue[float32]{relu: mode.relu}
								if mode.res {
									ep.res = res
								}
								for r := 0; r < rows; r++ {
									ep.apply(want, r*ldc, n)
								}
								// Fused, in pieces: columns [0, mid) and [mid, n), rows [0, rm) and [rm, rows).
								got := make([]float32, rows*ldc)
								for i := range got {
									got[i] = float32(math.NaN()) // must all be overwritten
								}
								for _, rr := range [][2]int{{0, rm}, {rm, rows}} {
									re := &rowEp[float32]{bias: bias[rr[0]:rr[1]], relu: mode.relu}
									if mode.res {
										re.res = res[rr[0]*ldc:]
									}
									for _, cc := range [][2]int{{0, mid}, {mid, n}} {
										spmmEp(asm, &s.fwd, val, rr[0], rr[1], b, ldb, got[rr[0]*ldc:], ldc, cc[0], cc[1], re)
									}
								}
								for r := 0; r < rows; r++ {
									for j := 0; j < n; j++ {
										i := r*ldc + j
										if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
											t.Fatalf("%s: element (%d,%d) = %g, unfused %g", name, r, j, got[i], want[i])
										}
										// Independent float64 reference.
										acc := float64(bias[r])
										for q := 0; q < k; q++ {
											acc += float64(w[r*k+q]) * float64(b[q*ldb+j])
										}
										if mode.res {
											acc += float64(res[i])
										}
										if mode.relu {
											acc = max(acc, 0)
										}
										if d := math.Abs(float64(got[i]) - acc); d > 1e-4*(1+math.Abs(acc)) {
											t.Fatalf("%s: element (%d,%d) = %g, float64 reference %g", name, r, j, got[i], acc)
										}
									}
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestSpmmRows64Bits checks the assembly loop over rows (spmmRows64AVX2, with
// and without prefetching) against one spmmTile64EpAVX2 call per row: the
// same bits, with and without bias, residual and ReLU, including empty rows
// and a fully sparse matrix.
func TestSpmmRows64Bits(t *testing.T) {
	if !haveAVX2 {
		t.Skip("no AVX2 kernels in this build")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, sp := range []float64{0, 0.9, 1} {
		for _, empty := range []bool{false, true} {
			rows, k, n := 11, 50, 192
			_, s, val := randomSparse(t, rng, rows, k, sp, empty)
			ldb, ldc := n+4, n+12
			b := make([]float32, k*ldb)
			bias := make([]float32, rows)
			res := make([]float32, rows*ldc)
			c0 := make([]float32, rows*ldc)
			for _, v := range [][]float32{b, bias, res, c0} {
				for i := range v {
					v[i] = float32(rng.NormFloat64())
				}
			}
			for mode := 0; mode < 8; mode++ {
				useBias, useRes, relu := mode&1 != 0, mode&2 != 0, mode>>2
				want, got := append([]float32(nil), c0...), append([]float32(nil), c0...)
				for j := 0; j+64 <= n; j += 64 {
					for r := 0; r < rows; r++ {
						p0, p1 := s.fwd.ptr[r], s.fwd.ptr[r+1]
						var vp *float32
						var cp *int32
						if p0 < p1 {
							vp, cp = &val[p0], &s.fwd.col[p0]
						}
						var bp, rp *float32
						if useBias {
							bp = &bias[r]
						}
						if useRes {
							rp = &res[r*ldc+j]
						}
						spmmTile64EpAVX2(&want[r*ldc+j], vp, cp, int(p1-p0), &b[j], ldb, bp, rp, relu)
					}
					var vp *float32
					var cp *int32
					if len(val) > 0 {
						vp, cp = &val[0], &s.fwd.col[0]
					}
					var bp, rp *float32
					if useBias {
						bp = &bias[0]
					}
					if useRes {
						rp = &res[j]
					}
					var pf, pfEnd uintptr
					if j+64 < n {
						pf, pfEnd = uintptr(unsafe.Pointer(&b[j+64])), uintptr(unsafe.Pointer(&b[(k-1)*ldb+j+64]))+1
					}
					spmmRows64AVX2(&got[j], ldc, &s.fwd.ptr[0], 1, rows, vp, cp, &b[j], ldb, bp, rp, relu, pf, pfEnd, 5)
				}
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("sparsity %.1f empty %v mode %d: element %d = %g, per-row tiles %g", sp, empty, mode, i, got[i], want[i])
					}
				}
			}
		}
	}
}
