package methods

import "fmt"

// Static is static sparse training: a random mask at init at the
// distribution's per-layer sparsity (uniform, ERK or global), never changed.
type Static struct{ base }

func newStatic(p map[string]string) (Method, error) {
	ps := newParams("static", p)
	if err := ps.Err(); err != nil {
		return nil, err
	}
	return &Static{base{name: "static", ps: ps}}, nil
}

// Epochs is the base budget.
func (s *Static) Epochs(base int) int { return base }

// Init draws the random masks from ctx.RNG.
func (s *Static) Init(ctx *Context) error {
	if err := randomMasks(ctx); err != nil {
		return fmt.Errorf("static init: %w", err)
	}
	return nil
}

// MasksFixedDuring is true: the mask never changes after Init.
func (*Static) MasksFixedDuring(int) bool { return true }

// TargetsAtInit is true: the targets are fixed at Init (see TargetsAtInit).
func (*Static) TargetsAtInit() bool { return true }
