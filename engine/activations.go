package engine

import (
	"math"
	"slices"
)

// ReLU returns max(x, 0) elementwise (NaN stays NaN). Both directions are
// branch-free: on inputs of random sign a branch mispredicts half the time,
// which made ReLU about ten times slower than a copy.
func (tp *Tape[T]) ReLU(x *Var[T]) *Var[T] {
	xd := x.Value.data
	out := tp.AllocUninit(x.Value.shape...)
	od := out.data
	tp.ParallelFor(len(xd), elemGrain, func(lo, hi int) {
		reluForward(od[lo:hi], xd[lo:hi], nil)
	})
	return tp.Op(out, func(o *Var[T]) {
		gx, fresh := tp.gradFresh(x)
		if gx == nil {
			return
		}
		gd, god := gx.data, o.Grad.data
		tp.ParallelFor(len(xd), elemGrain, func(lo, hi int) {
			if fresh {
				reluBackwardSet(gd[lo:hi], god[lo:hi], xd[lo:hi])
			} else {
				reluBackward(gd[lo:hi], god[lo:hi], xd[lo:hi])
			}
		})
	}, x)
}

// AddReLU is ReLU(Add(a, b)) for a and b of the same shape in one op, with
// the same values and gradients bit for bit (the residual block's closing
// add and ReLU): one pass forward instead of two, and backward the masked
// gradient goes straight into a's and b's gradients instead of through a
// cleared buffer. Other shapes fall back to the two ops.
func (tp *Tape[T]) AddReLU(a, b *Var[T]) *Var[T] {
	if !slices.Equal(a.Value.shape, b.Value.shape) {
		return tp.ReLU(tp.Add(a, b))
	}
	ad, bd := a.Value.data, b.Value.data
	out := tp.AllocUninit(a.Value.shape...)
	od := out.data
	tp.ParallelFor(len(od), elemGrain, func(lo, hi int) {
		reluForward(od[lo:hi], ad[lo:hi], bd[lo:hi])
	})
	return tp.Op(out, func(o *Var[T]) {
		// Unfused: g = 0 + relu'(dz) in a cleared buffer, then ga += g and
		// gb += g. Both gradients are asked for before either is written, so
		// a == b accumulates twice, as Add's backward does.
		ga, freshA := tp.gradFresh(a)
		gb, freshB := tp.gradFresh(b)
		god, zd := o.Grad.data, o.Value.data
		tp.ParallelFor(len(od), elemGrain, func(lo, hi int) {
			var buf [256]T
			for p := lo; p < hi; p += len(buf) {
				q := min(p+len(buf), hi)
				g := buf[:q-p]
				reluBackwardSet(g, god[p:q], zd[p:q])
				if ga != nil {
					addGrad(ga.data[p:q], g, freshA)
				}
				if gb != nil {
					addGrad(gb.data[p:q], g, freshB && (ga == nil || gb != ga))
				}
			}
		})
	}, a, b)
}

// addGrad adds g into d, or with fresh sets d = 0 + g (the same bits,
// without reading d).
func addGrad[T Float](d, g []T, fresh bool) {
	d = d[:len(g)]
	if fresh {
		for i, v := range g {
			d[i] = v + 0
		}
		return
	}
	for i, v := range g {
		d[i] += v
	}
}

// ReLUInPlace is ReLU writing max(x, 0) over x's own value, with the same
// values and gradients as ReLU: its backward masks by the output, which is
// positive exactly where x was (-0 and NaN included). It saves a buffer the
// size of x, for the caller that knows x's value is needed by nothing else:
// no other op reads it, and x's own backward does not (BatchNorm's reads
// its input and statistics, not its output; a parameter or an input leaf
// is never overwritten: those take the copying ReLU).
func (tp *Tape[T]) ReLUInPlace(x *Var[T]) *Var[T] {
	if x.param || (x.backward == nil && x.requiresGrad) {
		return tp.ReLU(x)
	}
	xd := x.Value.data
	tp.ParallelFor(len(xd), elemGrain, func(lo, hi int) {
		reluForward(xd[lo:hi], xd[lo:hi], nil)
	})
	return tp.Op(x.Value, func(o *Var[T]) {
		gx := tp.GradOf(x)
		if gx == nil {
			return
		}
		gd, god := gx.data, o.Grad.data
		tp.ParallelFor(len(xd), elemGrain, func(lo, hi int) {
			reluBackward(gd[lo:hi], god[lo:hi], xd[lo:hi])
		})
	}, x)
}

