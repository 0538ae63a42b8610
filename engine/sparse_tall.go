package engine

// The training path's sparse convolutions (SparseConv2D) for stride-1
// kernels larger than 1x1 and stride-2 kernels (no dilation): all three
// products (forward, input gradient, masked weight gradient) run directly on
// a "tall" buffer, without im2col or col2im, for every image size.
//
// Tall layout: per channel, one plane holding nb images' blocks one under
// the other. A block is the image zero-padded by PH, PW (stride 1, hp x wp)
// or one of its four stride-2 phase planes (hq x wq, see phaseGeom; a
// channel then has four planes). The forward's offset pattern (directPattern
// or phasePattern at the plane height nb*hp) multiplied against the buffer
// with ldb = 1 gives output rows at the block width wp: image i's output row
// oh is row i*hp+oh of the product, and its windows never leave image i's
// block (the rows between images are junk and ignored). Batching images this
// way gives the small images of the deeper layers (14x14 down to 4x4) wide
// products, where one product per image would leave the kernels narrow.

// tallCols is the number of product columns a tall batch aims for: nb is the
// smallest image count whose blocks reach it (at most a chunk's images).
const tallCols = 4096

// dotBlock is the length of the position blocks of the masked weight
// gradient: every entry's partial dot product over one block is taken before
// the next block, so that the block of each dY row and input plane stays in
// cache across the entries that read it. A multiple of 32 (the AVX2 dot).
const dotBlock = 1024

// tall is a convolution's tall layout.
type tall struct {
	phases bool
	hp, wp int // one image's block: the padded image or one phase plane
	nb     int // images per batch
}

// tallPlan returns the tall layout of a convolution for the training path,
// or false when it takes the im2col path (1x1 kernels, grouped or dilated
// strided convolutions, other strides, 100% sparse weights).
func tallPlan[T Float](tp *Tape[T], g *convGeom, s *SparseWeight[T]) (tall, bool) {
	if g.G != 1 || s.NNZ() == 0 {
		return tall{}, false
	}
	var t tall
	if hp, wp, ok := directGeom(g); ok {
		t.hp, t.wp = hp, wp
	} else if hq, wq, ok := phaseGeom(g); ok {
		t.phases, t.hp, t.wp = true, hq, wq
	} else {
		return tall{}, false
	}
	chunks, _ := convChunks(tp, g)
	per := (g.N + chunks - 1) / chunks
	blk := t.hp * t.wp
	t.nb = max(1, min(per, (tallCols+blk-1)/blk))
	return t, true
}

// tallInputGrad reports whether SparseConv2D's sparse input gradient takes
// the tall path (sparseConvTallInputGrad), which writes all of dX.
func tallInputGrad[T Float](tp *Tape[T], g *convGeom, s *SparseWeight[T]) bool {
	t, ok := tallPlan(tp, g, s)
	if !ok {
		return false
	}
	_, ok = t.gradLayout(g)
	return ok
}

// planeLen is the length of one plane: nb blocks.
func (t tall) planeLen() int { return t.nb * t.hp * t.wp }

// planes is the number of planes of cg input channels.
func (t tall) planes(cg int) int {
	if t.phases {
		return 4 * cg
	}
	return cg
}

// inputLen is the length of the forward input buffer: the planes and the
// slack that the last batch columns' windows read past them (junk columns).
func (t tall) inputLen(g *convGeom) int {
	slack := g.DW * (g.KW - 1)
	if t.phases {
		slack = (g.KW - 1) / 2
	}
	return t.planes(g.C)*t.planeLen() + slack + 8
}

// width is the forward product's width for a batch of k images: up to the
// last image's last output row, in whole 8-column tiles.
func (t tall) width(g *convGeom, k int) int { return roundUp8((k-1)*t.hp*t.wp + g.OH*t.wp) }

