package engine

import (
	"fmt"
	"slices"
)

// epilogue is what a fused inference convolution applies to its output
// after the product (which already includes the bias): an optional residual
// added elementwise, then an optional ReLU. A nil *epilogue is the identity.
type epilogue[T Float] struct {
	res  []T // same layout as the output, or nil
	relu bool
}

// apply runs the epilogue in place on out[off : off+n].
func (e *epilogue[T]) apply(out []T, off, n int) {
	if e == nil {
		return
	}
	o := out[off : off+n]
	switch {
	case e.res != nil && e.relu:
		r := e.res[off : off+n]
		for i := range o {
			o[i] = max(o[i]+r[i], 0)
		}
	case e.res != nil:
		r := e.res[off : off+n]
		for i := range o {
			o[i] += r[i]
		}
	case e.relu:
		reluForward(o, o, nil)
	}
}

// copyTo writes src, passed through the epilogue, into out[off:]:
// out[off+i] = relu(src[i] + res[off+i]) (each part only when set).
func (e *epilogue[T]) copyTo(out []T, off int, src []T) {
	o := out[off : off+len(src)]
	if e == nil {
		copy(o, src)
		return
	}
	switch {
	case e.res != nil && e.relu:
		r := e.res[off : off+len(src)]
		for i, v := range src {
			o[i] = max(v+r[i], 0)
		}
	case e.res != nil:
		r := e.res[off : off+len(src)]
		for i, v := range src {
			o[i] = v + r[i]
		}
	case e.relu:
		for i, v := range src {
			o[i] = max(v, 0)
		}
	default:
		copy(o, src)
	}
}

// FusedConvOpts is the epilogue of FusedConv2D.
type FusedConvOpts[T Float] struct {
	// Bias [O] is added to every output pixel of its channel (nil: none).
	Bias []T
	// Residual, when non-nil, is added to the output (same shape).
	Residual *Var[T]
	// ReLU clamps the result at zero after the residual is added.
	ReLU bool
}

// FusedConv2D is an inference-only convolution with its epilogue fused into
// the kernel: relu(conv(x, w) + bias + residual), each part as ep says, in
// one op whose output block is finished (bias, residual, ReLU) per image
// while it is still in cache, instead of separate batch-norm, add and ReLU
// passes over memory. w is a plain tensor (typically a convolution weight
// with an evaluation-mode batch norm folded in); with s non-nil the product
// runs through SparseConv2D's kernels as s's policy chooses (s must have
// been prepared for w's shape), otherwise through Conv2D's dense kernels.
// Nothing is recorded for backward: it panics when x needs a gradient on a
// recording tape.
func (tp *Tape[T]) FusedConv2D(x *Var[T], w *Tensor[T], o ConvOpts, s *SparseWeight[T], ep FusedConvOpts[T]) *Var[T] {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 4 || len(ws) != 4 {
		panic(fmt.Sprintf("engine: FusedConv2D: x %v and w %v must be 4-D", xs, ws))
	}
	if tp.NeedsGrad(x) {
		panic("engine: FusedConv2D: inference only, but x needs a gradient")
	}
	g := convGeom{N: xs[0], C: xs[1], H: xs[2], W: xs[3], O: ws[0], KH: ws[2], KW: ws[3],
		SH: orOne(o.StrideH), SW: orOne(o.StrideW), PH: o.PadH, PW: o.PadW,
		DH: orOne(o.DilationH), DW: orOne(o.DilationW), G: orOne(o.Groups)}
	if g.C%g.G != 0 || g.O%g.G != 0 || ws[1] != g.C/g.G {
		panic(fmt.Sprintf("engine: FusedConv2D: x %v, w %v and %d groups do not agree", xs, ws, g.G))
	}
	if ep.Bias != nil && len(ep.Bias) != g.O {
		panic(fmt.Sprintf("engine: FusedConv2D: bias of %d for %d outputs", len(ep.Bias), g.O))
	}
	g.OH = (g.H+2*g.PH-g.DH*(g.KH-1)-1)/g.SH + 1
	g.OW = (g.W+2*g.PW-g.DW*(g.KW-1)-1)/g.SW + 1
	if g.OH <= 0 || g.OW <= 0 {
		panic(fmt.Sprintf("engine: FusedConv2D: empty output for input %v and kernel %v", xs, ws))
	}
	out := tp.AllocUninit(g.N, g.O, g.OH, g.OW)
	var e *epilogue[T]
	if ep.Residual != nil || ep.ReLU {
		e = &epilogue[T]{relu: ep.ReLU}
		if ep.Residual != nil {
			if !slices.Equal(ep.Residual.Shape(), out.shape) {
				panic(fmt.Sprintf("engine: FusedConv2D: residual %v for output %v", ep.Residual.Shape(), out.shape))
			}
			e.res = ep.Residual.Value.data
		}
	}
	xd, wd := x.Value.data, w.data
	dense := func() { convForwardEp(tp, &g, xd, wd, ep.Bias, out.data, e) }
	if s == nil {
		dense()
		return tp.Const(out)
	}
	checkSparse("FusedConv2D", &Var[T]{Value: w}, s, g.G)
	// The dense kernels multiply by w as it is: entries outside the pattern
	// must already be zero (a folded masked weight is).
	var val []T
	sparse := func() {
		if val == nil {
			val = tp.AllocUninit(s.NNZ()).data
			csrValues(&s.fwd, wd, val)
		}
		sparseConvForwardEp(tp, &g, s, val, xd, ep.Bias, out.data, e, true)
	}
	s.choose("conv", xs, tp.threads, dense, sparse, nil, nil)
	return tp.Const(out)
}
