package engine

import "fmt"

// MaskedFill returns x with value wherever mask (broadcast to x's shape, NumPy
// rules) is non-zero, as torch.Tensor.masked_fill. The gradient flows to x only
// where the mask is zero; mask gets none.
func (tp *Tape[T]) MaskedFill(x *Var[T], mask *Tensor[T], value T) *Var[T] {
	shape := x.Value.shape
	if bs := BroadcastShape(shape, mask.shape); !SameShape(bs, shape) {
		panic(fmt.Sprintf("engine: MaskedFill: mask %v does not broadcast to %v", mask.shape, shape))
	}
	m := mask.data
	if len(m) != len(x.Value.data) {
		t := tp.AllocUninit(shape...)
		binaryKernel(tp.threads, opCopyB, 0, t.data, t.data, m, planBroadcast(shape, mask.shape))
		m = t.data
	}
	xd := x.Value.data
	out := tp.AllocUninit(shape...)
	od := out.data
	tp.ParallelFor(len(xd), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if m[i] != 0 {
				od[i] = value
			} else {
				od[i] = xd[i]
			}
		}
	})
	return tp.Op(out, func(o *Var[T]) {
		gx := tp.GradOf(x)
		if gx == nil {
			return
		}
		gd, g := gx.data, o.Grad.data
		tp.ParallelFor(len(gd), elemGrain, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				if m[i] == 0 {
					gd[i] += g[i]
				}
			}
		})
	}, x)
}
