package methods

// Dense trains the full model: every mask stays 1.
type Dense struct{ base }

func newDense(p map[string]string) (Method, error) {
	ps := newParams("dense", p)
	if err := ps.Err(); err != nil {
		return nil, err
	}
	return &Dense{base{name: "dense", ps: ps}}, nil
}

// Epochs is the base budget.
func (d *Dense) Epochs(base int) int { return base }

// Init sets every mask to 1.
func (d *Dense) Init(ctx *Context) error {
	denseMasks(ctx)
	return nil
}

// Phase is always "dense".
func (d *Dense) Phase(epoch int) Phase { return Phase{Name: "dense", Partition: -1} }
