package cuda

import (
	"fmt"
	"math"
)

// Backend is what a network trained in device memory needs: buffers and
// the layer kernels. *Ops runs them on a GPU; *Host runs the kernels' Go
// twins on the CPU (the same index maps, summation orders and formulas), so
// a network's wiring is tested on machines without a GPU.
type Backend interface {
	Alloc(n int) (*Buffer, error)
	Free(b *Buffer) error
	Upload(b *Buffer, src []float32) error
	UploadInt32(b *Buffer, src []int32) error
	Download(dst []float32, b *Buffer) error
	Sync() error

	Im2col(g ConvGeom, l Layout, x, col *Buffer) error
	Col2im(g ConvGeom, l Layout, col, x *Buffer, accumulate bool) error
	ConvForward(g ConvGeom, x, w, y, col *Buffer) error
	ConvBackwardData(g ConvGeom, w, dy, dx, col *Buffer, accumulate bool) error
	ConvBackwardWeight(g ConvGeom, x, dy, dw, col *Buffer) error
	BatchNormForward(l Layout, x, y, gamma, beta *Buffer, st BNState, eps, momentum float32) error
	BatchNormBackward(l Layout, x, dy, gamma *Buffer, st BNState, dx, dgamma, dbeta *Buffer) error
	ReLU(n int, x, y *Buffer) error
	ReLUMask(n int, y, dy *Buffer) error
	Add(n int, a, b, out *Buffer) error
	MaxPoolForward(g PoolGeom, x, y, arg *Buffer) error
	MaxPoolBackward(g PoolGeom, dy, arg, dx *Buffer) error
	GlobalAvgPoolForward(l Layout, x, out *Buffer) error
	GlobalAvgPoolBackward(l Layout, dy, dx *Buffer) error
	LinearForward(n, in, out int, x, w, b, y *Buffer) error
	LinearBackward(n, in, out int, x, w, dy, dx, dw, db *Buffer) error
	SoftmaxCrossEntropy(n, k int, logits, labels, rows, loss, dlogits *Buffer) error
	Swap01(a, b, p int, in, out *Buffer) error
	SGD(n int, w, g, buf *Buffer, lr, momentum, weightDecay float32, nesterov bool) error
}

var (
	_ Backend = (*Ops)(nil)
	_ Backend = (*Host)(nil)
)

// Alloc allocates n zeroed float32 values on the device.
func (o *Ops) Alloc(n int) (*Buffer, error) {
	if o.emu != nil {
		return Host{}.Alloc(n)
	}
	return o.dv.Alloc(n)
}

// Free releases a device buffer.
func (o *Ops) Free(b *Buffer) error {
	if o.emu != nil {
		return Host{}.Free(b)
	}
	return o.dv.Free(b)
}

// Upload copies host values to a device buffer.
func (o *Ops) Upload(b *Buffer, src []float32) error {
	if o.emu != nil {
		return Host{}.Upload(b, src)
	}
	return o.dv.Upload(b, src)
}

// UploadInt32 copies int32 values to a device buffer.
func (o *Ops) UploadInt32(b *Buffer, src []int32) error {
	if o.emu != nil {
		return Host{}.UploadInt32(b, src)
	}
	return o.dv.UploadInt32(b, src)
}

// Download copies a device buffer to the host (call Sync first).
func (o *Ops) Download(dst []float32, b *Buffer) error {
	if o.emu != nil {
		return Host{}.Download(dst, b)
	}
	return o.dv.Download(dst, b)
}

// Sync waits for the enqueued kernels.
func (o *Ops) Sync() error {
	if o.emu != nil {
		return Host{}.Sync()
	}
	return o.dv.Sync()
}

// Host runs the layer kernels' Go twins on the CPU, one thread, over
// buffers in host memory (from its Alloc). It is the reference the GPU
// kernels are compared with and the backend that tests a network's wiring
// without a GPU; it is not fast.
type Host struct{}

// Alloc allocates n zeroed values in host memory.
func (Host) Alloc(n int) (*Buffer, error) { return &Buffer{n: n, host: make([]float32, n)}, nil }

