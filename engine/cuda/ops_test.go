package cuda

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gap-harness/gap/engine"
)

// Conformance tests of the layer kernels (nn.cu) against the CPU engine, on
// small random inputs. Tolerances: index maps and copies (im2col, col2im,
// max pool, global average pool, layout swap, ReLU mask) bit-equal to their
// Go twin / the CPU engine in float32; GEMM-based ops (convolution, linear)
// max error <= 1e-5 of the largest value against float64; batch norm 1e-5
// (forward) and 1e-4 (backward) of the largest value against float64;
// cross-entropy 1e-6 relative against float64. Every test skips with the
// loader's message where no GPU is found.

// forBackends runs a conformance test on the GPU (skipped without one), on
// Host (the kernels' Go twins) and on the CUDA source run on the CPU
// (emu_test.go; skipped without g++).
func forBackends(t *testing.T, test func(t *testing.T, be Backend)) {
	t.Run("host", func(t *testing.T) { test(t, Host{}) })
	t.Run("emulated", func(t *testing.T) { test(t, emuOps(t)) })
	t.Run("gpu", func(t *testing.T) {
		o, err := NewOps(device(t))
		if err != nil {
			t.Fatal(err)
		}
		test(t, o)
	})
}

func alloc(t *testing.T, be Backend, n int) *Buffer {
	t.Helper()
	b, err := be.Alloc(n)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func bup(t *testing.T, be Backend, v []float32) *Buffer {
	t.Helper()
	b := alloc(t, be, len(v))
	if err := be.Upload(b, v); err != nil {
		t.Fatal(err)
	}
	return b
}

func bdown(t *testing.T, be Backend, b *Buffer) []float32 {
	t.Helper()
	if err := be.Sync(); err != nil {
		t.Fatal(err)
	}
	v := make([]float32, b.Len())
	if err := be.Download(v, b); err != nil {
		t.Fatal(err)
	}
	return v
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func bitEqual(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func within(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	e := maxRelErr(got, want)
	t.Logf("%s: max error %.3g of the largest value (tolerance %g)", what, e, tol)
	if e > tol || math.IsNaN(e) {
		t.Errorf("%s: max error %g of the largest value > %g", what, e, tol)
	}
}

func TestNetKernelSourceNamesEveryKernel(t *testing.T) {
	for _, k := range NetKernelNames {
		if !strings.Contains(NetSource, `extern "C" __global__ void `+k+"(") {
			t.Errorf("kernel %s not in nn.cu", k)
		}
	}
}

// TestIm2colCol2imMatchTwins: the GPU im2col, col2im (overwrite and
// accumulate) and layout swap equal their Go twins bit for bit, in NCHW and
// CNHW addressing.
func TestIm2colCol2imMatchTwins(t *testing.T) {
	forBackends(t, func(t *testing.T, o Backend) {
		r := rand.New(rand.NewPCG(21, 22))
		for _, g := range convGeoms(t) {
			for _, cnhw := range []bool{false, true} {
				l := NCHW(g.N, g.C, g.H, g.W)
				if cnhw {
					l = g.In()
				}
				x := randVec(r, l.Len())
				dx, col := bup(t, o, x), alloc(t, o, g.K()*g.NP())
				must(t, o.Im2col(g, l, dx, col))
				bitEqual(t, "im2col", bdown(t, o, col), im2colTwin(g, l, x))
				c := randVec(r, g.K()*g.NP())
				dc := bup(t, o, c)
				must(t, o.Col2im(g, l, dc, dx, false))
				want := col2imTwin(g, l, c)
				bitEqual(t, "col2im", bdown(t, o, dx), want)
				base := randVec(r, l.Len())
				db := bup(t, o, base)
				must(t, o.Col2im(g, l, dc, db, true))
				for i := range want {
					want[i] += base[i]
				}
				bitEqual(t, "col2im accumulate", bdown(t, o, db), want)
			}
		}
		x := randVec(r, 3*5*7)
		dx, out := bup(t, o, x), alloc(t, o, len(x))
		must(t, o.Swap01(3, 5, 7, dx, out))
		bitEqual(t, "swap01", bdown(t, o, out), swapTwin(3, 5, 7, x))
	})
}

// TestConvMatchesCPU: convolution forward, input gradient (overwrite and
// accumulate) and weight gradient on CNHW activations against the CPU
// engine's Conv2D in float64 (max error <= 1e-5 of the largest value), for
// the stem, 3x3 stride 1/2 and 1x1 stride 1/2 shapes; and on Ops the
// split-K weight gradient (same tolerance, repeat bit-identical).
func TestConvMatchesCPU(t *testing.T) {
	forBackends(t, func(t *testing.T, o Backend) {
		r := rand.New(rand.NewPCG(23, 24))
		for _, g := range convGeoms(t) {
			x, w, dy := randVec(r, g.N*g.C*g.H*g.W), randVec(r, g.O*g.K()), randVec(r, g.N*g.O*g.OH*g.OW)
			yRef, dxRef, dwRef := cpuConv(g, x, w, dy)
			dX := bup(t, o, swapTwin(g.N, g.C, g.H*g.W, x))
			dW := bup(t, o, w)
			dDY := bup(t, o, swapTwin(g.N, g.O, g.OH*g.OW, dy))
			col := alloc(t, o, max(g.ColLen(), 1))
			y := alloc(t, o, g.Out().Len())
			must(t, o.ConvForward(g, dX, dW, y, col))
			within(t, "conv forward", swapTwin(g.O, g.N, g.OH*g.OW, bdown(t, o, y)), yRef, 1e-5)
			dx := alloc(t, o, g.In().Len())
			must(t, o.ConvBackwardData(g, dW, dDY, dx, col, false))
			within(t, "conv input gradient", swapTwin(g.C, g.N, g.H*g.W, bdown(t, o, dx)), dxRef, 1e-5)
			must(t, o.ConvBackwardData(g, dW, dDY, dx, col, true)) // dx = 2 * gradient
			twice := make([]float64, len(dxRef))
			for i, v := range dxRef {
				twice[i] = 2 * v
			}
			within(t, "conv input gradient, accumulated", swapTwin(g.C, g.N, g.H*g.W, bdown(t, o, dx)), twice, 1e-5)
			dw := alloc(t, o, g.O*g.K())
			must(t, o.ConvBackwardWeight(g, dX, dDY, dw, col))
			within(t, "conv weight gradient", bdown(t, o, dw), dwRef, 1e-5)
		}
		// Split-K weight gradient (Ops only): over 4 groups of images, against
		// the CPU, and bit-identical when repeated.
		ops, ok := o.(*Ops)
		if !ok {
			return
		}
		g, err := NewConvGeom(4, 3, 32, 32, 4, 3, 3, 1, 1, 1, 1)
		must(t, err)
		x, w, dy := randVec(r, g.N*g.C*g.H*g.W), randVec(r, g.O*g.K()), randVec(r, g.N*g.O*g.OH*g.OW)
		_, _, dwRef := cpuConv(g, x, w, dy)
		must(t, ops.SetSplitK(4))
		defer ops.SetSplitK(0)
		if ops.splitFor(g) != 4 {
			t.Fatalf("split %d, want 4", ops.splitFor(g))
		}
		dX, dDY := bup(t, o, swapTwin(g.N, g.C, g.H*g.W, x)), bup(t, o, swapTwin(g.N, g.O, g.OH*g.OW, dy))
		col, dw := alloc(t, o, g.ColLen()), alloc(t, o, g.O*g.K())
		must(t, ops.ConvBackwardWeight(g, dX, dDY, dw, col))
		first := bdown(t, o, dw)
		within(t, "conv weight gradient, split-K", first, dwRef, 1e-5)
		must(t, ops.ConvBackwardWeight(g, dX, dDY, dw, col))
		bitEqual(t, "split-K repeat", bdown(t, o, dw), first)
	})
}

// TestBatchNormMatchesCPU: training-mode batch norm forward (output, running
// statistics) and backward (dx, dgamma, dbeta) against the CPU engine's
// BatchNorm in float64, in NCHW and CNHW addressing, with more elements per
// channel than threads per block; and a repeat is bit-identical.
func TestBatchNormMatchesCPU(t *testing.T) {
	forBackends(t, func(t *testing.T, o Backend) {
		r := rand.New(rand.NewPCG(25, 26))
		const n, c, h, w = 4, 5, 30, 31
		x := randVec(r, n*c*h*w)
		for i := range x {
			x[i] = 3*x[i] + 2 + float32(i/(h*w)%c) // per-channel offsets
		}
		dy, gamma, beta := randVec(r, len(x)), randVec(r, c), randVec(r, c)
		// CPU reference.
		tp := engine.NewTape[float64](1)
		xv := tp.Input(engine.FromSlice(f64(x), n, c, h, w))
		gv, bv := engine.NewParam("g", engine.FromSlice(f64(gamma), c)), engine.NewParam("b", engine.FromSlice(f64(beta), c))
		st := engine.NewBNState[float64](c)
		yv := tp.BatchNorm(xv, gv, bv, st, true)
		must(t, tp.Backward(tp.SumAll(tp.Mul(yv, tp.Const(engine.FromSlice(f64(dy), n, c, h, w))))))
		for _, cnhw := range []bool{false, true} {
			l, xin, dyin := NCHW(n, c, h, w), x, dy
			if cnhw {
				l, xin, dyin = CNHW(n, c, h, w), swapTwin(n, c, h*w, x), swapTwin(n, c, h*w, dy)
			}
			back := func(v []float32) []float32 {
				if cnhw {
					return swapTwin(c, n, h*w, v)
				}
				return v
			}
			ones := make([]float32, c)
			for i := range ones {
				ones[i] = 1
			}
			var first [][]float32
			for rep := 0; rep < 2; rep++ {
				bs := BNState{Mean: alloc(t, o, c), InvStd: alloc(t, o, c), RunMean: alloc(t, o, c), RunVar: bup(t, o, ones)}
				dX, dY, dG, dB := bup(t, o, xin), bup(t, o, dyin), bup(t, o, gamma), bup(t, o, beta)
				y, dx, dg, db := alloc(t, o, len(x)), alloc(t, o, len(x)), alloc(t, o, c), alloc(t, o, c)
				must(t, o.BatchNormForward(l, dX, y, dG, dB, bs, 1e-5, 0.1))
				must(t, o.BatchNormBackward(l, dX, dY, dG, bs, dx, dg, db))
				got := [][]float32{back(bdown(t, o, y)), back(bdown(t, o, dx)), bdown(t, o, dg), bdown(t, o, db),
					bdown(t, o, bs.RunMean), bdown(t, o, bs.RunVar)}
				if rep == 1 {
					for i := range got {
						bitEqual(t, "batch norm repeat", got[i], first[i])
					}
					// In place: dx written over dy.
					must(t, o.BatchNormBackward(l, dX, dY, dG, bs, dY, dg, db))
					bitEqual(t, "batch norm dx in place", back(bdown(t, o, dY)), got[1])
					break
				}
				first = got
				within(t, "bn y", got[0], yv.Value.Data(), 1e-5)
				within(t, "bn dx", got[1], xv.Grad.Data(), 1e-4)
				within(t, "bn dgamma", got[2], gv.Grad.Data(), 1e-4)
				within(t, "bn dbeta", got[3], bv.Grad.Data(), 1e-4)
				within(t, "bn running mean", got[4], st.RunningMean.Data(), 1e-5)
				within(t, "bn running var", got[5], st.RunningVar.Data(), 1e-5)
			}
		}
	})
}

// TestPoolAndReLUMatchCPU: max pool 3x3/2 (forward, argmax, gather backward,
// inputs with ties) and global average pool (NCHW and CNHW) bit-equal to
// the CPU engine in float32; the ReLU mask bit-equal to its definition.
func TestPoolAndReLUMatchCPU(t *testing.T) {
	forBackends(t, func(t *testing.T, o Backend) {
		r := rand.New(rand.NewPCG(27, 28))
		for _, hw := range [][2]int{{9, 9}, {8, 8}, {7, 10}, {112, 112}} {
			n, c := 2, 3
			x := randVec(r, n*c*hw[0]*hw[1])
			for i := range x {
				x[i] = float32(math.Round(float64(x[i]) * 2))
			}
			g, err := NewPoolGeom(n*c, hw[0], hw[1], 3, 2, 1)
			must(t, err)
			dy := randVec(r, n*c*g.OH*g.OW)
			yRef, dxRef := cpuMaxPool(n, c, hw[0], hw[1], x, dy)
			_, argT, _ := maxpoolTwin(g, x, dy)
			dX, dDY := bup(t, o, x), bup(t, o, dy)
			y, arg, dx := alloc(t, o, len(dy)), alloc(t, o, len(dy)), alloc(t, o, len(x))
			must(t, o.MaxPoolForward(g, dX, y, arg))
			must(t, o.MaxPoolBackward(g, dDY, arg, dx))
			bitEqual(t, "maxpool y", bdown(t, o, y), yRef)
			ab := bdown(t, o, arg)
			for i := range ab {
				if ai := int32(math.Float32bits(ab[i])); ai != argT[i] {
					t.Fatalf("maxpool arg[%d] = %d, twin %d", i, ai, argT[i])
				}
			}
			bitEqual(t, "maxpool dx", bdown(t, o, dx), dxRef)
		}
		// Global average pool.
		const n, c, h, w = 3, 4, 7, 7
		x := randVec(r, n*c*h*w)
		dy := randVec(r, n*c)
		tp := engine.NewTape[float32](1)
		xv := tp.Input(engine.FromSlice(append([]float32{}, x...), n, c, h, w))
		yv := tp.GlobalAvgPool2D(xv)
		must(t, tp.Backward(tp.SumAll(tp.Mul(yv, tp.Const(engine.FromSlice(append([]float32{}, dy...), n, c))))))
		for _, cnhw := range []bool{false, true} {
			l, xin := NCHW(n, c, h, w), x
			if cnhw {
				l, xin = CNHW(n, c, h, w), swapTwin(n, c, h*w, x)
			}
			dX, dDY := bup(t, o, xin), bup(t, o, dy)
			out, dx := alloc(t, o, n*c), alloc(t, o, len(x))
			must(t, o.GlobalAvgPoolForward(l, dX, out))
			must(t, o.GlobalAvgPoolBackward(l, dDY, dx))
			bitEqual(t, "gap y", bdown(t, o, out), yv.Value.Data())
			got := bdown(t, o, dx)
			if cnhw {
				got = swapTwin(c, n, h*w, got)
			}
			bitEqual(t, "gap dx", got, xv.Grad.Data())
		}
		// ReLU and its mask.
		a, d := randVec(r, 1000), randVec(r, 1000)
		dA, dD, y := bup(t, o, a), bup(t, o, d), alloc(t, o, 1000)
		must(t, o.ReLU(1000, dA, y))
		must(t, o.ReLUMask(1000, y, dD))
		for i := range d {
			if !(a[i] > 0) {
				d[i] = 0
			}
		}
		bitEqual(t, "relu mask", bdown(t, o, dD), d)
	})
}

// TestLinearAndLossMatchCPU: linear forward/backward (GEMM + bias) against
// the CPU engine's Linear in float64 (1e-5 of the largest value), and
// softmax cross-entropy (mean over the batch) with its gradient against the
// CPU engine's CrossEntropy in float64 (1e-6).
func TestLinearAndLossMatchCPU(t *testing.T) {
	forBackends(t, func(t *testing.T, o Backend) {
		r := rand.New(rand.NewPCG(29, 30))
		const n, in, out = 6, 37, 11
		x, w, b := randVec(r, n*in), randVec(r, out*in), randVec(r, out)
		labels := make([]int32, n)
		for i := range labels {
			labels[i] = int32(r.IntN(out))
		}
		tp := engine.NewTape[float64](1)
		xv := tp.Input(engine.FromSlice(f64(x), n, in))
		wv, bv := engine.NewParam("w", engine.FromSlice(f64(w), out, in)), engine.NewParam("b", engine.FromSlice(f64(b), out))
		logits := tp.Linear(xv, wv, bv)
		loss := tp.CrossEntropy(logits, labels, engine.CEOpts{})
		must(t, tp.Backward(loss))

		dX, dW, dB := bup(t, o, x), bup(t, o, w), bup(t, o, b)
		y := alloc(t, o, n*out)
		must(t, o.LinearForward(n, in, out, dX, dW, dB, y))
		within(t, "linear y", bdown(t, o, y), logits.Value.Data(), 1e-5)
		lab := alloc(t, o, n)
		must(t, o.UploadInt32(lab, labels))
		rows, l, dl := alloc(t, o, n), alloc(t, o, 1), alloc(t, o, n*out)
		// The loss on the CPU's logits, so the cross-entropy is checked alone.
		must(t, o.Upload(y, f32(logits.Value.Data())))
		must(t, o.SoftmaxCrossEntropy(n, out, y, lab, rows, l, dl))
		within(t, "cross-entropy", bdown(t, o, l), loss.Value.Data(), 1e-6)
		// The CPU's gradient of the loss with respect to the logits, from a leaf
		// (an intermediate's gradient is recycled during Backward).
		tl := engine.NewTape[float64](1)
		lv := tl.Input(logits.Value.Clone())
		must(t, tl.Backward(tl.CrossEntropy(lv, labels, engine.CEOpts{})))
		within(t, "cross-entropy gradient", bdown(t, o, dl), lv.Grad.Data(), 1e-6)
		dx, dw, db := alloc(t, o, n*in), alloc(t, o, out*in), alloc(t, o, out)
		must(t, o.LinearBackward(n, in, out, dX, dW, dl, dx, dw, db))
		within(t, "linear dx", bdown(t, o, dx), xv.Grad.Data(), 1e-5)
		within(t, "linear dw", bdown(t, o, dw), wv.Grad.Data(), 1e-5)
		within(t, "linear db", bdown(t, o, db), bv.Grad.Data(), 1e-5)
	})
}
