package engine

import "fmt"

// elemGrain is the smallest number of elements one goroutine takes in a cheap
// elementwise kernel; below it, starting a goroutine costs more than it saves.
const elemGrain = 1 << 15

// transGrain is the grain of kernels that call a transcendental function per element.
const transGrain = 1 << 12

// binOp selects the operation of binaryKernel.
type binOp int

const (
	opAdd   binOp = iota // a + b
	opSub                // a - b
	opMul                // a * b
	opDiv                // a / b
	opAxpy               // a + c*b
	opCopyB              // b (broadcast copy)
)

// bcastPlan describes a binary elementwise operation over NumPy-broadcast operands.
// Size-1 output dimensions are dropped and adjacent dimensions in which both
// operands are (or are not) broadcast are merged, so [N,C,H,W] (+) [1,C,1,1]
// becomes three dimensions [N, C, H*W] with b strides [0, 1, 0], and the innermost
// dimension always has stride 0 or 1 in each operand.
type bcastPlan struct {
	out    []int // the broadcast output shape
	dims   []int // merged dimensions
	sa, sb []int // strides of a and b over dims, 0 where broadcast
	n      int   // number of output elements
}

// BroadcastShape returns the NumPy broadcast of two shapes, panicking when they
// are incompatible.
func BroadcastShape(a, b []int) []int {
	r := max(len(a), len(b))
	out := make([]int, r)
	for i := range r {
		da, db := dimFromEnd(a, r-1-i), dimFromEnd(b, r-1-i)
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			panic(fmt.Sprintf("engine: shapes %v and %v do not broadcast", a, b))
		}
	}
	return out
}

// dimFromEnd returns shape[len-1-k], or 1 beyond the shape's rank.
func dimFromEnd(shape []int, k int) int {
	if k < len(shape) {
		return shape[len(shape)-1-k]
	}
	return 1
}

// padShape left-pads shape with ones to rank r.
func padShape(shape []int, r int) []int {
	out := make([]int, r)
	for i := range out {
		out[i] = dimFromEnd(shape, r-1-i)
	}
	return out
}

func planBroadcast(as, bs []int) *bcastPlan {
	out := BroadcastShape(as, bs)
	r := len(out)
	pa, pb := padShape(as, r), padShape(bs, r)
	stA, stB := Strides(pa), Strides(pb)
	p := &bcastPlan{out: out, n: checkShape(out)}
	var lastA, lastB bool
	for i := range r {
		if out[i] == 1 {
			continue
		}
		ba, bb := pa[i] == 1, pb[i] == 1
		sa, sb := stA[i], stB[i]
		if ba {
			sa = 0
		}
		if bb {
			sb = 0
		}
		if k := len(p.dims); k > 0 && ba == lastA && bb == lastB {
			p.dims[k-1] *= out[i]
			p.sa[k-1], p.sb[k-1] = sa, sb
		} else {
			p.dims = append(p.dims, out[i])
			p.sa = append(p.sa, sa)
			p.sb = append(p.sb, sb)
		}
		lastA, lastB = ba, bb
	}
	if len(p.dims) == 0 {
		p.dims, p.sa, p.sb = []int{1}, []int{0}, []int{0}
	}
	return p
}

// rowOffsets returns the offsets in a and b of the start of innermost row r.
func (p *bcastPlan) rowOffsets(r int) (ao, bo int) {
	for d := len(p.dims) - 2; d >= 0 && r > 0; d-- {
		q := r / p.dims[d]
		i := r - q*p.dims[d]
		ao += i * p.sa[d]
		bo += i * p.sb[d]
		r = q
	}
	return ao, bo
}

