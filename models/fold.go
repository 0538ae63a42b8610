package models

import (
	"fmt"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/nn"
)

// Inference is an evaluation-only copy of a model built for speed (batch
// norm folded into the convolutions, bias, ReLU and residual adds fused into
// their epilogues). Its logits equal the model's evaluation-mode logits up
// to float32 rounding.
type Inference interface {
	// Name is the model's name.
	Name() string
	// Forward maps x [N, C, H, W] to logits; no gradient is recorded.
	Forward(tp *engine.Tape[float32], x *engine.Var[float32]) *engine.Var[float32]
	// Masked lists the weights that carry a mask (folded copies for the
	// convolutions, the model's own parameter for a masked linear layer):
	// PrepareSparse / ClearSparse on them select the kernels.
	Masked() []*nn.Param
}

// Folder is a model that can build its Inference copy.
type Folder interface {
	// Fold builds the inference copy from the current weights, masks and
	// batch-norm running statistics; later changes to the model are not
	// seen by the copy, except through the shared linear layer.
	Fold() (Inference, error)
}

// foldedResNet is the Inference copy of a resnet.
type foldedResNet struct {
	src     *resnet
	stem    *nn.FoldedConv
	blocks  []*nn.FoldedResidual
	maxPool bool
}

// Fold folds the ResNet's batch norms (see nn.FoldConvBN). The fc layer is
// shared with the model (it has no batch norm).
func (m *resnet) Fold() (Inference, error) {
	stem, err := nn.FoldConvBN(m.stem)
	if err != nil {
		return nil, fmt.Errorf("models: %s: %w", m.name, err)
	}
	f := &foldedResNet{src: m, stem: stem, maxPool: m.maxPool}
	for _, b := range m.blocks {
		fb, err := nn.FoldResidual(b)
		if err != nil {
			return nil, fmt.Errorf("models: %s: %w", m.name, err)
		}
		f.blocks = append(f.blocks, fb)
	}
	return f, nil
}

func (f *foldedResNet) Name() string { return f.src.name }

func (f *foldedResNet) Forward(tp *engine.Tape[float32], x *engine.Var[float32]) *engine.Var[float32] {
	m := f.src
	checkInput(m.name, x, m.c, m.h, m.w)
	h := f.stem.Forward(tp, x, true, nil)
	if f.maxPool {
		h = tp.MaxPool2DInference(h, engine.PoolOpts{KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1})
	}
	for _, b := range f.blocks {
		h = b.Forward(tp, h)
	}
	return m.fc.Forward(tp, tp.GlobalAvgPool2D(h))
}

func (f *foldedResNet) Masked() []*nn.Param {
	var ps []*nn.Param
	add := func(p *nn.Param) {
		if p.Mask != nil {
			ps = append(ps, p)
		}
	}
	add(f.stem.W)
	for _, b := range f.blocks {
		for _, p := range b.Params() {
			add(p)
		}
	}
	add(f.src.fc.W)
	return ps
}
