package methods

import (
	"fmt"
	"math"
)

// GMP is gradual magnitude pruning (Zhu & Gupta 2017) from a dense model:
// at steps t = t0, t0+dt, ..., t1 (and at t1) every non-Dense layer l is
// magnitude-pruned among its active weights to
//
//	s_l(t) = s_l * (1 - (1 - (t - t0)/(t1 - t0))^3)
//
// (the cubic schedule with initial sparsity 0), where s_l is the layer's
// target from the distribution; after t1 the mask is fixed. For "global" the
// ratios are taken from the weights at the first pruning step (trained, not
// random) and then fixed. Defaults follow Gale et al. 2019's ResNet-50
// setting in proportion (pruning from ~30% to ~60% of training), with
// frequency 100 steps.
type GMP struct {
	base
	startFrac, endFrac float64 // fractions of the epoch budget (-1 = unset)
	startEp, endEp     int     // resolved by Epochs
	startP, endP       int     // parameters (-1 = from the fractions)
	freq               int
	epochs             int
	finalZeros         []int // per tensor, resolved at the first pruning step
}

func newGMP(p map[string]string) (Method, error) {
	ps := newParams("gmp", p)
	g := &GMP{}
	g.base = newBase("gmp", ps, g.plan)
	g.startP = ps.Int("start_epoch", -1)
	g.endP = ps.Int("end_epoch", -1)
	g.startFrac = ps.Float("start_frac", 0.3)
	g.endFrac = ps.Float("end_frac", 0.6)
	g.freq = ps.Int("freq", 100)
	ps.Doc("start_epoch", "an epoch; < 0 = start_frac of the budget")
	ps.Doc("start_frac", "see end_frac")
	ps.Check(g.freq > 0, "freq", "an integer > 0 (steps)")
	ps.Check(g.startFrac >= 0 && g.startFrac < g.endFrac && g.endFrac <= 1, "end_frac", "0 <= start_frac < end_frac <= 1")
	ps.Check(g.endP < 0 || g.endP > g.startP, "end_epoch", "an epoch after start_epoch; < 0 = end_frac of the budget")
	if err := ps.Err(); err != nil {
		return nil, err
	}
	return g, nil
}

// plan is the base budget: dense before the pruning window, "prune" inside
// it, "sparse" after (one optimiser throughout); it fixes the window in
// epochs.
func (g *GMP) plan(base int) Plan {
	g.epochs = base
	g.startEp = g.startP
	if g.startEp < 0 {
		g.startEp = int(math.Round(g.startFrac * float64(base)))
	}
	g.endEp = g.endP
	if g.endEp < 0 {
		g.endEp = max(g.startEp+1, int(math.Round(g.endFrac*float64(base))))
	}
	start, end := min(g.startEp, base), min(g.endEp, base)
	return Plan{Targets: TargetsFirstPrune}.
		Then("dense", start, -1, 0, false).
		Then("prune", end-start, -1, 1, false).
		Then("sparse", base-end, -1, 2, false)
}

// Window is the pruning window [start, end) in epochs (valid after Epochs).
func (g *GMP) Window() (start, end int) { return g.startEp, g.endEp }

// Init starts dense.
func (g *GMP) Init(ctx *Context) error {
	if g.endEp == 0 {
		return g.errorf("init: Epochs(base) must be called first")
	}
	if ctx.StepsPerEpoch <= 0 {
		return g.errorf("init: ctx.StepsPerEpoch is %d", ctx.StepsPerEpoch)
	}
	denseMasks(ctx)
	return nil
}

func (g *GMP) window(ctx *Context) (t0, t1 int64) {
	spe := int64(ctx.StepsPerEpoch)
	t0, t1 = int64(g.startEp)*spe, int64(g.endEp)*spe
	// The last prune must happen: a window that ends with training ends at
	// its last step, so the final model is at the target.
	if last := ctx.TotalSteps() - 1; ctx.TotalEpochs > 0 && t1 > last {
		t1 = last
		t0 = min(t0, t1)
	}
	return t0, t1
}

// SparsityAt is the schedule's fraction of each layer's final sparsity at
// step t (0 before t0, 1 from t1 on).
func (g *GMP) SparsityAt(ctx *Context, t int64) float64 {
	t0, t1 := g.window(ctx)
	switch {
	case t < t0:
		return 0
	case t >= t1:
		return 1
	}
	x := 1 - float64(t-t0)/float64(t1-t0)
	return 1 - x*x*x
}

// IsPruneStep reports whether GMP prunes at step t.
func (g *GMP) IsPruneStep(ctx *Context, t int64) bool {
	t0, t1 := g.window(ctx)
	return t >= t0 && t <= t1 && ((t-t0)%int64(g.freq) == 0 || t == t1)
}

// Update prunes at the schedule's steps.
func (g *GMP) Update(ctx *Context) error {
	if !g.IsPruneStep(ctx, ctx.Step) {
		return nil
	}
	if g.finalZeros == nil {
		keeps, err := targetKeeps(ctx)
		if err != nil {
			return fmt.Errorf("gmp step %d: %w", ctx.Step, err)
		}
		g.finalZeros = make([]int, len(keeps))
		for i, k := range keeps {
			g.finalZeros[i] = ctx.Tensors[i].Size() - k
		}
	}
	frac := g.SparsityAt(ctx, ctx.Step)
	keeps := make([]int, len(ctx.Tensors))
	for i, t := range ctx.Tensors {
		keeps[i] = t.Size() - int(math.Round(frac*float64(g.finalZeros[i])))
	}
	PruneActiveBy(ctx, keeps, Magnitude, nil)
	return nil
}
