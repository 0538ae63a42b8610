package nn

import "github.com/gap-harness/gap/engine"

// ConvBN is a bias-free convolution followed by batch norm, the unit of the
// ResNets (models) and of the SSD backbone and extra layers (models/ssd).
type ConvBN struct {
	Conv *Conv2d
	BN   *BatchNorm
}

// Forward is BN(conv(x)); training selects batch statistics.
func (c ConvBN) Forward(tp *engine.Tape[float32], x *engine.Var[float32], training bool) *engine.Var[float32] {
	return c.BN.Forward(tp, c.Conv.Forward(tp, x), training)
}

// ForwardReLU is ReLU(BN(conv(x))), with the batch norm and ReLU fused
// (engine's BatchNormReLU: the same bits as the two ops).
func (c ConvBN) ForwardReLU(tp *engine.Tape[float32], x *engine.Var[float32], training bool) *engine.Var[float32] {
	return c.BN.ForwardReLU(tp, c.Conv.Forward(tp, x), training)
}

// Residual is a residual block: a chain of conv-BN layers with ReLU between
// them, plus an identity (nil Shortcut) or conv-BN shortcut, and a final
// ReLU. Two 3x3 layers make a basic block, 1x1-3x3-1x1 a bottleneck.
type Residual struct {
	Layers   []ConvBN
	Shortcut *ConvBN
}

// Forward runs the block on x.
func (b *Residual) Forward(tp *engine.Tape[float32], x *engine.Var[float32], training bool) *engine.Var[float32] {
	h := x
	for i, l := range b.Layers {
		if i < len(b.Layers)-1 {
			h = l.ForwardReLU(tp, h, training)
		} else {
			h = l.Forward(tp, h, training)
		}
	}
	s := x
	if b.Shortcut != nil {
		s = b.Shortcut.Forward(tp, x, training)
	}
	return tp.AddReLU(h, s)
}
