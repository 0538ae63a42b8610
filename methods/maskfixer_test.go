package methods

import (
	"math"
	"slices"
	"testing"
)

// TestMaskFixerContract checks every registered MaskFixer for what the
// sparse-kernel runner relies on: in each epoch it declares fixed, Update
// and AfterStep change no mask (through four epochs of the runner's loop,
// P-GaP as branch 0), and no mask depends on the gradient at pruned
// positions (a run whose pruned gradients are NaN ends with the same masks
// as one whose pruned gradients are random).
func TestMaskFixerContract(t *testing.T) {
	fixers := 0
	for _, info := range Default().List() {
		run := func(poison bool) [][]float32 {
			var params map[string]string
			switch info.Name {
			case "cgap", "pgap":
				params = map[string]string{"kappa": "3"} // fakeSpecs' partitions
			case "rigl", "set":
				// Not MaskFixers; with updates inside the 40 steps, marking
				// one by mistake fails here.
				params = map[string]string{"delta_t": "5"}
			}
			m := mustNew(t, info.Name, params)
			mf, ok := m.(MaskFixer)
			if !ok {
				return nil
			}
			ctx := newCtx(3, fakeSpecs(), 0.8, Uniform)
			ctx.Grad = func() error { return nil } // SNIP: newCtx's random gradients
			ctx.TotalEpochs = m.Epochs(4)
			if err := m.Init(ctx); err != nil {
				t.Fatalf("%s: init: %v", info.Name, err)
			}
			if p, ok := m.(Parallel); ok {
				if err := p.BranchInit(ctx, 0); err != nil {
					t.Fatalf("%s: branch init: %v", info.Name, err)
				}
			}
			for e := 0; e < ctx.TotalEpochs; e++ {
				ctx.Epoch = e
				before := masksOf(ctx)
				for s := 0; s < ctx.StepsPerEpoch; s++ {
					for _, x := range ctx.Tensors {
						for i := range x.G {
							x.G[i] = float32(ctx.RNG.NormFloat64())
							if poison && x.M[i] == 0 {
								x.G[i] = float32(math.NaN())
							}
						}
					}
					if err := maskUpdate(m, ctx); err != nil {
						t.Fatalf("%s: step %d: %v", info.Name, ctx.Step, err)
					}
					train(ctx)
					ctx.Step++
				}
				if mf.MasksFixedDuring(e) {
					for i, mk := range masksOf(ctx) {
						if !slices.Equal(mk, before[i]) {
							t.Fatalf("%s: epoch %d declared fixed, but the steps changed the mask of %s", info.Name, e, ctx.Tensors[i].Name)
						}
					}
				}
				if err := m.EpochEnd(ctx); err != nil {
					t.Fatalf("%s: epoch end %d: %v", info.Name, e, err)
				}
			}
			return masksOf(ctx)
		}
		clean := run(false)
		if clean == nil {
			continue
		}
		fixers++
		for i, mk := range run(true) {
			if !slices.Equal(mk, clean[i]) {
				t.Errorf("%s: the masks depend on the gradient at pruned positions (tensor %d)", info.Name, i)
				break
			}
		}
	}
	if fixers < 7 {
		t.Fatalf("%d MaskFixer methods, want static, cgap, pgap, snip, magnitude-oneshot, pfp, ipfp", fixers)
	}
}

func masksOf(ctx *Context) [][]float32 {
	out := make([][]float32, len(ctx.Tensors))
	for i, x := range ctx.Tensors {
		out[i] = slices.Clone(x.M)
	}
	return out
}
