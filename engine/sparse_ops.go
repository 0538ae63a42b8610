package engine

import (
	"fmt"
	"slices"

	"github.com/gap-harness/gap/engine/blas"
)

// checkSparse panics when s was not prepared for the weight w (a programming
// error, like any shape mismatch of an op).
func checkSparse[T Float](op string, w *Var[T], s *SparseWeight[T], groups int) {
	if s == nil {
		panic(fmt.Sprintf("engine: %s: nil sparse weight", op))
	}
	if !slices.Equal(s.shape, w.Shape()) || s.groups != groups {
		panic(fmt.Sprintf("engine: %s: sparse weight %s prepared for %v (%d groups), weight is %v (%d groups)",
			op, s.Name, s.shape, s.groups, w.Shape(), groups))
	}
}

// maskedWeight returns the dense weight with every entry outside the pattern
// zeroed (tape scratch): what the dense kernels multiply by.
func maskedWeight[T Float](tp *Tape[T], s *SparseWeight[T], w []T) []T {
	wm := tp.Alloc(len(w)).data
	for _, i := range s.fwd.src {
		wm[i] = w[i]
	}
	return wm
}

// SparseConv2D is Conv2D with the weight restricted to the pattern s (entries
// outside it count as zero): the forward product and the input gradient run
// through the CSR kernels (im2col, or the image itself for 1x1 kernels, times
// the sparse weight) or the dense ones, as s's policy chooses per input shape
// and thread count. The weight gradient follows s.WeightGrad. The output
// equals Conv2D(x, w*mask, b) up to float32 summation order.
func (tp *Tape[T]) SparseConv2D(x, w, b *Var[T], o ConvOpts, s *SparseWeight[T]) *Var[T] {
	g := conv2DGeom("SparseConv2D", x, w, o)
	xs, ws := x.Shape(), w.Shape()
	checkSparse("SparseConv2D", w, s, g.G)
	if g.C%g.G != 0 || g.O%g.G != 0 || ws[1] != g.C/g.G {
		panic(fmt.Sprintf("engine: SparseConv2D: x %v, w %v and %d groups do not agree", xs, ws, g.G))
	}
	if b != nil && b.Value.Len() != g.O {
		panic(fmt.Sprintf("engine: SparseConv2D: bias %v for %d outputs", b.Shape(), g.O))
	}
	g.OH = (g.H+2*g.PH-g.DH*(g.KH-1)-1)/g.SH + 1
	g.OW = (g.W+2*g.PW-g.DW*(g.KW-1)-1)/g.SW + 1
	if g.OH <= 0 || g.OW <= 0 {
		panic(fmt.Sprintf("engine: SparseConv2D: empty output for input %v and kernel %v", xs, ws))
	}
	out := tp.AllocUninit(g.N, g.O, g.OH, g.OW)
	var bd []T
	if b != nil {
		bd = b.Value.data
	}
	wd := w.Value.data
	var wm, val, tin []T
	dense := func() {
		if wm == nil {
			wm = maskedWeight(tp, s, wd)
		}
		tin = nil
		convForward(tp, &g, x.Value.data, wm, bd, out.data)
	}
	sparse := func() {
		if val == nil {
			val = tp.AllocUninit(s.NNZ()).data
			csrValues(&s.fwd, wd, val)
		}
		tin = sparseConvForward(tp, &g, s, val, x.Value.data, bd, out.data)
	}
	inputs := []*Var[T]{x, w}
	if b != nil {
		inputs = append(inputs, b)
	}
	// backward computes dX (gx not nil) and dW (gw not nil) from dY with the
	// kernels of the choice: the dense ones (a masked weight gradient keeps
	// only the pattern's entries of the dense product: sampled dot
	// products cost more than the dense product where the dense kernels
	// win), or the sparse input gradient and the sampled (masked) or dense
	// weight gradient.
	backward := func(useSparse bool, dy, gx, gw []T, fresh bool) {
		if !useSparse {
			if wm == nil {
				wm = maskedWeight(tp, s, wd)
			}
			gwd := gw
			if gw != nil && s.WeightGrad == WeightGradMasked {
				gwd = tp.Alloc(len(gw)).data
			}
			if gx != nil || gw != nil {
				convBackward(tp, &g, x.Value.data, wm, dy, gx, gwd, nil)
			}
			if gw != nil && s.WeightGrad == WeightGradMasked {
				for _, i := range s.fwd.src {
					gw[i] += gwd[i]
				}
			}
			return
		}
		if gw != nil && s.WeightGrad == WeightGradMasked {
			s.timeSparse(func() { sparseConvWeightGrad(tp, &g, s, x.Value.data, tin, dy, gw) })
			gw = nil
		}
		if gw != nil {
			convBackward(tp, &g, x.Value.data, wd, dy, nil, gw, nil)
		}
		if gx != nil {
			s.timeSparse(func() { sparseConvInputGrad(tp, &g, s, wd, dy, gx, fresh) })
		}
	}
	// In training the calibration times the forward and the backward that
	// each choice implies (the sparse forward alone can lose where the
	// sparse backward wins by more), on scratch gradients and the output
	// standing in for dY.
	// Each repetition returns its scratch to the tape's pool (the next one
	// reuses it, as the training steps will): allocating fresh memory every
	// time would charge page faults to the kernel that allocates more.
	// The scratch gradients are loose and go back to the pool once the
	// choice is made, for the rest of the step to reuse (held to the end of
	// the step they added one activation-sized buffer per calibrated layer:
	// ResNet-50's peak RSS was 1,794 MB under auto against 1,332 MB with the
	// sparse kernels forced).
	var calDense, calSparse func()
	var scratch []*Tensor[T]
	if s.Policy == KernelAuto && tp.NeedsGrad(inputs...) && !s.chosen("conv", xs, tp.threads) {
		var gx, gw []T
		if x.requiresGrad {
			t := tp.allocLoose(x.Value.Len())
			scratch, gx = append(scratch, t), t.data
		}
		if w.requiresGrad {
			t := tp.allocLoose(w.Value.Len())
			scratch, gw = append(scratch, t), t.data
		}
		wm = maskedWeight(tp, s, wd)
		val = tp.AllocUninit(s.NNZ()).data
		csrValues(&s.fwd, wd, val)
		cal := func(useSparse bool, fwd func()) func() {
			return func() {
				m := tp.scratchMark()
				fwd()
				backward(useSparse, out.data, gx, gw, false)
				tin = nil
				tp.releaseSince(m)
			}
		}
		calDense, calSparse = cal(false, dense), cal(true, sparse)
	}
	useSparse := s.choose("conv", xs, tp.threads, dense, sparse, calDense, calSparse)
	for _, t := range scratch {
		tp.release(t)
	}
	return tp.Op(out, func(ov *Var[T]) {
		var gx, gw, gb []T
		// The tall input gradient writes every element of dX in one pass, so
		// a fresh buffer need not be cleared first (gradFresh).
		fresh := false
		var gt *Tensor[T]
		if useSparse && tallInputGrad(tp, &g, s) {
			gt, fresh = tp.gradFresh(x)
		} else {
			gt = tp.GradOf(x)
		}
		if gt != nil {
			gx = gt.data
		}
		if t := tp.GradOf(w); t != nil {
			gw = t.data
		}
		if b != nil {
			if t := tp.GradOf(b); t != nil {
				gb = t.data
			}
		}
		dy := ov.Grad.data
		if gb != nil {
			convBackward(tp, &g, x.Value.data, wd, dy, nil, nil, gb)
		}
		backward(useSparse, dy, gx, gw, fresh)
	}, inputs...)
}

