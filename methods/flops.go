package methods

// FLOPs accounting as RigL reports it (Evci et al. 2020, appendix; rigl's
// sparse_utils.get_stats): a sparse layer's forward FLOPs are its dense
// forward FLOPs times its density; the backward pass costs twice the
// forward (input gradient + weight gradient); at a step that needs the
// dense gradient (RigL's update steps) the weight-gradient half is dense:
// f_S (forward) + f_S (input gradient) + f_D (dense weight gradient).
// Non-prunable ops (BN, activations, pooling, biases, Dense-free extras)
// are passed by the runner as otherFwd, dense forward FLOPs per example,
// and always cost 3x in training.

// sparseDenseFwd returns the per-example forward FLOPs of the tensors at
// their current densities (sparse) and at density 1 (dense).
func sparseDenseFwd(ts []*Tensor) (sparse, dense float64) {
	for _, t := range ts {
		d := 1.0
		if n := len(t.M); n > 0 {
			d = float64(CountOnes(t.M)) / float64(n)
		}
		sparse += t.FwdFLOPs * d
		dense += t.FwdFLOPs
	}
	return sparse, dense
}

// StepFLOPs is the training FLOPs of one optimiser step on a batch of the
// given size with the current masks: batch * (3*(f_S + other)) normally,
// batch * (2*f_S + f_D + 3*other) when denseGrad is set.
func StepFLOPs(ts []*Tensor, batch int, denseGrad bool, otherFwd float64) float64 {
	s, d := sparseDenseFwd(ts)
	per := 3*s + 3*otherFwd
	if denseGrad {
		per = 2*s + d + 3*otherFwd
	}
	return float64(batch) * per
}

// InferenceFLOPs is the forward FLOPs of one example with the current
// masks, plus the non-prunable forward FLOPs.
func InferenceFLOPs(ts []*Tensor, otherFwd float64) float64 {
	s, _ := sparseDenseFwd(ts)
	return s + otherFwd
}
