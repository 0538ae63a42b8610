package nn

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/gap-harness/gap/engine"
)

// TestLayersForward runs each layer once and checks output shapes, and the
// embedding's values and scatter-add gradient.
func TestLayersForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	ps := NewParamSet()
	tp := engine.NewTape[float32](1)
	x := engine.NewTensor[float32](2, 3, 8, 8)
	Normal(x, 0, 1, rng)
	conv := NewConv2d(ps, "conv", ConvSpec{In: 3, Out: 4, K: 3, Stride: 2, Pad: 1, Bias: true}, rng)
	bn := NewBatchNorm(ps, "bn", 4)
	y := bn.Forward(tp, conv.Forward(tp, tp.Const(x)), true)
	if !reflect.DeepEqual(y.Shape(), []int{2, 4, 4, 4}) {
		t.Fatalf("conv+bn shape %v", y.Shape())
	}
	lin := NewLinear(ps, "fc", 4, 5, false, rng)
	ln := NewLayerNorm(ps, "ln", 5, 1e-5)
	z := ln.Forward(tp, lin.Forward(tp, tp.Const(engine.NewTensor[float32](3, 4))))
	if !reflect.DeepEqual(z.Shape(), []int{3, 5}) {
		t.Fatalf("linear+ln shape %v", z.Shape())
	}
	emb := NewEmbedding(ps, "emb", 4, 2, rng)
	e := emb.Forward(tp, []int32{3, 1, 3})
	if e.Value.At(0, 1) != emb.W.V.Value.At(3, 1) || e.Value.At(1, 0) != emb.W.V.Value.At(1, 0) {
		t.Fatal("embedding lookup")
	}
	e.Grad = engine.NewTensor[float32](3, 2)
	e.Grad.Fill(1)
	if err := tp.Backward(tp.Op(engine.NewTensor[float32](1), func(o *engine.Var[float32]) {
		copy(tp.GradOf(e).Data(), []float32{1, 1, 1, 1, 1, 1})
	}, e)); err != nil {
		t.Fatal(err)
	}
	if g := emb.W.V.Grad.Data(); g[6] != 2 || g[2] != 1 || g[0] != 0 {
		t.Fatalf("embedding grad %v", g)
	}
}