// splitCols runs fn over [0, n) split into at most threads ranges aligned to
// 64 columns (the widest assembly tile), on the calling goroutine when threads
// is 1.
func splitCols(threads, n int, fn func(lo, hi int)) {
	tiles := (n + 63) / 64
	Parallel(threads, tiles, 1, func(lo, hi int) { fn(lo*64, min(hi*64, n)) })
}

// directGeom reports whether a convolution runs as a direct sparse
// convolution (stride 1, a kernel larger than 1x1), and returns its padded
// input size hp x wp.
func directGeom(g *convGeom) (hp, wp int, ok bool) {
	if g.SH != 1 || g.SW != 1 || g.direct() {
		return 0, 0, false
	}
	return g.H + 2*g.PH, g.W + 2*g.PW, true
}

// phaseGeom reports whether a convolution runs as a direct sparse
// convolution on the four stride phases of its padded input (stride 2, no
// dilation, a kernel larger than 1x1), and returns a phase plane's size
// hq x wq: phase (a, b) of channel c holds the padded input's pixels
// (2i+a, 2j+b), so that tap (kh, kw) of output (oh, ow) is pixel
// (oh+kh/2, ow+kw/2) of phase (kh%2, kw%2), a stride-1 access.
func phaseGeom(g *convGeom) (hq, wq int, ok bool) {
	if g.SH != 2 || g.SW != 2 || g.DH != 1 || g.DW != 1 || g.KH*g.KW == 1 {
		return 0, 0, false
	}
	return (g.H + 2*g.PH + 1) / 2, (g.W + 2*g.PW + 1) / 2, true
}

