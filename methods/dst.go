package methods

import (
	"fmt"
	"math"
)

// dst is the dynamic-sparse-training core shared by RigL and SET (RigL's
// generic_mask_update): masks start random at the distribution's per-layer
// sparsity; every deltaT steps until T_end, each non-Dense layer drops the
// floor(f*active) active weights of smallest |w| and regrows as many among
// the positions not kept (RigL: largest |G|; SET: uniformly at random). As
// in RigL, a just-dropped position is a candidate for regrowth (it keeps
// its value and optimiser state if regrown); a newly activated position
// starts at W=0 with zeroed optimiser state. Per-layer counts never change.
type dst struct {
	base
	alpha   float64 // initial drop fraction
	deltaT  int     // steps between updates
	endFrac float64 // T_end as a fraction of the total steps
	anneal  string  // "cosine" or "constant"
	random  bool    // SET's random regrowth
	endStep int64   // resolved at Init
}

func parseDST(name string, p map[string]string, anneal string) (*dst, error) {
	ps := newParams(name, p)
	d := &dst{base: base{name: name, ps: ps}}
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

// Epochs is the base budget.
func (d *dst) Epochs(base int) int { return base }

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
	f := d.DropFraction(ctx.Step)
	for _, t := range ctx.Tensors {
		if t.Dense {
			continue
		}
		if err := d.updateTensor(ctx, t, f); err != nil {
			return fmt.Errorf("%s step %d: %w", d.name, ctx.Step, err)
		}
	}
	ApplyMasks(ctx)
	return nil
}

func (d *dst) updateTensor(ctx *Context, t *Tensor, f float64) error {
	n := t.Size()
	if len(t.G) != n {
		return fmt.Errorf("tensor %s: gradient has %d elements, want %d", t.Name, len(t.G), n)
	}
	active := make([]bool, n)
	nActive := 0
	for i, m := range t.M {
		if m != 0 {
			active[i] = true
			nActive++
		}
	}
	nDrop := int(f * float64(nActive))
	if nDrop == 0 {
		return nil
	}
	kept := make([]float32, n)
	topKAmong(absCopy(t.W), active, nActive-nDrop, kept)
	cand := make([]bool, n)
	for i := range cand {
		cand[i] = kept[i] == 0
	}
	grown := make([]float32, n)
	if d.random {
		idx := make([]int, 0, n-nActive+nDrop)
		for i, c := range cand {
			if c {
				idx = append(idx, i)
			}
		}
		for i := 0; i < nDrop; i++ {
			j := i + ctx.RNG.IntN(len(idx)-i)
			idx[i], idx[j] = idx[j], idx[i]
			grown[idx[i]] = 1
		}
	} else {
		topKAmong(absCopy(t.G), cand, nDrop, grown)
	}
	var fresh []int
	for i := range t.M {
		if grown[i] != 0 && !active[i] {
			fresh = append(fresh, i)
			t.W[i] = 0
		}
		if kept[i] != 0 || grown[i] != 0 {
			t.M[i] = 1
		} else {
			t.M[i] = 0
		}
	}
	if ctx.Opt != nil && len(fresh) > 0 {
		ctx.Opt.ZeroIndices(t.Name, fresh)
	}
	return nil
}

// TargetsAtInit is true: the targets are fixed at Init (see TargetsAtInit).
func (*dst) TargetsAtInit() bool { return true }