// Free drops the buffer's memory.
func (Host) Free(b *Buffer) error { b.host = nil; return nil }

func hostData(op string, b *Buffer, n int) ([]float32, error) {
	if err := need(op, b, n); err != nil {
		return nil, err
	}
	if b.host == nil {
		return nil, fmt.Errorf("cuda: %s: not a host buffer", op)
	}
	return b.host, nil
}

// Upload copies src into the buffer.
func (Host) Upload(b *Buffer, src []float32) error {
	d, err := hostData("upload", b, len(src))
	if err != nil {
		return err
	}
	if len(src) != b.n {
		return fmt.Errorf("cuda: upload of %d values into a buffer of %d", len(src), b.n)
	}
	copy(d, src)
	return nil
}

// UploadInt32 stores int32 values by their bits, as a kernel reads them.
func (Host) UploadInt32(b *Buffer, src []int32) error {
	d, err := hostData("upload", b, len(src))
	if err != nil {
		return err
	}
	if len(src) != b.n {
		return fmt.Errorf("cuda: upload of %d int32 values into a buffer of %d", len(src), b.n)
	}
	for i, v := range src {
		d[i] = math.Float32frombits(uint32(v))
	}
	return nil
}

// Download copies the buffer into dst.
func (Host) Download(dst []float32, b *Buffer) error {
	d, err := hostData("download", b, len(dst))
	if err != nil {
		return err
	}
	if len(dst) != b.n {
		return fmt.Errorf("cuda: download of a buffer of %d values into %d", b.n, len(dst))
	}
	copy(dst, d)
	return nil
}

// Sync does nothing: host work is done when a call returns.
func (Host) Sync() error { return nil }

// gemmHost is C = alpha op(A) op(B) + beta C, row-major, with float64 sums.
func gemmHost(transA, transB bool, m, n, k int, a, b []float32, beta float32, c []float32) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				av, bv := a[i*k+p], b[p*n+j]
				if transA {
					av = a[p*m+i]
				}
				if transB {
					bv = b[j*k+p]
				}
				s += float64(av) * float64(bv)
			}
			v := float32(s)
			if beta != 0 {
				v += beta * c[i*n+j]
			}
			c[i*n+j] = v
		}
	}
}

