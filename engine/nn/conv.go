package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/gap-harness/gap/engine"
)

// ConvSpec describes a square-kernel 2-D convolution (nn.Conv2d).
type ConvSpec struct {
	// In and Out are the channel counts; K the kernel size.
	In, Out, K int
	// Stride (0 means 1), Pad and Dilation (0 means 1).
	Stride, Pad, Dilation int
	// Groups splits channels into groups (0 means 1).
	Groups int
	// Bias adds a per-output-channel bias.
	Bias bool
}

// Conv2d is a 2-D convolution layer with weight [Out, In/Groups, K, K].
type Conv2d struct {
	// W is the weight (prunable); B the bias or nil.
	W, B *Param
	// Spec is the layer's geometry.
	Spec ConvSpec
}

// NewConv2d registers name+".weight" (and ".bias") with PyTorch's default
// init. It panics if channels do not divide into groups (a model bug).
func NewConv2d(ps *ParamSet, name string, s ConvSpec, rng *rand.Rand) *Conv2d {
	g := max(s.Groups, 1)
	if s.In%g != 0 || s.Out%g != 0 || s.K < 1 {
		panic(fmt.Sprintf("nn: conv %s: %d->%d channels, kernel %d, %d groups", name, s.In, s.Out, s.K, g))
	}
	w := engine.NewTensor[float32](s.Out, s.In/g, s.K, s.K)
	DefaultWeight(w, rng)
	c := &Conv2d{W: ps.Add(name+".weight", w, true), Spec: s}
	c.W.Groups = g
	if s.Bias {
		b := engine.NewTensor[float32](s.Out)
		DefaultBias(b, s.In/g*s.K*s.K, rng)
		c.B = ps.Add(name+".bias", b, false)
	}
	return c
}

// OutSize returns the output height and width for an h x w input.
func (c *Conv2d) OutSize(h, w int) (int, int) {
	s := c.Spec
	st, d := max(s.Stride, 1), max(s.Dilation, 1)
	f := func(n int) int { return (n+2*s.Pad-d*(s.K-1)-1)/st + 1 }
	return f(h), f(w)
}

// Plan records an h x w input: it sets the weight's FwdFLOPs (2 * OH * OW *
// Out * In/Groups * K * K) and returns the output size.
func (c *Conv2d) Plan(h, w int) (int, int) {
	oh, ow := c.OutSize(h, w)
	s := c.Spec
	c.W.FwdFLOPs = 2 * float64(oh*ow) * float64(s.Out) * float64(s.In/max(s.Groups, 1)*s.K*s.K)
	return oh, ow
}

// Forward convolves x [N, In, H, W], through SparseConv2D when the weight
// has a prepared sparse pattern.
func (c *Conv2d) Forward(tp *engine.Tape[float32], x *engine.Var[float32]) *engine.Var[float32] {
	s := c.Spec
	st, d := max(s.Stride, 1), max(s.Dilation, 1)
	o := engine.ConvOpts{StrideH: st, StrideW: st, PadH: s.Pad, PadW: s.Pad, DilationH: d, DilationW: d, Groups: max(s.Groups, 1)}
	if c.W.Sparse != nil {
		return tp.SparseConv2D(x, c.W.V, varOf(c.B), o, c.W.Sparse)
	}
	return tp.Conv2D(x, c.W.V, varOf(c.B), o)
}

// ForwardReLU is ReLU(Forward(x)), fused into the dense convolution
// (engine's Conv2DReLU: the same bits as the two ops).
func (c *Conv2d) ForwardReLU(tp *engine.Tape[float32], x *engine.Var[float32]) *engine.Var[float32] {
	if c.W.Sparse != nil {
		return tp.ReLU(c.Forward(tp, x))
	}
	s := c.Spec
	st, d := max(s.Stride, 1), max(s.Dilation, 1)
	o := engine.ConvOpts{StrideH: st, StrideW: st, PadH: s.Pad, PadW: s.Pad, DilationH: d, DilationW: d, Groups: max(s.Groups, 1)}
	return tp.Conv2DReLU(x, c.W.V, varOf(c.B), o)
}
