package engine

import (
	"fmt"
	"math"
)

// BNState holds a batch-norm layer's running statistics and settings, with
// PyTorch's semantics: RunningMean and RunningVar have one element per channel,
// the running variance is the unbiased batch variance, each training step sets
// r = (1-Momentum)*r + Momentum*batchStat, and Eps is added to the variance.
// PyTorch's defaults are Momentum 0.1 and Eps 1e-5, RunningMean 0, RunningVar 1.
type BNState[T Float] struct {
	RunningMean, RunningVar *Tensor[T]
	Momentum, Eps           float64
}

// NewBNState returns a state for c channels with PyTorch's defaults.
func NewBNState[T Float](c int) *BNState[T] {
	v := NewTensor[T](c)
	v.Fill(1)
	return &BNState[T]{RunningMean: NewTensor[T](c), RunningVar: v, Momentum: 0.1, Eps: 1e-5}
}

// BatchNorm normalises x [N,C], [N,C,L] or [N,C,H,W] per channel and applies
// gamma [C] and beta [C] (either may be nil: 1 and 0). In training it uses the
// batch's mean and biased variance, updates st's running statistics (st may be
// nil in training, then nothing is updated) and its backward is the full
// batch-norm gradient; in evaluation it uses st's running statistics and is an
// affine map of x.
func (tp *Tape[T]) BatchNorm(x, gamma, beta *Var[T], st *BNState[T], training bool) *Var[T] {
	return tp.batchNorm(x, gamma, beta, st, training, false)
}

// BatchNormReLU is ReLU(BatchNorm(x, gamma, beta, st, training)) in one op,
// with the same values and gradients bit for bit: the ReLU is applied as
// each normalised element is written, and the backward pass masks the
// output gradient on the fly (by the output, positive exactly where the
// batch norm's output was) instead of materialising the batch norm's output
// and its gradient. It saves two passes over memory forward and three
// backward.
func (tp *Tape[T]) BatchNormReLU(x, gamma, beta *Var[T], st *BNState[T], training bool) *Var[T] {
	return tp.batchNorm(x, gamma, beta, st, training, true)
}