func (h Host) bufs(op string, pairs ...any) ([][]float32, error) {
	out := make([][]float32, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		d, err := hostData(op, pairs[i].(*Buffer), pairs[i+1].(int))
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// Im2col is im2col_f32 on the host.
func (h Host) Im2col(g ConvGeom, l Layout, x, col *Buffer) error {
	if err := g.checkLayout("im2col", l); err != nil {
		return err
	}
	d, err := h.bufs("im2col", x, l.Len(), col, g.K()*g.NP())
	if err != nil {
		return err
	}
	copy(d[1], im2colTwin(g, l, d[0]))
	return nil
}

// Col2im is col2im_f32 on the host.
func (h Host) Col2im(g ConvGeom, l Layout, col, x *Buffer, accumulate bool) error {
	if err := g.checkLayout("col2im", l); err != nil {
		return err
	}
	d, err := h.bufs("col2im", col, g.K()*g.NP(), x, l.Len())
	if err != nil {
		return err
	}
	back := col2imTwin(g, l, d[0])
	for n := 0; n < l.N; n++ {
		for c := 0; c < l.C; c++ {
			for k := 0; k < l.S; k++ {
				a := n*l.SN + c*l.SC + k
				if accumulate {
					d[1][a] += back[a]
				} else {
					d[1][a] = back[a]
				}
			}
		}
	}
	return nil
}

// ConvForward is Ops.ConvForward on the host.
func (h Host) ConvForward(g ConvGeom, x, w, y, col *Buffer) error {
	d, err := h.bufs("conv", x, g.In().Len(), w, g.O*g.K(), y, g.Out().Len())
	if err != nil {
		return err
	}
	src := d[0]
	if !g.Direct() {
		src = im2colTwin(g, g.In(), d[0])
	}
	gemmHost(false, false, g.O, g.NP(), g.K(), d[1], src, 0, d[2])
	return nil
}

// ConvBackwardData is Ops.ConvBackwardData on the host.
func (h Host) ConvBackwardData(g ConvGeom, w, dy, dx, col *Buffer, accumulate bool) error {
	d, err := h.bufs("conv backward data", w, g.O*g.K(), dy, g.Out().Len(), dx, g.In().Len())
	if err != nil {
		return err
	}
	beta := float32(0)
	if accumulate {
		beta = 1
	}
	if g.Direct() {
		gemmHost(true, false, g.K(), g.NP(), g.O, d[0], d[1], beta, d[2])
		return nil
	}
	c := make([]float32, g.K()*g.NP())
	gemmHost(true, false, g.K(), g.NP(), g.O, d[0], d[1], 0, c)
	back := col2imTwin(g, g.In(), c)
	for i := range back {
		if accumulate {
			d[2][i] += back[i]
		} else {
			d[2][i] = back[i]
		}
	}
	return nil
}

// ConvBackwardWeight is Ops.ConvBackwardWeight on the host.
func (h Host) ConvBackwardWeight(g ConvGeom, x, dy, dw, col *Buffer) error {
	d, err := h.bufs("conv backward weight", x, g.In().Len(), dy, g.Out().Len(), dw, g.O*g.K())
	if err != nil {
		return err
	}
	src := d[0]
	if !g.Direct() {
		src = im2colTwin(g, g.In(), d[0])
	}
	gemmHost(false, true, g.O, g.K(), g.NP(), d[1], src, 0, d[2])
	return nil
}

// BatchNormForward is bn_fwd_train_f32 on the host (float64 sums in plain order).
func (h Host) BatchNormForward(l Layout, x, y, gamma, beta *Buffer, st BNState, eps, momentum float32) error {
	d, err := h.bufs("bn", x, l.Len(), y, l.Len(), gamma, l.C, beta, l.C, st.Mean, l.C, st.InvStd, l.C, st.RunMean, l.C, st.RunVar, l.C)
	if err != nil {
		return err
	}
	xd, yd := d[0], d[1]
	M := l.N * l.S
	for c := 0; c < l.C; c++ {
		at := func(i int) int { return (i/l.S)*l.SN + c*l.SC + i%l.S }
		k := float64(xd[at(0)])
		var sd, ss float64
		for i := 0; i < M; i++ {
			e := float64(xd[at(i)]) - k
			sd += e
			ss += e * e
		}
		dm := sd / float64(M)
		mean := k + dm
		ss = math.Max(ss-sd*dm, 0)
		v := ss / float64(M)
		is := 1 / math.Sqrt(v+float64(eps))
		d[4][c], d[5][c] = float32(mean), float32(is)
		mom, unb := float64(momentum), v
		if M > 1 {
			unb = ss / float64(M-1)
		}
		d[6][c] = float32((1-mom)*float64(d[6][c]) + mom*mean)
		d[7][c] = float32((1-mom)*float64(d[7][c]) + mom*unb)
		ad := is * float64(d[2][c])
		a, b := float32(ad), float32(-mean*ad+float64(d[3][c]))
		for i := 0; i < M; i++ {
			yd[at(i)] = xd[at(i)]*a + b
		}
	}
	return nil
}

// BatchNormBackward is bn_bwd_f32 on the host.
func (h Host) BatchNormBackward(l Layout, x, dy, gamma *Buffer, st BNState, dx, dgamma, dbeta *Buffer) error {
	d, err := h.bufs("bn backward", x, l.Len(), dy, l.Len(), gamma, l.C, st.Mean, l.C, st.InvStd, l.C, dx, l.Len(), dgamma, l.C, dbeta, l.C)
	if err != nil {
		return err
	}
	xd, dyd, dxd := d[0], d[1], d[5]
	M := l.N * l.S
	for c := 0; c < l.C; c++ {
		at := func(i int) int { return (i/l.S)*l.SN + c*l.SC + i%l.S }
		mu, is := float64(d[3][c]), float64(d[4][c])
		var sdy, sdxm float64
		for i := 0; i < M; i++ {
			gv := float64(dyd[at(i)])
			sdy += gv
			sdxm += gv * (float64(xd[at(i)]) - mu)
		}
		sdyx := sdxm * is
		d[6][c], d[7][c] = float32(sdyx), float32(sdy)
		a := is * float64(d[2][c])
		k1, k2 := sdy/float64(M), sdyx/float64(M)
		fa, fb, fc := float32(a), float32(-a*is*k2), float32(a*(mu*is*k2-k1))
		for i := 0; i < M; i++ {
			k := at(i)
			dxd[k] = fa*dyd[k] + fb*xd[k] + fc
		}
	}
	return nil
}

// ReLU is relu_f32 on the host.
func (h Host) ReLU(n int, x, y *Buffer) error {
	d, err := h.bufs("relu", x, n, y, n)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		d[1][i] = max(d[0][i], 0)
		if !(d[0][i] > 0) {
			d[1][i] = 0
		}
	}
	return nil
}

// ReLUMask is relu_mask_f32 on the host.
func (h Host) ReLUMask(n int, y, dy *Buffer) error {
	d, err := h.bufs("relu mask", y, n, dy, n)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if !(d[0][i] > 0) {
			d[1][i] = 0
		}
	}
	return nil
}

