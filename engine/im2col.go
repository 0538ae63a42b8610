package engine

// convGeom is the geometry of a 2-D convolution over NCHW images.
type convGeom struct {
	N, C, H, W     int // input
	O, KH, KW      int // filters
	SH, SW, PH, PW int // stride, padding
	DH, DW, G      int // dilation, groups
	OH, OW         int // output spatial size
}

// cg, og, kg are the input channels, output channels and gemm depth of a group.
func (g *convGeom) cg() int { return g.C / g.G }
func (g *convGeom) og() int { return g.O / g.G }
func (g *convGeom) kg() int { return g.cg() * g.KH * g.KW }

// direct reports whether the input image itself is the im2col matrix: a 1x1
// kernel with stride 1 and no padding.
func (g *convGeom) direct() bool {
	return g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.PH == 0 && g.PW == 0
}

// colRange returns the output columns [lo, hi) whose input column
// ow*SW + off lies inside [0, W).
func colRange(off, sw, w, ow int) (lo, hi int) {
	if off < 0 {
		lo = (-off + sw - 1) / sw
	}
	if w-1-off >= 0 {
		hi = min(ow, (w-1-off)/sw+1)
	}
	lo = min(lo, ow)
	return lo, max(hi, lo)
}

// im2col unfolds cch channels of one image x [cch,H,W] into col [cch*KH*KW, OH*OW]:
// row (c,kh,kw), column (oh,ow) holds x[c, oh*SH-PH+kh*DH, ow*SW-PW+kw*DW] or 0
// in the padding. Runs inside the image are copied whole; padding is handled by
// ranges, not per element.
func im2col[T Float](g *convGeom, x []T, cch int, col []T) {
	if g.SH == 1 && g.SW == 1 && g.OW == g.W {
		im2colRows(g, x, cch, col)
		return
	}
	if g.SH == 2 && g.SW == 2 && g.DH == 1 && g.DW == 1 && (g.W+1)/2 <= g.OW {
		im2colStride2(g, x, cch, col)
		return
	}
	// Geometry in locals: the compiler keeps them in registers across the
	// stores into col, which it would not do for fields read through g.
	h, w, oh0, ow0, sh, sw := g.H, g.W, g.OH, g.OW, g.SH, g.SW
	hw, ohw := h*w, oh0*ow0
	r := 0
	for c := 0; c < cch; c++ {
		xc := x[c*hw : (c+1)*hw]
		for kh := 0; kh < g.KH; kh++ {
			for kw := 0; kw < g.KW; kw++ {
				row := col[r*ohw : (r+1)*ohw]
				r++
				off := kw*g.DW - g.PW
				lo, hi := colRange(off, sw, w, ow0)
				ih := kh*g.DH - g.PH
				for oh := 0; oh < oh0; oh, ih = oh+1, ih+sh {
					dst := row[oh*ow0 : (oh+1)*ow0]
					if ih < 0 || ih >= h {
						clear(dst)
						continue
					}
					for i := 0; i < lo; i++ {
						dst[i] = 0
					}
					src := xc[ih*w : (ih+1)*w]
					if sw == 1 {
						copy(dst[lo:hi], src[lo+off:hi+off])
					} else if lo < hi {
						d := dst[lo:hi]
						s := src[lo*sw+off : (hi-1)*sw+off+1]
						for i, j := 0, 0; i < len(d); i, j = i+1, j+sw {
							d[i] = s[j]
						}
					}
					for i := hi; i < len(dst); i++ {
						dst[i] = 0
					}
				}
			}
		}
	}
}

// im2colStride2 is im2col for stride 2 without dilation, when the output is
// at least half the input wide (ResNet's 3x3 padding-1 and 1x1 downsampling
// convolutions, the 7x7 stem). Each channel is first split into its stride
// phases: phase (a, b) holds x[2i+a, 2j+b] in a plane OW wide (zeros beyond
// its last column). Tap (kh, kw) of output (oh, ow) then reads pixel
// (oh+dh, ow+dw) of one phase plane, a stride-1 access: the col row is one
// shifted copy of the plane, as in im2colRows, and the columns that wrap
// around a plane row are zeroed afterwards. This replaces one strided
// gather per output row and tap (short runs, about 1.3 ns per element) by a
// gather of each input element once and contiguous copies.
func im2colStride2[T Float](g *convGeom, x []T, cch int, col []T) {
	h, w, oh0, ow0 := g.H, g.W, g.OH, g.OW
	hw, ohw := h*w, oh0*ow0
	rows, cols := [2]int{(h + 1) / 2, h / 2}, [2]int{(w + 1) / 2, w / 2}
	// phase splits an offset kh-PH (or kw-PW) into its phase and its shift
	// in phase coordinates (a floor division by 2).
	phase := func(r int) (int, int) { a := r & 1; return a, (r - a) / 2 }
	var need [2][2]bool
	for kh := 0; kh < g.KH; kh++ {
		a, _ := phase(kh - g.PH)
		for kw := 0; kw < g.KW; kw++ {
			b, _ := phase(kw - g.PW)
			need[a][b] = true
		}
	}
	plane := rows[0] * ow0
	planes := make([]T, 4*plane)
	r := 0
	for c := 0; c < cch; c++ {
		xc := x[c*hw : (c+1)*hw]
		for a := range 2 {
			for b := range 2 {
				if !need[a][b] {
					continue
				}
				// Columns n and beyond of a plane row are never written:
				// they stay zero from make.
				p := planes[(2*a+b)*plane : (2*a+b+1)*plane]
				n := cols[b]
				if n == 0 {
					continue
				}
				for i := 0; i < rows[a]; i++ {
					gather2(p[i*ow0:i*ow0+n], xc[(2*i+a)*w+b:][:2*n-1])
				}
			}
		}
		for kh := 0; kh < g.KH; kh++ {
			a, dh := phase(kh - g.PH)
			ohLo, ohHi := max(0, -dh), min(oh0, rows[a]-dh)
			ohHi = max(ohHi, ohLo)
			for kw := 0; kw < g.KW; kw++ {
				b, dw := phase(kw - g.PW)
				row := col[r*ohw : (r+1)*ohw]
				r++
				clear(row[:ohLo*ow0])
				clear(row[ohHi*ow0:])
				if ohLo == ohHi {
					continue
				}
				p := planes[(2*a+b)*plane : (2*a+b)*plane+rows[a]*ow0]
				start, end := ohLo*ow0, ohHi*ow0
				shift := dh*ow0 + dw
				// The first (dw < 0) or last (dw > 0) few columns would
				// read outside the plane; they are among the wrapped
				// columns zeroed below.
				if dw < 0 {
					start -= dw
				} else {
					end -= dw
				}
				if start < end {
					copy(row[start:end], p[start+shift:end+shift])
				}
				body := row[ohLo*ow0 : ohHi*ow0]
				for j := 0; j < min(-dw, ow0); j++ {
					for q := j; q < len(body); q += ow0 {
						body[q] = 0
					}
				}
				for j := max(0, ow0-dw); j < ow0; j++ {
					for q := j; q < len(body); q += ow0 {
						body[q] = 0
					}
				}
			}
		}
	}
}

