package bench

import (
	"fmt"
	"math/rand/v2"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/optim"
	"github.com/gap-harness/gap/models"
)

// Stepper runs the reference training step on one model with a fixed random
// batch: tape.Reset, zero gradients, forward, cross-entropy, backward, Adam
// step, masks applied.
type Stepper struct {
	// Model is the model being trained.
	Model models.Model
	// Tape records the step; Opt is Adam(lr=1e-3).
	Tape *engine.Tape[float32]
	Opt  *optim.Adam
	// X is the input batch [batch, C, H, W]; Y its labels.
	X *engine.Tensor[float32]
	Y []int32
}

// NewStepper builds the named model (with cfg) and a random batch, both from
// seed, and Adam(lr=1e-3) over its parameters.
func NewStepper(model string, cfg models.Config, batch, threads int, seed uint64) (*Stepper, error) {
	if batch < 1 || threads < 1 {
		return nil, fmt.Errorf("bench: batch %d and threads %d must be >= 1", batch, threads)
	}
	cfg.Seed = seed
	m, err := models.New(model, cfg)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	opt, err := optim.NewAdam(m.Params().Vars(), optim.AdamConfig{LR: 1e-3, Threads: threads})
	if err != nil {
		return nil, fmt.Errorf("bench: %s: %w", model, err)
	}
	c, h, w := m.InputShape()
	rng := rand.New(rand.NewPCG(seed, seed+1))
	x := engine.NewTensor[float32](batch, c, h, w)
	for i := range x.Data() {
		x.Data()[i] = float32(rng.NormFloat64())
	}
	y := make([]int32, batch)
	for i := range y {
		y[i] = int32(rng.IntN(m.NumClasses()))
	}
	return &Stepper{Model: m, Tape: engine.NewTape[float32](threads), Opt: opt, X: x, Y: y}, nil
}

// Step runs one training step on the stepper's batch and returns the loss
// before the update.
func (s *Stepper) Step() (float32, error) {
	return s.StepOn(s.X, s.Y)
}

// StepOn runs one training step on the given batch and returns its loss. A
// panic inside the engine (e.g. a shape error) is returned as an error.
func (s *Stepper) StepOn(x *engine.Tensor[float32], y []int32) (loss float32, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("bench: %s step: %v", s.Model.Name(), r)
		}
	}()
	tp, ps := s.Tape, s.Model.Params()
	tp.Reset()
	ps.ZeroGrad()
	l := tp.CrossEntropy(s.Model.Forward(tp, tp.Const(x), true), y, engine.CEOpts{})
	loss = l.Value.Data()[0]
	if err := tp.Backward(l); err != nil {
		return 0, fmt.Errorf("bench: %s backward: %w", s.Model.Name(), err)
	}
	s.Opt.Step()
	ps.ApplyMasks()
	return loss, nil
}