// tallFill writes k images starting at x (NCHW) into the tall input buffer
// buf, every element of their blocks (padding and junk rows as zeros, in
// the same pass), and zeroes the rest of each plane (the blocks of images
// k..nb-1, which the last junk columns' windows may read into) and the
// slack after the planes: buf need not be cleared first. (Only junk
// columns read those last two regions; their zeros keep stale NaNs or
// denormals out of the products' lanes.)
func tallFill[T Float](t tall, g *convGeom, x []T, k int, buf []T) {
	chw, hw := g.C*g.H*g.W, g.H*g.W
	pl, blk, wp := t.planeLen(), t.hp*t.wp, t.wp
	for i := 0; i < k; i++ {
		img := x[i*chw:]
		if t.phases {
			for p := 0; p < 4*g.C; p++ {
				clear(buf[p*pl+i*blk:][:blk])
			}
			fillPhases(g, img, g.C, buf[i*blk:], pl, t.hp, t.wp)
			continue
		}
		for ci := 0; ci < g.C; ci++ {
			b := buf[ci*pl+i*blk:][:blk]
			clear(b[:g.PH*wp])
			for ih := 0; ih < g.H; ih++ {
				row := b[(ih+g.PH)*wp:][:wp]
				clear(row[:g.PW])
				copy(row[g.PW:g.PW+g.W], img[ci*hw+ih*g.W:][:g.W])
				clear(row[g.PW+g.W:])
			}
			clear(b[(g.PH+g.H)*wp:])
		}
	}
	planes := t.planes(g.C)
	if k < t.nb {
		for p := 0; p < planes; p++ {
			clear(buf[p*pl+k*blk : (p+1)*pl])
		}
	}
	clear(buf[planes*pl:])
}

// tallPattern is the forward's offset pattern in the tall buffer.
func tallPattern[T Float](t tall, g *convGeom, s *SparseWeight[T]) *csr {
	if t.phases {
		return s.phasePattern(g, t.nb*t.hp, t.wp)
	}
	return s.directPattern(g, t.nb*t.hp, t.wp)
}

// batches is the number of tall batches of a chunk of at most per images.
func (t tall) batches(per int) int { return (per + t.nb - 1) / t.nb }

// sparseConvTallForward is the training forward out = conv(x, W) + b through
// the tall layout t (W in CSR form, values val): per chunk of images and
// batch of t.nb images, one fill, one product and one copy of each output
// row out of the product. Every batch gets its own input buffer, and all of
// them are returned (chunk c's batch q at (c*t.batches(per)+q)*t.inputLen),
// for the masked weight gradient to read again.
func sparseConvTallForward[T Float](tp *Tape[T], g *convGeom, s *SparseWeight[T], t tall, val, x, b, out []T) []T {
	chunks, inner := convChunks(tp, g)
	a := tallPattern(t, g, s)
	chw, ohw := g.C*g.H*g.W, g.OH*g.OW
	plen, wmax := t.inputLen(g), t.width(g, t.nb)
	bpc := t.batches((g.N + chunks - 1) / chunks)
	bufs := tp.AllocUninit(chunks*bpc, plen).data // tallFill writes all of each
	prods := tp.AllocUninit(chunks, g.O*wmax).data
	bias := biasOrZeros(tp, b, g.O)
	chunkedFor(chunks, g.N, func(c, lo, hi int) {
		prod := prods[c*g.O*wmax : (c+1)*g.O*wmax]
		for q, n0 := 0, lo; n0 < hi; q, n0 = q+1, n0+t.nb {
			buf := bufs[(c*bpc+q)*plen:][:plen]
			k := min(t.nb, hi-n0)
			tallFill(t, g, x[n0*chw:], k, buf)
			w := t.width(g, k)
			re := &rowEp[T]{bias: bias}
			splitCols(inner, w, func(j0, j1 int) {
				spmmEp(haveAVX2, a, val, 0, g.O, buf, 1, prod, w, j0, j1, re)
			})
			for i := 0; i < k; i++ {
				for oc := 0; oc < g.O; oc++ {
					o := ((n0+i)*g.O + oc) * ohw
					src := prod[oc*w+i*t.hp*t.wp:]
					for oh := 0; oh < g.OH; oh++ {
						copy(out[o+oh*g.OW:][:g.OW], src[oh*t.wp:][:g.OW])
					}
				}
			}
		}
	})
	return bufs
}

