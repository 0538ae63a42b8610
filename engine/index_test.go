package engine_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/internal/gradcheck"
)

func TestEmbedding(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 1))
	w := gradcheck.Random(rng, 5, 3)
	ids := []int32{0, 3, 3, 1, 4, 0, 3}
	f := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] {
		return tp.Embedding(in[0], ids)
	}
	out := gradcheck.Check(t, "embedding", f, ewTensors{w}, nil, 1)
	for i, id := range ids {
		for j := range 3 {
			if out.At(i, j) != w.At(int(id), j) {
				t.Fatalf("embedding row %d col %d", i, j)
			}
		}
	}
}

// TestEmbeddingWideDeterministic exercises the column-split scatter-add (one
// outer slice, wide rows) with two threads against one thread and a closed form.
func TestEmbeddingWideDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(52, 1))
	w := gradcheck.Random(rng, 50, 300)
	ids := make([]int32, 400)
	for i := range ids {
		ids[i] = int32(rng.IntN(50))
	}
	grad := func(threads int) []float64 {
		tp := engine.NewTape[float64](threads)
		p := engine.NewParam("w", w)
		if err := tp.Backward(tp.SumAll(tp.Embedding(p, ids))); err != nil {
			t.Fatal(err)
		}
		return p.Grad.Data()
	}
	g1, g2 := grad(1), grad(2)
	want := make([]float64, w.Len())
	for _, id := range ids {
		for j := range 300 {
			want[int(id)*300+j]++
		}
	}
	if msg := gradcheck.Close(g1, want, 0, 0); msg != "" {
		t.Fatalf("embedding grad: %s", msg)
	}
	if msg := gradcheck.Close(g2, g1, 0, 0); msg != "" {
		t.Fatalf("embedding grad differs between thread counts: %s", msg)
	}
}

func TestIndexSelectIndexAdd(t *testing.T) {
	rng := rand.New(rand.NewPCG(53, 1))
	x := gradcheck.Random(rng, 3, 4, 5)
	for axis := range 3 {
		n := x.Shape()[axis]
		idx := []int32{int32(n - 1), 0, int32(n - 1), 1}
		name := fmt.Sprint("indexselect axis ", axis)
		sel := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] {
			return tp.IndexSelect(in[0], axis, idx)
		}
		out := gradcheck.Check(t, name, sel, ewTensors{x}, nil, 1)
		if out.Shape()[axis] != len(idx) {
			t.Fatalf("%s: shape %v", name, out.Shape())
		}
		// y, of the selected shape, for IndexAdd; adjointness:
		// <IndexSelect(x), y> = <x, IndexAdd(y)>.
		y := gradcheck.Random(rng, out.Shape()...)
		add := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] {
			return tp.IndexAdd(in[0], axis, idx, n)
		}
		sum := gradcheck.Check(t, "indexadd", add, ewTensors{y}, nil, 1)
		if !engine.SameShape(sum.Shape(), x.Shape()) {
			t.Fatalf("indexadd shape %v", sum.Shape())
		}
		var lhs, rhs float64
		for i, v := range out.Data() {
			lhs += v * y.Data()[i]
		}
		for i, v := range x.Data() {
			rhs += v * sum.Data()[i]
		}
		if math.Abs(lhs-rhs) > 1e-12 {
			t.Fatalf("axis %d: <select(x),y> = %g, <x,add(y)> = %g", axis, lhs, rhs)
		}
	}
	// Closed form along axis 1.
	tp := engine.NewTape[float64](1)
	got := tp.IndexSelect(tp.Const(x), 1, []int32{2, 2}).Value
	if got.At(1, 0, 3) != x.At(1, 2, 3) || got.At(2, 1, 4) != x.At(2, 2, 4) {
		t.Fatalf("indexselect: element mismatch")
	}
}

func TestGather(t *testing.T) {
	rng := rand.New(rand.NewPCG(54, 1))
	x := gradcheck.Random(rng, 3, 4, 5)
	for axis := range 3 {
		idxShape := []int{2, 3, 4}
		idxShape[axis] = 6 // more than x's size: repeated picks
		n := 1
		for _, d := range idxShape {
			n *= d
		}
		idx := make([]int32, n)
		for i := range idx {
			idx[i] = int32(rng.IntN(x.Shape()[axis]))
		}
		name := fmt.Sprint("gather axis ", axis)
		f := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] {
			return tp.Gather(in[0], axis, idx, idxShape)
		}
		out := gradcheck.Check(t, name, f, ewTensors{x}, nil, 1)
		for i := range 2 {
			for j := range 3 {
				for k := range 4 {
					p := []int{i, j, k}
					p[axis] = 5
					q := []int{i, j, k}
					q[axis] = int(idx[engine.Strides(idxShape)[0]*p[0]+engine.Strides(idxShape)[1]*p[1]+p[2]])
					if out.At(p...) != x.At(q...) {
						t.Fatalf("%s: out%v = %g, want x%v = %g", name, p, out.At(p...), q, x.At(q...))
					}
				}
			}
		}
	}
}
