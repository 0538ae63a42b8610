package engine

import (
	"fmt"
	"math"
)

// CEOpts are the options of CrossEntropy, with PyTorch's semantics.
type CEOpts struct {
	// LabelSmoothing is eps in [0, 1]: the target is (1-eps) on the label plus
	// eps/C on every class.
	LabelSmoothing float64
	// IgnoreIndex is a label value whose positions contribute neither to the loss
	// nor to the count it is averaged over (when UseIgnore is set).
	IgnoreIndex int32
	// UseIgnore switches IgnoreIndex on.
	UseIgnore bool
	// Float32 computes the log-softmax and its gradient of a float32 tape
	// in float32 with the float32 exponential (Exp32, within 1 ulp) instead
	// of float64 math.Exp, and skips ignored positions in the forward pass:
	// about 3x faster on large vocabularies, the loss within ~1e-6
	// relative of the float64 path. It applies to [N,C] logits of a
	// float32 tape (others take the float64 path). Off by default: the
	// image suite's losses stay bit for bit; the Transformer turns it on.
	Float32 bool
}

// CrossEntropy returns the mean cross-entropy between logits and integer labels,
// as torch.nn.functional.cross_entropy with reduction "mean" and no class
// weights: logits are [N,C] or [N,C,d1,...], labels hold N*d1*... class indices
// in row-major [N,d1,...] order. Per non-ignored position the loss is
// (1-eps)*(-logp[label]) + eps*mean_c(-logp[c]); the result is the mean over
// non-ignored positions (NaN, with a zero gradient, when every position is
// ignored, as PyTorch's value). A label outside [0,C) that is not ignored panics.
func (tp *Tape[T]) CrossEntropy(logits *Var[T], labels []int32, o CEOpts) *Var[T] {
	shape := logits.Value.shape
	if len(shape) < 2 {
		panic(fmt.Sprintf("engine: CrossEntropy: logits of shape %v, want [N,C,...]", shape))
	}
	_, n, c, inner := axisSplit(shape, 1)
	if len(labels) != n*inner {
		panic(fmt.Sprintf("engine: CrossEntropy: %d labels for logits %v", len(labels), shape))
	}
	eps := o.LabelSmoothing
	if eps < 0 || eps > 1 {
		panic(fmt.Sprintf("engine: CrossEntropy: label smoothing %g outside [0,1]", eps))
	}
	ignored := func(l int32) bool { return o.UseIgnore && l == o.IgnoreIndex }
	if o.Float32 && inner == 1 {
		if x, ok := any(logits.Value.data).([]float32); ok {
			return tp.crossEntropyF32(logits, x, labels, o, n, c)
		}
	}
	logp := tp.AllocUninit(shape...)
	lp := logp.data
	softmaxKernel(tp, logits.Value.data, lp, n, c, inner, true)
	var nll, smooth float64
	count := 0
	for p, l := range labels {
		if ignored(l) {
			continue
		}
		if l < 0 || int(l) >= c {
			panic(fmt.Sprintf("engine: CrossEntropy: label %d outside [0,%d)", l, c))
		}
		count++
		base := (p/inner)*c*inner + p%inner
		nll -= float64(lp[base+int(l)*inner])
		if eps > 0 {
			var s float64
			for k := range c {
				s -= float64(lp[base+k*inner])
			}
			smooth += s
		}
	}
	out := tp.AllocUninit()
	out.data[0] = T(((1-eps)*nll + eps/float64(c)*smooth) / float64(count))
	return tp.Op(out, func(ov *Var[T]) {
		gx := tp.GradOf(logits)
		if gx == nil || count == 0 {
			return
		}
		gd := gx.data
		scale := float64(ov.Grad.data[0]) / float64(count)
		onLabel, every := T(scale*(1-eps)), T(scale*eps/float64(c))
		tp.ParallelFor(len(labels), max(1, transGrain/c), func(lo, hi int) {
			for p := lo; p < hi; p++ {
				l := labels[p]
				if ignored(l) {
					continue
				}
				base := (p/inner)*c*inner + p%inner
				for k := range c {
					i := base + k*inner
					gd[i] += T(scale*math.Exp(float64(lp[i]))) - every
				}
				gd[base+int(l)*inner] -= onLabel
			}
		})
	}, logits)
}