// tallGrad is the layout of the input gradient's padded dY: per output
// channel a plane of nb blocks of hp x wp, with dY[oh, ow] at block row
// oh+ph, column ow+pw; the product's rows (dX channels, or for stride 2 the
// phase planes of dX) come out at width wp, image i's row r at row i*hp+r.
type tallGrad struct {
	hp, wp, ph, pw int
	rows           int // rows of one image's result block (H, or hq for phases)
	nb             int
}

// gradLayout returns the input gradient's padded-dY layout for t, or false
// when the stride-1 padding is larger than the kernel reaches (ph or pw < 0).
func (t tall) gradLayout(g *convGeom) (tallGrad, bool) {
	d := tallGrad{nb: t.nb}
	if t.phases {
		d.ph, d.pw = (g.KH-1)/2, (g.KW-1)/2
		d.hp, d.wp = max(t.hp, g.OH)+d.ph, max(t.wp, g.OW)+d.pw
		d.rows = t.hp
		return d, true
	}
	d.ph, d.pw = g.DH*(g.KH-1)-g.PH, g.DW*(g.KW-1)-g.PW
	if d.ph < 0 || d.pw < 0 {
		return tallGrad{}, false
	}
	d.hp, d.wp = g.OH+2*d.ph, g.OW+2*d.pw // = H+DH*(KH-1), W+DW*(KW-1)
	d.rows = g.H
	return d, true
}

func (d tallGrad) planeLen() int { return d.nb * d.hp * d.wp }

func (d tallGrad) width(k int) int { return roundUp8((k-1)*d.hp*d.wp + d.rows*d.wp) }

// tallGradPattern is the input gradient's pattern against the padded dY:
// for stride 1 the flipped, transposed pattern (transposedPattern), one row
// per input channel; for stride 2 one row per phase plane (c, a, b) of dX
// with the entries (o, kh, kw) of taps in that phase (kh%2 = a, kw%2 = b) at
// offsets o*plane + (ph-kh/2)*wp + pw-kw/2.
func tallGradPattern[T Float](t tall, d tallGrad, g *convGeom, s *SparseWeight[T]) *csr {
	if !t.phases {
		return s.transposedPattern(g, d.nb*d.hp, d.wp)
	}
	key := [4]int{-d.nb * d.hp, d.wp, 0, -3} // apart from the other patterns' keys
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.offsets[key]; a != nil {
		return a
	}
	kk := g.KH * g.KW
	pl := d.planeLen()
	a := &csr{rows: 4 * g.C, ptr: make([]int32, 4*g.C+1)}
	a.col = make([]int32, 0, s.bwd.nnz())
	a.src = make([]int32, 0, s.bwd.nnz())
	for c := 0; c < g.C; c++ {
		for ph := 0; ph < 4; ph++ {
			pa, pb := ph/2, ph%2
			for t := 0; t < kk; t++ {
				kh, kw := t/g.KW, t%g.KW
				if kh%2 != pa || kw%2 != pb {
					continue
				}
				r := c*kk + t
				for k := s.bwd.ptr[r]; k < s.bwd.ptr[r+1]; k++ {
					off := int(s.bwd.col[k])*pl + (d.ph-kh/2)*d.wp + d.pw - kw/2
					a.col = append(a.col, int32(off))
					a.src = append(a.src, s.bwd.src[k])
					a.cols = max(a.cols, off+1)
				}
			}
			a.ptr[4*c+ph+1] = int32(len(a.col))
		}
	}
	if s.offsets == nil {
		s.offsets = map[[4]int]*csr{}
	}
	s.offsets[key] = a
	return a
}

