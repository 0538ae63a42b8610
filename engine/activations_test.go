package engine_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/internal/gradcheck"
	G "gorgonia.org/gorgonia"
)

func TestReLU(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	x := gradcheck.Random(rng, 3, 4, 5)
	f := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] { return tp.ReLU(in[0]) }
	gradcheck.Check(t, "relu", f, []*engine.Tensor[float64]{x}, nil, 1)
	ref := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return G.Rectify(in[0]) }
	gradcheck.CheckReference(t, "relu", f, ref, []*engine.Tensor[float64]{x}, nil, 1)
}

// TestReLUBitMask checks the branch-free backward of both element types on the
// edge cases of the sign-bit mask: ±0, denormals, infinities.
func TestReLUBitMask(t *testing.T) {
	xs := []float64{1, -1, 0, math.Copysign(0, -1), 1e-310, -1e-310, math.Inf(1), math.Inf(-1), 3.5, -2}
	want := []float64{1, 0, 0, 0, 1, 0, 1, 0, 1, 0}
	tp := engine.NewTape[float64](1)
	x := engine.NewParam("x", engine.FromSlice(append([]float64(nil), xs...), len(xs)))
	if err := tp.Backward(tp.SumAll(tp.ReLU(x))); err != nil {
		t.Fatal(err)
	}
	if msg := gradcheck.Close(x.Grad.Data(), want, 0, 0); msg != "" {
		t.Fatalf("float64: %s", msg)
	}
	x32 := make([]float32, len(xs))
	for i, v := range xs {
		x32[i] = float32(v)
	}
	x32[4], x32[5] = 1e-40, -1e-40 // float32 denormals
	tp32 := engine.NewTape[float32](1)
	p := engine.NewParam("x", engine.FromSlice(x32, len(x32)))
	if err := tp32.Backward(tp32.SumAll(tp32.ReLU(p))); err != nil {
		t.Fatal(err)
	}
	for i, g := range p.Grad.Data() {
		if float64(g) != want[i] {
			t.Fatalf("float32: gradient at x=%g is %g, want %g", x32[i], g, want[i])
		}
	}
	if v := tp.ReLU(tp.Const(engine.FromSlice([]float64{math.NaN()}, 1))).Value.Data()[0]; !math.IsNaN(v) {
		t.Fatalf("ReLU(NaN) = %g, want NaN", v)
	}
}
