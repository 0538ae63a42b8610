package methods

import "math"

// PFP is prune-from-pretrained (the reference's run_mag_prune.sh): train
// dense for dense_epochs (D), magnitude-prune every layer once to its
// target at the end of epoch D-1, and fine-tune for finetune_epochs (F)
// with the mask fixed. For "global" the ratios come from the trained dense
// weights at the prune. The two phases share the row's budget: by default
// D = round(dense_frac * base) (at least 1, and at most base-1 so the
// fine-tune gets an epoch when base >= 2) and F = base - D, so a row
// compared at budget xN trains xN epochs in all (the reference's
// run_mag_prune.sh trains 40 dense + 40 fine-tune epochs: dense_frac 0.5
// of an 80-epoch budget). dense_epochs / finetune_epochs override them.
type PFP struct {
	base
	denseEp, ftEp int     // resolved by Epochs
	denseP, ftP   int     // parameters (0 = from dense_frac and the budget)
	denseFrac     float64 // share of the budget trained dense
}

func newPFP(p map[string]string) (Method, error) {
	ps := newParams("pfp", p)
	m := &PFP{}
	m.base = newBase("pfp", ps, m.plan)
	m.denseP = ps.Int("dense_epochs", 0)
	m.ftP = ps.Int("finetune_epochs", 0)
	m.denseFrac = ps.Float("dense_frac", 0.5)
	ps.Check(inRange(m.denseP, 0), "dense_epochs", "an integer in 0..2^20 (0 = dense_frac of the budget)")
	ps.Check(inRange(m.ftP, 0), "finetune_epochs", "an integer in 0..2^20 (0 = the rest of the budget)")
	ps.Check(m.denseFrac > 0 && m.denseFrac <= 1, "dense_frac", "a float in (0, 1]")
	if err := ps.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

// plan is D dense epochs, then F fine-tune epochs with a fresh optimiser
// (D + F = the budget unless dense_epochs or finetune_epochs are set).
func (m *PFP) plan(budget int) Plan {
	d := int(math.Round(m.denseFrac * float64(budget)))
	d = max(1, min(d, budget-1))
	m.denseEp = derive(m.denseP, d)
	m.ftEp = derive(m.ftP, max(0, budget-m.denseEp))
	return Plan{Targets: TargetsFirstPrune}.
		Then("dense", m.denseEp, -1, 0, false).
		Then("finetune", m.ftEp, -1, 1, true)
}

// PhaseEpochs are the dense and fine-tune epochs (valid after Epochs).
func (m *PFP) PhaseEpochs() (dense, finetune int) { return m.denseEp, m.ftEp }

// Init starts dense.
func (m *PFP) Init(ctx *Context) error {
	if m.denseEp == 0 {
		return m.errorf("init: Epochs(base) must be called first")
	}
	denseMasks(ctx)
	return nil
}

// EpochEnd prunes after the last dense epoch.
func (m *PFP) EpochEnd(ctx *Context) error {
	if ctx.Epoch+1 != m.denseEp {
		return nil
	}
	keeps, err := targetKeeps(ctx)
	if err != nil {
		return m.errorf("prune at epoch %d: %w", ctx.Epoch, err)
	}
	PruneToKeeps(ctx, keeps, nil)
	return nil
}

// MasksFixedDuring is true: the one prune happens in EpochEnd, by
// magnitude (the dense epochs before it have all-ones masks, which stay on
// the dense kernels).
func (*PFP) MasksFixedDuring(int) bool { return true }
