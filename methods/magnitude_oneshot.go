package methods

import "fmt"

// MagnitudeOneshot prunes the initial weights once by magnitude, each layer
// to its target from the distribution, and keeps that mask fixed: the
// smallest complete method of the package (a type, a factory that parses
// its parameters and declares its plan, Init, and one line in roster()).
type MagnitudeOneshot struct {
	base
	epochsFactor float64
}

func newMagnitudeOneshot(p map[string]string) (Method, error) {
	ps := newParams("magnitude-oneshot", p)
	f := ps.Float("epochs_factor", 1) // train epochs_factor x base epochs
	ps.Check(f > 0, "epochs_factor", "a float > 0")
	if err := ps.Err(); err != nil {
		return nil, err
	}
	m := &MagnitudeOneshot{epochsFactor: f}
	m.base = newBase("magnitude-oneshot", ps, m.plan)
	return m, nil
}

// plan is one sparse phase of epochs_factor x base epochs (at least 1),
// the mask fixed at Init from the initial weights.
func (m *MagnitudeOneshot) plan(budget int) Plan {
	return OnePhase("sparse", max(1, int(float64(budget)*m.epochsFactor+0.5)), TargetsInitialWeights)
}

// Init keeps the largest |w| of each layer, to its target.
func (m *MagnitudeOneshot) Init(ctx *Context) error {
	keeps, err := targetKeeps(ctx)
	if err != nil {
		return fmt.Errorf("%s init: %w", m.name, err)
	}
	denseMasks(ctx)
	PruneToKeeps(ctx, keeps, nil)
	return nil
}

// MasksFixedDuring is true: the mask never changes after Init.
func (*MagnitudeOneshot) MasksFixedDuring(int) bool { return true }
