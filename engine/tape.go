package engine

import (
	"errors"
	"fmt"
	"sort"
)

// Var is a node of the autodiff graph: a value and, after Backward, its gradient.
type Var[T Float] struct {
	// Value is the node's value.
	Value *Tensor[T]
	// Grad is the gradient of the loss with respect to Value; nil until Backward
	// reaches this node (for parameters: until the first Backward).
	Grad *Tensor[T]

	name         string
	requiresGrad bool
	param        bool // a parameter: value and gradient are owned, never pooled
	looseGrad    bool // Grad is a loose pooled buffer (see Tape.loss)
	backward     func()
}

// NewParam wraps a tensor as a trainable leaf. Its gradient is allocated once and
// accumulated into by every Backward until ZeroGrad.
func NewParam[T Float](name string, value *Tensor[T]) *Var[T] {
	return &Var[T]{Value: value, name: name, requiresGrad: true, param: true}
}

// Name returns the name given to a parameter ("" for other nodes).
func (v *Var[T]) Name() string { return v.name }

// RequiresGrad reports whether gradients flow to this node.
func (v *Var[T]) RequiresGrad() bool { return v.requiresGrad }

// IsParam reports whether v is a parameter created by NewParam.
func (v *Var[T]) IsParam() bool { return v.param }

// Shape is shorthand for v.Value.Shape().
func (v *Var[T]) Shape() []int { return v.Value.shape }

// ZeroGrad zeroes the gradient of a parameter (a no-op when it has none yet).
func (v *Var[T]) ZeroGrad() {
	if v.Grad != nil {
		v.Grad.Zero()
	}
}

// Tape records operations for reverse-mode differentiation and owns a pool of
// buffers for intermediate values, gradients and scratch space.
type Tape[T Float] struct {
	threads int
	noGrad  bool
	nodes   []*Var[T]
	owned   []*Tensor[T]
	free    map[int][]*Tensor[T]
	// Pool bookkeeping (see Reset): the Reset count, the one at which each
	// size was last requested, the elements requested since the last Reset,
	// the most requested between two Resets, and the elements in free.
	resets    uint64
	lastUse   map[int]uint64
	stepElems int
	peakElems int
	freeElems int

	// loss is the node Backward is running from (nil outside Backward); the
	// gradients of the other recorded nodes are loose: pooled buffers not
	// in owned, returned to the pool as soon as the node's backward has
	// consumed them, so a backward pass holds only the gradients still to
	// be consumed, not all of them.
	loss *Var[T]
}

// NewTape returns an empty tape whose kernels use up to threads goroutines (>= 1).
func NewTape[T Float](threads int) *Tape[T] {
	if threads < 1 {
		threads = 1
	}
	return &Tape[T]{threads: threads, free: map[int][]*Tensor[T]{}, lastUse: map[int]uint64{}}
}

// Threads returns the number of goroutines kernels may use.
func (tp *Tape[T]) Threads() int { return tp.threads }

// SetNoGrad switches recording off (evaluation) or on. With recording off, ops
// compute values only and Backward is not possible.
func (tp *Tape[T]) SetNoGrad(off bool) { tp.noGrad = off }

// NoGrad reports whether recording is off.
func (tp *Tape[T]) NoGrad() bool { return tp.noGrad }

// Reset forgets the recorded graph and returns every pooled buffer to the pool.
// Values of non-parameter Vars from before Reset must not be used afterwards.
//
// Buffers are reused by exact size. A workload whose shapes change from step
// to step (token-based batches) would otherwise keep a buffer of every size
// it ever used, so the pool is bounded: when it holds more than poolBound
// times the most elements requested between two Resets, the sizes requested
// longest ago are dropped (never one requested since the last Reset) until
// it fits. A workload of fixed shapes, or one that alternates between up to
// poolBound sets of shapes (training, evaluation and a last partial batch),
// never reaches the bound, so its buffers are reused exactly as without it.
func (tp *Tape[T]) Reset() {
	for i := range tp.nodes {
		tp.nodes[i] = nil
	}
	tp.nodes = tp.nodes[:0]
	tp.releaseSince(0)
	tp.peakElems = max(tp.peakElems, tp.stepElems)
	if tp.freeElems > poolBound*tp.peakElems {
		tp.trimPool()
	}
	tp.stepElems = 0
	tp.resets++
}