// sparseConvTallInputGrad accumulates dX += W^T dY through the tall layout
// t: per batch, dY zero-padded into planes (tallGrad), one product with the
// transposed pattern, and its rows added into dX (for stride 2 each phase
// plane's pixels to the input pixels they were gathered from). It reports
// false, doing nothing, when the layout does not apply.
//
// With fresh, gx is uninitialised and every element is set to 0 + its sum
// (gradFresh: what a cleared buffer accumulating it holds) instead of
// having the sum added.
func sparseConvTallInputGrad[T Float](tp *Tape[T], g *convGeom, s *SparseWeight[T], t tall, wd, dy, gx []T, fresh bool) bool {
	d, ok := t.gradLayout(g)
	if !ok {
		return false
	}
	a := tallGradPattern(t, d, g, s)
	val := tp.AllocUninit(len(a.src)).data
	csrValues(a, wd, val)
	chunks, inner := convChunks(tp, g)
	hw, chw, ohw := g.H*g.W, g.C*g.H*g.W, g.OH*g.OW
	pl := d.planeLen()
	plen := g.O*pl + d.pw + g.DW*(g.KW-1) + 8
	rows := a.rows
	wmax := d.width(t.nb)
	bufs := tp.Alloc(chunks, plen).data
	prods := tp.AllocUninit(chunks, rows*wmax).data
	// Zero biases start each product row's sums (no clearing pass).
	re := &rowEp[T]{bias: tp.Alloc(rows).data}
	chunkedFor(chunks, g.N, func(c, lo, hi int) {
		buf := bufs[c*plen : (c+1)*plen]
		prod := prods[c*rows*wmax : (c+1)*rows*wmax]
		for n0 := lo; n0 < hi; n0 += t.nb {
			k := min(t.nb, hi-n0)
			for i := 0; i < k; i++ {
				for o := 0; o < g.O; o++ {
					src := dy[((n0+i)*g.O+o)*ohw:]
					for oh := 0; oh < g.OH; oh++ {
						copy(buf[o*pl+(i*d.hp+oh+d.ph)*d.wp+d.pw:][:g.OW], src[oh*g.OW:][:g.OW])
					}
				}
			}
			w := d.width(k)
			splitCols(inner, w, func(j0, j1 int) {
				spmmEp(haveAVX2, a, val, 0, rows, buf, 1, prod, w, j0, j1, re)
			})
			for i := 0; i < k; i++ {
				gxi := gx[(n0+i)*chw:]
				if !t.phases {
					for ci := 0; ci < g.C; ci++ {
						for ih := 0; ih < g.H; ih++ {
							dst := gxi[ci*hw+ih*g.W:][:g.W]
							src := prod[ci*w+(i*d.hp+ih)*d.wp:][:g.W]
							if fresh {
								for j, v := range src {
									dst[j] = 0 + v
								}
								continue
							}
							for j, v := range src {
								dst[j] += v
							}
						}
					}
					continue
				}
				for r := 0; r < rows; r++ {
					ci, pa, pb := r/4, r%4/2, r%2
					j0 := 0
					for 2*j0+pb-g.PW < 0 {
						j0++
					}
					j1 := min(t.wp, (g.W-1-pb+g.PW)/2+1)
					for ii := 0; ii < t.hp; ii++ {
						ih := 2*ii + pa - g.PH
						if ih < 0 || ih >= g.H {
							continue
						}
						src := prod[r*w+(i*d.hp+ii)*d.wp:]
						dst := gxi[ci*hw+ih*g.W:][:g.W]
						if fresh {
							for jj := j0; jj < j1; jj++ {
								dst[2*jj+pb-g.PW] = 0 + src[jj]
							}
							continue
						}
						for jj := j0; jj < j1; jj++ {
							dst[2*jj+pb-g.PW] += src[jj]
						}
					}
				}
			}
		}
	})
	return true
}

