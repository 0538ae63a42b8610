package methods

// RigL (Evci et al. 2020): dynamic sparse training that regrows the inactive
// weights with the largest dense-gradient magnitude. Defaults are RigL's:
// drop_fraction 0.3 with cosine decay to 0 at T_end (end_frac 0.75 of the
// total steps), delta_t 100 steps. See dst for the update rule.
type RigL struct{ *dst }

func newRigL(p map[string]string) (Method, error) {
	d, err := parseDST("rigl", p, "cosine", DropGrow{Drop: Magnitude, Grow: GradMagnitude})
	if err != nil {
		return nil, err
	}
	return RigL{d}, nil
}

// SkipsOptimizerStep is true at the update steps: as in rigl's
// SparseRigLOptimizer, the mask update replaces that step's optimiser update.
func (r RigL) SkipsOptimizerStep(step int64) bool { return r.IsUpdateStep(step) }

// NeedsDenseGrad is true at RigL's update steps (for the FLOPs count).
func (r RigL) NeedsDenseGrad(step int64) bool { return r.IsUpdateStep(step) }
