package engine

import "math"

// ReLU returns max(x, 0) elementwise (NaN stays NaN). Both directions are
// branch-free: with random signs a branch mispredicts half the time and costs
// ten times the memory traffic.
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
