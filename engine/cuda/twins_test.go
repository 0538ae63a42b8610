package cuda

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gap-harness/gap/engine"
)

// Go twins of nn.cu's index maps, one function per kernel, in the kernel's
// own arithmetic (same loop order, float32), so the GPU results can be
// compared bit for bit; the twins themselves are checked against the CPU
// engine here, without a GPU.

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
	HW := g.H * g.W
	dx = make([]float32, g.Planes*HW)
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
	return y, arg, dx
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

// convGeoms are the convolution shapes of a ResNet-50, small: the 7x7/2
// stem, 3x3 stride 1 and 2, 1x1 stride 1 and 2 (projection shortcut), and
// an odd input size.
func convGeoms(t testing.TB) []ConvGeom {
	var gs []ConvGeom
	for _, s := range [][11]int{
		{2, 3, 13, 12, 5, 7, 7, 2, 2, 3, 3},
		{2, 4, 9, 9, 6, 3, 3, 1, 1, 1, 1},
		{3, 4, 9, 8, 5, 3, 3, 2, 2, 1, 1},
		{2, 6, 7, 7, 4, 1, 1, 1, 1, 0, 0},
		{2, 6, 9, 9, 8, 1, 1, 2, 2, 0, 0},
	} {
		g, err := NewConvGeom(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10])
		if err != nil {
			t.Fatal(err)
		}
		gs = append(gs, g)
	}
	return gs
}

// cpuConv runs the CPU engine's Conv2D in float64 on NCHW x: y (NCHW), and
// with dy the input and weight gradients of sum(y*dy).
func cpuConv(g ConvGeom, x, w, dy []float32) (y, dx, dw []float64) {
	tp := engine.NewTape[float64](1)
	xv := tp.Input(engine.FromSlice(f64(x), g.N, g.C, g.H, g.W))
	wv := engine.NewParam("w", engine.FromSlice(f64(w), g.O, g.C, g.KH, g.KW))
	yv := tp.Conv2D(xv, wv, nil, engine.ConvOpts{StrideH: g.SH, StrideW: g.SW, PadH: g.PH, PadW: g.PW})
	loss := tp.SumAll(tp.Mul(yv, tp.Const(engine.FromSlice(f64(dy), g.N, g.O, g.OH, g.OW))))
	if err := tp.Backward(loss); err != nil {
		panic(err)
	}
	return append([]float64{}, yv.Value.Data()...), append([]float64{}, xv.Grad.Data()...), wv.Grad.Data()
}

func f64(v []float32) []float64 {
	o := make([]float64, len(v))
	for i, x := range v {
		o[i] = float64(x)
	}
	return o
}

func f32(v []float64) []float32 {
	o := make([]float32, len(v))
	for i, x := range v {
		o[i] = float32(x)
	}
	return o
}

// gemm64 is C[m,n] = A[m,k] B[k,n] (transA: A stored [k,m]; transB: B stored [n,k]) in float64.
func gemm64(transA, transB bool, m, n, k int, a, b []float32) []float64 {
	c := make([]float64, m*n)
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
			c[i*n+j] = s
		}
	}
	return c
}

// maxRelErr is max |got-want| / max(max |want|, 1e-30).
func maxRelErr(got []float32, want []float64) float64 {
	var e, m float64
	for i := range want {
		e = math.Max(e, math.Abs(float64(got[i])-want[i]))
		m = math.Max(m, math.Abs(want[i]))
	}
	return e / math.Max(m, 1e-30)
}