// Add is add_f32 on the host.
func (h Host) Add(n int, a, b, out *Buffer) error {
	d, err := h.bufs("add", a, n, b, n, out, n)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		d[2][i] = d[0][i] + d[1][i]
	}
	return nil
}

// MaxPoolForward is maxpool_fwd_f32 on the host.
func (h Host) MaxPoolForward(g PoolGeom, x, y, arg *Buffer) error {
	out := g.Planes * g.OH * g.OW
	d, err := h.bufs("maxpool", x, g.Planes*g.H*g.W, y, out, arg, out)
	if err != nil {
		return err
	}
	yv, av, _ := maxpoolTwin(g, d[0], make([]float32, out))
	copy(d[1], yv)
	for i, a := range av {
		d[2][i] = math.Float32frombits(uint32(a))
	}
	return nil
}

// MaxPoolBackward is maxpool_bwd_f32 on the host.
func (h Host) MaxPoolBackward(g PoolGeom, dy, arg, dx *Buffer) error {
	out := g.Planes * g.OH * g.OW
	d, err := h.bufs("maxpool backward", dy, out, arg, out, dx, g.Planes*g.H*g.W)
	if err != nil {
		return err
	}
	ai := make([]int32, out)
	for i := range ai {
		ai[i] = int32(math.Float32bits(d[1][i]))
	}
	copy(d[2], maxpoolGather(g, ai, d[0]))
	return nil
}

// GlobalAvgPoolForward is gap_fwd_f32 on the host.
func (h Host) GlobalAvgPoolForward(l Layout, x, out *Buffer) error {
	d, err := h.bufs("gap", x, l.Len(), out, l.N*l.C)
	if err != nil {
		return err
	}
	for i := 0; i < l.N*l.C; i++ {
		n, c := i/l.C, i%l.C
		var s float32
		for k := 0; k < l.S; k++ {
			s += d[0][n*l.SN+c*l.SC+k]
		}
		d[1][i] = s * (1 / float32(l.S))
	}
	return nil
}

// GlobalAvgPoolBackward is gap_bwd_f32 on the host.
func (h Host) GlobalAvgPoolBackward(l Layout, dy, dx *Buffer) error {
	d, err := h.bufs("gap backward", dy, l.N*l.C, dx, l.Len())
	if err != nil {
		return err
	}
	for n := 0; n < l.N; n++ {
		for c := 0; c < l.C; c++ {
			v := d[0][n*l.C+c] * (1 / float32(l.S))
			for k := 0; k < l.S; k++ {
				d[1][n*l.SN+c*l.SC+k] = v
			}
		}
	}
	return nil
}

// LinearForward is Ops.LinearForward on the host.
func (h Host) LinearForward(n, in, out int, x, w, b, y *Buffer) error {
	d, err := h.bufs("linear", x, n*in, w, out*in, y, n*out)
	if err != nil {
		return err
	}
	gemmHost(false, true, n, out, in, d[0], d[1], 0, d[2])
	if b == nil {
		return nil
	}
	bd, err := hostData("linear b", b, out)
	if err != nil {
		return err
	}
	for i := 0; i < n*out; i++ {
		d[2][i] += bd[i%out]
	}
	return nil
}

