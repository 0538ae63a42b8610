package methods

// SET (Mocanu et al. 2018) as RigL ran it: the same drop rule and update
// steps as RigL (drop_fraction 0.3, delta_t 100, T_end at end_frac 0.75),
// with the regrown positions drawn uniformly at random from ctx.RNG among
// those not kept, and a fixed drop fraction (anneal=constant, SET's own rule
// and the default of RigL's drop_fraction_anneal flag; anneal=cosine decays
// it as RigL does). As in rigl's SparseSETOptimizer the mask update follows
// that step's optimiser update (AfterStep). SET needs no dense gradient.
type SET struct{ *dst }

func newSET(p map[string]string) (Method, error) {
	d, err := parseDST("set", p, "constant", DropGrow{Drop: Magnitude})
	if err != nil {
		return nil, err
	}
	return SET{d}, nil
}

// Update does nothing: SET updates its masks after the optimiser step.
func (s SET) Update(ctx *Context) error { return nil }

// AfterStep drops and regrows at the update steps, after the optimiser step.
func (s SET) AfterStep(ctx *Context) error { return s.dst.Update(ctx) }
