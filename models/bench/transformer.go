package bench

import (
	"fmt"
	"math/rand/v2"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/optim"
	"github.com/gap-harness/gap/models/transformer"
)

// TransformerStepper runs the reference training step of the translation
// model (torch_reference.py's transformer: d 256, 4 heads, FFN 1024, 3+3
// layers, vocabulary 8000, 32-token sources and targets, dropout 0.1, label
// smoothing 0.1, Adam lr 1e-3) on a fixed random batch of sentence pairs.
type TransformerStepper struct {
	// Model is the Transformer; Tape records the step; Opt is Adam(lr=1e-3).
	Model *transformer.Model
	Tape  *engine.Tape[float32]
	Opt   *optim.Adam
	// Batch is the fixed batch; RNG draws dropout masks.
	Batch *transformer.Batch
	RNG   *rand.Rand
}

// NewTransformerStepper builds the bench-configuration Transformer and a
// random batch of batch sentence pairs, both from seed.
func NewTransformerStepper(batch, threads int, seed uint64) (*TransformerStepper, error) {
	if batch < 1 || threads < 1 {
		return nil, fmt.Errorf("bench: batch %d and threads %d must be >= 1", batch, threads)
	}
	cfg := transformer.Bench()
	cfg.Seed = seed
	m, err := transformer.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	opt, err := optim.NewAdam(m.Params().Vars(), optim.AdamConfig{LR: 1e-3, Threads: threads})
	if err != nil {
		return nil, fmt.Errorf("bench: transformer: %w", err)
	}
	rng := rand.New(rand.NewPCG(seed, seed+1))
	const l = 32
	bt := &transformer.Batch{B: batch, SrcLen: l, TgtLen: l, Src: make([]int32, batch*l), TgtIn: make([]int32, batch*l), TgtOut: make([]int32, batch*l)}
	for i := 0; i < batch; i++ {
		tgt := make([]int32, l+1)
		for j := range tgt {
			tgt[j] = int32(4 + rng.IntN(cfg.Vocab-4))
		}
		for j := 0; j < l; j++ {
			bt.Src[i*l+j] = int32(4 + rng.IntN(cfg.Vocab-4))
			bt.TgtIn[i*l+j], bt.TgtOut[i*l+j] = tgt[j], tgt[j+1]
		}
	}
	return &TransformerStepper{Model: m, Tape: engine.NewTape[float32](threads), Opt: opt, Batch: bt, RNG: rng}, nil
}

// Step runs one training step (dropout on) and returns the loss before the
// update.
func (s *TransformerStepper) Step() (loss float32, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("bench: transformer step: %v", r)
		}
	}()
	tp, ps := s.Tape, s.Model.Params()
	tp.Reset()
	ps.ZeroGrad()
	l := s.Model.Loss(tp, s.Batch, true, s.RNG)
	loss = l.Value.Data()[0]
	if err := tp.Backward(l); err != nil {
		return 0, fmt.Errorf("bench: transformer backward: %w", err)
	}
	s.Opt.Step()
	ps.ApplyMasks()
	return loss, nil
}

// transformerStep is Step for model "transformer" (batch counts sentence
// pairs).
func transformerStep(batch, steps, warmup, threads int) (Result, error) {
	s, err := NewTransformerStepper(batch, threads, 0)
	if err != nil {
		return Result{}, err
	}
	return timeSteps("transformer", batch, steps, warmup, threads, s.Step)
}
