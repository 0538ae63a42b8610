package engine

import (
	"fmt"

	"github.com/gap-harness/gap/engine/blas"
)

// ConvOpts are a convolution's stride, padding, dilation and groups. Zero values
// mean stride 1, padding 0, dilation 1 and 1 group.
type ConvOpts struct {
	StrideH, StrideW     int
	PadH, PadW           int
	DilationH, DilationW int
	Groups               int
}

func orOne(v int) int {
	if v == 0 {
		return 1
	}
	return v
}

// Conv2D returns the 2-D cross-correlation of x [N,C,H,W] with w [O, C/Groups,
// KH, KW] plus b [O] (or nil), as PyTorch's conv2d: [N,O,OH,OW].
//
// Kernel: per image and group, im2col and one gemm (W [O,C*KH*KW] x col); 1x1
// stride-1 unpadded kernels skip im2col. For stride 1 the backward pass is one
// im2col of dY feeding two gemms (dX as a convolution with the flipped filters,
// and dW), so it needs no col2im and no second im2col of x. Images are split
// over the tape's threads with a single-threaded gemm per goroutine (measured
// faster than OpenBLAS's own threads); with fewer images than threads the gemm
// itself is split.
func (tp *Tape[T]) Conv2D(x, w, b *Var[T], o ConvOpts) *Var[T] {
	g := conv2DGeom("Conv2D", x, w, o)
	return tp.conv(x, w, b, g, false)
}

// conv2DGeom is the geometry of a 2-D convolution of x [N, C, H, W] by w
// [O, C/G, KH, KW] with options o; op names the caller in the panic for
// tensors that are not 4-D.
func conv2DGeom[T Float](op string, x, w *Var[T], o ConvOpts) convGeom {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 4 || len(ws) != 4 {
		panic(fmt.Sprintf("engine: %s: x %v and w %v must be 4-D", op, xs, ws))
	}
	return convGeom{N: xs[0], C: xs[1], H: xs[2], W: xs[3], O: ws[0], KH: ws[2], KW: ws[3],
		SH: orOne(o.StrideH), SW: orOne(o.StrideW), PH: o.PadH, PW: o.PadW,
		DH: orOne(o.DilationH), DW: orOne(o.DilationW), G: orOne(o.Groups)}
}

// Conv2DReLU is ReLU(Conv2D(x, w, b, o)) in one op, with the same values and
// gradients bit for bit: the ReLU runs on each image's output block right
// after its product, while the block is in cache, and the backward pass
// builds the masked output gradient (what ReLU's backward leaves in the
// convolution output's cleared gradient) in a scratch buffer that the
// convolution's backward reads, instead of clearing and accumulating one.
func (tp *Tape[T]) Conv2DReLU(x, w, b *Var[T], o ConvOpts) *Var[T] {
	g := conv2DGeom("Conv2DReLU", x, w, o)
	return tp.conv(x, w, b, g, true)
}

// Conv1D returns the kernel-size-1 convolution of x [N,C,L] with w [O,C,1] plus
// b [O] (or nil): [N,O,L], one gemm per sequence.
func (tp *Tape[T]) Conv1D(x, w, b *Var[T]) *Var[T] {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 3 || len(ws) != 3 || ws[2] != 1 {
		panic(fmt.Sprintf("engine: Conv1D: x %v must be [N,C,L] and w %v [O,C,1]", xs, ws))
	}
	g := convGeom{N: xs[0], C: xs[1], H: 1, W: xs[2], O: ws[0], KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1, G: 1}
	return tp.conv(x, w, b, g, false)
}

