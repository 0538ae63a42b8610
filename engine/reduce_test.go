package engine_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/internal/gradcheck"
	G "gorgonia.org/gorgonia"
)

// rdNaive reduces x over axes (keepDims shape) one element at a time: sum, mean
// or max, the closed forms the engine's reductions are checked against.
func rdNaive(x *engine.Tensor[float64], axes []int, kind string) *engine.Tensor[float64] {
	shape := x.Shape()
	red := make([]bool, len(shape))
	for _, a := range axes {
		red[(a+len(shape))%len(shape)] = true
	}
	keep := make([]int, len(shape))
	count := 1
	for i, d := range shape {
		keep[i] = d
		if red[i] {
			keep[i] = 1
			count *= d
		}
	}
	out := engine.NewTensor[float64](keep...)
	if kind == "max" {
		out.Fill(math.Inf(-1))
	}
	idx := make([]int, len(shape))
	for j, v := range x.Data() {
		rem := j
		for k := len(shape) - 1; k >= 0; k-- {
			idx[k] = rem % shape[k]
			rem /= shape[k]
		}
		o := 0
		for k := range shape {
			if !red[k] {
				o = o*keep[k] + idx[k]
			} else {
				o *= keep[k]
			}
		}
		if kind == "max" {
			out.Data()[o] = math.Max(out.Data()[o], v)
		} else {
			out.Data()[o] += v
		}
	}
	if kind == "mean" {
		for i := range out.Data() {
			out.Data()[i] /= float64(count)
		}
	}
	return out
}

type rdOp struct {
	kind string
	op   func(tp *engine.Tape[float64], x *engine.Var[float64], axes []int, keep bool) *engine.Var[float64]
	ref  func(a *G.Node, along ...int) (*G.Node, error)
}

var rdOps = []rdOp{
	{"sum", (*engine.Tape[float64]).Sum, G.Sum},
	{"mean", (*engine.Tape[float64]).Mean, G.Mean},
	{"max", (*engine.Tape[float64]).Max, G.Max},
}

func TestReduceSumMeanMaxOneAxis(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 1))
	x := gradcheck.Random(rng, 3, 4, 5)
	for _, r := range rdOps {
		for axis := range 3 {
			name := fmt.Sprintf("%s axis %d", r.kind, axis)
			f := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] {
				return r.op(tp, in[0], []int{axis}, false)
			}
			gradcheck.Check(t, name, f, ewTensors{x}, nil, 1)
			ref := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return r.ref(in[0], axis) }
			gradcheck.CheckReference(t, name, f, ref, ewTensors{x}, nil, 2)
		}
	}
}

func TestReduceSumMeanMaxSeveralAxes(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 1))
	x := gradcheck.Random(rng, 2, 3, 4, 5)
	for _, axes := range [][]int{{0, 2}, {0, 2, 3}, {0, 1}, {1, 3}, {-1, 1}, {0, 1, 2, 3}, {2}, {}} {
		for _, r := range rdOps {
			for _, keep := range []bool{false, true} {
				name := fmt.Sprintf("%s%v keep=%v", r.kind, axes, keep)
				f := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] {
					return r.op(tp, in[0], axes, keep)
				}
				out := gradcheck.Check(t, name, f, ewTensors{x}, nil, 3)
				want := rdNaive(x, axes, r.kind)
				if msg := gradcheck.Close(out.Data(), want.Data(), ewTol, ewTol); msg != "" {
					t.Fatalf("%s: %s", name, msg)
				}
				if keep && !engine.SameShape(out.Shape(), want.Shape()) {
					t.Fatalf("%s: shape %v, want %v", name, out.Shape(), want.Shape())
				}
				if !keep && out.Rank() != 4-len(axes) {
					t.Fatalf("%s: shape %v", name, out.Shape())
				}
			}
		}
	}
}

func TestReduceSumAllMeanAll(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 1))
	x := gradcheck.Random(rng, 3, 4, 5)
	for _, mean := range []bool{false, true} {
		f := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] {
			if mean {
				return tp.MeanAll(in[0])
			}
			return tp.SumAll(in[0])
		}
		out := gradcheck.Check(t, "sumall", f, ewTensors{x}, nil, 1)
		kind := "sum"
		if mean {
			kind = "mean"
		}
		want := rdNaive(x, []int{0, 1, 2}, kind)
		if out.Rank() != 0 || gradcheck.Close(out.Data(), want.Data(), ewTol, ewTol) != "" {
			t.Fatalf("%s all: got %v %v, want %v", kind, out.Shape(), out.Data(), want.Data())
		}
	}
}

// TestMaxTiesFirst checks that Max's gradient goes to the first maximal element.
func TestMaxTiesFirst(t *testing.T) {
	tp := engine.NewTape[float64](1)
	x := engine.NewParam("x", engine.FromSlice([]float64{1, 3, 3, 2, 5, 5}, 2, 3))
	y := tp.SumAll(tp.Max(x, []int{1}, false))
	if err := tp.Backward(y); err != nil {
		t.Fatal(err)
	}
	if want := []float64{0, 1, 0, 0, 1, 0}; gradcheck.Close(x.Grad.Data(), want, 0, 0) != "" {
		t.Fatalf("max grad %v, want %v", x.Grad.Data(), want)
	}
}

// TestSumReduceLargeDeterministic checks large reductions with one and two threads
// against the naive sum; partial reductions must be bit-identical across thread
// counts, full ones close.
func TestSumReduceLargeDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 1))
	x := gradcheck.Random(rng, 8, 16, 24, 25)
	for _, axes := range [][]int{{0, 2, 3}, {0}, {3}, {1, 2}} {
		var prev []float64
		for _, th := range []int{1, 2} {
			tp := engine.NewTape[float64](th)
			got := tp.Sum(tp.Const(x), axes, true).Value
			if msg := gradcheck.Close(got.Data(), rdNaive(x, axes, "sum").Data(), 1e-10, 1e-12); msg != "" {
				t.Fatalf("sum%v threads %d: %s", axes, th, msg)
			}
			if prev != nil && gradcheck.Close(got.Data(), prev, 0, 0) != "" {
				t.Fatalf("sum%v differs between thread counts", axes)
			}
			prev = got.Clone().Data()
		}
	}
	for _, th := range []int{1, 2} {
		tp := engine.NewTape[float64](th)
		a := tp.SumAll(tp.Const(x)).Value.Data()[0]
		b := tp.SumAll(tp.Const(x)).Value.Data()[0]
		if w := rdNaive(x, []int{0, 1, 2, 3}, "sum").Data()[0]; a != b || math.Abs(a-w) > 1e-9 {
			t.Fatalf("SumAll threads %d: %v %v, want %v", th, a, b, w)
		}
	}
}