// phasePattern returns the forward pattern with each entry's column (c, kh,
// kw) replaced by its element offset ((4c + 2(kh%2) + kw%2)*hq + kh/2)*wq +
// kw/2 in the phase planes (phaseGeom): multiplied against them with ldb =
// 1 it gives the output rows at width wq. Computed once per geometry.
func (s *SparseWeight[T]) phasePattern(g *convGeom, hq, wq int) *csr {
	// A zero dilation in the key keeps it apart from directPattern's.
	return s.offsetPattern([4]int{hq, wq, 0, -2}, g, func(c, kh, kw int) int {
		return ((4*c+2*(kh%2)+kw%2)*hq+kh/2)*wq + kw/2
	})
}

// directPattern returns the forward pattern with each entry's column (c, kh,
// kw) replaced by its element offset c*hp*wp + kh*DH*wp + kw*DW in the padded
// image: multiplied against the padded image with ldb = 1, it gives the
// output rows at the padded width wp (the direct, implicit-GEMM convolution).
// Computed once per padded geometry.
func (s *SparseWeight[T]) directPattern(g *convGeom, hp, wp int) *csr {
	return s.offsetPattern([4]int{hp, wp, g.DH, g.DW}, g, func(c, kh, kw int) int {
		return c*hp*wp + kh*g.DH*wp + kw*g.DW
	})
}

// offsetPattern returns the forward pattern with each entry's column (c,
// kh, kw) replaced by offset(c, kh, kw), built once per key and kept in
// s.offsets (the direct and stride-phase convolutions' patterns).
func (s *SparseWeight[T]) offsetPattern(key [4]int, g *convGeom, offset func(c, kh, kw int) int) *csr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.offsets[key]; a != nil {
		return a
	}
	kk := g.KH * g.KW
	a := &csr{rows: s.fwd.rows, ptr: s.fwd.ptr, src: s.fwd.src, col: make([]int32, len(s.fwd.col))}
	for k, j := range s.fwd.col {
		c, t := int(j)/kk, int(j)%kk
		off := offset(c, t/g.KW, t%g.KW)
		a.col[k] = int32(off)
		a.cols = max(a.cols, off+1)
	}
	if s.offsets == nil {
		s.offsets = map[[4]int]*csr{}
	}
	s.offsets[key] = a
	return a
}

// sparseConvForward computes out = conv(x, W) + b with W in CSR form (values
// val), the training path (SparseConv2D): stride-1 convolutions with
// kernels larger than 1x1 and stride-2 convolutions, without groups, take
// the tall path (sparse_tall.go), whose filled input buffer is returned for
// the masked weight gradient; the others (1x1 kernels, groups, other
// strides) sparseConvForwardEp's im2col path, returning nil. The inference
// path is sparseConvForwardEp with infer (FusedConv2D).
func sparseConvForward[T Float](tp *Tape[T], g *convGeom, s *SparseWeight[T], val, x, b, out []T) []T {
	if t, ok := tallPlan(tp, g, s); ok {
		return sparseConvTallForward(tp, g, s, t, val, x, b, out)
	}
	sparseConvForwardEp(tp, g, s, val, x, b, out, nil, false)
	return nil
}

