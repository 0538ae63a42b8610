package engine

import (
	"fmt"
	"slices"
)

// Sum returns the sum of x over the given axes (negative axes count from the
// end). With keepDims the reduced axes stay as size-1 dimensions. An empty axes
// list reduces nothing (the result is a copy of x); SumAll reduces everything.
// Each output element is summed in a fixed order, whatever the thread count.
func (tp *Tape[T]) Sum(x *Var[T], axes []int, keepDims bool) *Var[T] {
	return tp.sumMean(x, axes, keepDims, false)
}

// Mean returns the mean of x over the given axes; see Sum for the conventions.
func (tp *Tape[T]) Mean(x *Var[T], axes []int, keepDims bool) *Var[T] {
	return tp.sumMean(x, axes, keepDims, true)
}

// SumAll returns the sum of every element of x as a scalar (shape []). The
// elements are summed in Threads()-dependent chunks combined in order, so the
// result is deterministic for a given thread count.
func (tp *Tape[T]) SumAll(x *Var[T]) *Var[T] {
	return tp.sumMean(x, allAxes(x.Value.Rank()), false, false)
}

// MeanAll returns the mean of every element of x as a scalar (shape []).
func (tp *Tape[T]) MeanAll(x *Var[T]) *Var[T] {
	return tp.sumMean(x, allAxes(x.Value.Rank()), false, true)
}

func allAxes(r int) []int {
	a := make([]int, r)
	for i := range a {
		a[i] = i
	}
	return a
}

// reduceShapes normalises axes and returns which axes are reduced, the output
// shape, the output shape with reduced axes kept as 1, and the reduced count.
func reduceShapes(shape, axes []int, keepDims bool) (reduced []bool, out, keep []int, count int) {
	r := len(shape)
	reduced = make([]bool, r)
	for _, a := range axes {
		if a < 0 {
			a += r
		}
		if a < 0 || a >= r || reduced[a] {
			panic(fmt.Sprintf("engine: bad or repeated reduction axes %v for shape %v", axes, shape))
		}
		reduced[a] = true
	}
	count = 1
	keep = make([]int, r)
	out = []int{}
	for i, d := range shape {
		keep[i] = d
		if reduced[i] {
			keep[i] = 1
			count *= d
			if keepDims {
				out = append(out, 1)
			}
			continue
		}
		out = append(out, d)
	}
	return reduced, out, keep, count
}

func (tp *Tape[T]) sumMean(x *Var[T], axes []int, keepDims, mean bool) *Var[T] {
	shape := x.Value.shape
	reduced, outShape, keep, count := reduceShapes(shape, axes, keepDims)
	alpha := T(1)
	if mean {
		alpha = 1 / T(count)
	}
	out := tp.AllocUninit(outShape...)
	reduceSumKernel(tp, x.Value.data, shape, reduced, out.data, alpha, false)
	return tp.Op(out, func(o *Var[T]) {
		gx := tp.GradOf(x)
		if gx == nil {
			return
		}
		// gx += alpha * g broadcast back over the reduced axes.
		binaryKernel(tp.threads, opAxpy, alpha, gx.data, gx.data, o.Grad.data, planBroadcast(shape, keep))
	}, x)
}

// coalesceReduce drops size-1 dimensions and merges adjacent dimensions that are
// both reduced or both kept; the merged dimensions are contiguous row-major.
func coalesceReduce(shape []int, reduced []bool) (dims []int, red []bool) {
	for i, d := range shape {
		if d == 1 {
			continue
		}
		if k := len(dims); k > 0 && red[k-1] == reduced[i] {
			dims[k-1] *= d
			continue
		}
		dims = append(dims, d)
		red = append(red, reduced[i])
	}
	return dims, red
}

// splitReduce returns, for coalesced dims, the kept dims with their input strides
// and the list of input offsets of every element of the reduced sub-grid over
// dims[:upto] (row-major order of the reduced indices).
func splitReduce(dims []int, red []bool, upto int) (kd, ks, roffs []int) {
	st := Strides(dims)
	var rd, rs []int
	for i := range upto {
		if red[i] {
			rd = append(rd, dims[i])
			rs = append(rs, st[i])
		} else {
			kd = append(kd, dims[i])
			ks = append(ks, st[i])
		}
	}
	n := 1
	for _, d := range rd {
		n *= d
	}
	roffs = make([]int, n)
	idx := make([]int, len(rd))
	off := 0
	for j := range roffs {
		roffs[j] = off
		for k := len(rd) - 1; k >= 0; k-- {
			idx[k]++
			off += rs[k]
			if idx[k] < rd[k] {
				break
			}
			off -= rs[k] * rd[k]
			idx[k] = 0
		}
	}
	return kd, ks, roffs
}