// conv is the convolution of x by w plus b, followed by a ReLU when relu
// is set.
func (tp *Tape[T]) conv(x, w, b *Var[T], g convGeom, relu bool) *Var[T] {
	if g.C%g.G != 0 || g.O%g.G != 0 || w.Shape()[1] != g.C/g.G {
		panic(fmt.Sprintf("engine: conv: x %v, w %v and %d groups do not agree", x.Shape(), w.Shape(), g.G))
	}
	if b != nil && b.Value.Len() != g.O {
		panic(fmt.Sprintf("engine: conv: bias %v for %d outputs", b.Shape(), g.O))
	}
	g.OH = (g.H+2*g.PH-g.DH*(g.KH-1)-1)/g.SH + 1
	g.OW = (g.W+2*g.PW-g.DW*(g.KW-1)-1)/g.SW + 1
	if g.OH <= 0 || g.OW <= 0 {
		panic(fmt.Sprintf("engine: conv: empty output for input %v and kernel %v", x.Shape(), w.Shape()))
	}
	outShape := []int{g.N, g.O, g.OH, g.OW}
	if x.Value.Rank() == 3 {
		outShape = []int{g.N, g.O, g.OW}
	}
	out := tp.AllocUninit(outShape...)
	var bd []T
	if b != nil {
		bd = b.Value.data
	}
	var ep *epilogue[T]
	if relu {
		ep = &epilogue[T]{relu: true}
	}
	convForwardEp(tp, &g, x.Value.data, w.Value.data, bd, out.data, ep)
	inputs := []*Var[T]{x, w}
	if b != nil {
		inputs = append(inputs, b)
	}
	return tp.Op(out, func(o *Var[T]) {
		var gx, gw, gb []T
		if t := tp.GradOf(x); t != nil {
			gx = t.data
		}
		if t := tp.GradOf(w); t != nil {
			gw = t.data
		}
		if b != nil {
			if t := tp.GradOf(b); t != nil {
				gb = t.data
			}
		}
		dy := o.Grad.data
		if relu {
			t := tp.allocLooseUninit(o.Value.shape...)
			defer tp.release(t)
			z := o.Value.data
			tp.ParallelFor(len(dy), elemGrain, func(lo, hi int) {
				reluBackwardSet(t.data[lo:hi], dy[lo:hi], z[lo:hi])
			})
			dy = t.data
		}
		convBackward(tp, &g, x.Value.data, w.Value.data, dy, gx, gw, gb)
	}, inputs...)
}

// convChunks splits the batch over the tape's threads and returns the number of
// chunks and the threads each chunk's gemms may use.
func convChunks[T Float](tp *Tape[T], g *convGeom) (chunks, inner int) {
	chunks = Chunks(tp.threads, g.N, 1)
	return chunks, max(1, tp.threads/chunks)
}

func convForward[T Float](tp *Tape[T], g *convGeom, x, w, b, out []T) {
	convForwardEp(tp, g, x, w, b, out, nil)
}

// convForwardEp is convForward followed, per image and group, by the
// epilogue ep (nil: none) on that block of the output while it is warm.
func convForwardEp[T Float](tp *Tape[T], g *convGeom, x, w, b, out []T, ep *epilogue[T]) {
	chunks, inner := convChunks(tp, g)
	cg, og, kg := g.cg(), g.og(), g.kg()
	chw, ohw := g.C*g.H*g.W, g.OH*g.OW
	var cols []T
	if !g.direct() {
		cols = tp.AllocUninit(chunks, kg*ohw).data
	}
	chunkedFor(chunks, g.N, func(c, lo, hi int) {
		var col []T
		if cols != nil {
			col = cols[c*kg*ohw : (c+1)*kg*ohw]
		}
		for n := lo; n < hi; n++ {
			for gi := 0; gi < g.G; gi++ {
				xg := x[n*chw+gi*cg*g.H*g.W:]
				src := xg
				if col != nil {
					im2col(g, xg, cg, col)
					src = col
				}
				dst := out[(n*g.O+gi*og)*ohw : (n*g.O+(gi+1)*og)*ohw]
				beta := T(0)
				if b != nil {
					for oc := 0; oc < og; oc++ {
						row := dst[oc*ohw : (oc+1)*ohw]
						v := b[gi*og+oc]
						for i := range row {
							row[i] = v
						}
					}
					beta = 1
				}
				blas.GemmParallel(inner, false, false, og, ohw, kg, 1, w[gi*og*kg:], kg, src, ohw, beta, dst, ohw)
				if ep != nil {
					ep.apply(out, (n*g.O+gi*og)*ohw, og*ohw)
				}
			}
		}
	})
}

