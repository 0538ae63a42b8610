package methods

import (
	"fmt"
	"math"
)

// dst is the dynamic-sparse-training core shared by RigL and SET: masks
// start random at the distribution's per-layer sparsity (the random rule of
// the prune-to-keeps loop); every deltaT steps until T_end the drop-and-grow
// loop (DropGrow: drop the smallest |w|, regrow by the method's grow score)
// runs at the step's drop fraction. RigL and SET differ only in the grow
// score (|grad| or random) and in when the update runs (before the
// optimiser step, replacing it, or after it).
type dst struct {
	base
	alpha   float64 // initial drop fraction
	deltaT  int     // steps between updates
	endFrac float64 // T_end as a fraction of the total steps
	anneal  string  // "cosine" or "constant"
	rule    DropGrow
	endStep int64 // resolved at Init
}

func parseDST(name string, p map[string]string, anneal string, rule DropGrow) (*dst, error) {
	ps := newParams(name, p)
	d := &dst{base: newBase(name, ps, sparseFromInit), rule: rule}
	d.alpha = ps.Float("drop_fraction", 0.3)
	d.deltaT = ps.Int("delta_t", 100)
	d.endFrac = ps.Float("end_frac", 0.75)
	if anneal == "cosine" {
		d.anneal = ps.Enum("anneal", "cosine", "constant")
	} else {
		d.anneal = ps.Enum("anneal", "constant", "cosine")
	}
	ps.Check(d.alpha >= 0 && d.alpha <= 1, "drop_fraction", "a float in [0, 1]")
	ps.Check(d.deltaT > 0, "delta_t", "an integer > 0 (steps)")
	ps.Check(d.endFrac > 0 && d.endFrac <= 1, "end_frac", "a float in (0, 1]")
	if err := ps.Err(); err != nil {
		return nil, err
	}
	return d, nil
}

// Init draws random masks at the per-layer targets and fixes T_end.
func (d *dst) Init(ctx *Context) error {
	d.endStep = int64(math.Round(d.endFrac * float64(ctx.TotalSteps())))
	if err := randomMasks(ctx); err != nil {
		return fmt.Errorf("%s init: %w", d.name, err)
	}
	return nil
}

// EndStep is T_end (valid after Init).
func (d *dst) EndStep() int64 { return d.endStep }

// IsUpdateStep reports whether the mask is updated at step t: t > 0,
// t a multiple of delta_t, t <= T_end.
func (d *dst) IsUpdateStep(t int64) bool {
	return t > 0 && t%int64(d.deltaT) == 0 && t <= d.endStep
}

// DropFraction is the drop fraction at step t: constant alpha, or RigL's
// cosine decay alpha/2 * (1 + cos(pi * min(t, T_end) / T_end)).
func (d *dst) DropFraction(t int64) float64 {
	if d.anneal == "constant" {
		return d.alpha
	}
	if d.endStep <= 0 {
		return 0
	}
	x := math.Min(float64(t), float64(d.endStep)) / float64(d.endStep)
	return d.alpha / 2 * (1 + math.Cos(math.Pi*x))
}

// Update drops and regrows at the update steps.
func (d *dst) Update(ctx *Context) error {
	if !d.IsUpdateStep(ctx.Step) {
		return nil
	}
	if err := d.rule.Apply(ctx, d.DropFraction(ctx.Step)); err != nil {
		return fmt.Errorf("%s step %d: %w", d.name, ctx.Step, err)
	}
	return nil
}
