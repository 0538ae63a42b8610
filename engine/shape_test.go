package engine_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/internal/gradcheck"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestReshape(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 1))
	x := gradcheck.Random(rng, 2, 3, 4)
	f := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] {
		return tp.Reshape(in[0], 4, -1)
	}
	out := gradcheck.Check(t, "reshape", f, ewTensors{x}, nil, 1)
	if !engine.SameShape(out.Shape(), []int{4, 6}) {
		t.Fatalf("reshape shape %v", out.Shape())
	}
	ref := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return G.Reshape(in[0], tensor.Shape{4, 6}) }
	gradcheck.CheckReference(t, "reshape", f, ref, ewTensors{x}, nil, 2)
	// A view of an intermediate value: the gradient still reaches the input, and
	// the view's gradient does not overwrite the intermediate's value.
	g := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] {
		y := tp.Square(in[0])
		r := tp.Reshape(y, 6, 4)
		return tp.Add(tp.Mul(r, r), tp.Reshape(y, 6, 4))
	}
	gradcheck.Check(t, "reshape of intermediate", g, ewTensors{x}, nil, 1)
	tp := engine.NewTape[float64](1)
	v := tp.Input(x)
	if r := tp.Reshape(v, 24); &r.Value.Data()[0] != &x.Data()[0] {
		t.Fatalf("Reshape copied its input; want a view")
	}
}

func TestPermuteTranspose(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 1))
	x := gradcheck.Random(rng, 2, 3, 4)
	for _, perm := range [][]int{{2, 0, 1}, {1, 0, 2}, {0, 2, 1}, {0, 1, 2}, {2, 1, 0}} {
		name := fmt.Sprint("permute", perm)
		f := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] {
			return tp.Permute(in[0], perm...)
		}
		gradcheck.Check(t, name, f, ewTensors{x}, nil, 1)
		ref := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return G.Transpose(in[0], perm...) }
		gradcheck.CheckReference(t, name, f, ref, ewTensors{x}, nil, 2)
	}
	f := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] {
		return tp.Transpose(in[0])
	}
	out := gradcheck.Check(t, "transpose", f, ewTensors{x}, nil, 1)
	if out.At(1, 3, 2) != x.At(1, 2, 3) {
		t.Fatalf("transpose: element mismatch")
	}
	ref := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return G.Transpose(in[0], 0, 2, 1) }
	gradcheck.CheckReference(t, "transpose", f, ref, ewTensors{x}, nil, 2)
}

// TestPermuteLarge checks a large permutation with two threads element by element.
func TestPermuteLarge(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 1))
	x := gradcheck.Random(rng, 16, 40, 70)
	tp := engine.NewTape[float64](2)
	y := tp.Permute(tp.Const(x), 2, 0, 1).Value
	for i := 0; i < 16; i += 5 {
		for j := 0; j < 40; j += 3 {
			for k := 0; k < 70; k += 7 {
				if y.At(k, i, j) != x.At(i, j, k) {
					t.Fatalf("permute: element (%d,%d,%d) mismatch", i, j, k)
				}
			}
		}
	}
}

func TestConcat(t *testing.T) {
	rng := rand.New(rand.NewPCG(44, 1))
	for axis := range 3 {
		shapes := [][]int{{2, 3, 4}, {2, 3, 4}, {2, 3, 4}}
		for i := range shapes {
			shapes[i][axis] = i + 1
		}
		xs := ewTensors{gradcheck.Random(rng, shapes[0]...), gradcheck.Random(rng, shapes[1]...), gradcheck.Random(rng, shapes[2]...)}
		name := fmt.Sprint("concat axis ", axis)
		f := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] {
			return tp.Concat(axis, in...)
		}
		gradcheck.Check(t, name, f, xs, nil, 1)
		ref := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return G.Concat(axis, in...) }
		gradcheck.CheckReference(t, name, f, ref, xs, nil, 2)
		// Only some inputs need a gradient.
		gradcheck.Check(t, name+" partial", f, xs, map[int]bool{1: true}, 1)
	}
}

func TestSlice(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 1))
	x := gradcheck.Random(rng, 3, 5, 4)
	cases := []struct {
		axis, start, end int
		s                []tensor.Slice
	}{
		{0, 1, 3, []tensor.Slice{G.S(1, 3)}},
		{1, 2, 5, []tensor.Slice{nil, G.S(2, 5)}},
		{-1, 0, 2, []tensor.Slice{nil, nil, G.S(0, 2)}},
		{2, 1, 4, []tensor.Slice{nil, nil, G.S(1, 4)}},
	}
	for _, c := range cases {
		name := fmt.Sprintf("slice axis %d [%d,%d)", c.axis, c.start, c.end)
		f := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] {
			return tp.Slice(in[0], c.axis, c.start, c.end)
		}
		gradcheck.Check(t, name, f, ewTensors{x}, nil, 1)
		ref := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return G.Slice(in[0], c.s...) }
		gradcheck.CheckReference(t, name, f, ref, ewTensors{x}, nil, 2)
	}
}