// convBackward accumulates the gradients of the convolution into gx, gw and gb
// (each nil when not wanted). The weight gradient is computed transposed,
// dW^T [kg,og] += col [kg,ohw] x dY^T, which runs about twice as fast in OpenBLAS
// as dW += dY col^T for ResNet's few-channel layers. The weight and bias
// gradients are sums over the batch: each chunk of images accumulates its own
// partial, and the partials are added in chunk order, so a given thread count
// always gives the same bits.
func convBackward[T Float](tp *Tape[T], g *convGeom, x, w, dy, gx, gw, gb []T) {
	chunks, inner := convChunks(tp, g)
	cg, og, kg := g.cg(), g.og(), g.kg()
	hw, chw, ohw := g.H*g.W, g.C*g.H*g.W, g.OH*g.OW
	wl := g.O * kg
	var pw, pb, cols, dcols []T
	if gw != nil {
		pw = tp.Alloc(chunks, wl).data
	}
	if gb != nil {
		pb = tp.Alloc(chunks, g.O).data
	}
	// For stride 1 the input gradient is itself a convolution, of dY with the
	// flipped, transposed filters (tg, wt): im2col of dY (a copy) and a gemm that
	// accumulates straight into dX, instead of a gemm and col2im (scattered adds).
	var tg convGeom
	var wt []T
	if gx != nil {
		tg, wt = transposedConv(tp, g, w)
	}
	// With the transposed path the weight gradient comes from the same im2col of
	// dY: dW[o,c,kh,kw] = sum x[c,:] * colDY[(o,KH-1-kh,KW-1-kw),:], computed as
	// dWflip [og*KH*KW, cg] += colDY x X^T, so x needs no second im2col.
	flip := wt != nil && gw != nil
	if !g.direct() {
		if gw != nil && !flip {
			cols = tp.AllocUninit(chunks, kg*ohw).data
		}
		if gx != nil && wt == nil {
			dcols = tp.AllocUninit(chunks, kg*ohw).data
		}
		if gx != nil && wt != nil {
			dcols = tp.AllocUninit(chunks, tg.kg()*hw).data
		}
	}
	chunkedFor(chunks, g.N, func(c, lo, hi int) {
		var myW, myB, col, dcol []T
		if gw != nil {
			myW = pw[c*wl : (c+1)*wl]
		}
		if gb != nil {
			myB = pb[c*g.O : (c+1)*g.O]
		}
		if cols != nil {
			col = cols[c*kg*ohw : (c+1)*kg*ohw]
		}
		if dcols != nil {
			l := len(dcols) / chunks
			dcol = dcols[c*l : (c+1)*l]
		}
		for n := lo; n < hi; n++ {
			for gi := 0; gi < g.G; gi++ {
				dyg := dy[(n*g.O+gi*og)*ohw : (n*g.O+(gi+1)*og)*ohw]
				wg := w[gi*og*kg:]
				xoff := n*chw + gi*cg*hw
				if myB != nil {
					for oc := 0; oc < og; oc++ {
						var s T
						for _, v := range dyg[oc*ohw : (oc+1)*ohw] {
							s += v
						}
						myB[gi*og+oc] += s
					}
				}
				if wt != nil {
					// dX [cg,hw] += W' [cg,og*KH*KW] x im2col(dY)
					tk := tg.kg()
					im2col(&tg, dyg, og, dcol)
					if myW != nil {
						blas.GemmParallel(inner, false, true, tk, cg, hw, 1, dcol, hw, x[xoff:], hw, 1, myW[gi*og*kg:], cg)
					}
					blas.GemmParallel(inner, false, false, cg, hw, tk, 1, wt[gi*cg*tk:], tk, dcol, hw, 1, gx[xoff:], hw)
					continue
				}
				if myW != nil {
					src := x[xoff:]
					if col != nil {
						im2col(g, src, cg, col)
						src = col
					}
					// dW^T [kg,og] += col [kg,ohw] x dY^T
					blas.GemmParallel(inner, false, true, kg, og, ohw, 1, src, ohw, dyg, ohw, 1, myW[gi*og*kg:], og)
				}
				if gx != nil {
					if dcol == nil {
						// dX [cg,hw] += W^T [cg,og] x dY [og,ohw]
						blas.GemmParallel(inner, true, false, cg, ohw, og, 1, wg, kg, dyg, ohw, 1, gx[xoff:], hw)
					} else {
						blas.GemmParallel(inner, true, false, kg, ohw, og, 1, wg, kg, dyg, ohw, 0, dcol, ohw)
						col2im(g, dcol, cg, gx[xoff:])
					}
				}
			}
		}
	})
	kk := g.KH * g.KW
	for c := 0; c < chunks; c++ {
		if gw != nil {
			// Partial c holds, per group, dW^T [kg,og] or, with flip,
			// dWflip [og*kk,cg] with the kernel taps reversed.
			p := pw[c*wl : (c+1)*wl]
			for gi := 0; gi < g.G; gi++ {
				pg, wgr := p[gi*og*kg:(gi+1)*og*kg], gw[gi*og*kg:(gi+1)*og*kg]
				for oc := 0; oc < og; oc++ {
					row := wgr[oc*kg : (oc+1)*kg]
					if !flip {
						for k := range row {
							row[k] += pg[k*og+oc]
						}
						continue
					}
					for ci := 0; ci < cg; ci++ {
						r := row[ci*kk : (ci+1)*kk]
						for t := range r {
							r[t] += pg[(oc*kk+kk-1-t)*cg+ci]
						}
					}
				}
			}
		}
		if gb != nil {
			for i, v := range pb[c*g.O : (c+1)*g.O] {
				gb[i] += v
			}
		}
	}
}

