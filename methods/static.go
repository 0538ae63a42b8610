package methods

import "fmt"

// Static is static sparse training: a random mask at init at the
// distribution's per-layer sparsity (uniform, ERK or global), never changed.
// It is the prune-to-keeps loop with the random rule (RandomKeep).
type Static struct{ base }

func newStatic(p map[string]string) (Method, error) {
	ps := newParams("static", p)
	if err := ps.Err(); err != nil {
		return nil, err
	}
	return &Static{newBase("static", ps, sparseFromInit)}, nil
}

// sparseFromInit is the plan of the methods sparse from the first step
// with a mask fixed at Init for the whole base budget.
func sparseFromInit(budget int) Plan { return OnePhase("sparse", budget, TargetsInit) }

// Init draws the random masks from ctx.RNG.
func (s *Static) Init(ctx *Context) error {
	if err := randomMasks(ctx); err != nil {
		return fmt.Errorf("static init: %w", err)
	}
	return nil
}

// MasksFixedDuring is true: the mask never changes after Init.
func (*Static) MasksFixedDuring(int) bool { return true }
