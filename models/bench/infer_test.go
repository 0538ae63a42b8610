package bench

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gap-harness/gap/engine"
)

// TestWholeModelFallback checks the whole-model check of Infer's auto
// policy: the decision (the chosen configuration's median forward time
// against the dense one's) and the fallback, which sets every choice made
// to the dense kernels so that the op runs them (same output as the dense
// convolution on the masked weight, bit for bit).
func TestWholeModelFallback(t *testing.T) {
	if !chosenSlower([]float64{1, 2, 3}, []float64{2, 3, 4}) || chosenSlower([]float64{2, 3, 4}, []float64{1, 2, 3}) ||
		chosenSlower([]float64{1, 2, 3}, []float64{3, 2, 1}) {
		t.Fatal("chosenSlower: want true only when the chosen median is above the dense one")
	}
	rng := rand.New(rand.NewPCG(9, 9))
	x := engine.NewTensor[float32](2, 4, 9, 9)
	w := engine.NewTensor[float32](6, 4, 3, 3)
	mask := make([]float32, w.Len())
	for i := range x.Data() {
		x.Data()[i] = float32(rng.NormFloat64())
	}
	for i := range mask {
		if rng.Float64() < 0.3 {
			mask[i], w.Data()[i] = 1, float32(rng.NormFloat64())
		}
	}
	o := engine.ConvOpts{PadH: 1, PadW: 1}
	tp := engine.NewTape[float32](1)
	tp.SetNoGrad(true)
	dense := slices.Clone(tp.Conv2D(tp.Const(x), tp.Const(w), nil, o).Value.Data())
	s, err := engine.NewSparseWeight("w", w, mask, 1)
	if err != nil {
		t.Fatal(err)
	}
	s.Policy = engine.KernelSparse
	run := func() []float32 {
		tp.Reset()
		return slices.Clone(tp.SparseConv2D(tp.Const(x), tp.Const(w), nil, o, s).Value.Data())
	}
	run()
	if ch := s.Choices(); len(ch) != 1 || !ch[0].Sparse {
		t.Fatalf("choices before the fallback: %+v", ch)
	}
	forceDense([]*engine.SparseWeight[float32]{s})
	if ch := s.Choices(); len(ch) != 1 || ch[0].Sparse {
		t.Fatalf("choices after the fallback: %+v", ch)
	}
	if got := run(); !slices.Equal(got, dense) {
		t.Fatal("after the fallback the op does not run the dense kernels")
	}
}
