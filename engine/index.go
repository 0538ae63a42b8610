package engine

import "fmt"

// Embedding returns the rows of w [V, D] named by ids, as [len(ids), D]; the
// gradient of a row used several times is the sum of its uses.
func (tp *Tape[T]) Embedding(w *Var[T], ids []int32) *Var[T] {
	if w.Value.Rank() != 2 {
		panic(fmt.Sprintf("engine: Embedding table of shape %v, want [V,D]", w.Value.shape))
	}
	return tp.IndexSelect(w, 0, ids)
}

// IndexSelect returns the slices of x at positions idx along axis, as
// torch.index_select: the output has len(idx) in place of x's size on axis.
func (tp *Tape[T]) IndexSelect(x *Var[T], axis int, idx []int32) *Var[T] {
	shape := x.Value.shape
	ax, outer, n, inner := axisSplit(shape, axis)
	checkIndices(idx, n, "IndexSelect")
	outShape := append([]int(nil), shape...)
	outShape[ax] = len(idx)
	out := tp.AllocUninit(outShape...)
	selectKernel(tp, out.data, x.Value.data, outer, n, inner, idx)
	return tp.Op(out, func(o *Var[T]) {
		if gx := tp.GradOf(x); gx != nil {
			scatterAddKernel(tp, gx.data, o.Grad.data, outer, n, inner, idx)
		}
	}, x)
}

// IndexAdd returns a tensor of src's shape with size in place of len(idx) on
// axis, zero except that slice i of src is added at position idx[i] (repeated
// positions accumulate): torch.zeros(...).index_add_(axis, idx, src), the
// adjoint of IndexSelect.
func (tp *Tape[T]) IndexAdd(src *Var[T], axis int, idx []int32, size int) *Var[T] {
	shape := src.Value.shape
	ax, outer, m, inner := axisSplit(shape, axis)
	if m != len(idx) {
		panic(fmt.Sprintf("engine: IndexAdd: %d indices for size %d of axis %d of %v", len(idx), m, axis, shape))
	}
	checkIndices(idx, size, "IndexAdd")
	outShape := append([]int(nil), shape...)
	outShape[ax] = size
	out := tp.Alloc(outShape...)
	scatterAddKernel(tp, out.data, src.Value.data, outer, size, inner, idx)
	return tp.Op(out, func(o *Var[T]) {
		if gs := tp.GradOf(src); gs != nil {
			t := tp.AllocUninit(shape...)
			selectKernel(tp, t.data, o.Grad.data, outer, size, inner, idx)
			tp.sumTo(gs, t.data, shape, 1)
		}
	}, src)
}

func checkIndices(idx []int32, n int, op string) {
	for _, i := range idx {
		if i < 0 || int(i) >= n {
			panic(fmt.Sprintf("engine: %s: index %d outside [0,%d)", op, i, n))
		}
	}
}

// selectKernel writes dst[o, i, :] = src[o, idx[i], :] for src [outer, n, inner].
func selectKernel[T Float](tp *Tape[T], dst, src []T, outer, n, inner int, idx []int32) {
	m := len(idx)
	tp.ParallelFor(outer*m, max(1, elemGrain/max(inner, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			o, i := r/m, r%m
			s := (o*n + int(idx[i])) * inner
			copy(dst[r*inner:(r+1)*inner], src[s:s+inner])
		}
	})
}

// scatterAddKernel adds src[o, i, :] into dst[o, idx[i], :] for dst [outer, n,
// inner]. Every destination element receives its terms in increasing i, whatever
// the thread count: work is split over outer, or over inner when outer is small.
func scatterAddKernel[T Float](tp *Tape[T], dst, src []T, outer, n, inner int, idx []int32) {
	m := len(idx)
	body := func(oLo, oHi, cLo, cHi int) {
		for o := oLo; o < oHi; o++ {
			for i, k := range idx {
				d := dst[(o*n+int(k))*inner+cLo : (o*n+int(k))*inner+cHi]
				s := src[(o*m+i)*inner+cLo : (o*m+i)*inner+cHi]
				for j := range d {
					d[j] += s[j]
				}
			}
		}
	}
	if outer >= tp.threads || inner < 64 {
		tp.ParallelFor(outer, max(1, elemGrain/max(m*inner, 1)), func(lo, hi int) { body(lo, hi, 0, inner) })
		return
	}
	tp.ParallelFor(inner, max(64, elemGrain/max(outer*m, 1)), func(lo, hi int) { body(0, outer, lo, hi) })
}

// Gather returns out with out[p] = x[p with its axis coordinate replaced by
// idx[p]], as torch.gather: idx (row-major, shape idxShape) has x's rank, and
// idxShape[d] <= x's size for every d other than axis.
func (tp *Tape[T]) Gather(x *Var[T], axis int, idx []int32, idxShape []int) *Var[T] {
	shape := x.Value.shape
	ax, _, n, _ := axisSplit(shape, axis)
	if len(idxShape) != len(shape) || checkShape(idxShape) != len(idx) {
		panic(fmt.Sprintf("engine: Gather: index shape %v (%d indices) for x of shape %v", idxShape, len(idx), shape))
	}
	for d := range shape {
		if d != ax && idxShape[d] > shape[d] {
			panic(fmt.Sprintf("engine: Gather: index shape %v exceeds x shape %v", idxShape, shape))
		}
	}
	checkIndices(idx, n, "Gather")
	xs := Strides(shape)
	offs := make([]int, len(idx)) // input offset of each output element
	tp.ParallelFor(len(idx), elemGrain/8, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			off, q := 0, p
			for d := len(idxShape) - 1; d >= 0; d-- {
				c := q % idxShape[d]
				q /= idxShape[d]
				if d == ax {
					c = int(idx[p])
				}
				off += c * xs[d]
			}
			offs[p] = off
		}
	})
	out := tp.AllocUninit(idxShape...)
	od, xd := out.data, x.Value.data
	for p, off := range offs {
		od[p] = xd[off]
	}
	return tp.Op(out, func(o *Var[T]) {
		gx := tp.GradOf(x)
		if gx == nil {
			return
		}
		for p, off := range offs {
			gx.data[off] += o.Grad.data[p]
		}
	}, x)
}
