package engine

import (
	"fmt"

	"github.com/gap-harness/gap/engine/blas"
)

// MatMul returns the matrix product a x b: [m,k] x [k,n] -> [m,n], or batched
// [...,m,k] x [...,k,n] -> [...,m,n] with equal batch dimensions, or with b 2-D
// and shared by every matrix of a.
func (tp *Tape[T]) MatMul(a, b *Var[T]) *Var[T] { return tp.MatMulTrans(a, b, false, false) }

// mmGeom is the geometry of a (batched) matrix product op(A) x op(B).
type mmGeom struct {
	batch          int // number of products (1 for 2-D)
	m, n, k        int
	lda, ldb       int // leading dimensions of the stored A and B matrices
	sa, sb         int // elements between consecutive A (B) matrices; sb = 0 when B is shared
	transA, transB bool
}

// MatMulTrans returns op(a) x op(b), where op transposes the last two dimensions
// when the matching flag is set. Shapes follow MatMul.
func (tp *Tape[T]) MatMulTrans(a, b *Var[T], transA, transB bool) *Var[T] {
	as, bs := a.Shape(), b.Shape()
	if len(as) < 2 || len(bs) < 2 {
		panic(fmt.Sprintf("engine: MatMul needs matrices, got %v and %v", as, bs))
	}
	g := mmGeom{transA: transA, transB: transB, batch: 1}
	ar, ac := as[len(as)-2], as[len(as)-1]
	br, bc := bs[len(bs)-2], bs[len(bs)-1]
	g.lda, g.ldb = ac, bc
	g.m, g.k = ar, ac
	if transA {
		g.m, g.k = ac, ar
	}
	kb, n := br, bc
	if transB {
		kb, n = bc, br
	}
	g.n = n
	if kb != g.k {
		panic(fmt.Sprintf("engine: MatMul shapes %v and %v do not agree (trans %v %v)", as, bs, transA, transB))
	}
	batchShape := as[:len(as)-2]
	for _, d := range batchShape {
		g.batch *= d
	}
	g.sa = ar * ac
	switch {
	case len(bs) == 2:
		g.sb = 0
	case SameShape(bs[:len(bs)-2], batchShape):
		g.sb = br * bc
	default:
		panic(fmt.Sprintf("engine: MatMul batch dimensions of %v and %v differ", as, bs))
	}
	outShape := append(append([]int(nil), batchShape...), g.m, g.n)
	out := tp.AllocUninit(outShape...)
	mmForward(tp.threads, g, a.Value.data, b.Value.data, out.data)
	return tp.Op(out, func(o *Var[T]) {
		mmBackward(tp.threads, g, a.Value.data, b.Value.data, o.Grad.data, tp.GradOf(a), tp.GradOf(b))
	}, a, b)
}

// mmForward computes c = op(A) x op(B) for every batch element.
func mmForward[T Float](threads int, g mmGeom, a, b, c []T) {
	if g.sb == 0 && !g.transA && g.batch > 1 {
		// B shared and A's matrices stacked by rows: one tall product.
		blas.GemmParallel(threads, false, g.transB, g.batch*g.m, g.n, g.k, 1, a, g.lda, b, g.ldb, 0, c, g.n)
		return
	}
	mn := g.m * g.n
	each := func(i, th int) {
		blas.GemmParallel(th, g.transA, g.transB, g.m, g.n, g.k, 1, a[i*g.sa:], g.lda, b[i*g.sb:], g.ldb, 0, c[i*mn:], g.n)
	}
	batchLoop(threads, g.batch, each)
}

// batchLoop runs each(i, innerThreads) for i in [0, n): over goroutines when there
// are at least as many items as threads, otherwise sequentially with the threads
// handed to the inner kernel.
func batchLoop(threads, n int, each func(i, inner int)) {
	if n >= threads && n > 1 {
		Parallel(threads, n, 1, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				each(i, 1)
			}
		})
		return
	}
	for i := 0; i < n; i++ {
		each(i, threads)
	}
}

// mmBackward accumulates the gradients of op(A) x op(B) into ga and gb (either
// may be nil). With dC the output gradient:
// d op(A) = dC op(B)^T and d op(B) = op(A)^T dC.
func mmBackward[T Float](threads int, g mmGeom, a, b, dc []T, ga, gb *Tensor[T]) {
	mn := g.m * g.n
	if ga != nil {
		gad := ga.data
		if !g.transA && g.sb == 0 && g.batch > 1 {
			blas.GemmParallel(threads, false, !g.transB, g.batch*g.m, g.k, g.n, 1, dc, g.n, b, g.ldb, 1, gad, g.lda)
		} else {
			batchLoop(threads, g.batch, func(i, th int) {
				dci, bi, gai := dc[i*mn:], b[i*g.sb:], gad[i*g.sa:]
				if !g.transA {
					// dA [m,k] += dC [m,n] x op(B)^T
					blas.GemmParallel(th, false, !g.transB, g.m, g.k, g.n, 1, dci, g.n, bi, g.ldb, 1, gai, g.lda)
				} else {
					// dA [k,m] += op(B) [k,n] x dC^T
					blas.GemmParallel(th, g.transB, true, g.k, g.m, g.n, 1, bi, g.ldb, dci, g.n, 1, gai, g.lda)
				}
			})
		}
	}
	if gb != nil {
		gbd := gb.data
		if g.sb == 0 {
			if !g.transA && g.batch > 1 {
				// A's matrices stacked by rows: one product over the whole batch.
				M := g.batch * g.m
				if !g.transB {
					blas.GemmParallel(threads, true, false, g.k, g.n, M, 1, a, g.lda, dc, g.n, 1, gbd, g.ldb)
				} else {
					blas.GemmParallel(threads, true, false, g.n, g.k, M, 1, dc, g.n, a, g.lda, 1, gbd, g.ldb)
				}
				return
			}
			// Shared B: accumulate batch by batch, in order (deterministic).
			for i := 0; i < g.batch; i++ {
				gbOne(threads, g, a[i*g.sa:], dc[i*mn:], gbd)
			}
			return
		}
		batchLoop(threads, g.batch, func(i, th int) {
			gbOne(th, g, a[i*g.sa:], dc[i*mn:], gbd[i*g.sb:])
		})
	}
}

// gbOne accumulates one product's gradient with respect to B.
func gbOne[T Float](threads int, g mmGeom, a, dc, gb []T) {
	if !g.transB {
		// dB [k,n] += op(A)^T [k,m] x dC [m,n]
		blas.GemmParallel(threads, !g.transA, false, g.k, g.n, g.m, 1, a, g.lda, dc, g.n, 1, gb, g.ldb)
	} else {
		// dB [n,k] += dC^T [n,m] x op(A) [m,k]
		blas.GemmParallel(threads, true, g.transA, g.n, g.k, g.m, 1, dc, g.n, a, g.lda, 1, gb, g.ldb)
	}
}
