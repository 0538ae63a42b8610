package engine

import (
	"fmt"
	"math"
)

// Softmax returns exp(x) / sum(exp(x)) along axis (negative counts from the end),
// computed stably by subtracting the maximum first.
func (tp *Tape[T]) Softmax(x *Var[T], axis int) *Var[T] { return tp.softmax(x, axis, false) }

// LogSoftmax returns x - log(sum(exp(x))) along axis, computed stably.
func (tp *Tape[T]) LogSoftmax(x *Var[T], axis int) *Var[T] { return tp.softmax(x, axis, true) }

// axisSplit views shape as [outer, n, inner] around axis.
func axisSplit(shape []int, axis int) (ax, outer, n, inner int) {
	r := len(shape)
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r {
		panic(fmt.Sprintf("engine: axis %d out of range for shape %v", axis, shape))
	}
	outer, inner = 1, 1
	for _, d := range shape[:axis] {
		outer *= d
	}
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	return axis, outer, shape[axis], inner
}

func (tp *Tape[T]) softmax(x *Var[T], axis int, log bool) *Var[T] {
	_, outer, n, inner := axisSplit(x.Value.shape, axis)
	out := tp.AllocUninit(x.Value.shape...)
	xd, yd := x.Value.data, out.data
	softmaxKernel(tp, xd, yd, outer, n, inner, log)
	return tp.Op(out, func(o *Var[T]) {
		gx := tp.GradOf(x)
		if gx == nil {
			return
		}
		gd, g := gx.data, o.Grad.data
		tp.ParallelFor(outer*inner, max(1, elemGrain/max(n, 1)), func(lo, hi int) {
			for p := lo; p < hi; p++ {
				base := (p/inner)*n*inner + p%inner
				var s T
				for c := range n {
					i := base + c*inner
					if log {
						s += g[i]
					} else {
						s += g[i] * yd[i]
					}
				}
				for c := range n {
					i := base + c*inner
					if log {
						gd[i] += g[i] - T(math.Exp(float64(yd[i])))*s
					} else {
						gd[i] += yd[i] * (g[i] - s)
					}
				}
			}
		})
	}, x)
}

// softmaxKernel writes the (log-)softmax of x, viewed as [outer, n, inner], along
// its middle dimension into y.
func softmaxKernel[T Float](tp *Tape[T], x, y []T, outer, n, inner int, log bool) {
	tp.ParallelFor(outer*inner, max(1, transGrain/max(n, 1)), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			base := (p/inner)*n*inner + p%inner
			m := math.Inf(-1)
			for c := range n {
				if v := float64(x[base+c*inner]); v > m || v != v {
					m = v
				}
			}
			if math.IsInf(m, -1) {
				m = 0 // all -Inf: keep NaN-free arithmetic (exp(-Inf) = 0)
			}
			var s float64
			for c := range n {
				i := base + c*inner
				e := math.Exp(float64(x[i]) - m)
				s += e
				if !log {
					y[i] = T(e)
				}
			}
			if log {
				ls := m + math.Log(s)
				for c := range n {
					i := base + c*inner
					y[i] = T(float64(x[i]) - ls)
				}
				continue
			}
			inv := 1 / s
			for c := range n {
				y[base+c*inner] *= T(inv)
			}
		}
	})
}
