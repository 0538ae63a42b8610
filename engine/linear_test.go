package engine_test

import (
	"math/rand/v2"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/internal/gradcheck"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func linearOp[T engine.Float](bias bool) opFn[T] {
	return func(tp *engine.Tape[T], in []*engine.Var[T]) *engine.Var[T] {
		if bias {
			return tp.Linear(in[0], in[1], in[2])
		}
		return tp.Linear(in[0], in[1], nil)
	}
}

func TestLinear(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	x := gradcheck.Random(rng, 2, 3, 4)
	w := gradcheck.Random(rng, 5, 4)
	b := gradcheck.Random(rng, 5)
	for _, bias := range []bool{true, false} {
		in := tensors(x, w, b)
		if !bias {
			in = in[:2]
		}
		f := as64(linearOp[float64](bias))
		gradcheck.Check(t, "linear", f, in, nil, 1)
		ref := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			x2, err := G.Reshape(in[0], tensor.Shape{6, 4})
			if err != nil {
				return nil, err
			}
			wt, err := G.Transpose(in[1])
			if err != nil {
				return nil, err
			}
			y, err := G.Mul(x2, wt)
			if err != nil || !bias {
				return y, err
			}
			b2, err := G.Reshape(in[2], tensor.Shape{1, 5})
			if err != nil {
				return nil, err
			}
			return G.BroadcastAdd(y, b2, nil, []byte{0})
		}
		gradcheck.CheckReference(t, "linear", f, ref, in, nil, 2)
		checkF32(t, "linear", linearOp[float32](bias), linearOp[float64](bias), in, nil)
	}
	// Large enough for the split gemms and the chunked bias gradient.
	in := tensors(gradcheck.Random(rng, 300, 64), gradcheck.Random(rng, 100, 64), gradcheck.Random(rng, 100))
	checkF32(t, "large linear", linearOp[float32](true), linearOp[float64](true), in, nil)
	checkDeterministic(t, "large linear", linearOp[float32](true), in)
}
