package engine

// MaxPool2DInference is MaxPool2D's forward pass for inference: the maximum
// over each KHxKW window of x [N,C,H,W] (padding never wins), computed per
// plane as a running maximum down the window's rows followed by one along
// its columns, without the argmax search MaxPool2D's gradient needs. Its
// values equal MaxPool2D's for inputs without NaNs or signed-zero ties (a NaN
// in a window makes its maximum NaN here; +0 wins over -0). Nothing is
// recorded for backward: it panics when x needs a gradient on a recording
// tape.
func (tp *Tape[T]) MaxPool2DInference(x *Var[T], o PoolOpts) *Var[T] {
	if tp.NeedsGrad(x) {
		panic("engine: MaxPool2DInference: inference only, but x needs a gradient")
	}
	g := newPoolGeom(x.Shape(), o)
	xs := x.Shape()
	out := tp.AllocUninit(xs[0], xs[1], g.OH, g.OW)
	maxPoolPlanes(tp, &g, x.Value.data, out.data)
	return tp.Const(out)
}

// maxPoolPlanes writes the max pool of every plane of x into out, planes
// split over the tape's threads.
func maxPoolPlanes[T Float](tp *Tape[T], g *poolGeom, x, out []T) {
	hw, ohw := g.H*g.W, g.OH*g.OW
	tp.ParallelFor(g.planes, max(1, 4096/max(hw, 1)), func(lo, hi int) {
		t := make([]T, g.W)
		for p := lo; p < hi; p++ {
			maxPoolPlane(g, x[p*hw:(p+1)*hw], out[p*ohw:(p+1)*ohw], t)
		}
	})
}

// maxPoolPlane max-pools one plane xp [H,W] into op [OH,OW]; t is scratch of
// W elements (the running maximum of the window's rows).
func maxPoolPlane[T Float](g *poolGeom, xp, op, t []T) {
	w := g.W
	t = t[:w]
	for oh := 0; oh < g.OH; oh++ {
		h0 := oh*g.SH - g.PH
		h1 := min(h0+g.KH, g.H)
		h0 = max(h0, 0)
		copy(t, xp[h0*w:(h0+1)*w])
		for h := h0 + 1; h < h1; h++ {
			row := xp[h*w : (h+1)*w]
			for i, v := range row {
				t[i] = max(t[i], v)
			}
		}
		orow := op[oh*g.OW : (oh+1)*g.OW]
		if g.KW == 3 && g.SW == 2 && g.PW == 1 {
			// The ResNet stem's pool: windows t[2ow-1 : 2ow+2], clipped at
			// both ends.
			orow[0] = t[0]
			if w > 1 {
				orow[0] = max(t[0], t[1])
			}
			ow := 1
			for ; 2*ow+1 < w; ow++ {
				orow[ow] = max(max(t[2*ow-1], t[2*ow]), t[2*ow+1])
			}
			for ; ow < g.OW; ow++ {
				m := t[2*ow-1]
				if 2*ow < w {
					m = max(m, t[2*ow])
				}
				orow[ow] = m
			}
			continue
		}
		for ow := range orow {
			w0 := ow*g.SW - g.PW
			w1 := min(w0+g.KW, w)
			w0 = max(w0, 0)
			m := t[w0]
			for _, v := range t[w0+1 : w1] {
				m = max(m, v)
			}
			orow[ow] = m
		}
	}
}