// sparseConvForwardEp is sparseConvForward with the epilogue ep (nil: none)
// applied to each image's output block as it is written; infer selects the
// inference paths (see sparseConvForward).
func sparseConvForwardEp[T Float](tp *Tape[T], g *convGeom, s *SparseWeight[T], val, x, b, out []T, ep *epilogue[T], infer bool) {
	direct := minCols
	if infer {
		direct = minDirectCols
	}
	if hp, wp, ok := directGeom(g); ok && s.NNZ() > 0 && g.OH*wp >= direct {
		sparseConvDirect(tp, g, s, s.directPattern(g, hp, wp), hp, wp, false, val, x, b, out, ep)
		return
	}
	if hq, wq, ok := phaseGeom(g); infer && ok && s.NNZ() > 0 && g.OH*wq >= minDirectCols {
		sparseConvDirect(tp, g, s, s.phasePattern(g, hq, wq), hq, wq, true, val, x, b, out, ep)
		return
	}
	chunks, inner := convChunks(tp, g)
	cg, og, kg := g.cg(), g.og(), g.kg()
	hw, chw, ohw := g.H*g.W, g.C*g.H*g.W, g.OH*g.OW
	bias := biasOrZeros(tp, b, g.O)
	// Small images: nb images side by side in one product, so that the
	// kernels see at least minCols columns.
	nb := 1
	if ohw < minCols {
		nb = min((minCols+ohw-1)/ohw, max(1, (g.N+chunks-1)/chunks))
	}
	// Wide mode: the images of a block side by side in one product whose
	// width is rounded up to whole 8-column tiles (the padding columns are
	// zero in, ignored out), so that no column falls to the Go loops.
	wideMode := nb > 1 || ohw%8 != 0
	maxLd := roundUp8(nb * ohw)
	var cols, tmps, wides []T
	if !g.direct() || wideMode {
		cols = tp.AllocUninit(chunks, kg*maxLd).data
	}
	if !g.direct() && wideMode {
		tmps = tp.AllocUninit(chunks, kg*ohw).data
	}
	if wideMode {
		wides = tp.AllocUninit(chunks, og*maxLd).data
	}
	chunkedFor(chunks, g.N, func(c, lo, hi int) {
		var col, tmp, wide []T
		if cols != nil {
			col = cols[c*kg*maxLd : (c+1)*kg*maxLd]
		}
		if tmps != nil {
			tmp = tmps[c*kg*ohw : (c+1)*kg*ohw]
		}
		if wides != nil {
			wide = wides[c*og*maxLd : (c+1)*og*maxLd]
		}
		for n0 := lo; n0 < hi; n0 += nb {
			k := min(nb, hi-n0)
			w := k * ohw
			ld := w
			for gi := 0; gi < g.G; gi++ {
				var src, dst []T
				if !wideMode {
					src = x[n0*chw+gi*cg*hw:]
					if !g.direct() {
						im2col(g, src, cg, col)
						src = col
					}
					dst = out[(n0*g.O+gi*og)*ohw : (n0*g.O+(gi+1)*og)*ohw]
				} else {
					ld = roundUp8(w)
					for i := 0; i < k; i++ {
						img := x[(n0+i)*chw+gi*cg*hw:]
						if !g.direct() {
							im2col(g, img, cg, tmp)
							img = tmp
						}
						for r := 0; r < kg; r++ {
							copy(col[r*ld+i*ohw:][:ohw], img[r*ohw:][:ohw])
						}
					}
					if ld > w {
						for r := 0; r < kg; r++ {
							clear(col[r*ld+w : (r+1)*ld])
						}
					}
					src, dst = col, wide
				}
				// The bias starts each output row's sums, and without wide
				// mode the residual and ReLU finish them, inside the product
				// (rowEp): no separate passes over the output.
				re := &rowEp[T]{bias: bias[gi*og : (gi+1)*og]}
				if !wideMode && ep != nil {
					re.relu = ep.relu
					if ep.res != nil {
						re.res = ep.res[(n0*g.O+gi*og)*ohw:][:og*ohw]
					}
				}
				splitCols(inner, ld, func(j0, j1 int) {
					spmmEp(haveAVX2, &s.fwd, val, gi*og, (gi+1)*og, src, ld, dst, ld, j0, j1, re)
				})
				if wideMode {
					for i := 0; i < k; i++ {
						o := ((n0+i)*g.O + gi*og) * ohw
						for oc := 0; oc < og; oc++ {
							ep.copyTo(out, o+oc*ohw, wide[oc*ld+i*ohw:][:ohw])
						}
					}
				}
			}
		}
	})
}

func roundUp8(n int) int { return (n + 7) &^ 7 }

// biasOrZeros returns b, or n zeros (tape scratch) when b is nil.
func biasOrZeros[T Float](tp *Tape[T], b []T, n int) []T {
	if b != nil {
		return b
	}
	return tp.Alloc(n).data
}

// minCols is the number of product columns below which the sparse kernels
// batch several images into one product.
const minCols = 256

// minDirectCols is the number of product columns (output rows at the padded
// width) from which a stride-1 forward convolution runs directly on the
// padded image rather than through im2col.
const minDirectCols = 56

