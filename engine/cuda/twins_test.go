package cuda

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gap-harness/gap/engine"
)

// The Go twins of nn.cu's index maps (host.go) are checked against the CPU
// engine here, without a GPU; the GPU tests compare the kernels with them
// bit for bit.

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
		{4, 32, 8, 8, 64, 1, 1, 2, 2, 0, 0}, // a small ResNet's layer3.0, batch 4
		{4, 16, 8, 8, 16, 3, 3, 2, 2, 1, 1},
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
		yRef, dxRef, dwRef := cpuConv(g, x, w, dy)
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
			if e := maxRelErr(f32(gemm64(false, true, g.O, g.K(), g.NP(), dyc, col)), dwRef); e > 1e-5 {
				t.Errorf("%+v cnhw %v: weight gradient error %g", g, cnhw, e)
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
