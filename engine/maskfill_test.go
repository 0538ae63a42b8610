package engine_test

import (
	"math/rand/v2"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/internal/gradcheck"
)

func TestMaskedFill(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 1))
	x := gradcheck.Random(rng, 2, 3, 4)
	masks := []*engine.Tensor[float64]{
		engine.FromSlice([]float64{1, 0, 1}, 1, 3, 1),
		engine.FromSlice([]float64{0, 0, 1, 0}, 4),
		gradcheck.Random(rng, 2, 3, 4),
	}
	masks[2].Data()[5] = 0
	masks[2].Data()[11] = 0
	for mi, m := range masks {
		f := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] {
			return tp.MaskedFill(in[0], m, -7.5)
		}
		out := gradcheck.Check(t, "maskedfill", f, ewTensors{x}, nil, 1)
		full := ewBroadcastNaive(x, m, func(_, b float64) float64 { return b })
		for i, v := range x.Data() {
			want := v
			if full.Data()[i] != 0 {
				want = -7.5
			}
			if out.Data()[i] != want {
				t.Fatalf("mask %d element %d: %g, want %g", mi, i, out.Data()[i], want)
			}
		}
	}
}
