package methods

import (
	"errors"
	"fmt"
)

// SNIP (Lee et al. 2019) scores every weight by |g*w| (Saliency) on one
// batch at init (dense masks, ctx.Grad), keeps the top scores and trains
// with that mask fixed. With "uniform" or "erk" each layer keeps its own
// top-k at its target (the prune-to-keeps loop); with "global" one
// threshold over all non-Dense tensors keeps KeepCount(N, sparsity) in all
// (SNIP's original, global form).
type SNIP struct{ base }

func newSNIP(p map[string]string) (Method, error) {
	ps := newParams("snip", p)
	if err := ps.Err(); err != nil {
		return nil, err
	}
	return &SNIP{newBase("snip", ps, sparseFromInit)}, nil
}

// Init runs ctx.Grad once with all masks at 1 and prunes by |g*w|.
func (s *SNIP) Init(ctx *Context) error {
	if ctx.Grad == nil {
		return errors.New("snip init: ctx.Grad is nil (SNIP needs one batch of gradients)")
	}
	denseMasks(ctx)
	if err := ctx.Grad(); err != nil {
		return fmt.Errorf("snip init: gradient batch: %w", err)
	}
	if ctx.Distribution == Global && ctx.Targets == nil {
		var ss, ms [][]float32
		total := 0
		for _, t := range ctx.Tensors {
			if !t.Dense {
				ss, ms = append(ss, Saliency(t)), append(ms, t.M)
				total += t.Size()
			}
		}
		if err := GlobalTopK(ss, KeepCount(total, ctx.Sparsity), ms); err != nil {
			return fmt.Errorf("snip init: %w", err)
		}
		ctx.Targets = map[string]float64{}
		for _, t := range ctx.Tensors {
			ctx.Targets[t.Name] = MaskSparsity(t.M)
		}
		ApplyMasks(ctx)
		return nil
	}
	keeps, err := targetKeeps(ctx)
	if err != nil {
		return fmt.Errorf("snip init: %w", err)
	}
	PruneToKeepsBy(ctx, keeps, TopScores(Saliency), nil)
	return nil
}

// MasksFixedDuring is true: SNIP reads its one batch of gradients in Init,
// and the masks never change after it.
func (*SNIP) MasksFixedDuring(int) bool { return true }
