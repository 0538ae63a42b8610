package engine_test

import (
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