// reluBackward adds g to gx where x > 0. For float32 and float64 it masks the
// bits of g with a mask computed from the bits of x (all ones exactly when x's
// integer image s is positive: -s and ^s both have the sign bit set).
func reluBackwardGo[T Float](gx, g, x []T) {
	switch gd := any(gx).(type) {
	case []float32:
		gs, xs := any(g).([]float32)[:len(gd)], any(x).([]float32)[:len(gd)]
		for i := range gd {
			s := int32(math.Float32bits(xs[i]))
			m := uint32(((-s) & ^s) >> 31)
			gd[i] += math.Float32frombits(math.Float32bits(gs[i]) & m)
		}
	case []float64:
		gs, xs := any(g).([]float64)[:len(gd)], any(x).([]float64)[:len(gd)]
		for i := range gd {
			s := int64(math.Float64bits(xs[i]))
			m := uint64(((-s) & ^s) >> 63)
			gd[i] += math.Float64frombits(math.Float64bits(gs[i]) & m)
		}
	default:
		for i := range gx {
			if x[i] > 0 {
				gx[i] += g[i]
			}
		}
	}
}

// reluBackwardSet sets gx to what reluBackward leaves in a cleared gx:
// 0 + g where x > 0 and +0 elsewhere, without reading gx.
func reluBackwardSetGo[T Float](gx, g, x []T) {
	switch gd := any(gx).(type) {
	case []float32:
		gs, xs := any(g).([]float32)[:len(gd)], any(x).([]float32)[:len(gd)]
		for i := range gd {
			s := int32(math.Float32bits(xs[i]))
			m := uint32(((-s) & ^s) >> 31)
			gd[i] = math.Float32frombits(math.Float32bits(gs[i])&m) + 0
		}
	case []float64:
		gs, xs := any(g).([]float64)[:len(gd)], any(x).([]float64)[:len(gd)]
		for i := range gd {
			s := int64(math.Float64bits(xs[i]))
			m := uint64(((-s) & ^s) >> 63)
			gd[i] = math.Float64frombits(math.Float64bits(gs[i])&m) + 0
		}
	default:
		for i := range gx {
			var v T
			if x[i] > 0 {
				v += g[i]
			}
			gx[i] = v
		}
	}
}

// GELU returns x * Phi(x), Phi the standard normal CDF, in the exact erf form
// (PyTorch's default approximate="none").
func (tp *Tape[T]) GELU(x *Var[T]) *Var[T] { return tp.unary(uGELU, 0, x) }

// Sigmoid returns 1 / (1 + e^-x) elementwise, without overflow for large |x|.
func (tp *Tape[T]) Sigmoid(x *Var[T]) *Var[T] { return tp.unary(uSigmoid, 0, x) }

// Tanh returns the hyperbolic tangent of x elementwise.
func (tp *Tape[T]) Tanh(x *Var[T]) *Var[T] { return tp.unary(uTanh, 0, x) }

// unOp selects the operation of the unary kernels.
type unOp int

const (
	uAddScalar unOp = iota // x + c
	uScale                 // c * x
	uExp
	uLog
	uSqrt
	uSquare
	uSigmoid
	uTanh
	uGELU
)

func (tp *Tape[T]) unary(op unOp, c T, x *Var[T]) *Var[T] {
	grain := transGrain
	if op == uAddScalar || op == uScale || op == uSquare {
		grain = elemGrain
	}
	xd := x.Value.data
	out := tp.AllocUninit(x.Value.shape...)
	yd := out.data
	tp.ParallelFor(len(xd), grain, func(lo, hi int) { unaryFwd(op, c, yd[lo:hi], xd[lo:hi]) })
	return tp.Op(out, func(o *Var[T]) {
		gx := tp.GradOf(x)
		if gx == nil {
			return
		}
		gd, g := gx.data, o.Grad.data
		tp.ParallelFor(len(xd), grain, func(lo, hi int) {
			unaryBwd(op, c, gd[lo:hi], g[lo:hi], xd[lo:hi], yd[lo:hi])
		})
	}, x)
}