// keptOffset returns the input offset of kept-index o (row-major over kd).
func keptOffset(o int, kd, ks []int) int {
	off := 0
	for k := len(kd) - 1; k >= 0 && o > 0; k-- {
		q := o / kd[k]
		off += (o - q*kd[k]) * ks[k]
		o = q
	}
	return off
}

// reduceSumKernel writes (acc: adds) alpha * the sum of src over the reduced
// dimensions of shape into dst, whose elements are the kept indices in row-major
// order. Every output element is summed in an order that depends only on the
// shapes, except a full reduction, which sums Threads()-dependent chunks.
func reduceSumKernel[T Float](tp *Tape[T], src []T, shape []int, reduced []bool, dst []T, alpha T, acc bool) {
	dims, red := coalesceReduce(shape, reduced)
	put := func(i int, s T) {
		if acc {
			dst[i] += alpha * s
		} else {
			dst[i] = alpha * s
		}
	}
	switch {
	case len(dims) == 0:
		put(0, src[0])
		return
	case !slices.Contains(red, true):
		tp.ParallelFor(len(dst), elemGrain, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				put(i, src[i])
			}
		})
		return
	case len(dims) == 1:
		put(0, tp.sumChunked(src))
		return
	}
	nd := len(dims)
	nOut := len(dst)
	if red[nd-1] {
		// Innermost dimension reduced: contiguous runs of length l per offset.
		l := dims[nd-1]
		kd, ks, roffs := splitReduce(dims, red, nd-1)
		grain := max(1, elemGrain/(l*len(roffs)))
		tp.ParallelFor(nOut, grain, func(lo, hi int) {
			for o := lo; o < hi; o++ {
				base := keptOffset(o, kd, ks)
				var s T
				for _, ro := range roffs {
					s += sumRun(src[base+ro : base+ro+l])
				}
				put(o, s)
			}
		})
		return
	}
	// Innermost dimension kept: add whole rows of length k.
	k := dims[nd-1]
	kd, ks, roffs := splitReduce(dims, red, nd-1)
	grain := max(1, elemGrain/len(roffs))
	tp.ParallelFor(nOut, grain, func(lo, hi int) {
		for pos := lo; pos < hi; {
			r, col := pos/k, pos%k
			m := min(k-col, hi-pos)
			base := keptOffset(r, kd, ks) + col
			d := dst[pos : pos+m]
			if !acc {
				clear(d)
			}
			for _, ro := range roffs {
				s := src[base+ro : base+ro+m]
				if alpha == 1 {
					for i := range d {
						d[i] += s[i]
					}
				} else {
					for i := range d {
						d[i] += alpha * s[i]
					}
				}
			}
			pos += m
		}
	})
}

// sumChunked sums x in Chunks(threads) parts and adds the partial sums in order.
func (tp *Tape[T]) sumChunked(x []T) T {
	n := len(x)
	chunks := Chunks(tp.threads, n, elemGrain)
	if chunks == 1 {
		return sumRun(x)
	}
	part := tp.AllocUninit(chunks).data
	tp.ParallelFor(chunks, 1, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			a, b := ChunkBounds(n, chunks, c)
			part[c] = sumRun(x[a:b])
		}
	})
	var s T
	for _, v := range part {
		s += v
	}
	return s
}

// sumRun sums x with four interleaved accumulators (fixed order).
func sumRun[T Float](x []T) T {
	var s0, s1, s2, s3 T
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i]
		s1 += x[i+1]
		s2 += x[i+2]
		s3 += x[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// Max returns the maximum of x over the given axes; see Sum for the conventions.
// NaN propagates. The gradient of each output element goes to the first maximal
// input element (lowest row-major index among ties), as a subgradient.
func (tp *Tape[T]) Max(x *Var[T], axes []int, keepDims bool) *Var[T] {
	shape := x.Value.shape
	reduced, outShape, _, _ := reduceShapes(shape, axes, keepDims)
	out := tp.AllocUninit(outShape...)
	src, dst := x.Value.data, out.data
	arg := make([]int, len(dst))
	dims, red := coalesceReduce(shape, reduced)
	if len(dims) == 0 {
		dims, red = []int{1}, []bool{true}
	}
	kd, ks, roffs := splitReduce(dims, red, len(dims))
	tp.ParallelFor(len(dst), max(1, elemGrain/len(roffs)), func(lo, hi int) {
		for o := lo; o < hi; o++ {
			base := keptOffset(o, kd, ks)
			bi := base + roffs[0]
			best := src[bi]
			for _, ro := range roffs[1:] {
				v := src[base+ro]
				if v > best || (v != v && best == best) {
					best, bi = v, base+ro
				}
			}
			dst[o], arg[o] = best, bi
		}
	})
	return tp.Op(out, func(o *Var[T]) {
		gx := tp.GradOf(x)
		if gx == nil {
			return
		}
		for i, g := range o.Grad.data {
			gx.data[arg[i]] += g
		}
	}, x)
}
