package engine

import "fmt"

// Reshape returns x with a new shape holding the same elements in the same order;
// one dimension may be -1. The result is a view: it shares x's data (so it costs
// nothing), while its gradient is a buffer of its own that backward adds to x's.
func (tp *Tape[T]) Reshape(x *Var[T], shape ...int) *Var[T] {
	view := &Tensor[T]{shape: ResolveShape(len(x.Value.data), shape), data: x.Value.data}
	return tp.Op(view, func(o *Var[T]) {
		if gx := tp.GradOf(x); gx != nil {
			tp.sumTo(gx, o.Grad.data, o.Value.shape, 1)
		}
	}, x)
}

// Permute returns x with its axes reordered: output axis i is input axis perm[i].
func (tp *Tape[T]) Permute(x *Var[T], perm ...int) *Var[T] {
	shape := x.Value.shape
	if len(perm) != len(shape) {
		panic(fmt.Sprintf("engine: Permute: permutation %v for shape %v", perm, shape))
	}
	seen := make([]bool, len(perm))
	outShape := make([]int, len(perm))
	inSt := Strides(shape)
	st := make([]int, len(perm)) // input stride of each output axis
	for i, p := range perm {
		if p < 0 || p >= len(perm) || seen[p] {
			panic(fmt.Sprintf("engine: Permute: %v is not a permutation", perm))
		}
		seen[p] = true
		outShape[i] = shape[p]
		st[i] = inSt[p]
	}
	out := tp.AllocUninit(outShape...)
	permuteKernel(tp, x.Value.data, out.data, outShape, st, false)
	return tp.Op(out, func(o *Var[T]) {
		if gx := tp.GradOf(x); gx != nil {
			permuteKernel(tp, gx.data, o.Grad.data, outShape, st, true)
		}
	}, x)
}

// Transpose swaps the last two axes of x (rank >= 2).
func (tp *Tape[T]) Transpose(x *Var[T]) *Var[T] {
	r := x.Value.Rank()
	if r < 2 {
		panic(fmt.Sprintf("engine: Transpose needs rank >= 2, got shape %v", x.Value.shape))
	}
	perm := allAxes(r)
	perm[r-2], perm[r-1] = r-1, r-2
	return tp.Permute(x, perm...)
}

// permuteKernel walks the output (shape outShape) in row-major order; st gives
// the input stride of each output axis. Forward (back = false): out[o] = in[f(o)].
// Backward (back = true): in[f(o)] += out[o], the adjoint; f is a bijection, so
// chunks never write the same element.
func permuteKernel[T Float](tp *Tape[T], in, out []T, outShape, st []int, back bool) {
	nd := len(outShape)
	if nd == 0 || len(out) == 0 {
		if back && len(out) == 1 {
			in[0] += out[0]
		} else if len(out) == 1 {
			out[0] = in[0]
		}
		return
	}
	l, sl := outShape[nd-1], st[nd-1]
	rows := len(out) / l
	tp.ParallelFor(rows, max(1, elemGrain/l), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			off, q := 0, r
			for d := nd - 2; d >= 0 && q > 0; d-- {
				off += (q % outShape[d]) * st[d]
				q /= outShape[d]
			}
			row := out[r*l : (r+1)*l]
			if back {
				for j, v := range row {
					in[off+j*sl] += v
				}
			} else {
				for j := range row {
					row[j] = in[off+j*sl]
				}
			}
		}
	})
}

// Concat joins xs along axis; all other dimensions must agree.
func (tp *Tape[T]) Concat(axis int, xs ...*Var[T]) *Var[T] {
	if len(xs) == 0 {
		panic("engine: Concat of nothing")
	}
	first := xs[0].Value.shape
	ax, outer, _, inner := axisSplit(first, axis)
	total := 0
	for _, x := range xs {
		s := x.Value.shape
		ok := len(s) == len(first)
		for i := 0; ok && i < len(s); i++ {
			ok = i == ax || s[i] == first[i]
		}
		if !ok {
			panic(fmt.Sprintf("engine: Concat along %d: shape %v does not match %v", axis, s, first))
		}
		total += s[ax]
	}
	outShape := append([]int(nil), first...)
	outShape[ax] = total
	out := tp.AllocUninit(outShape...)
	od := out.data
	rowOut := total * inner
	tp.ParallelFor(outer, max(1, elemGrain/max(rowOut, 1)), func(lo, hi int) {
		for o := lo; o < hi; o++ {
			off := o * rowOut
			for _, x := range xs {
				w := x.Value.shape[ax] * inner
				copy(od[off:off+w], x.Value.data[o*w:(o+1)*w])
				off += w
			}
		}
	})
	return tp.Op(out, func(ov *Var[T]) {
		g := ov.Grad.data
		start := 0
		for _, x := range xs {
			w := x.Value.shape[ax] * inner
			if gx := tp.GradOf(x); gx != nil {
				addRows(tp, gx.data, g, outer, w, w, 0, rowOut, start)
			}
			start += w
		}
	}, xs...)
}

// addRows adds, for each of rows rows, w elements: dst[r*ds+do+j] += src[r*ss+so+j].
func addRows[T Float](tp *Tape[T], dst, src []T, rows, w, ds, do, ss, so int) {
	tp.ParallelFor(rows, max(1, elemGrain/max(w, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			d := dst[r*ds+do : r*ds+do+w]
			s := src[r*ss+so : r*ss+so+w]
			for j := range d {
				d[j] += s[j]
			}
		}
	})
}

// Slice returns the elements of x with index in [start, end) along axis
// (0 <= start <= end <= size), keeping the axis.
func (tp *Tape[T]) Slice(x *Var[T], axis, start, end int) *Var[T] {
	shape := x.Value.shape
	ax, outer, n, inner := axisSplit(shape, axis)
	if start < 0 || start > end || end > n {
		panic(fmt.Sprintf("engine: Slice [%d,%d) of axis %d of shape %v", start, end, axis, shape))
	}
	outShape := append([]int(nil), shape...)
	outShape[ax] = end - start
	out := tp.AllocUninit(outShape...)
	w, rowIn := (end-start)*inner, n*inner
	od, xd := out.data, x.Value.data
	tp.ParallelFor(outer, max(1, elemGrain/max(w, 1)), func(lo, hi int) {
		for o := lo; o < hi; o++ {
			copy(od[o*w:(o+1)*w], xd[o*rowIn+start*inner:])
		}
	})
	return tp.Op(out, func(ov *Var[T]) {
		if gx := tp.GradOf(x); gx != nil {
			addRows(tp, gx.data, ov.Grad.data, outer, w, rowIn, start*inner, w, 0)
		}
	}, x)
}