// sparseConvDirect is sparseConvForward for stride 1 through the offset
// pattern a: per image and group, the padded image [cg, hp, wp] (borders
// zeroed once per chunk), the product into output rows of width wp, and a
// copy of the first OW columns of each row into out.
//
// With phases (stride 2, see phaseGeom) the image is the four phase planes
// [cg, 4, hp, wp] of the padded input instead (a strided gather of the
// input, once, instead of im2col's KH*KW copies).
func sparseConvDirect[T Float](tp *Tape[T], g *convGeom, s *SparseWeight[T], a *csr, hp, wp int, phases bool, val, x, b, out []T, ep *epilogue[T]) {
	chunks, inner := convChunks(tp, g)
	cg, og := g.cg(), g.og()
	hw, chw, ohw := g.H*g.W, g.C*g.H*g.W, g.OH*g.OW
	// The last rows' windows run past the padded image by up to
	// DW*(KW-1) elements (junk columns); the slack keeps them in bounds.
	wide := roundUp8(g.OH * wp) // whole 8-column tiles; the extra columns are junk
	plen := cg*hp*wp + g.DW*(g.KW-1) + wp + 8
	if phases {
		plen = 4*cg*hp*wp + ((g.KH-1)/2+1)*wp + (g.KW-1)/2 + 8
	}
	pads := tp.Alloc(chunks, plen).data
	wides := tp.AllocUninit(chunks, og*wide).data
	bias := biasOrZeros(tp, b, g.O)
	chunkedFor(chunks, g.N, func(c, lo, hi int) {
		pad := pads[c*plen : (c+1)*plen]
		wd := wides[c*og*wide : (c+1)*og*wide]
		for n := lo; n < hi; n++ {
			for gi := 0; gi < g.G; gi++ {
				xg := x[n*chw+gi*cg*hw:]
				if phases {
					fillPhases(g, xg, cg, pad, hp*wp, hp, wp)
				} else {
					for ci := 0; ci < cg; ci++ {
						for ih := 0; ih < g.H; ih++ {
							copy(pad[ci*hp*wp+(ih+g.PH)*wp+g.PW:][:g.W], xg[ci*hw+ih*g.W:][:g.W])
						}
					}
				}
				re := &rowEp[T]{bias: bias[gi*og : (gi+1)*og]}
				splitCols(inner, wide, func(j0, j1 int) {
					spmmEp(haveAVX2, a, val, gi*og, (gi+1)*og, pad, 1, wd, wide, j0, j1, re)
				})
				o := (n*g.O + gi*og) * ohw
				for oc := 0; oc < og; oc++ {
					for oh := 0; oh < g.OH; oh++ {
						ep.copyTo(out, o+oc*ohw+oh*g.OW, wd[oc*wide+oh*wp:][:g.OW])
					}
				}
			}
		}
	})
}

// fillPhases writes the four stride-2 phase planes of cg channels of one
// image x [cg, H, W], zero-padded by PH, PW, into pad [cg, 4, hq, wq], plane
// p starting at pad[p*stride] (stride hq*wq: one image's planes one after
// the other): plane (c, a, b) row i, column j holds x[c, 2i+a-PH, 2j+b-PW].
// Pixels in the padding are not written (pad's zeros stay).
func fillPhases[T Float](g *convGeom, x []T, cg int, pad []T, stride, hq, wq int) {
	hw, w := g.H*g.W, g.W
	for ci := 0; ci < cg; ci++ {
		xc := x[ci*hw : (ci+1)*hw]
		for a := 0; a < 2; a++ {
			for b := 0; b < 2; b++ {
				plane := pad[(4*ci+2*a+b)*stride:][:hq*wq]
				j0 := 0
				for 2*j0+b-g.PW < 0 {
					j0++
				}
				j1 := min(wq, (w-1-b+g.PW)/2+1)
				for i := 0; i < hq; i++ {
					ih := 2*i + a - g.PH
					if ih < 0 || ih >= g.H {
						continue
					}
					src := xc[ih*w : (ih+1)*w]
					dst := plane[i*wq : (i+1)*wq]
					for j := j0; j < j1; j++ {
						dst[j] = src[2*j+b-g.PW]
					}
				}
			}
		}
	}
}

// transposedPattern returns, for the direct input gradient of a stride-1
// convolution, the pattern with one row per input channel (G*cg rows) whose
// entries (o, kh, kw) hold the element offset o*hp*wp + (KH-1-kh)*DH*wp +
// (KW-1-kw)*DW in dY zero-padded to hp x wp: multiplied against the padded
// dY with ldb = 1 it gives dX rows at the padded width wp. Computed once per
// padded geometry.
func (s *SparseWeight[T]) transposedPattern(g *convGeom, hp, wp int) *csr {
	key := [4]int{-hp, wp, g.DH, g.DW} // negative: apart from directPattern's keys
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.offsets[key]; a != nil {
		return a
	}
	cg, kk, kg := g.cg(), g.KH*g.KW, g.kg()
	a := &csr{rows: g.G * cg, ptr: make([]int32, g.G*cg+1)}
	a.col = make([]int32, 0, s.bwd.nnz())
	a.src = make([]int32, 0, s.bwd.nnz())
	for gi := 0; gi < g.G; gi++ {
		for c := 0; c < cg; c++ {
			for t := 0; t < kk; t++ {
				kh, kw := t/g.KW, t%g.KW
				r := gi*kg + c*kk + t
				for k := s.bwd.ptr[r]; k < s.bwd.ptr[r+1]; k++ {
					off := int(s.bwd.col[k])*hp*wp + (g.KH-1-kh)*g.DH*wp + (g.KW-1-kw)*g.DW
					a.col = append(a.col, int32(off))
					a.src = append(a.src, s.bwd.src[k])
					a.cols = max(a.cols, off+1)
				}
			}
			a.ptr[gi*cg+c+1] = int32(len(a.col))
		}
	}
	if s.offsets == nil {
		s.offsets = map[[4]int]*csr{}
	}
	s.offsets[key] = a
	return a
}

