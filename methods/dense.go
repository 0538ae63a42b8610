package methods

// Dense trains the full model: every mask stays 1.
type Dense struct{ base }

func newDense(p map[string]string) (Method, error) {
	ps := newParams("dense", p)
	if err := ps.Err(); err != nil {
		return nil, err
	}
	return &Dense{newBase("dense", ps, func(budget int) Plan { return OnePhase("dense", budget, TargetsNone) })}, nil
}

// Init sets every mask to 1.
func (d *Dense) Init(ctx *Context) error {
	denseMasks(ctx)
	return nil
}
