package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// randomPattern returns a rows x cols weight whose entries are kept with
// probability 1-sparsity, with every third row and the second column emptied
// when empty is set.
func randomPattern(rng *rand.Rand, rows, cols int, sparsity float64, empty bool) (w, mask []float32) {
	w = make([]float32, rows*cols)
	mask = make([]float32, rows*cols)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
		if rng.Float64() >= sparsity {
			mask[i] = 1
		}
		r, c := i/cols, i%cols
		if empty && (r%3 == 1 || c == 1) {
			mask[i] = 0
		}
	}
	return w, mask
}

// TestSpmm checks the CSR x dense product, in Go and (where built) AVX2
// assembly, against a naive dense product with the masked weight on shapes
// that exercise every tile width, ragged tails, empty rows and columns, and
// fully sparse matrices, for row and column sub-ranges.
func TestSpmm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, rows := range []int{1, 5, 17} {
		for _, k := range []int{1, 9, 40, 1500} {
			for _, n := range []int{1, 7, 8, 33, 64, 100, 203} {
				if k == 1500 && n != 100 {
					continue // the blocked passes (k > 2*kBlock): one width
				}
				for _, sp := range []float64{0, 0.5, 0.9, 1} {
					for _, empty := range []bool{false, true} {
						w, s, val := randomSparse(t, rng, rows, k, sp, empty)
						ldb, ldc := n+3, n+5
						b := make([]float32, k*ldb)
						for i := range b {
							b[i] = float32(rng.NormFloat64())
						}
						c0 := make([]float32, rows*ldc)
						for i := range c0 {
							c0[i] = float32(rng.NormFloat64())
						}
						want := append([]float32(nil), c0...)
						for r := 0; r < rows; r++ {
							for j := 1; j < n; j++ {
								var acc float64
								for q := 0; q < k; q++ {
									acc += float64(w[r*k+q]) * float64(b[q*ldb+j])
								}
								want[r*ldc+j] += float32(acc)
							}
						}
						for _, asm := range []bool{false, haveAVX2} {
							name := fmt.Sprintf("rows %d k %d n %d sparsity %.1f empty %v asm %v", rows, k, n, sp, empty, asm)
							c := append([]float32(nil), c0...)
							// Columns [1, n) in two pieces, rows in two pieces.
							mid, rm := 1+(n-1)/2, rows/2
							for _, rr := range [][2]int{{0, rm}, {rm, rows}} {
								for _, cc := range [][2]int{{1, mid}, {mid, n}} {
									spmm(asm, &s.fwd, val, rr[0], rr[1], b, ldb, c[rr[0]*ldc:], ldc, cc[0], cc[1])
								}
							}
							for i := range c {
								if d := math.Abs(float64(c[i] - want[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
									t.Fatalf("%s: element %d = %g, want %g", name, i, c[i], want[i])
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestSparseWeightPattern checks both CSR forms of a grouped pattern against
// the mask, and the errors for a mismatched mask and bad groups.
func TestSparseWeightPattern(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	w, mask := randomPattern(rng, 6, 12, 0.6, true)
	s, err := NewSparseWeight("w", FromSlice(w, 6, 3, 2, 2), mask, 2)
	if err != nil {
		t.Fatal(err)
	}
	nnz := 0
	for _, m := range mask {
		if m != 0 {
			nnz++
		}
	}
	if s.NNZ() != nnz || s.bwd.nnz() != nnz {
		t.Fatalf("nnz %d / %d, want %d", s.NNZ(), s.bwd.nnz(), nnz)
	}
	if got, want := s.Sparsity(), 1-float64(nnz)/72; got != want {
		t.Fatalf("sparsity %g, want %g", got, want)
	}
	// Every transposed entry (row gi*kg+j, column ol) is weight (gi*3+ol, j).
	for r := 0; r < s.bwd.rows; r++ {
		gi, j := r/12, r%12
		for k := s.bwd.ptr[r]; k < s.bwd.ptr[r+1]; k++ {
			if want := (gi*3+int(s.bwd.col[k]))*12 + j; int(s.bwd.src[k]) != want || mask[want] == 0 {
				t.Fatalf("transposed entry %d: src %d, want %d (mask %g)", k, s.bwd.src[k], want, mask[want])
			}
		}
	}
	if _, err := NewSparseWeight("w", FromSlice(w, 6, 12), mask[:10], 1); err == nil {
		t.Fatal("short mask accepted")
	}
	if _, err := NewSparseWeight("w", FromSlice(w, 6, 12), mask, 4); err == nil {
		t.Fatal("4 groups of 6 outputs accepted")
	}
	if _, err := NewSparseWeight("w", FromSlice(w, 72), mask, 1); err == nil {
		t.Fatal("1-D weight accepted")
	}
	// nil mask: the weight's nonzeros.
	wm := make([]float32, len(w))
	for i := range w {
		wm[i] = w[i] * mask[i]
	}
	s2, err := NewSparseWeight("w", FromSlice(wm, 6, 12), nil, 1)
	if err != nil || s2.NNZ() != nnz {
		t.Fatalf("nil mask: nnz %d err %v, want %d", s2.NNZ(), err, nnz)
	}
}

// TestDot checks the dot product (assembly where built) against float64 sums
// for lengths around the 32-element blocks.
func TestDot(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, n := range []int{0, 1, 31, 32, 33, 64, 100, 1000} {
		a, b := make([]float32, n), make([]float32, n)
		var want float64
		for i := range a {
			a[i], b[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
			want += float64(a[i]) * float64(b[i])
		}
		if got := dot(a, b); math.Abs(float64(got)-want) > 1e-4*(1+math.Abs(want)) {
			t.Fatalf("n %d: dot %g, want %g", n, got, want)
		}
	}
}

// randomSparse is a rows x k float32 weight of sparsity sp (randomPattern;
// empty forces empty rows and columns) with its mask applied, its CSR form
// and the CSR values.
func randomSparse(t *testing.T, rng *rand.Rand, rows, k int, sp float64, empty bool) ([]float32, *SparseWeight[float32], []float32) {
	t.Helper()
	w, mask := randomPattern(rng, rows, k, sp, empty)
	s, err := NewSparseWeight("w", FromSlice(w, rows, k), mask, 1)
	if err != nil {
		t.Fatal(err)
	}
	val := make([]float32, s.NNZ())
	csrValues(&s.fwd, w, val)
	for i := range w {
		w[i] *= mask[i]
	}
	return w, s, val
}