// sparseConvInputGradDirect is the input gradient of a stride-1 convolution
// as a direct sparse convolution of the zero-padded dY (pad DH*(KH-1)-PH,
// DW*(KW-1)-PW) with the flipped, transposed pattern a (values tv gathered
// through a.src): per image and group, rows of width wp, whose first W
// columns are added into dX.
func sparseConvInputGradDirect[T Float](tp *Tape[T], g *convGeom, a *csr, hp, wp int, tv, dy, gx []T) {
	chunks, inner := convChunks(tp, g)
	cg, og := g.cg(), g.og()
	hw, chw, ohw := g.H*g.W, g.C*g.H*g.W, g.OH*g.OW
	ph, pw := g.DH*(g.KH-1)-g.PH, g.DW*(g.KW-1)-g.PW
	wide := roundUp8(g.H * wp)
	plen := og*hp*wp + g.DW*(g.KW-1) + wp + 8
	pads := tp.Alloc(chunks, plen).data
	wides := tp.AllocUninit(chunks, cg*wide).data
	chunkedFor(chunks, g.N, func(c, lo, hi int) {
		pad := pads[c*plen : (c+1)*plen]
		wd := wides[c*cg*wide : (c+1)*cg*wide]
		for n := lo; n < hi; n++ {
			for gi := 0; gi < g.G; gi++ {
				dyg := dy[(n*g.O+gi*og)*ohw:]
				for o := 0; o < og; o++ {
					for oh := 0; oh < g.OH; oh++ {
						copy(pad[o*hp*wp+(oh+ph)*wp+pw:][:g.OW], dyg[o*ohw+oh*g.OW:][:g.OW])
					}
				}
				clear(wd)
				splitCols(inner, wide, func(j0, j1 int) {
					spmm(haveAVX2, a, tv, gi*cg, (gi+1)*cg, pad, 1, wd, wide, j0, j1)
				})
				gxg := gx[n*chw+gi*cg*hw:]
				for ci := 0; ci < cg; ci++ {
					for ih := 0; ih < g.H; ih++ {
						d := gxg[ci*hw+ih*g.W:][:g.W]
						for i, v := range wd[ci*wide+ih*wp:][:g.W] {
							d[i] += v
						}
					}
				}
			}
		}
	})
}

// sparseConvInputGrad accumulates dX += W^T dY with W^T in CSR form (values
// gathered from the weight wd): per image and group, dcol = W^T dY and col2im (or, for 1x1 stride-1
// kernels, the product straight into dX). Stride-1 convolutions with
// kernels larger than 1x1 and enough pixels run as a direct sparse
// convolution of the padded dY instead (sparseConvInputGradDirect).
//
// With fresh, gx is uninitialised and gets dX = 0 + W^T dY (see gradFresh):
// the tall path writes it in one pass, the others clear it first.
func sparseConvInputGrad[T Float](tp *Tape[T], g *convGeom, s *SparseWeight[T], wd, dy, gx []T, fresh bool) {
	if t, ok := tallPlan(tp, g, s); ok && sparseConvTallInputGrad(tp, g, s, t, wd, dy, gx, fresh) {
		return
	}
	if fresh {
		clear(gx)
	}
	if _, _, ok := directGeom(g); ok && s.NNZ() > 0 {
		ph, pw := g.DH*(g.KH-1)-g.PH, g.DW*(g.KW-1)-g.PW
		hp, wp := g.OH+2*ph, g.OW+2*pw
		if ph >= 0 && pw >= 0 && g.H*wp >= minCols {
			a := s.transposedPattern(g, hp, wp)
			val := tp.AllocUninit(len(a.src)).data
			csrValues(a, wd, val)
			sparseConvInputGradDirect(tp, g, a, hp, wp, val, dy, gx)
			return
		}
	}
	tv := tp.AllocUninit(s.NNZ()).data
	csrValues(&s.bwd, wd, tv)
	chunks, inner := convChunks(tp, g)
	cg, og, kg := g.cg(), g.og(), g.kg()
	hw, chw, ohw := g.H*g.W, g.C*g.H*g.W, g.OH*g.OW
	var dcols []T
	if !g.direct() {
		dcols = tp.AllocUninit(chunks, kg*ohw).data
	}
	chunkedFor(chunks, g.N, func(c, lo, hi int) {
		for n := lo; n < hi; n++ {
			for gi := 0; gi < g.G; gi++ {
				dyg := dy[(n*g.O+gi*og)*ohw : (n*g.O+(gi+1)*og)*ohw]
				gxg := gx[n*chw+gi*cg*hw:]
				if dcols == nil {
					splitCols(inner, ohw, func(j0, j1 int) {
						spmm(haveAVX2, &s.bwd, tv, gi*kg, (gi+1)*kg, dyg, ohw, gxg, hw, j0, j1)
					})
					continue
				}
				dcol := dcols[c*kg*ohw : (c+1)*kg*ohw]
				clear(dcol)
				splitCols(inner, ohw, func(j0, j1 int) {
					spmm(haveAVX2, &s.bwd, tv, gi*kg, (gi+1)*kg, dyg, ohw, dcol, ohw, j0, j1)
				})
				col2im(g, dcol, cg, gxg)
			}
		}
	})
}