// sparseConvTallWeightGrad accumulates dW only at the pattern's entries
// through the tall layout t: entry k (output channel o, input offset
// col[k] of the forward's tall pattern) gets the dot product of dY laid out
// as the forward's product rows (zeros at the junk positions) with the input
// buffer from col[k] on, taken in position blocks of dotBlock. The input
// buffers are the forward's (tin, as sparseConvTallForward returns them) or,
// with tin nil, filled here. Each chunk of images sums into its own partial,
// and partials are added in chunk order.
func sparseConvTallWeightGrad[T Float](tp *Tape[T], g *convGeom, s *SparseWeight[T], t tall, x, tin, dy, gw []T) {
	chunks, _ := convChunks(tp, g)
	a := tallPattern(t, g, s)
	chw, ohw := g.C*g.H*g.W, g.OH*g.OW
	nnz, plen, pl, blk := s.NNZ(), t.inputLen(g), t.planeLen(), t.hp*t.wp
	bpc := t.batches((g.N + chunks - 1) / chunks)
	part := tp.Alloc(chunks, nnz).data
	var bufs []T
	if tin == nil {
		bufs = tp.AllocUninit(chunks, plen).data // tallFill writes all of it
	}
	// dY as the forward's product rows: each batch writes its images' blocks
	// whole (zeros at the junk positions); the dot products stop at the last
	// image's last output, so later blocks are never read.
	dys := tp.AllocUninit(chunks, g.O*pl).data
	chunkedFor(chunks, g.N, func(c, lo, hi int) {
		p := part[c*nnz : (c+1)*nnz]
		dyw := dys[c*g.O*pl : (c+1)*g.O*pl]
		for q, n0 := 0, lo; n0 < hi; q, n0 = q+1, n0+t.nb {
			k := min(t.nb, hi-n0)
			var buf []T
			if tin != nil {
				buf = tin[(c*bpc+q)*plen:][:plen]
			} else {
				buf = bufs[c*plen : (c+1)*plen]
				tallFill(t, g, x[n0*chw:], k, buf)
			}
			for i := 0; i < k; i++ {
				for o := 0; o < g.O; o++ {
					src := dy[((n0+i)*g.O+o)*ohw:]
					b := dyw[o*pl+i*blk:][:blk]
					for oh := 0; oh < g.OH; oh++ {
						row := b[oh*t.wp:][:t.wp]
						copy(row[:g.OW], src[oh*g.OW:][:g.OW])
						clear(row[g.OW:])
					}
					clear(b[g.OH*t.wp:])
				}
			}
			n := (k-1)*blk + (g.OH-1)*t.wp + g.OW
			for j0 := 0; j0 < n; j0 += dotBlock {
				j1 := min(n, j0+dotBlock)
				for o := 0; o < g.O; o++ {
					sampledDots(dyw[o*pl+j0:o*pl+j1], buf, a.col, j0, p, int(a.ptr[o]), int(a.ptr[o+1]))
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

// sampledDots adds to p[e], for the entries e in [e0, e1) of one dY row,
// the dot product of that row's block dr with buf[col[e]+j0:][:len(dr)]:
// for float32 with AVX2 four entries at a time through dot4AVX2 (dr is
// read once for the four) with the columns past the last whole 16 added
// by dot, otherwise (and for the last entries) one dot per entry.
func sampledDots[T Float](dr, buf []T, col []int32, j0 int, p []T, e0, e1 int) {
	n := len(dr)
	e := e0
	if haveAVX2 && n >= 16 {
		if d32, ok := any(dr).([]float32); ok {
			b32, p32 := any(buf).([]float32), any(p).([]float32)
			n16 := n &^ 15
			var out [4]float32
			var bs [4][]float32
			for ; e+4 <= e1; e += 4 {
				for i := range bs {
					o := int(col[e+i]) + j0
					bs[i] = b32[o : o+n]
				}
				dot4AVX2(&d32[0], n16, &bs[0][0], &bs[1][0], &bs[2][0], &bs[3][0], &out)
				for i, s := range out {
					if n16 < n {
						s += dot(d32[n16:], bs[i][n16:])
					}
					p32[e+i] += s
				}
			}
		}
	}
	for ; e < e1; e++ {
		off := int(col[e]) + j0
		p[e] += dot(dr, buf[off:off+n])
	}
}
