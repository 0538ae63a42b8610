package engine

import "fmt"

// PoolOpts are a 2-D pooling window's size, stride and padding. A zero stride
// means the kernel size.
type PoolOpts struct {
	KH, KW           int
	StrideH, StrideW int
	PadH, PadW       int
}

// poolGeom is the resolved geometry of a pooling over NCHW input.
type poolGeom struct {
	planes, H, W, KH, KW, SH, SW, PH, PW, OH, OW int
}

func newPoolGeom(xs []int, o PoolOpts) poolGeom {
	if len(xs) != 4 || o.KH < 1 || o.KW < 1 {
		panic(fmt.Sprintf("engine: pool: x %v must be 4-D and the kernel %dx%d positive", xs, o.KH, o.KW))
	}
	g := poolGeom{planes: xs[0] * xs[1], H: xs[2], W: xs[3], KH: o.KH, KW: o.KW,
		SH: o.StrideH, SW: o.StrideW, PH: o.PadH, PW: o.PadW}
	if g.SH == 0 {
		g.SH = g.KH
	}
	if g.SW == 0 {
		g.SW = g.KW
	}
	if 2*g.PH > g.KH || 2*g.PW > g.KW {
		panic(fmt.Sprintf("engine: pool: padding %d,%d exceeds half the kernel %dx%d", g.PH, g.PW, g.KH, g.KW))
	}
	g.OH = (g.H+2*g.PH-g.KH)/g.SH + 1
	g.OW = (g.W+2*g.PW-g.KW)/g.SW + 1
	if g.OH <= 0 || g.OW <= 0 {
		panic(fmt.Sprintf("engine: pool: empty output for input %v and kernel %dx%d", xs, g.KH, g.KW))
	}
	return g
}

// window returns the input rows [h0,h1) and columns [w0,w1) of output (oh, ow),
// clipped to the image.
func (g *poolGeom) window(oh, ow int) (h0, h1, w0, w1 int) {
	h0, w0 = oh*g.SH-g.PH, ow*g.SW-g.PW
	h1, w1 = min(h0+g.KH, g.H), min(w0+g.KW, g.W)
	return max(h0, 0), h1, max(w0, 0), w1
}

// MaxPool2D returns the maximum over each KHxKW window of x [N,C,H,W] (padding
// never wins, as in PyTorch). The gradient goes to the first maximum of each
// window in row-major order.
func (tp *Tape[T]) MaxPool2D(x *Var[T], o PoolOpts) *Var[T] {
	g := newPoolGeom(x.Shape(), o)
	xs := x.Shape()
	out := tp.AllocUninit(xs[0], xs[1], g.OH, g.OW)
	xd, od := x.Value.data, out.data
	hw, ohw := g.H*g.W, g.OH*g.OW
	tp.ParallelFor(g.planes, max(1, 4096/max(hw, 1)), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			xp, op := xd[p*hw:(p+1)*hw], od[p*ohw:(p+1)*ohw]
			if g.is2x2() {
				for oh := 0; oh < g.OH; oh++ {
					r0, r1, orow := xp[2*oh*g.W:(2*oh+1)*g.W], xp[(2*oh+1)*g.W:(2*oh+2)*g.W], op[oh*g.OW:(oh+1)*g.OW]
					for ow := range orow {
						orow[ow] = max2x2(r0, r1, ow).v
					}
				}
				continue
			}
			for oh := 0; oh < g.OH; oh++ {
				for ow := 0; ow < g.OW; ow++ {
					op[oh*g.OW+ow] = xp[maxIndex(&g, xp, oh, ow)]
				}
			}
		}
	})
	return tp.Op(out, func(o *Var[T]) {
		gx := tp.GradOf(x)
		if gx == nil {
			return
		}
		gd, dy := gx.data, o.Grad.data
		tp.ParallelFor(g.planes, max(1, 4096/max(hw, 1)), func(lo, hi int) {
			for p := lo; p < hi; p++ {
				xp, gp, dp := xd[p*hw:(p+1)*hw], gd[p*hw:(p+1)*hw], dy[p*ohw:(p+1)*ohw]
				if g.is2x2() {
					for oh := 0; oh < g.OH; oh++ {
						r0, r1, drow := xp[2*oh*g.W:(2*oh+1)*g.W], xp[(2*oh+1)*g.W:(2*oh+2)*g.W], dp[oh*g.OW:(oh+1)*g.OW]
						base := 2 * oh * g.W
						for ow, d := range drow {
							m := max2x2(r0, r1, ow)
							gp[base+m.row*g.W+2*ow+m.col] += d
						}
					}
					continue
				}
				for oh := 0; oh < g.OH; oh++ {
					for ow := 0; ow < g.OW; ow++ {
						gp[maxIndex(&g, xp, oh, ow)] += dp[oh*g.OW+ow]
					}
				}
			}
		})
	}, x)
}

// is2x2 reports the commonest pooling, 2x2 windows at stride 2 without
// padding (LeNet's), which has a path of its own: every window lies inside
// the image.
func (g *poolGeom) is2x2() bool {
	return g.KH == 2 && g.KW == 2 && g.SH == 2 && g.SW == 2 && g.PH == 0 && g.PW == 0
}

