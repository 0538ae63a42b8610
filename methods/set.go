package methods

// SET (Mocanu et al. 2018) as RigL ran it: the same drop rule and schedule
// as RigL (drop_fraction 0.3, delta_t 100, T_end at end_frac 0.75), with the
// regrown positions drawn uniformly at random from ctx.RNG among those not
// kept. RigL's code drives SET and RigL with one shared
// drop_fraction_anneal flag (flag default "constant"; the RigL paper's
// comparison, from memory and unverified, anneals both with cosine), so SET
// here defaults to the same cosine schedule as rigl, keeping the two
// comparable; anneal=constant gives the original SET paper's fixed
// fraction. SET needs no dense gradient.
type SET struct{ *dst }

func newSET(p map[string]string) (Method, error) {
	d, err := parseDST("set", p, "cosine")
	if err != nil {
		return nil, err
	}
	d.random = true
	return SET{d}, nil
}
