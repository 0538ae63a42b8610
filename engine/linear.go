package engine

import (
	"fmt"

	"github.com/gap-harness/gap/engine/blas"
)

// Linear returns x w^T + b: x [..., in], w [out, in] (PyTorch's layout), b [out]
// or nil; the output is [..., out].
func (tp *Tape[T]) Linear(x, w, b *Var[T]) *Var[T] {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) < 1 || len(ws) != 2 || xs[len(xs)-1] != ws[1] {
		panic(fmt.Sprintf("engine: Linear: x %v and w %v do not agree", xs, ws))
	}
	in, nout := ws[1], ws[0]
	if b != nil && (b.Value.Len() != nout) {
		panic(fmt.Sprintf("engine: Linear: bias %v for %d outputs", b.Shape(), nout))
	}
	rows := x.Value.Len() / max(in, 1)
	if in == 0 {
		rows = 1
		for _, d := range xs[:len(xs)-1] {
			rows *= d
		}
	}
	outShape := append(append([]int(nil), xs[:len(xs)-1]...), nout)
	out := tp.AllocUninit(outShape...)
	od := out.data
	beta := T(0)
	if b != nil {
		fillRows(tp, od, b.Value.data, rows)
		beta = 1
	}
	blas.GemmParallel(tp.threads, false, true, rows, nout, in, 1, x.Value.data, in, w.Value.data, in, beta, od, nout)
	inputs := []*Var[T]{x, w}
	if b != nil {
		inputs = append(inputs, b)
	}
	return tp.Op(out, func(o *Var[T]) {
		dy := o.Grad.data
		if gx := tp.GradOf(x); gx != nil {
			// dx [rows,in] += dy [rows,out] x w [out,in]
			blas.GemmParallel(tp.threads, false, false, rows, in, nout, 1, dy, nout, w.Value.data, in, 1, gx.data, in)
		}
		if gw := tp.GradOf(w); gw != nil {
			// dw [out,in] += dy^T [out,rows] x x [rows,in]
			blas.GemmParallel(tp.threads, true, false, nout, in, rows, 1, dy, nout, x.Value.data, in, 1, gw.data, in)
		}
		if b != nil {
			if gb := tp.GradOf(b); gb != nil {
				colSums(tp, dy, rows, nout, gb.data)
			}
		}
	}, inputs...)
}

// fillRows writes row into each of the rows rows of dst.
func fillRows[T Float](tp *Tape[T], dst, row []T, rows int) {
	n := len(row)
	tp.ParallelFor(rows, max(1, (1<<14)/max(n, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			copy(dst[r*n:(r+1)*n], row)
		}
	})
}

// colSums accumulates the column sums of the rows x cols matrix m into dst. Rows
// are split into per-thread chunks whose partial sums are added in chunk order.
func colSums[T Float](tp *Tape[T], m []T, rows, cols int, dst []T) {
	grain := max(1, (1<<15)/max(cols, 1))
	chunks := Chunks(tp.threads, rows, grain)
	part := tp.Alloc(chunks, cols).data
	chunkedFor(chunks, rows, func(c, lo, hi int) {
		p := part[c*cols : (c+1)*cols]
		for r := lo; r < hi; r++ {
			row := m[r*cols : (r+1)*cols]
			for j, v := range row {
				p[j] += v
			}
		}
	})
	for c := 0; c < chunks; c++ {
		p := part[c*cols : (c+1)*cols]
		for j, v := range p {
			dst[j] += v
		}
	}
}