// sparseConvWeightGrad accumulates dW only at the pattern's entries:
// dW[o,j] += sum over images of dY[o,:] . col[j,:]. Each chunk of images sums
// into its own partial, and partials are added in chunk order. Tall-path
// convolutions (sparse_tall.go) read the forward's filled input tin when it
// is not nil.
func sparseConvWeightGrad[T Float](tp *Tape[T], g *convGeom, s *SparseWeight[T], x, tin, dy, gw []T) {
	if t, ok := tallPlan(tp, g, s); ok {
		sparseConvTallWeightGrad(tp, g, s, t, x, tin, dy, gw)
		return
	}
	chunks, _ := convChunks(tp, g)
	cg, og, kg := g.cg(), g.og(), g.kg()
	chw, ohw := g.C*g.H*g.W, g.OH*g.OW
	nnz := s.NNZ()
	part := tp.Alloc(chunks, nnz).data
	var cols []T
	if !g.direct() {
		cols = tp.AllocUninit(chunks, kg*ohw).data
	}
	// Entry k reads row col[k] of the image (1x1) or of its im2col.
	offs := make([]int32, nnz)
	for k, j := range s.fwd.col {
		offs[k] = j * int32(ohw)
	}
	chunkedFor(chunks, g.N, func(c, lo, hi int) {
		p := part[c*nnz : (c+1)*nnz]
		for n := lo; n < hi; n++ {
			for gi := 0; gi < g.G; gi++ {
				src := x[n*chw+gi*cg*g.H*g.W:]
				if cols != nil {
					col := cols[c*kg*ohw : (c+1)*kg*ohw]
					im2col(g, src, cg, col)
					src = col
				}
				for r := gi * og; r < (gi+1)*og; r++ {
					sampledDots(dy[(n*g.O+r)*ohw:(n*g.O+r+1)*ohw], src, offs, 0, p, int(s.fwd.ptr[r]), int(s.fwd.ptr[r+1]))
				}
			}
		}
	})
	for c := 0; c < chunks; c++ {
		for k, v := range part[c*nnz : (c+1)*nnz] {
			gw[s.fwd.src[k]] += v
		}
	}
}

// dot is the dot product of two equally long vectors: for float32 with
// AVX2 the assembly kernel over whole blocks of 32 and Go for the rest,
// otherwise four partial sums in Go.
func dot[T Float](a, b []T) T {
	b = b[:len(a)]
	var s0, s1, s2, s3 T
	i := 0
	if haveAVX2 && len(a) >= 32 {
		if a32, ok := any(a).([]float32); ok {
			n := len(a) &^ 31
			s0 = T(dotAVX2(&a32[0], &any(b).([]float32)[0], n))
			i = n
		}
	}
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// transposeInto writes the transpose of the rows x cols matrix src into dst
// (cols x rows), in 32x32 blocks.
func transposeInto[T Float](src []T, rows, cols int, dst []T) {
	const bs = 32
	for i0 := 0; i0 < rows; i0 += bs {
		i1 := min(i0+bs, rows)
		for j0 := 0; j0 < cols; j0 += bs {
			j1 := min(j0+bs, cols)
			for i := i0; i < i1; i++ {
				r := src[i*cols : (i+1)*cols]
				for j := j0; j < j1; j++ {
					dst[j*rows+i] = r[j]
				}
			}
		}
	}
}

// SparseLinear is Linear with the weight restricted to the pattern s:
// x [..., in], w [out, in], b [out] or nil. The sparse kernel multiplies the
// CSR weight by x^T (batch columns; a sparse dot product per output at batch
// 1); the policy, input gradient and weight gradient are as in SparseConv2D.
func (tp *Tape[T]) SparseLinear(x, w, b *Var[T], s *SparseWeight[T]) *Var[T] {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) < 1 || len(ws) != 2 || xs[len(xs)-1] != ws[1] {
		panic(fmt.Sprintf("engine: SparseLinear: x %v and w %v do not agree", xs, ws))
	}
	checkSparse("SparseLinear", w, s, 1)
	in, nout := ws[1], ws[0]
	if b != nil && b.Value.Len() != nout {
		panic(fmt.Sprintf("engine: SparseLinear: bias %v for %d outputs", b.Shape(), nout))
	}
	rows := 1
	for _, d := range xs[:len(xs)-1] {
		rows *= d
	}
	out := tp.AllocUninit(append(slices.Clone(xs[:len(xs)-1]), nout)...)
	var bd []T
	if b != nil {
		bd = b.Value.data
	}
	wd, xd := w.Value.data, x.Value.data
	var wm, val []T
	dense := func() {
		if wm == nil {
			wm = maskedWeight(tp, s, wd)
		}
		linearForward(tp, xd, wm, bd, out.data, rows, in, nout)
	}
	sparse := func() {
		if val == nil {
			val = tp.AllocUninit(s.NNZ()).data
			csrValues(&s.fwd, wd, val)
		}
		sparseProductT(tp, &s.fwd, val, xd, rows, bd, out.data)
	}
	useSparse := s.choose("linear", xs, tp.threads, dense, sparse, nil, nil)
	inputs := []*Var[T]{x, w}
	if b != nil {
		inputs = append(inputs, b)
	}
	return tp.Op(out, func(ov *Var[T]) {
		dy := ov.Grad.data
		gxt, gwt := tp.GradOf(x), tp.GradOf(w)
		if gxt != nil {
			if useSparse {
				s.timeSparse(func() {
					tv := tp.AllocUninit(s.NNZ()).data
					csrValues(&s.bwd, wd, tv)
					dx := tp.AllocUninit(rows, in).data
					clear(dx)
					sparseProductT(tp, &s.bwd, tv, dy, rows, nil, dx)
					for i, v := range dx {
						gxt.data[i] += v
					}
				})
			} else {
				if wm == nil {
					wm = maskedWeight(tp, s, wd)
				}
				blas.GemmParallel(tp.threads, false, false, rows, in, nout, 1, dy, nout, wm, in, 1, gxt.data, in)
			}
		}
		if gwt != nil {
			if s.WeightGrad == WeightGradMasked {
				sparseLinearWeightGrad(tp, s, xd, dy, rows, in, nout, gwt.data)
			} else {
				blas.GemmParallel(tp.threads, true, false, nout, in, rows, 1, dy, nout, xd, in, 1, gwt.data, in)
			}
		}
		if b != nil {
			if gb := tp.GradOf(b); gb != nil {
				colSums(tp, dy, rows, nout, gb.data)
			}
		}
	}, inputs...)
}