// transposedConv returns, for a stride-1 convolution that is not a plain 1x1
// product and whose output is no smaller than its input (a "same"
// convolution such as 3x3 with padding 1), the geometry of the convolution of
// one image's dY [og,OH,OW] that yields dX [cg,H,W], and the filters
// W'[g][c][o][kh][kw] = W[g*og+o][c][KH-1-kh][KW-1-kw] it uses; nil filters
// otherwise. For a convolution that shrinks the image (LeNet's unpadded 5x5)
// the transposed form would unfold and multiply H*W/(OH*OW) times the columns
// of the gemm-and-col2im form, mostly padding (measured on LeNet-5's conv2,
// 14x14 -> 10x10: 3x the time), so that form is used there.
func transposedConv[T Float](tp *Tape[T], g *convGeom, w []T) (convGeom, []T) {
	tg := convGeom{N: 1, C: g.og(), H: g.OH, W: g.OW, O: g.cg(), KH: g.KH, KW: g.KW, SH: 1, SW: 1,
		PH: g.DH*(g.KH-1) - g.PH, PW: g.DW*(g.KW-1) - g.PW, DH: g.DH, DW: g.DW, G: 1, OH: g.H, OW: g.W}
	if g.SH != 1 || g.SW != 1 || g.direct() || tg.PH < 0 || tg.PW < 0 || g.H*g.W > g.OH*g.OW {
		return tg, nil
	}
	cg, og, kk := g.cg(), g.og(), g.KH*g.KW
	wt := tp.AllocUninit(g.G * cg * og * kk).data
	for gi := 0; gi < g.G; gi++ {
		for o := 0; o < og; o++ {
			for c := 0; c < cg; c++ {
				src := w[((gi*og+o)*cg+c)*kk:][:kk]
				dst := wt[((gi*cg+c)*og+o)*kk:][:kk]
				for k := range kk {
					dst[kk-1-k] = src[k]
				}
			}
		}
	}
	return tg, wt
}