// binaryKernel writes dst = op(a, b) over the broadcast described by p. dst may
// alias a when a has the output's shape (that is how gradients accumulate).
func binaryKernel[T Float](threads int, op binOp, c T, dst, a, b []T, p *bcastPlan) {
	nd := len(p.dims)
	l, ia, ib := p.dims[nd-1], p.sa[nd-1], p.sb[nd-1]
	Parallel(threads, p.n, elemGrain, func(lo, hi int) {
		for pos := lo; pos < hi; {
			r, col := pos/l, pos%l
			m := min(l-col, hi-pos)
			ao, bo := p.rowOffsets(r)
			ao += col * ia
			bo += col * ib
			d := dst[pos : pos+m]
			switch {
			case ia == 1 && ib == 1:
				binVV(op, c, d, a[ao:ao+m], b[bo:bo+m])
			case ia == 1:
				binVS(op, c, d, a[ao:ao+m], b[bo])
			case ib == 1:
				binSV(op, c, d, a[ao], b[bo:bo+m])
			default:
				v := binScalar(op, c, a[ao], b[bo])
				for i := range d {
					d[i] = v
				}
			}
			pos += m
		}
	})
}

func binScalar[T Float](op binOp, c, a, b T) T {
	switch op {
	case opAdd:
		return a + b
	case opSub:
		return a - b
	case opMul:
		return a * b
	case opDiv:
		return a / b
	case opAxpy:
		return a + c*b
	default:
		return b
	}
}

func binVV[T Float](op binOp, c T, d, a, b []T) {
	a, b = a[:len(d)], b[:len(d)]
	switch op {
	case opAdd:
		for i := range d {
			d[i] = a[i] + b[i]
		}
	case opSub:
		for i := range d {
			d[i] = a[i] - b[i]
		}
	case opMul:
		for i := range d {
			d[i] = a[i] * b[i]
		}
	case opDiv:
		for i := range d {
			d[i] = a[i] / b[i]
		}
	case opAxpy:
		for i := range d {
			d[i] = a[i] + c*b[i]
		}
	default:
		copy(d, b)
	}
}

func binVS[T Float](op binOp, c T, d, a []T, b T) {
	a = a[:len(d)]
	switch op {
	case opAdd:
		for i := range d {
			d[i] = a[i] + b
		}
	case opSub:
		for i := range d {
			d[i] = a[i] - b
		}
	case opMul:
		for i := range d {
			d[i] = a[i] * b
		}
	case opDiv:
		for i := range d {
			d[i] = a[i] / b
		}
	case opAxpy:
		cb := c * b
		for i := range d {
			d[i] = a[i] + cb
		}
	default:
		for i := range d {
			d[i] = b
		}
	}
}

func binSV[T Float](op binOp, c T, d []T, a T, b []T) {
	b = b[:len(d)]
	switch op {
	case opAdd:
		for i := range d {
			d[i] = a + b[i]
		}
	case opSub:
		for i := range d {
			d[i] = a - b[i]
		}
	case opMul:
		for i := range d {
			d[i] = a * b[i]
		}
	case opDiv:
		for i := range d {
			d[i] = a / b[i]
		}
	case opAxpy:
		for i := range d {
			d[i] = a + c*b[i]
		}
	default:
		copy(d, b)
	}
}

// Add returns a + b with NumPy broadcasting.
func (tp *Tape[T]) Add(a, b *Var[T]) *Var[T] { return tp.binary(opAdd, a, b) }

// Sub returns a - b with NumPy broadcasting.
func (tp *Tape[T]) Sub(a, b *Var[T]) *Var[T] { return tp.binary(opSub, a, b) }

// Mul returns the elementwise product a * b with NumPy broadcasting.
func (tp *Tape[T]) Mul(a, b *Var[T]) *Var[T] { return tp.binary(opMul, a, b) }

// Div returns the elementwise quotient a / b with NumPy broadcasting.
func (tp *Tape[T]) Div(a, b *Var[T]) *Var[T] { return tp.binary(opDiv, a, b) }

func (tp *Tape[T]) binary(op binOp, a, b *Var[T]) *Var[T] {
	p := planBroadcast(a.Value.shape, b.Value.shape)
	out := tp.AllocUninit(p.out...)
	binaryKernel(tp.threads, op, 0, out.data, a.Value.data, b.Value.data, p)
	return tp.Op(out, func(o *Var[T]) { tp.binaryBackward(op, a, b, o) }, a, b)
}