// TestConvTwinsMatchCPU: the im2col and col2im index maps of nn.cu, run in
// Go, give the CPU engine's Conv2D forward and input gradient (as im2col +
// GEMM and GEMM + col2im) in both NCHW and CNHW addressing (max error 1e-5
// of the largest value: float32 products vs float64), and the im2col
// adjoint identity <im2col(x), c> = <x, col2im(c)> holds.
func TestConvTwinsMatchCPU(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, g := range convGeoms(t) {
		x, w, dy := randVec(r, g.N*g.C*g.H*g.W), randVec(r, g.O*g.K()), randVec(r, g.N*g.O*g.OH*g.OW)
		yRef, dxRef, _ := cpuConv(g, x, w, dy)
		for _, cnhw := range []bool{false, true} {
			l, xin := NCHW(g.N, g.C, g.H, g.W), x
			if cnhw {
				l, xin = g.In(), swapTwin(g.N, g.C, g.H*g.W, x)
			}
			col := im2colTwin(g, l, xin)
			yc := gemm64(false, false, g.O, g.NP(), g.K(), w, col) // [O, N*P]: CNHW
			y := swapTwin(g.O, g.N, g.OH*g.OW, f32(yc))            // to NCHW
			if e := maxRelErr(y, yRef); e > 1e-5 {
				t.Errorf("%+v cnhw %v: im2col forward error %g", g, cnhw, e)
			}
			dyc := swapTwin(g.N, g.O, g.OH*g.OW, dy) // CNHW [O, N*P]
			dcol := f32(gemm64(true, false, g.K(), g.NP(), g.O, w, dyc))
			dx := col2imTwin(g, l, dcol)
			if cnhw {
				dx = swapTwin(g.C, g.N, g.H*g.W, dx)
			}
			if e := maxRelErr(dx, dxRef); e > 1e-5 {
				t.Errorf("%+v cnhw %v: col2im gradient error %g", g, cnhw, e)
			}
			// Adjoint identity in float64.
			c := randVec(r, len(col))
			back := col2imTwin(g, l, c)
			var lhs, rhs float64
			for i := range col {
				lhs += float64(col[i]) * float64(c[i])
			}
			for i := range back {
				rhs += float64(xin[i]) * float64(back[i])
			}
			if math.Abs(lhs-rhs) > 1e-4*math.Abs(lhs)+1e-3 {
				t.Errorf("%+v: <im2col x, c> = %g, <x, col2im c> = %g", g, lhs, rhs)
			}
		}
	}
}

// TestMaxPoolTwinMatchesCPU: the max pool kernels' Go twin equals the CPU
// engine's MaxPool2D (float32) forward and backward bit for bit, on inputs
// with ties (values rounded to a coarse grid).
func TestMaxPoolTwinMatchesCPU(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, hw := range [][2]int{{9, 9}, {8, 8}, {7, 10}} {
		n, c := 2, 3
		x := randVec(r, n*c*hw[0]*hw[1])
		for i := range x {
			x[i] = float32(math.Round(float64(x[i]) * 2)) // ties
		}
		g, err := NewPoolGeom(n*c, hw[0], hw[1], 3, 2, 1)
		if err != nil {
			t.Fatal(err)
		}
		dy := randVec(r, n*c*g.OH*g.OW)
		y, _, dx := maxpoolTwin(g, x, dy)
		yRef, dxRef := cpuMaxPool(n, c, hw[0], hw[1], x, dy)
		for i := range yRef {
			if y[i] != yRef[i] {
				t.Fatalf("%v: y[%d] = %v, CPU %v", hw, i, y[i], yRef[i])
			}
		}
		for i := range dxRef {
			if dx[i] != dxRef[i] {
				t.Fatalf("%v: dx[%d] = %v, CPU %v", hw, i, dx[i], dxRef[i])
			}
		}
	}
}

// cpuMaxPool is the CPU engine's 3x3/2 pad-1 max pool in float32.
func cpuMaxPool(n, c, h, w int, x, dy []float32) (y, dx []float32) {
	tp := engine.NewTape[float32](1)
	xv := tp.Input(engine.FromSlice(append([]float32{}, x...), n, c, h, w))
	yv := tp.MaxPool2D(xv, engine.PoolOpts{KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1})
	s := yv.Shape()
	loss := tp.SumAll(tp.Mul(yv, tp.Const(engine.FromSlice(append([]float32{}, dy...), s...))))
	if err := tp.Backward(loss); err != nil {
		panic(err)
	}
	return append([]float32{}, yv.Value.Data()...), append([]float32{}, xv.Grad.Data()...)
}
