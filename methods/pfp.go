package methods

// PFP is prune-from-pretrained (the reference's run_mag_prune.sh): train
// dense for dense_epochs (D), magnitude-prune every layer once to its
// target at the end of epoch D-1, and fine-tune for finetune_epochs (F)
// with the mask fixed. For "global" the ratios come from the trained dense
// weights at the prune. Defaults from the reference (40 dense + 40
// fine-tune for a 40-epoch dense budget): D = F = base.
type PFP struct {
	base
	denseEp, ftEp int // resolved by Epochs
	denseP, ftP   int // parameters (0 = base)
}

func newPFP(p map[string]string) (Method, error) {
	ps := newParams("pfp", p)
	m := &PFP{base: base{"pfp"}}
	m.denseP = ps.Int("dense_epochs", 0)
	m.ftP = ps.Int("finetune_epochs", 0)
	ps.Check(inRange(m.denseP, 0), "dense_epochs", "an integer in 0..2^20 (0 = base)")
	ps.Check(inRange(m.ftP, 0), "finetune_epochs", "an integer in 0..2^20 (0 = base)")
	if err := ps.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

// Epochs is D + F.
func (m *PFP) Epochs(base int) int {
	m.denseEp = derive(m.denseP, max(1, base))
	m.ftEp = derive(m.ftP, max(1, base))
	return m.denseEp + m.ftEp
}

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
	for i, t := range ctx.Tensors {
		if !t.Dense {
			TopKMask(absCopy(t.W), keeps[i], t.M)
		}
	}
	ApplyMasks(ctx)
	return nil
}

// Phase is dense, then finetune.
func (m *PFP) Phase(epoch int) Phase {
	if epoch < m.denseEp {
		return Phase{Name: "dense", Partition: -1}
	}
	return Phase{Name: "finetune", Partition: -1, Step: 1}
}

// RestartsOptimizerAt is true where a new phase step starts (see Restarter).
func (m *PFP) RestartsOptimizerAt(epoch int) bool { return stepChanges(m, epoch) }