// gather2 sets d[i] = s[2i]; len(s) must be 2*len(d)-1.
func gather2[T Float](d, s []T) {
	s = s[:2*len(d)-1]
	i := 0
	for ; i+4 <= len(d); i += 4 {
		q, p := s[2*i:2*i+7:2*i+7], d[i:i+4:i+4]
		p[0], p[1], p[2], p[3] = q[0], q[2], q[4], q[6]
	}
	for ; i < len(d); i++ {
		d[i] = s[2*i]
	}
}

// im2colRows is im2col for stride 1 when output and input rows have the same
// width (e.g. 3x3 kernels with padding 1): then each col row is, over its valid
// output rows, one shifted copy of a block of the image, and only the columns
// that fall into the left or right padding need zeroing afterwards.
func im2colRows[T Float](g *convGeom, x []T, cch int, col []T) {
	hw, ohw, w := g.H*g.W, g.OH*g.OW, g.W
	r := 0
	for c := 0; c < cch; c++ {
		xc := x[c*hw : (c+1)*hw]
		for kh := 0; kh < g.KH; kh++ {
			c0 := kh*g.DH - g.PH // ih = oh + c0
			ohLo, ohHi := max(0, -c0), min(g.OH, g.H-c0)
			ohHi = max(ohHi, ohLo)
			for kw := 0; kw < g.KW; kw++ {
				row := col[r*ohw : (r+1)*ohw]
				r++
				off := kw*g.DW - g.PW
				lo, hi := colRange(off, 1, w, g.OW)
				clear(row[:ohLo*w])
				clear(row[ohHi*w:])
				if ohLo == ohHi {
					continue
				}
				start, end := ohLo*w, ohHi*w
				if off < 0 {
					start -= off
				} else {
					end -= off
				}
				shift := c0*w + off
				if start < end {
					copy(row[start:end], xc[start+shift:end+shift])
				}
				// Zero the few columns per row that fall into the left and right
				// padding (strided single stores: cheaper than memclr calls).
				body := row[:ohHi*w]
				for i := 0; i < lo; i++ {
					for p := ohLo*w + i; p < len(body); p += w {
						body[p] = 0
					}
				}
				for i := hi; i < w; i++ {
					for p := ohLo*w + i; p < len(body); p += w {
						body[p] = 0
					}
				}
			}
		}
	}
}

// col2im is the adjoint of im2col: it adds each entry of col [cch*KH*KW, OH*OW]
// into the input position it was read from in x [cch,H,W] (padding is dropped).
func col2im[T Float](g *convGeom, col []T, cch int, x []T) {
	h, w, oh0, ow0, sh, sw := g.H, g.W, g.OH, g.OW, g.SH, g.SW
	hw, ohw := h*w, oh0*ow0
	r := 0
	for c := 0; c < cch; c++ {
		xc := x[c*hw : (c+1)*hw]
		for kh := 0; kh < g.KH; kh++ {
			for kw := 0; kw < g.KW; kw++ {
				row := col[r*ohw : (r+1)*ohw]
				r++
				off := kw*g.DW - g.PW
				lo, hi := colRange(off, sw, w, ow0)
				if lo >= hi {
					continue
				}
				ih := kh*g.DH - g.PH
				for oh := 0; oh < oh0; oh, ih = oh+1, ih+sh {
					if ih < 0 || ih >= h {
						continue
					}
					s := row[oh*ow0+lo : oh*ow0+hi]
					if sw == 1 {
						d := xc[ih*w+lo+off : ih*w+hi+off]
						for i, v := range s {
							d[i] += v
						}
					} else {
						d := xc[ih*w+lo*sw+off : ih*w+(hi-1)*sw+off+1]
						for i, j := 0, 0; i < len(s); i, j = i+1, j+sw {
							d[j] += s[i]
						}
					}
				}
			}
		}
	}
}
