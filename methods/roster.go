package methods

// rosterEntry is one line of the roster.
type rosterEntry struct {
	name, desc string
	factory    Factory
}

// roster lists every method of the harness. Adding a method: one file with
// its type and factory, plus one line here.
func roster() []rosterEntry {
	return []rosterEntry{
		{"dense", "dense training, no pruning (the reference)", newDense},
		{"static", "random mask at init at the distribution's sparsity, fixed", newStatic},
		{"magnitude-oneshot", "one-shot magnitude prune of the initial weights, fixed (worked example)", newMagnitudeOneshot},
		{"snip", "SNIP: keep top |g*w| from one batch at init, fixed (Lee et al. 2019)", newSNIP},
		{"gmp", "gradual magnitude pruning from dense, cubic schedule (Zhu & Gupta 2017)", newGMP},
		{"set", "SET: drop smallest |w|, regrow at random (Mocanu et al. 2018, RigL's setting)", newSET},
		{"rigl", "RigL: drop smallest |w|, regrow largest |grad| (Evci et al. 2020)", newRigL},
		{"cgap", "cyclic grow-and-prune: one partition dense at a time (Ma et al. 2022)", newCGaP},
		{"pgap", "parallel grow-and-prune: branches grow different partitions, merged (Ma et al. 2022)", newPGaP},
		{"pfp", "prune from pretrained: dense, one-shot magnitude prune, fine-tune", newPFP},
		{"ipfp", "iterative prune from pretrained: dense, then k prune/fine-tune cycles", newIPFP},
	}
}