// batchNorm is BatchNorm, followed by a ReLU when relu is set.
func (tp *Tape[T]) batchNorm(x, gamma, beta *Var[T], st *BNState[T], training, relu bool) *Var[T] {
	xs := x.Shape()
	if len(xs) < 2 {
		panic(fmt.Sprintf("engine: BatchNorm: x %v needs a channel dimension", xs))
	}
	n, c := xs[0], xs[1]
	s := 1
	for _, d := range xs[2:] {
		s *= d
	}
	m := n * s
	eps := 1e-5
	if st != nil {
		eps = st.Eps
	}
	if !training && st == nil {
		panic("engine: BatchNorm: evaluation needs running statistics")
	}
	var gd, bd []T
	if gamma != nil {
		gd = gamma.Value.data
	}
	if beta != nil {
		bd = beta.Value.data
	}
	if (gd != nil && len(gd) != c) || (bd != nil && len(bd) != c) {
		panic(fmt.Sprintf("engine: BatchNorm: gamma/beta do not have %d elements", c))
	}
	xd := x.Value.data
	// stats holds each channel's mean and 1/sqrt(var+eps).
	stats := tp.AllocUninit(2, c).data
	mean, invstd := stats[:c], stats[c:]
	out := tp.AllocUninit(xs...)
	od := out.data
	tp.ParallelFor(c, 1, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var mu, v float64
			if training {
				// One pass over the channel: sums of d = x-k and d^2 with the
				// shift k = the channel's first element, which keeps
				// E[d^2] - E[d]^2 free of cancellation (k is near the mean).
				k := float64(xd[ch*s])
				var sd, ss float64
				for i := 0; i < n; i++ {
					a, b := normShiftedSums(xd[(i*c+ch)*s:(i*c+ch+1)*s], k)
					sd += a
					ss += b
				}
				dm := sd / float64(m)
				mu = k + dm
				ss = max(ss-sd*dm, 0) // sum of (x-mu)^2
				v = ss / float64(m)
				if st != nil {
					mom := st.Momentum
					rm, rv := st.RunningMean.data, st.RunningVar.data
					rm[ch] = T((1-mom)*float64(rm[ch]) + mom*mu)
					unb := v
					if m > 1 {
						unb = ss / float64(m-1)
					}
					rv[ch] = T((1-mom)*float64(rv[ch]) + mom*unb)
				}
			} else {
				mu, v = float64(st.RunningMean.data[ch]), float64(st.RunningVar.data[ch])
			}
			is := 1 / math.Sqrt(v+eps)
			mean[ch], invstd[ch] = T(mu), T(is)
			a := is
			if gd != nil {
				a *= float64(gd[ch])
			}
			bb := -mu * a
			if bd != nil {
				bb += float64(bd[ch])
			}
			for i := 0; i < n; i++ {
				off := (i*c + ch) * s
				if relu {
					normAffineReLU(od[off:off+s], xd[off:off+s], T(a), T(bb))
				} else {
					normAffine(od[off:off+s], xd[off:off+s], T(a), T(bb))
				}
			}
		}
	})
	return tp.Op(out, func(o *Var[T]) {
		dy := o.Grad.data
		var gx, gg, gb []T
		t, fresh := tp.gradFresh(x)
		if t != nil {
			gx = t.data
		}
		if gamma != nil {
			if t := tp.GradOf(gamma); t != nil {
				gg = t.data
			}
		}
		if beta != nil {
			if t := tp.GradOf(beta); t != nil {
				gb = t.data
			}
		}
		// With the ReLU fused, each image's row of the batch norm's output
		// gradient is rebuilt where it is used, into a per-chunk scratch row,
		// exactly as ReLU's backward would have left it in a cleared buffer.
		chunks := Chunks(tp.threads, c, 1)
		var scratch []T
		if relu {
			scratch = tp.AllocUninit(chunks, s).data
		}
		z := o.Value.data
		dyRow := func(tmp []T, off int) []T {
			if !relu {
				return dy[off : off+s]
			}
			reluBackwardSet(tmp, dy[off:off+s], z[off:off+s])
			return tmp
		}
		chunkedFor(chunks, c, func(ci, lo, hi int) {
			var tmp []T
			if relu {
				tmp = scratch[ci*s : (ci+1)*s]
			}
			for ch := lo; ch < hi; ch++ {
				mu, is := float64(mean[ch]), float64(invstd[ch])
				var sdy, sdxm float64 // sums of dy and dy*(x-mu)
				for i := 0; i < n; i++ {
					off := (i*c + ch) * s
					a, b := normGradSums(dyRow(tmp, off), xd[off:off+s], mu)
					sdy += a
					sdxm += b
				}
				sdyx := sdxm * is // sum of dy*xhat
				if gg != nil {
					gg[ch] += T(sdyx)
				}
				if gb != nil {
					gb[ch] += T(sdy)
				}
				if gx == nil {
					continue
				}
				a := is
				if gd != nil {
					a *= float64(gd[ch])
				}
				// Training: dx = a*(dy - mean(dy) - xhat*mean(dy*xhat)), as
				// a*dy + b*x + c0; evaluation: dx = a*dy.
				var b, c0 float64
				if training {
					k1, k2 := sdy/float64(m), sdyx/float64(m)
					b = -a * is * k2
					c0 = a * (mu*is*k2 - k1)
				}
				for i := 0; i < n; i++ {
					off := (i*c + ch) * s
					if fresh {
						normGradSet(gx[off:off+s], dyRow(tmp, off), xd[off:off+s], T(a), T(b), T(c0))
					} else {
						normGrad(gx[off:off+s], dyRow(tmp, off), xd[off:off+s], T(a), T(b), T(c0))
					}
				}
			}
		})
	}, x, gamma, beta)
}

