package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestTallWritesAll checks that the tall training path writes every element
// of the buffers it takes uncleared (AllocUninit, gradFresh): a step on a
// tape whose pool holds only NaN-filled buffers (a first step's, poisoned
// before Reset) gives the same bits as on a fresh tape. Stride 1 and 2, a
// last batch shorter than the others, 1 and 2 threads.
func TestTallWritesAll(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, c := range []struct {
		n, c, h, w, o, k int
		o2               ConvOpts
	}{
		{5, 3, 40, 38, 4, 3, ConvOpts{PadH: 1, PadW: 1}},
		{7, 2, 63, 61, 3, 3, ConvOpts{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},
		{9, 4, 4, 4, 5, 3, ConvOpts{PadH: 1, PadW: 1}},
		{6, 3, 9, 10, 4, 5, ConvOpts{StrideH: 2, StrideW: 2, PadH: 2, PadW: 2}},
	} {
		x := NewTensor[float32](c.n, c.c, c.h, c.w)
		w := NewTensor[float32](c.o, c.c, c.k, c.k)
		mask := make([]float32, w.Len())
		for i := range x.data {
			x.data[i] = float32(rng.NormFloat64())
		}
		for i := range w.data {
			if rng.Float64() < 0.4 {
				mask[i] = 1
				w.data[i] = float32(rng.NormFloat64())
			}
		}
		for _, threads := range []int{1, 2} {
			name := fmt.Sprintf("x%v w%v %+v threads %d", x.Shape(), w.Shape(), c.o2, threads)
			step := func(tp *Tape[float32]) (out, gx, gw []float32) {
				s, err := NewSparseWeight("w", w, mask, 1)
				if err != nil {
					t.Fatal(err)
				}
				s.Policy, s.WeightGrad = KernelSparse, WeightGradMasked
				wv := NewParam("w", w)
				xv := tp.Input(x)
				y := tp.SparseConv2D(xv, wv, nil, c.o2, s)
				if err := tp.Backward(tp.SumAll(tp.Mul(y, y))); err != nil {
					t.Fatal(err)
				}
				return slices.Clone(y.Value.data), slices.Clone(xv.Grad.data), slices.Clone(wv.Grad.data)
			}
			o0, gx0, gw0 := step(NewTape[float32](threads))
			tp := NewTape[float32](threads)
			step(tp)
			nan := float32(math.NaN())
			for _, b := range tp.owned {
				for i := range b.data {
					b.data[i] = nan
				}
			}
			tp.Reset()
			o1, gx1, gw1 := step(tp)
			for _, v := range []struct {
				what      string
				got, want []float32
			}{{"output", o1, o0}, {"dx", gx1, gx0}, {"dw", gw1, gw0}} {
				for i := range v.want {
					if math.Float32bits(v.got[i]) != math.Float32bits(v.want[i]) {
						t.Fatalf("%s: %s[%d] = %v on a poisoned tape, %v on a fresh one", name, v.what, i, v.got[i], v.want[i])
					}
				}
			}
		}
	}
}