// scratchMark and releaseSince bracket work whose tape allocations are all
// scratch (a kernel calibration's repetitions): releaseSince(mark) returns
// every tensor allocated since scratchMark to the pool, so that the next
// repetition reuses them instead of allocating (and page-faulting) fresh
// memory. Nothing allocated in between may be used afterwards.
func (tp *Tape[T]) scratchMark() int { return len(tp.owned) }

func (tp *Tape[T]) releaseSince(mark int) {
	for _, t := range tp.owned[mark:] {
		n := cap(t.data)
		tp.free[n] = append(tp.free[n], t)
		tp.freeElems += n
	}
	clear(tp.owned[mark:])
	tp.owned = tp.owned[:mark]
}

// poolBound bounds the tape's free pool in multiples of its largest step
// (see Reset).
const poolBound = 4

// trimPool drops the free buffers of the sizes requested longest ago (not
// those of the current step) until the pool holds at most poolBound times
// the peak.
func (tp *Tape[T]) trimPool() {
	sizes := make([]int, 0, len(tp.free))
	for n, l := range tp.free {
		if len(l) > 0 && tp.lastUse[n] != tp.resets {
			sizes = append(sizes, n)
		}
	}
	sort.Slice(sizes, func(a, b int) bool {
		ua, ub := tp.lastUse[sizes[a]], tp.lastUse[sizes[b]]
		if ua != ub {
			return ua < ub
		}
		return sizes[a] > sizes[b]
	})
	for _, n := range sizes {
		if tp.freeElems <= poolBound*tp.peakElems {
			break
		}
		for _, t := range tp.free[n] {
			tp.freeElems -= cap(t.data)
		}
		delete(tp.free, n)
		delete(tp.lastUse, n)
	}
}

// Alloc returns a zero-filled pooled tensor, valid until Reset.
func (tp *Tape[T]) Alloc(shape ...int) *Tensor[T] {
	t := tp.AllocUninit(shape...)
	d := t.data
	tp.ParallelFor(len(d), 1<<16, func(lo, hi int) { clear(d[lo:hi]) })
	return t
}

// AllocUninit returns a pooled tensor with unspecified contents, valid until Reset.
// Use it for outputs every element of which the kernel writes.
func (tp *Tape[T]) AllocUninit(shape ...int) *Tensor[T] {
	n := checkShape(shape)
	tp.stepElems += n
	tp.lastUse[n] = tp.resets
	var t *Tensor[T]
	if l := tp.free[n]; len(l) > 0 {
		t = l[len(l)-1]
		l[len(l)-1] = nil
		tp.free[n] = l[:len(l)-1]
		tp.freeElems -= cap(t.data)
		t.shape = append(t.shape[:0], shape...)
		t.data = t.data[:n]
	} else {
		t = &Tensor[T]{shape: append([]int(nil), shape...), data: make([]T, n)}
	}
	tp.owned = append(tp.owned, t)
	return t
}

// Const wraps a tensor as a leaf that needs no gradient.
func (tp *Tape[T]) Const(t *Tensor[T]) *Var[T] { return &Var[T]{Value: t} }

// Input wraps a tensor as a leaf whose gradient is wanted (e.g. for tests).
// Its gradient is pooled and valid until Reset.
func (tp *Tape[T]) Input(t *Tensor[T]) *Var[T] { return &Var[T]{Value: t, requiresGrad: true} }

// NeedsGrad reports whether an op over these inputs must record a backward step.
func (tp *Tape[T]) NeedsGrad(inputs ...*Var[T]) bool {
	if tp.noGrad {
		return false
	}
	for _, v := range inputs {
		if v != nil && v.requiresGrad {
			return true
		}
	}
	return false
}

// Op creates the output node of an operation. When any input needs a gradient
// (and recording is on) the node is recorded with its backward function, which
// must read out.Grad and accumulate into the inputs' gradients through GradOf.
// backward may be nil when no input needs a gradient.
func (tp *Tape[T]) Op(value *Tensor[T], backward func(out *Var[T]), inputs ...*Var[T]) *Var[T] {
	out := &Var[T]{Value: value}
	if backward != nil && tp.NeedsGrad(inputs...) {
		out.requiresGrad = true
		out.backward = func() { backward(out) }
		tp.nodes = append(tp.nodes, out)
	}
	return out
}