// LayerNorm normalises x over its last dimension D (biased variance, eps added)
// and applies gamma [D] and beta [D] (either may be nil: 1 and 0).
func (tp *Tape[T]) LayerNorm(x, gamma, beta *Var[T], eps float64) *Var[T] {
	xs := x.Shape()
	if len(xs) < 1 {
		panic("engine: LayerNorm: x must have at least one dimension")
	}
	d := xs[len(xs)-1]
	rows := 0
	if d > 0 {
		rows = x.Value.Len() / d
	}
	var gd, bd []T
	if gamma != nil {
		gd = gamma.Value.data
	}
	if beta != nil {
		bd = beta.Value.data
	}
	if (gd != nil && len(gd) != d) || (bd != nil && len(bd) != d) {
		panic(fmt.Sprintf("engine: LayerNorm: gamma/beta do not have %d elements", d))
	}
	xd := x.Value.data
	stats := tp.AllocUninit(2, rows).data
	mean, invstd := stats[:rows], stats[rows:]
	out := tp.AllocUninit(xs...)
	od := out.data
	grain := max(1, 4096/max(d, 1))
	tp.ParallelFor(rows, grain, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, yr := xd[r*d:(r+1)*d], od[r*d:(r+1)*d]
			var sum float64
			for _, e := range xr {
				sum += float64(e)
			}
			mu := sum / float64(d)
			var ss float64
			for _, e := range xr {
				t := float64(e) - mu
				ss += t * t
			}
			is := 1 / math.Sqrt(ss/float64(d)+eps)
			mean[r], invstd[r] = T(mu), T(is)
			mt, it := T(mu), T(is)
			for j, e := range xr {
				v := (e - mt) * it
				if gd != nil {
					v *= gd[j]
				}
				if bd != nil {
					v += bd[j]
				}
				yr[j] = v
			}
		}
	})
	return tp.Op(out, func(o *Var[T]) {
		dy := o.Grad.data
		var gx, gg, gb []T
		if t := tp.GradOf(x); t != nil {
			gx = t.data
		}
		if gamma != nil {
			if t := tp.GradOf(gamma); t != nil {
				gg = t.data
			}
		}
		if beta != nil {
			if t := tp.GradOf(beta); t != nil {
				gb = t.data
			}
		}
		chunks := Chunks(tp.threads, rows, grain)
		var part []T
		if gg != nil || gb != nil {
			part = tp.Alloc(chunks, 2, d).data
		}
		chunkedFor(chunks, rows, func(c, lo, hi int) {
			var pg, pb []T
			if part != nil {
				pg, pb = part[(2*c)*d:(2*c+1)*d], part[(2*c+1)*d:(2*c+2)*d]
			}
			for r := lo; r < hi; r++ {
				xr, dr := xd[r*d:(r+1)*d], dy[r*d:(r+1)*d]
				mu, is := mean[r], invstd[r]
				if part != nil {
					for j, e := range xr {
						pg[j] += dr[j] * (e - mu) * is
						pb[j] += dr[j]
					}
				}
				if gx == nil {
					continue
				}
				// g = dy*gamma; dx = is*(g - mean(g) - xhat*mean(g*xhat))
				var sg, sgx float64
				for j, e := range xr {
					g := dr[j]
					if gd != nil {
						g *= gd[j]
					}
					sg += float64(g)
					sgx += float64(g) * float64((e-mu)*is)
				}
				k1, k2 := T(sg/float64(d)), T(sgx/float64(d))
				gr := gx[r*d : (r+1)*d]
				for j, e := range xr {
					g := dr[j]
					if gd != nil {
						g *= gd[j]
					}
					gr[j] += is * (g - k1 - (e-mu)*is*k2)
				}
			}
		})
		for c := 0; c < chunks && part != nil; c++ {
			if gg != nil {
				for j, v := range part[(2*c)*d : (2*c+1)*d] {
					gg[j] += v
				}
			}
			if gb != nil {
				for j, v := range part[(2*c+1)*d : (2*c+2)*d] {
					gb[j] += v
				}
			}
		}
	}, x, gamma, beta)
}