// crossEntropyF32 is CrossEntropy's CEOpts.Float32 path for [n,c] float32
// logits x (the data of logits): per row, the maximum m, e = Exp32(x-m)
// kept for the backward pass, their sum s (accumulated in float64), and
// the row's NLL (logsumexp - x[label]) and smoothing term (c*logsumexp -
// sum x), all rows in parallel and summed in row order (deterministic for
// any thread count). The backward pass is scale*e/s - eps*scale/c, and
// -(1-eps)*scale more at the label: one exponential per logit in all.
func (tp *Tape[T]) crossEntropyF32(logits *Var[T], x []float32, labels []int32, o CEOpts, n, c int) *Var[T] {
	eps := o.LabelSmoothing
	ignored := func(l int32) bool { return o.UseIgnore && l == o.IgnoreIndex }
	count := 0
	for _, l := range labels {
		if ignored(l) {
			continue
		}
		if l < 0 || int(l) >= c {
			panic(fmt.Sprintf("engine: CrossEntropy: label %d outside [0,%d)", l, c))
		}
		count++
	}
	exps := any(tp.AllocUninit(n, c).data).([]float32)
	nllRow := make([]float64, n)
	smoothRow := make([]float64, n)
	invSum := make([]float32, n)
	tp.ParallelFor(n, max(1, transGrain/c), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			l := labels[r]
			if ignored(l) {
				continue
			}
			row, e := x[r*c:(r+1)*c], exps[r*c:(r+1)*c]
			m := float32(math.Inf(-1))
			var sumx float64
			for _, v := range row {
				if v > m || v != v {
					m = v
				}
				sumx += float64(v)
			}
			if math.IsInf(float64(m), -1) {
				m = 0 // all -Inf: keep NaN-free arithmetic (exp(-Inf) = 0)
			}
			var s float64
			for k, v := range row {
				e[k] = Exp32(v - m)
				s += float64(e[k])
			}
			ls := float64(m) + math.Log(s)
			invSum[r] = float32(1 / s)
			nllRow[r] = ls - float64(row[l])
			smoothRow[r] = float64(c)*ls - sumx
		}
	})
	var nll, smooth float64
	for r, l := range labels {
		if !ignored(l) {
			nll += nllRow[r]
			if eps > 0 { // (an -Inf logit makes the smoothing term infinite)
				smooth += smoothRow[r]
			}
		}
	}
	out := tp.AllocUninit()
	out.data[0] = T(((1-eps)*nll + eps/float64(c)*smooth) / float64(count))
	return tp.Op(out, func(ov *Var[T]) {
		gx := tp.GradOf(logits)
		if gx == nil || count == 0 {
			return
		}
		gd := any(gx.data).([]float32)
		scale := float64(ov.Grad.data[0]) / float64(count)
		onLabel, every := float32(scale*(1-eps)), float32(scale*eps/float64(c))
		tp.ParallelFor(n, max(1, transGrain/c), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				l := labels[r]
				if ignored(l) {
					continue
				}
				g, e := gd[r*c:(r+1)*c], exps[r*c:(r+1)*c]
				sc := float32(scale) * invSum[r]
				for k, v := range e {
					g[k] += sc*v - every
				}
				g[l] -= onLabel
			}
		})
	}, logits)
}

// SmoothL1 returns the mean smooth-L1 (Huber-like) loss between x and y of the
// same shape, as torch.nn.functional.smooth_l1_loss(x, y, beta=beta): per element
// 0.5*d^2/beta where |d| < beta, else |d| - 0.5*beta, with d = x - y; beta = 0 is
// the L1 loss. The gradient at d = 0 is 0.
func (tp *Tape[T]) SmoothL1(x, y *Var[T], beta float64) *Var[T] {
	if !SameShape(x.Value.shape, y.Value.shape) {
		panic(fmt.Sprintf("engine: SmoothL1: shapes %v and %v differ", x.Value.shape, y.Value.shape))
	}
	if beta < 0 {
		panic(fmt.Sprintf("engine: SmoothL1: negative beta %g", beta))
	}
	xd, yd := x.Value.data, y.Value.data
	b, hb := T(beta), T(0.5*beta)
	terms := tp.AllocUninit(len(xd)).data
	tp.ParallelFor(len(xd), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d := xd[i] - yd[i]
			ad := d
			if ad < 0 {
				ad = -ad
			}
			if ad < b {
				terms[i] = 0.5 * d * d / b
			} else {
				terms[i] = ad - hb
			}
		}
	})
	out := tp.AllocUninit()
	out.data[0] = tp.sumChunked(terms) / T(len(xd))
	return tp.Op(out, func(o *Var[T]) {
		gx, gy := tp.GradOf(x), tp.GradOf(y)
		g := o.Grad.data[0] / T(len(xd))
		tp.ParallelFor(len(xd), elemGrain, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				d := xd[i] - yd[i]
				var s T
				switch {
				case d < b && d > -b:
					s = g * d / b
				case d > 0:
					s = g
				case d < 0:
					s = -g
				}
				if gx != nil {
					gx.data[i] += s
				}
				if gy != nil {
					gy.data[i] -= s
				}
			}
		})
	}, x, y)
}
