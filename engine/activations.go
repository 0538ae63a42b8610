package engine

// ReLU returns max(x, 0) elementwise.
func (tp *Tape[T]) ReLU(x *Var[T]) *Var[T] {
	xd := x.Value.data
	out := tp.AllocUninit(x.Value.shape...)
	od := out.data
	tp.ParallelFor(len(xd), 1<<15, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if xd[i] > 0 {
				od[i] = xd[i]
			} else {
				od[i] = 0
			}
		}
	})
	return tp.Op(out, func(o *Var[T]) {
		gx := tp.GradOf(x)
		if gx == nil {
			return
		}
		gd, god := gx.data, o.Grad.data
		tp.ParallelFor(len(xd), 1<<15, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				if xd[i] > 0 {
					gd[i] += god[i]
				}
			}
		})
	}, x)
}

// GELU returns x * Phi(x), Phi the standard normal CDF, in the exact erf form
// (PyTorch's default approximate="none").
func (tp *Tape[T]) GELU(x *Var[T]) *Var[T] { return tp.unary(uGELU, 0, x) }

// Sigmoid returns 1 / (1 + e^-x) elementwise, without overflow for large |x|.
func (tp *Tape[T]) Sigmoid(x *Var[T]) *Var[T] { return tp.unary(uSigmoid, 0, x) }

// Tanh returns the hyperbolic tangent of x elementwise.
func (tp *Tape[T]) Tanh(x *Var[T]) *Var[T] { return tp.unary(uTanh, 0, x) }