// argmax2 is the first maximum of a 2x2 window: its value and its row and
// column in the window.
type argmax2[T Float] struct {
	v        T
	row, col int
}

// max2x2 returns the first maximum, in row-major order, of the window
// r0[2ow:2ow+2], r1[2ow:2ow+2]: the same element maxIndex picks.
func max2x2[T Float](r0, r1 []T, ow int) argmax2[T] {
	a, b := r0[2*ow:2*ow+2:2*ow+2], r1[2*ow:2*ow+2:2*ow+2]
	m := argmax2[T]{v: a[0]}
	if a[1] > m.v {
		m = argmax2[T]{v: a[1], col: 1}
	}
	if b[0] > m.v {
		m = argmax2[T]{v: b[0], row: 1}
	}
	if b[1] > m.v {
		m = argmax2[T]{v: b[1], row: 1, col: 1}
	}
	return m
}

// maxIndex returns the index in plane xp of the first maximum of window (oh, ow).
func maxIndex[T Float](g *poolGeom, xp []T, oh, ow int) int {
	h0, h1, w0, w1 := g.window(oh, ow)
	best := h0*g.W + w0
	m := xp[best]
	for h := h0; h < h1; h++ {
		row := xp[h*g.W : h*g.W+w1]
		for w := w0; w < w1; w++ {
			if row[w] > m {
				m, best = row[w], h*g.W+w
			}
		}
	}
	return best
}

// AvgPool2D returns the mean over each KHxKW window of x [N,C,H,W], counting
// padded positions as zeros (PyTorch's default count_include_pad=true): every
// window sum is divided by KH*KW.
func (tp *Tape[T]) AvgPool2D(x *Var[T], o PoolOpts) *Var[T] {
	g := newPoolGeom(x.Shape(), o)
	xs := x.Shape()
	out := tp.AllocUninit(xs[0], xs[1], g.OH, g.OW)
	xd, od := x.Value.data, out.data
	hw, ohw := g.H*g.W, g.OH*g.OW
	inv := 1 / T(g.KH*g.KW)
	tp.ParallelFor(g.planes, max(1, 4096/max(hw, 1)), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			xp, op := xd[p*hw:(p+1)*hw], od[p*ohw:(p+1)*ohw]
			for oh := 0; oh < g.OH; oh++ {
				for ow := 0; ow < g.OW; ow++ {
					h0, h1, w0, w1 := g.window(oh, ow)
					var s T
					for h := h0; h < h1; h++ {
						for _, v := range xp[h*g.W+w0 : h*g.W+w1] {
							s += v
						}
					}
					op[oh*g.OW+ow] = s * inv
				}
			}
		}
	})
	return tp.Op(out, func(o *Var[T]) {
		gx := tp.GradOf(x)
		if gx == nil {
			return
		}
		gd, dy := gx.data, o.Grad.data
		tp.ParallelFor(g.planes, max(1, 4096/max(hw, 1)), func(lo, hi int) {
			for p := lo; p < hi; p++ {
				gp, dp := gd[p*hw:(p+1)*hw], dy[p*ohw:(p+1)*ohw]
				for oh := 0; oh < g.OH; oh++ {
					for ow := 0; ow < g.OW; ow++ {
						h0, h1, w0, w1 := g.window(oh, ow)
						v := dp[oh*g.OW+ow] * inv
						for h := h0; h < h1; h++ {
							row := gp[h*g.W+w0 : h*g.W+w1]
							for i := range row {
								row[i] += v
							}
						}
					}
				}
			}
		})
	}, x)
}

// GlobalAvgPool2D returns the mean of each channel of x [N,C,H,W]: [N,C].
func (tp *Tape[T]) GlobalAvgPool2D(x *Var[T]) *Var[T] {
	xs := x.Shape()
	if len(xs) != 4 {
		panic(fmt.Sprintf("engine: GlobalAvgPool2D: x %v must be 4-D", xs))
	}
	planes, hw := xs[0]*xs[1], xs[2]*xs[3]
	out := tp.AllocUninit(xs[0], xs[1])
	xd, od := x.Value.data, out.data
	inv := 1 / T(hw)
	grain := max(1, 8192/max(hw, 1))
	tp.ParallelFor(planes, grain, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			var s T
			for _, v := range xd[p*hw : (p+1)*hw] {
				s += v
			}
			od[p] = s * inv
		}
	})
	return tp.Op(out, func(o *Var[T]) {
		gx, fresh := tp.gradFresh(x)
		if gx == nil {
			return
		}
		gd, dy := gx.data, o.Grad.data
		tp.ParallelFor(planes, grain, func(lo, hi int) {
			for p := lo; p < hi; p++ {
				v := dy[p] * inv
				row := gd[p*hw : (p+1)*hw]
				if fresh {
					v += 0 // the value 0 + v of a cleared buffer
					for i := range row {
						row[i] = v
					}
					continue
				}
				for i := range row {
					row[i] += v
				}
			}
		})
	}, x)
}