// unaryFwd writes y = op(x).
func unaryFwd[T Float](op unOp, c T, y, x []T) {
	x = x[:len(y)]
	switch op {
	case uAddScalar:
		for i := range y {
			y[i] = x[i] + c
		}
	case uScale:
		for i := range y {
			y[i] = c * x[i]
		}
	case uExp:
		for i := range y {
			y[i] = T(math.Exp(float64(x[i])))
		}
	case uLog:
		for i := range y {
			y[i] = T(math.Log(float64(x[i])))
		}
	case uSqrt:
		for i := range y {
			y[i] = T(math.Sqrt(float64(x[i])))
		}
	case uSquare:
		for i := range y {
			y[i] = x[i] * x[i]
		}
	case uSigmoid:
		for i := range y {
			y[i] = T(sigmoid(float64(x[i])))
		}
	case uTanh:
		for i := range y {
			y[i] = T(math.Tanh(float64(x[i])))
		}
	case uGELU:
		for i := range y {
			v := float64(x[i])
			y[i] = T(0.5 * v * (1 + math.Erf(v*math.Sqrt2/2)))
		}
	}
}

// unaryBwd accumulates gx += g * op'(x), using the forward output y where that
// is cheaper.
func unaryBwd[T Float](op unOp, c T, gx, g, x, y []T) {
	n := len(gx)
	g, x, y = g[:n], x[:n], y[:n]
	switch op {
	case uAddScalar:
		for i := range gx {
			gx[i] += g[i]
		}
	case uScale:
		for i := range gx {
			gx[i] += c * g[i]
		}
	case uExp:
		for i := range gx {
			gx[i] += g[i] * y[i]
		}
	case uLog:
		for i := range gx {
			gx[i] += g[i] / x[i]
		}
	case uSqrt:
		for i := range gx {
			gx[i] += g[i] / (2 * y[i])
		}
	case uSquare:
		for i := range gx {
			gx[i] += 2 * x[i] * g[i]
		}
	case uSigmoid:
		for i := range gx {
			gx[i] += g[i] * y[i] * (1 - y[i])
		}
	case uTanh:
		for i := range gx {
			gx[i] += g[i] * (1 - y[i]*y[i])
		}
	case uGELU:
		const invSqrt2Pi = 0.3989422804014327 // 1/sqrt(2*pi)
		for i := range gx {
			v := float64(x[i])
			d := 0.5*(1+math.Erf(v*math.Sqrt2/2)) + v*invSqrt2Pi*math.Exp(-0.5*v*v)
			gx[i] += g[i] * T(d)
		}
	}
}

// sigmoid is 1/(1+e^-x), computed without overflow for large |x|.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// reluBack8 runs the AVX2 ReLU-backward kernel over the first multiple of 8
// elements and returns how many it did (0 where it does not apply).
func reluBack8[T Float](gx, g, x []T, fresh int) int {
	gd, ok := any(gx).([]float32)
	if !ok || !haveAVX2 || len(gd) < 8 {
		return 0
	}
	gs, xs := any(g).([]float32)[:len(gd)], any(x).([]float32)[:len(gd)]
	n8 := len(gd) &^ 7
	reluBackAVX2(&gd[0], &gs[0], &xs[0], n8, fresh)
	return n8
}

// reluBackward adds g to gx where x > 0 (see reluBackwardGo).
func reluBackward[T Float](gx, g, x []T) {
	i := reluBack8(gx, g, x, 0)
	reluBackwardGo(gx[i:], g[i:], x[i:])
}

// reluBackwardSet sets gx to what reluBackward leaves in a cleared gx (see
// reluBackwardSetGo).
func reluBackwardSet[T Float](gx, g, x []T) {
	i := reluBack8(gx, g, x, 1)
	reluBackwardSetGo(gx[i:], g[i:], x[i:])
}

// reluForward sets o = max(x, 0), or with y non-nil max(x+y, 0).
func reluForward[T Float](o, x, y []T) {
	i := 0
	if od, ok := any(o).([]float32); ok && haveAVX2 && len(od) >= 8 {
		xs := any(x).([]float32)[:len(od)]
		var yp *float32
		if y != nil {
			yp = &any(y).([]float32)[:len(od)][0]
		}
		i = len(od) &^ 7
		reluAVX2(&od[0], &xs[0], yp, i)
	}
	n := len(o)
	o, x = o[i:n], x[i:n]
	if y != nil {
		y = y[i:n]
		for j := range o {
			o[j] = max(x[j]+y[j], 0)
		}
		return
	}
	for j := range o {
		o[j] = max(x[j], 0)
	}
}