// LinearBackward is Ops.LinearBackward on the host.
func (h Host) LinearBackward(n, in, out int, x, w, dy, dx, dw, db *Buffer) error {
	d, err := h.bufs("linear backward", x, n*in, w, out*in, dy, n*out, dw, out*in)
	if err != nil {
		return err
	}
	if dx != nil {
		dxd, err := hostData("linear dx", dx, n*in)
		if err != nil {
			return err
		}
		gemmHost(false, false, n, in, out, d[2], d[1], 0, dxd)
	}
	gemmHost(true, false, out, in, n, d[2], d[0], 0, d[3])
	if db == nil {
		return nil
	}
	dbd, err := hostData("linear db", db, out)
	if err != nil {
		return err
	}
	for j := 0; j < out; j++ {
		var s float32
		for r := 0; r < n; r++ {
			s += d[2][r*out+j]
		}
		dbd[j] = s
	}
	return nil
}

// SoftmaxCrossEntropy is softmax_xent_f32 and sum_scaled_f32 on the host.
func (h Host) SoftmaxCrossEntropy(n, k int, logits, labels, rows, loss, dlogits *Buffer) error {
	d, err := h.bufs("xent", logits, n*k, labels, n, rows, n, loss, 1, dlogits, n*k)
	if err != nil {
		return err
	}
	scale := float64(float32(1 / float64(n)))
	var tot float64
	for r := 0; r < n; r++ {
		x := d[0][r*k : (r+1)*k]
		lab := int(int32(math.Float32bits(d[1][r])))
		if lab < 0 || lab >= k {
			return fmt.Errorf("cuda: xent: label %d of row %d outside [0, %d)", lab, r, k)
		}
		m := float64(x[0])
		for _, v := range x {
			m = math.Max(m, float64(v))
		}
		var s float64
		for _, v := range x {
			s += math.Exp(float64(v) - m)
		}
		d[2][r] = float32(m + math.Log(s) - float64(x[lab]))
		tot += float64(d[2][r])
		for j, v := range x {
			p := math.Exp(float64(v)-m) / s
			if j == lab {
				p--
			}
			d[4][r*k+j] = float32(p * scale)
		}
	}
	d[3][0] = float32(tot * scale)
	return nil
}

// Swap01 is swap01_f32 on the host.
func (h Host) Swap01(a, b, p int, in, out *Buffer) error {
	d, err := h.bufs("swap", in, a*b*p, out, a*b*p)
	if err != nil {
		return err
	}
	copy(d[1], swapTwin(a, b, p, d[0][:a*b*p]))
	return nil
}

// SGD is sgd_f32 on the host.
func (h Host) SGD(n int, w, g, buf *Buffer, lr, momentum, weightDecay float32, nesterov bool) error {
	d, err := h.bufs("sgd", w, n, g, n, buf, n)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		gi := d[1][i] + weightDecay*d[0][i]
		b := momentum*d[2][i] + gi
		d[2][i] = b
		if nesterov {
			d[0][i] -= lr * (gi + momentum*b)
		} else {
			d[0][i] -= lr * b
		}
	}
	return nil
}

// The Go twins of nn.cu's index maps, one function per kernel, in the
// kernel's own arithmetic (same loop order, float32), so GPU results can be
// compared with them bit for bit.

// im2colTwin is im2col_f32: thread i of total = K*N*OH*OW.
func im2colTwin(g ConvGeom, l Layout, x []float32) []float32 {
	P := g.OH * g.OW
	NP := g.N * P
	total := g.K() * NP
	col := make([]float32, total)
	for i := 0; i < total; i++ {
		r, j := i/NP, i%NP
		n, p := j/P, j%P
		oh, ow := p/g.OW, p%g.OW
		kk := g.KH * g.KW
		c, q := r/kk, r%kk
		kh, kw := q/g.KW, q%g.KW
		ih, iw := oh*g.SH-g.PH+kh, ow*g.SW-g.PW+kw
		if ih >= 0 && ih < g.H && iw >= 0 && iw < g.W {
			col[i] = x[n*l.SN+c*l.SC+ih*g.W+iw]
		}
	}
	return col
}

