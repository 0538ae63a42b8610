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

// TestReLUInPlace checks ReLUInPlace after a batch norm (its use in
// PointNet++) gives the same bits as ReLU, in values and in every gradient,
// including the sign-bit edge cases (±0, denormals, infinities) fed through
// an identity-like op, and that it overwrites its input's value and never a
// parameter's.
func TestReLUInPlace(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x32 := make([]float32, 4*6*10)
	for i := range x32 {
		x32[i] = float32(rng.NormFloat64())
	}
	edge := []float32{0, float32(math.Copysign(0, -1)), 1e-40, -1e-40, float32(math.Inf(1)), float32(math.Inf(-1))}
	run := func(inPlace bool) (vals, gx, gg, gb, ge []float32) {
		tp := engine.NewTape[float32](2)
		x := engine.NewParam("x", engine.FromSlice(append([]float32(nil), x32...), 4, 6, 10))
		gamma := engine.NewParam("g", engine.FromSlice([]float32{1, 0.5, 2, -1, 1.5, 0.25}, 6))
		beta := engine.NewParam("b", engine.FromSlice([]float32{0, 0.1, -0.2, 0.3, 0, -1}, 6))
		e := engine.NewParam("e", engine.FromSlice(append([]float32(nil), edge...), len(edge)))
		w := tp.Const(engine.FromSlice(func() []float32 {
			d := make([]float32, len(x32))
			for i := range d {
				d[i] = float32(i%7) - 3
			}
			return d
		}(), 4, 6, 10))
		bn := tp.BatchNorm(x, gamma, beta, nil, true)
		es := tp.Scale(e, 1)
		var r, re *engine.Var[float32]
		if inPlace {
			r, re = tp.ReLUInPlace(bn), tp.ReLUInPlace(es)
			if &r.Value.Data()[0] != &bn.Value.Data()[0] {
				t.Fatal("ReLUInPlace did not write over its input")
			}
			if p := tp.ReLUInPlace(x); &p.Value.Data()[0] == &x.Value.Data()[0] {
				t.Fatal("ReLUInPlace overwrote a parameter")
			}
		} else {
			r, re = tp.ReLU(bn), tp.ReLU(es)
		}
		vals = append(append([]float32(nil), r.Value.Data()...), re.Value.Data()...)
		loss := tp.Add(tp.SumAll(tp.Mul(r, w)), tp.SumAll(re))
		if err := tp.Backward(loss); err != nil {
			t.Fatal(err)
		}
		return vals, x.Grad.Data(), gamma.Grad.Data(), beta.Grad.Data(), e.Grad.Data()
	}
	v0, gx0, gg0, gb0, ge0 := run(false)
	v1, gx1, gg1, gb1, ge1 := run(true)
	for _, c := range []struct {
		name string
		a, b []float32
	}{{"values", v0, v1}, {"dx", gx0, gx1}, {"dgamma", gg0, gg1}, {"dbeta", gb0, gb1}, {"dedge", ge0, ge1}} {
		for i := range c.a {
			if math.Float32bits(c.a[i]) != math.Float32bits(c.b[i]) {
				t.Fatalf("%s[%d]: in place %g, ReLU %g", c.name, i, c.b[i], c.a[i])
			}
		}
	}
}
