package bench

import (
	"fmt"

	"github.com/gap-harness/gap/datasets/detection"
	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/optim"
	"github.com/gap-harness/gap/models/ssd"
)

// SSDStepper runs the detection training step on the SSD proxy: tape
// reset, zero gradients, matching, forward, multibox loss with hard
// negative mining, backward, SGD (lr 0.01, momentum 0.9), masks applied.
type SSDStepper struct {
	// Model is the proxy SSD; Tape records the step; Opt is the SGD.
	Model *ssd.Model
	Tape  *engine.Tape[float32]
	Opt   *optim.SGD
	// X is a fixed mnist-detect batch and Truths its objects.
	X      *engine.Tensor[float32]
	Truths [][]ssd.Truth
}

// NewSSDStepper builds the proxy SSD and one batch of mnist-detect (the
// first batch canvases of seed's set; MNIST from the Go module cache).
func NewSSDStepper(batch, threads int, seed uint64) (*SSDStepper, error) {
	if batch < 1 || threads < 1 {
		return nil, fmt.Errorf("bench: batch %d and threads %d must be >= 1", batch, threads)
	}
	cfg := ssd.Proxy()
	cfg.Seed = seed
	m, err := ssd.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	d, err := detection.LoadMNISTDetect("", true, detection.MNISTDetectConfig{Images: batch, Seed: seed})
	if err != nil {
		return nil, fmt.Errorf("bench: ssd: %w", err)
	}
	idx := make([]int, batch)
	for i := range idx {
		idx[i] = i
	}
	x, truths, err := ssd.MNISTBatch(d, idx)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	opt, err := optim.NewSGD(m.Params().Vars(), optim.SGDConfig{LR: 0.01, Momentum: 0.9, Threads: threads})
	if err != nil {
		return nil, fmt.Errorf("bench: ssd: %w", err)
	}
	return &SSDStepper{Model: m, Tape: engine.NewTape[float32](threads), Opt: opt, X: x, Truths: truths}, nil
}

// Step runs one training step and returns its loss.
func (s *SSDStepper) Step() (loss float32, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("bench: ssd step: %v", r)
		}
	}()
	tp, ps := s.Tape, s.Model.Params()
	tp.Reset()
	ps.ZeroGrad()
	l, _, err := s.Model.Loss(tp, s.X, s.Truths, true)
	if err != nil {
		return 0, err
	}
	loss = l.Value.Data()[0]
	if err := tp.Backward(l); err != nil {
		return 0, fmt.Errorf("bench: ssd backward: %w", err)
	}
	s.Opt.Step()
	ps.ApplyMasks()
	return loss, nil
}

// stepSSD is Step for the model name "ssd" (the detection proxy).
func stepSSD(batch, steps, warmup, threads int) (Result, error) {
	s, err := NewSSDStepper(batch, threads, 0)
	if err != nil {
		return Result{}, err
	}
	return timeSteps("ssd", batch, steps, warmup, threads, s.Step)
}