// binaryBackward accumulates the gradients of a binary op into a and b, summing
// over the dimensions along which each was broadcast.
func (tp *Tape[T]) binaryBackward(op binOp, a, b, o *Var[T]) {
	ga, gb := tp.GradOf(a), tp.GradOf(b)
	g, shape := o.Grad.data, o.Value.shape
	switch op {
	case opAdd, opSub:
		if ga != nil {
			tp.sumTo(ga, g, shape, 1)
		}
		if gb != nil {
			alpha := T(1)
			if op == opSub {
				alpha = -1
			}
			tp.sumTo(gb, g, shape, alpha)
		}
	case opMul:
		if len(a.Value.data) == len(g) && len(b.Value.data) == len(g) {
			ad, bd := a.Value.data, b.Value.data
			tp.ParallelFor(len(g), elemGrain, func(lo, hi int) {
				if ga != nil {
					gd := ga.data[lo:hi]
					for i := range gd {
						gd[i] += g[lo+i] * bd[lo+i]
					}
				}
				if gb != nil {
					gd := gb.data[lo:hi]
					for i := range gd {
						gd[i] += g[lo+i] * ad[lo+i]
					}
				}
			})
			return
		}
		if ga != nil {
			tp.sumTo(ga, tp.bcastTimes(opMul, g, shape, b.Value), shape, 1)
		}
		if gb != nil {
			tp.sumTo(gb, tp.bcastTimes(opMul, g, shape, a.Value), shape, 1)
		}
	case opDiv:
		if ga != nil {
			tp.sumTo(ga, tp.bcastTimes(opDiv, g, shape, b.Value), shape, 1)
		}
		if gb != nil {
			// d(a/b)/db = -(a/b)/b = -out/b.
			t := tp.AllocUninit(shape...)
			td, od := t.data, o.Value.data
			tp.ParallelFor(len(td), elemGrain, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					td[i] = g[i] * od[i]
				}
			})
			tp.sumTo(gb, tp.bcastTimes(opDiv, td, shape, b.Value), shape, -1)
		}
	}
}

// bcastTimes returns g op x (op is opMul or opDiv) in a pooled buffer of g's
// shape, with x broadcast to that shape.
func (tp *Tape[T]) bcastTimes(op binOp, g []T, shape []int, x *Tensor[T]) []T {
	t := tp.AllocUninit(shape...)
	binaryKernel(tp.threads, op, 0, t.data, g, x.data, planBroadcast(shape, x.shape))
	return t.data
}

// sumTo accumulates alpha * src (of shape srcShape) into dst, summing over the
// dimensions along which dst's shape was broadcast to srcShape.
func (tp *Tape[T]) sumTo(dst *Tensor[T], src []T, srcShape []int, alpha T) {
	if len(dst.data) == len(src) {
		dd := dst.data
		tp.ParallelFor(len(dd), elemGrain, func(lo, hi int) {
			d, s := dd[lo:hi], src[lo:hi]
			if alpha == 1 {
				for i := range d {
					d[i] += s[i]
				}
				return
			}
			for i := range d {
				d[i] += alpha * s[i]
			}
		})
		return
	}
	pd := padShape(dst.shape, len(srcShape))
	reduced := make([]bool, len(srcShape))
	for i := range srcShape {
		reduced[i] = pd[i] == 1 && srcShape[i] != 1
	}
	reduceSumKernel(tp, src, srcShape, reduced, dst.data, alpha, true)
}

// AddScalar returns x + c elementwise.
func (tp *Tape[T]) AddScalar(x *Var[T], c T) *Var[T] { return tp.unary(uAddScalar, c, x) }

// Scale returns c * x elementwise.
func (tp *Tape[T]) Scale(x *Var[T], c T) *Var[T] { return tp.unary(uScale, c, x) }

// Exp returns e^x elementwise.
func (tp *Tape[T]) Exp(x *Var[T]) *Var[T] { return tp.unary(uExp, 0, x) }

// Log returns the natural logarithm of x elementwise (NaN for x < 0, -Inf at 0).
func (tp *Tape[T]) Log(x *Var[T]) *Var[T] { return tp.unary(uLog, 0, x) }

// Sqrt returns the square root of x elementwise.
func (tp *Tape[T]) Sqrt(x *Var[T]) *Var[T] { return tp.unary(uSqrt, 0, x) }

// Square returns x*x elementwise.
func (tp *Tape[T]) Square(x *Var[T]) *Var[T] { return tp.unary(uSquare, 0, x) }