// GradOf returns v's gradient buffer, allocating a zeroed one on first use, or nil
// when v needs no gradient. Backward functions accumulate (+=) into it.
func (tp *Tape[T]) GradOf(v *Var[T]) *Tensor[T] {
	if !v.requiresGrad {
		return nil
	}
	if v.Grad == nil {
		switch {
		case v.param:
			v.Grad = NewTensor[T](v.Value.shape...)
		case tp.loss != nil && v.backward != nil && v != tp.loss:
			v.Grad = tp.allocLoose(v.Value.shape...)
			v.looseGrad = true
		default:
			v.Grad = tp.Alloc(v.Value.shape...)
		}
	}
	return v.Grad
}

// gradFresh is GradOf for a backward function that can write its whole
// contribution in one pass: when v's gradient buffer does not exist yet
// (and v is not a parameter), it is allocated without being cleared and
// fresh is true. The caller must then set every element to 0 + g (g its
// contribution: the value accumulating g into a cleared buffer gives, which
// differs from g only in turning -0 into +0), instead of adding g; with
// fresh false it adds g as usual. This saves clearing a buffer the size of
// v and reading it back, with bit-identical results.
func (tp *Tape[T]) gradFresh(v *Var[T]) (t *Tensor[T], fresh bool) {
	if !v.requiresGrad {
		return nil, false
	}
	if v.Grad != nil || v.param {
		return tp.GradOf(v), false
	}
	if tp.loss != nil && v.backward != nil && v != tp.loss {
		v.Grad = tp.allocLooseUninit(v.Value.shape...)
		v.looseGrad = true
	} else {
		v.Grad = tp.AllocUninit(v.Value.shape...)
	}
	return v.Grad, true
}

// allocLoose returns a zero-filled pooled tensor that is not in owned: its
// holder gives it back with release (Reset does not).
func (tp *Tape[T]) allocLoose(shape ...int) *Tensor[T] {
	t := tp.allocLooseUninit(shape...)
	d := t.data
	tp.ParallelFor(len(d), 1<<16, func(lo, hi int) { clear(d[lo:hi]) })
	return t
}

// allocLooseUninit is allocLoose without clearing.
func (tp *Tape[T]) allocLooseUninit(shape ...int) *Tensor[T] {
	t := tp.AllocUninit(shape...)
	tp.owned[len(tp.owned)-1] = nil
	tp.owned = tp.owned[:len(tp.owned)-1]
	return t
}

// release returns a loose tensor to the pool (and to its count, which
// Reset's bound reads).
func (tp *Tape[T]) release(t *Tensor[T]) {
	n := cap(t.data)
	tp.free[n] = append(tp.free[n], t)
	tp.freeElems += n
}

// ErrNoGraph is returned by Backward when the loss does not depend on anything
// that needs a gradient.
var ErrNoGraph = errors.New("engine: loss does not depend on any parameter or input that needs a gradient")

// Backward computes the gradients of loss (a one-element tensor) with respect to
// every recorded node, accumulating into parameters' gradients.
func (tp *Tape[T]) Backward(loss *Var[T]) error {
	if loss.Value.Len() != 1 {
		return fmt.Errorf("engine: Backward needs a scalar loss, got shape %v", loss.Value.shape)
	}
	if !loss.requiresGrad {
		return ErrNoGraph
	}
	g := tp.GradOf(loss)
	g.data[0] += 1
	// Every gradient reaching a node comes from the nodes recorded after it,
	// so once its own backward has run, its gradient is spent: it goes back
	// to the pool for the gradients still to come.
	tp.loss = loss
	defer func() { tp.loss = nil }()
	for i := len(tp.nodes) - 1; i >= 0; i-- {
		n := tp.nodes[i]
		if n.Grad != nil && n.backward != nil {
			n.backward()
			if n.looseGrad {
				tp.release(n.Grad)
				n.Grad, n.looseGrad = nil, false
			}
		}
	}
	// Intermediate gradients are pooled; drop the references so that a Var kept
	// by the caller does not alias a recycled buffer after Reset.
	for _, n := range tp.nodes {
		if !n.param && n != loss {
			n.Grad = nil
		}
	}
	return nil
}
