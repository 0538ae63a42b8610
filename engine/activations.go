package engine

import "math"

// ReLU returns max(x, 0) elementwise (NaN stays NaN). Both directions are
// branch-free: on inputs of random sign a branch mispredicts half the time,
// which made ReLU about ten times slower than a copy.
func (tp *Tape[T]) ReLU(x *Var[T]) *Var[T] {
	xd := x.Value.data
	out := tp.AllocUninit(x.Value.shape...)
	od := out.data
	tp.ParallelFor(len(xd), elemGrain, func(lo, hi int) {
		o, v := od[lo:hi], xd[lo:hi]
		for i := range o {
			o[i] = max(v[i], 0)
		}
	})
	return tp.Op(out, func(o *Var[T]) {
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
		v := xd[lo:hi]
		for i := range v {
			v[i] = max(v[i], 0)
		}
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
func reluBackward[T Float](gx, g, x []T) {
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
