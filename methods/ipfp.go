package methods

import (
	"math"
)

// IPFP is iterative prune-from-pretrained: dense for dense_epochs (D), then
// cycles k = 1..K, each a magnitude prune (among active weights) to an
// intermediate sparsity followed by cycle_epochs (C) of fine-tuning; the
// last cycle reaches the target. Per layer with final sparsity s:
//
//	geometric (default, as iterative magnitude pruning: the same fraction
//	of the remaining weights each cycle): density_k = (1-s)^(k/K)
//	cubic (Zhu & Gupta's curve sampled at the cycles): s_k = s*(1-(1-k/K)^3)
//
// For "global" the ratios come from the dense weights at the first prune.
// Defaults: K = 3, C = max(1, base/(2K)), D = max(1, base - K*C): the dense
// phase and the fine-tune cycles share the row's budget about half and
// half, as prune-from-pretrained's do (dense_frac 0.5, the reference's
// run_mag_prune.sh: 40 dense + 40 fine-tune epochs), so that both rows
// train the base budget in a budget-matched table. (Until 2026-11-29 the
// default was D = base, C = base/K: twice the budget.)
type IPFP struct {
	base
	denseEp, cycles, cycleEp int // resolved by Epochs
	denseP, cycleP           int // parameters (0 = derive from base)
	schedule                 string
}

func newIPFP(p map[string]string) (Method, error) {
	ps := newParams("ipfp", p)
	m := &IPFP{}
	m.base = newBase("ipfp", ps, m.plan)
	m.denseP = ps.Int("dense_epochs", 0)
	m.cycles = ps.Int("cycles", 3)
	m.cycleP = ps.Int("cycle_epochs", 0)
	m.schedule = ps.Enum("schedule", "geometric", "cubic")
	ps.Check(inRange(m.denseP, 0), "dense_epochs", "an integer in 0..2^20 (0 = base - cycles*cycle_epochs, at least 1)")
	ps.Check(inRange(m.cycles, 1), "cycles", "an integer in 1..2^20")
	ps.Check(inRange(m.cycleP, 0), "cycle_epochs", "an integer in 0..2^20 (0 = base/(2*cycles), at least 1)")
	if err := ps.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

// Revision is 1: the default split of the budget changed (see IPFP) while
// the parameters stayed the same.
func (m *IPFP) Revision() int { return 1 }

// plan is D dense epochs, then K cycles of C fine-tune epochs, each with
// a fresh optimiser after its prune.
func (m *IPFP) plan(budget int) Plan {
	m.cycleEp = derive(m.cycleP, max(1, budget/(2*m.cycles)))
	m.denseEp = derive(m.denseP, max(1, budget-m.cycles*m.cycleEp))
	p := Plan{Targets: TargetsFirstPrune}.Then("dense", m.denseEp, -1, 0, false)
	for k := 1; k <= m.cycles; k++ {
		p = p.Then("finetune", m.cycleEp, -1, k, true)
	}
	return p
}

// Init starts dense.
func (m *IPFP) Init(ctx *Context) error {
	if m.cycleEp == 0 {
		return m.errorf("init: Epochs(base) must be called first")
	}
	denseMasks(ctx)
	return nil
}

// CycleSparsity is the sparsity of a layer with final sparsity s after
// cycle k of K.
func (m *IPFP) CycleSparsity(s float64, k int) float64 {
	x := float64(k) / float64(m.cycles)
	if m.schedule == "cubic" {
		return s * (1 - math.Pow(1-x, 3))
	}
	return 1 - math.Pow(1-s, x)
}

// EpochEnd prunes at the start of each cycle.
func (m *IPFP) EpochEnd(ctx *Context) error {
	e := ctx.Epoch + 1 - m.denseEp
	if e < 0 || e%m.cycleEp != 0 || e/m.cycleEp >= m.cycles {
		return nil
	}
	k := e/m.cycleEp + 1
	s, err := ResolveTargets(ctx)
	if err != nil {
		return m.errorf("cycle %d: %w", k, err)
	}
	keeps := make([]int, len(ctx.Tensors))
	for i, t := range ctx.Tensors {
		if t.Dense {
			continue
		}
		keeps[i] = KeepCount(t.Size(), m.CycleSparsity(s[i], k))
		if k == m.cycles {
			keeps[i] = KeepCount(t.Size(), s[i]) // exact at the end
		}
	}
	PruneActiveBy(ctx, keeps, Magnitude, nil)
	return nil
}

// MasksFixedDuring is true: every cycle's prune happens in EpochEnd, by
// magnitude.
func (*IPFP) MasksFixedDuring(int) bool { return true }