// linearForward is Linear's dense forward: out = x w^T + b.
func linearForward[T Float](tp *Tape[T], x, w, b, out []T, rows, in, nout int) {
	beta := T(0)
	if b != nil {
		fillRows(tp, out, b, rows)
		beta = 1
	}
	blas.GemmParallel(tp.threads, false, true, rows, nout, in, 1, x, in, w, in, beta, out, nout)
}

// sparseProductT computes out [rows, a.rows] = x [rows, a.cols] A^T + b (b
// nil: out is overwritten with the product) for the CSR matrix A: as A x^T
// with the batch along the columns, transposing x in and the result out when
// rows > 1. A's rows are split over the tape's threads.
func sparseProductT[T Float](tp *Tape[T], a *csr, val, x []T, rows int, b, out []T) {
	m, k := a.rows, a.cols
	xt, ot := x, out
	if rows > 1 {
		xt = tp.AllocUninit(k * rows).data
		transposeInto(x[:rows*k], rows, k, xt)
		ot = tp.AllocUninit(m * rows).data
	}
	if rows == 0 {
		return
	}
	grain := max(1, (1<<16)/max(1, rows*max(1, a.nnz()/max(1, m))))
	tp.ParallelFor(m, grain, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := ot[r*rows : (r+1)*rows]
			v := T(0)
			if b != nil {
				v = b[r]
			}
			for i := range row {
				row[i] = v
			}
		}
		spmm(haveAVX2, a, val, lo, hi, xt, rows, ot[lo*rows:], rows, 0, rows)
	})
	if rows > 1 {
		transposeInto(ot, m, rows, out)
	}
}

// sparseLinearWeightGrad accumulates dW [out,in] += dy^T x only at the
// pattern's entries, one dot product over the batch per entry.
func sparseLinearWeightGrad[T Float](tp *Tape[T], s *SparseWeight[T], x, dy []T, rows, in, nout int, gw []T) {
	if rows == 0 {
		return
	}
	xt := tp.AllocUninit(in * rows).data
	transposeInto(x[:rows*in], rows, in, xt)
	dyt := tp.AllocUninit(nout * rows).data
	transposeInto(dy[:rows*nout], rows, nout, dyt)
	a := &s.fwd
	tp.ParallelFor(nout, 16, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			dr := dyt[r*rows : (r+1)*rows]
			for k := a.ptr[r]; k < a.ptr[r+1]; k++ {
				j := int(a.col[k])
				gw[a.src[k]] += dot(dr, xt[j*rows:(j+1)*rows])
			}
		}
	})
}
