package engine

import (
	"fmt"
	"math/rand/v2"
)

// Dropout zeroes each element of x with probability p and scales the kept ones
// by 1/(1-p) (inverted dropout), so evaluation needs no rescaling. The mask is
// drawn from rng in row-major order, one rng.Float64() per element, an element
// being kept when the draw is >= p; the same seed gives the same mask. With
// training false or p = 0 it returns x itself (no copy, no draws); p = 1 gives
// zeros. p outside [0, 1] panics.
func (tp *Tape[T]) Dropout(x *Var[T], p float64, rng *rand.Rand, training bool) *Var[T] {
	if p < 0 || p > 1 {
		panic(fmt.Sprintf("engine: Dropout probability %g outside [0,1]", p))
	}
	if !training || p == 0 {
		return x
	}
	xd := x.Value.data
	mask := tp.AllocUninit(len(xd)).data
	keep := T(0)
	if p < 1 {
		keep = T(1 / (1 - p))
	}
	for i := range mask {
		if rng.Float64() >= p {
			mask[i] = keep
		} else {
			mask[i] = 0
		}
	}
	out := tp.AllocUninit(x.Value.shape...)
	od := out.data
	tp.ParallelFor(len(xd), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			od[i] = xd[i] * mask[i]
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
				gd[i] += g[i] * mask[i]
			}
		})
	}, x)
}