// col2imTwin is col2im_f32 (accumulate off): thread i of total = C*N*H*W.
func col2imTwin(g ConvGeom, l Layout, col []float32) []float32 {
	x := make([]float32, l.Len())
	HW := g.H * g.W
	P := g.OH * g.OW
	NP := g.N * P
	for i := 0; i < g.C*g.N*HW; i++ {
		cn, s := i/HW, i%HW
		c, n := cn/g.N, cn%g.N
		ih, iw := s/g.W, s%g.W
		base := c*g.KH*g.KW*NP + n*P
		var sum float32
		for kh := 0; kh < g.KH; kh++ {
			th := ih + g.PH - kh
			if th < 0 || th%g.SH != 0 {
				continue
			}
			oh := th / g.SH
			if oh >= g.OH {
				continue
			}
			for kw := 0; kw < g.KW; kw++ {
				tw := iw + g.PW - kw
				if tw < 0 || tw%g.SW != 0 {
					continue
				}
				ow := tw / g.SW
				if ow >= g.OW {
					continue
				}
				sum += col[base+(kh*g.KW+kw)*NP+oh*g.OW+ow]
			}
		}
		x[n*l.SN+c*l.SC+s] = sum
	}
	return x
}

// maxpoolTwin is maxpool_fwd_f32 and maxpool_bwd_f32.
func maxpoolTwin(g PoolGeom, x, dy []float32) (y []float32, arg []int32, dx []float32) {
	OP := g.OH * g.OW
	y, arg = make([]float32, g.Planes*OP), make([]int32, g.Planes*OP)
	for i := range y {
		pl, q := i/OP, i%OP
		oh, ow := q/g.OW, q%g.OW
		xp := x[pl*g.H*g.W:]
		h0, w0 := oh*g.S-g.P, ow*g.S-g.P
		h1, w1 := min(h0+g.K, g.H), min(w0+g.K, g.W)
		h0, w0 = max(h0, 0), max(w0, 0)
		best := h0*g.W + w0
		m := xp[best]
		for h := h0; h < h1; h++ {
			for w := w0; w < w1; w++ {
				if v := xp[h*g.W+w]; v > m {
					m, best = v, h*g.W+w
				}
			}
		}
		y[i], arg[i] = m, int32(best)
	}
	return y, arg, maxpoolGather(g, arg, dy)
}

// swapTwin is swap01_f32.
func swapTwin(a, b, p int, in []float32) []float32 {
	out := make([]float32, len(in))
	for i := range out {
		pp, t := i%p, i/p
		aa, bb := t%a, t/a
		out[i] = in[(aa*b+bb)*p+pp]
	}
	return out
}

// maxpoolGather is maxpool_bwd_f32: dx by gathering dy through arg.
func maxpoolGather(g PoolGeom, arg []int32, dy []float32) []float32 {
	OP := g.OH * g.OW
	HW := g.H * g.W
	dx := make([]float32, g.Planes*HW)
	for i := range dx {
		pl, s := i/HW, i%HW
		ih, iw := s/g.W, s%g.W
		th, tw := ih+g.P-g.K+1, iw+g.P-g.K+1
		oh0, ow0 := 0, 0
		if th > 0 {
			oh0 = (th + g.S - 1) / g.S
		}
		if tw > 0 {
			ow0 = (tw + g.S - 1) / g.S
		}
		oh1, ow1 := min((ih+g.P)/g.S, g.OH-1), min((iw+g.P)/g.S, g.OW-1)
		var sum float32
		for oh := oh0; oh <= oh1; oh++ {
			for ow := ow0; ow <= ow1; ow++ {
				if arg[pl*OP+oh*g.OW+ow] == int32(s) {
					sum += dy[pl*OP+oh*g.OW+ow]
				}
			}
		}
		dx[i] = sum
	}
	return dx
}
