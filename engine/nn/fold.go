package nn

import (
	"fmt"
	"math"

	"github.com/gap-harness/gap/engine"
)

// FoldedConv is an inference copy of a ConvBN with the evaluation-mode batch
// norm folded into the convolution: W' = W*mask * gamma/sqrt(var+eps) per
// output channel and b' = beta - mean*gamma/sqrt(var+eps) (plus the conv's
// own bias, scaled). Its Forward runs engine.FusedConv2D, which adds b', an
// optional residual and an optional ReLU in the convolution's epilogue.
type FoldedConv struct {
	// W is the folded weight as a parameter outside any ParamSet: its Mask is
	// the original weight's mask (the folded weight is zero outside it), so
	// PrepareSparse / ClearSparse switch the layer between the sparse and the
	// dense kernels exactly as for a training layer.
	W *Param
	// B is the folded bias [Out].
	B []float32
	// Spec is the convolution's geometry.
	Spec ConvSpec
}

// FoldConvBN folds c's batch norm (running statistics) into its convolution.
// The arithmetic is in float64, rounded once to float32 per element.
func FoldConvBN(c ConvBN) (*FoldedConv, error) {
	w := c.Conv.W
	st := c.BN.State
	o := c.Conv.Spec.Out
	if st == nil || st.RunningMean.Len() != o || st.RunningVar.Len() != o ||
		c.BN.Weight.Len() != o || c.BN.Bias.Len() != o {
		return nil, fmt.Errorf("nn: fold %s: batch norm does not have %d channels", w.Name, o)
	}
	if w.Mask != nil && len(w.Mask) != w.Len() {
		return nil, fmt.Errorf("nn: fold %s: mask has %d elements, weight %d", w.Name, len(w.Mask), w.Len())
	}
	wd := w.V.Value.Data()
	per := w.Len() / o
	fw := engine.NewTensor[float32](w.Shape()...)
	fd := fw.Data()
	b := make([]float32, o)
	gamma, beta := c.BN.Weight.V.Value.Data(), c.BN.Bias.V.Value.Data()
	mean, variance := st.RunningMean.Data(), st.RunningVar.Data()
	for oc := 0; oc < o; oc++ {
		scale := float64(gamma[oc]) / math.Sqrt(float64(variance[oc])+st.Eps)
		for i := oc * per; i < (oc+1)*per; i++ {
			if w.Mask == nil || w.Mask[i] != 0 {
				fd[i] = float32(float64(wd[i]) * scale)
			}
		}
		cb := 0.0
		if c.Conv.B != nil {
			cb = float64(c.Conv.B.V.Value.Data()[oc])
		}
		b[oc] = float32(float64(beta[oc]) + (cb-float64(mean[oc]))*scale)
	}
	p := &Param{Name: w.Name, V: engine.NewParam(w.Name, fw), Prunable: w.Prunable, FirstOrLast: w.FirstOrLast,
		Partition: w.Partition, FwdFLOPs: w.FwdFLOPs, Groups: w.Groups}
	if w.Mask != nil {
		p.Mask = append([]float32(nil), w.Mask...)
	}
	return &FoldedConv{W: p, B: b, Spec: c.Conv.Spec}, nil
}

// Forward is relu(conv(x, W') + b' + residual): ReLU when relu is set,
// residual when non-nil. It runs the sparse kernels when W has a prepared
// pattern. Inference only (no gradient).
func (f *FoldedConv) Forward(tp *engine.Tape[float32], x *engine.Var[float32], relu bool, residual *engine.Var[float32]) *engine.Var[float32] {
	s := f.Spec
	st, d := max(s.Stride, 1), max(s.Dilation, 1)
	o := engine.ConvOpts{StrideH: st, StrideW: st, PadH: s.Pad, PadW: s.Pad, DilationH: d, DilationW: d, Groups: max(s.Groups, 1)}
	return tp.FusedConv2D(x, f.W.V.Value, o, f.W.Sparse,
		engine.FusedConvOpts[float32]{Bias: f.B, Residual: residual, ReLU: relu})
}

// FoldedResidual is the inference copy of a Residual with every ConvBN
// folded: ReLU fused into each inner layer and residual add + ReLU into the
// last one.
type FoldedResidual struct {
	Layers   []*FoldedConv
	Shortcut *FoldedConv
}

// FoldResidual folds every ConvBN of b.
func FoldResidual(b *Residual) (*FoldedResidual, error) {
	f := &FoldedResidual{}
	for _, l := range b.Layers {
		fl, err := FoldConvBN(l)
		if err != nil {
			return nil, err
		}
		f.Layers = append(f.Layers, fl)
	}
	if b.Shortcut != nil {
		sc, err := FoldConvBN(*b.Shortcut)
		if err != nil {
			return nil, err
		}
		f.Shortcut = sc
	}
	if len(f.Layers) == 0 {
		return nil, fmt.Errorf("nn: fold: residual block without layers")
	}
	return f, nil
}

// Forward computes the block as Residual.Forward does in evaluation mode.
func (f *FoldedResidual) Forward(tp *engine.Tape[float32], x *engine.Var[float32]) *engine.Var[float32] {
	s := x
	if f.Shortcut != nil {
		s = f.Shortcut.Forward(tp, x, false, nil)
	}
	h := x
	last := len(f.Layers) - 1
	for _, l := range f.Layers[:last] {
		h = l.Forward(tp, h, true, nil)
	}
	return f.Layers[last].Forward(tp, h, true, s)
}

// Params lists the block's folded weights (layers, then shortcut).
func (f *FoldedResidual) Params() []*Param {
	var ps []*Param
	for _, l := range f.Layers {
		ps = append(ps, l.W)
	}
	if f.Shortcut != nil {
		ps = append(ps, f.Shortcut.W)
	}
	return ps
}
