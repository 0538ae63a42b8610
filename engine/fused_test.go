package engine_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/internal/gradcheck"
)

// TestFusedConv2D checks FusedConv2D (dense and sparse kernels, every
// epilogue) against Conv2D on the masked weight followed by Add and ReLU, in
// float64 (exact up to summation order) and float32 (the assembly tiles), on
// the sparse-op shapes plus ResNet-like ones that take the direct and the
// batched-images paths.
func TestFusedConv2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	cases := append([]convCase{
		{3, 8, 8, 8, 16, 1, 1, engine.ConvOpts{}},                                          // small images: wide mode
		{2, 4, 20, 20, 8, 3, 3, engine.ConvOpts{PadH: 1, PadW: 1}},                         // direct path
		{2, 8, 20, 20, 8, 1, 1, engine.ConvOpts{StrideH: 2, StrideW: 2}},                   // strided 1x1
		{2, 4, 16, 16, 8, 1, 1, engine.ConvOpts{}},                                         // 1x1 in place
		{1, 4, 17, 17, 8, 3, 3, engine.ConvOpts{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}}, // strided 3x3
	}, sparseConvCases...)
	for _, tc := range cases {
		for _, sp := range []float64{0, 0.9, 1} {
			in := tc.inputs(rng)
			g := max(tc.opts.Groups, 1)
			mask := randomMask(rng, tc.o, tc.c/g*tc.kh*tc.kw, sp)
			maskInto(in[1], mask)
			for _, ep := range []struct{ res, relu, bias bool }{{false, false, true}, {false, true, true}, {true, true, true}, {true, false, false}} {
				name := fmt.Sprintf("%v sparsity %.1f res=%v relu=%v bias=%v", tc, sp, ep.res, ep.relu, ep.bias)
				checkFused[float64](t, name, tc, in, mask, ep.res, ep.relu, ep.bias, rng, 1e-12)
				checkFused[float32](t, name+" float32", tc, in, mask, ep.res, ep.relu, ep.bias, rng, 1e-5)
			}
		}
	}
}

func checkFused[T engine.Float](t *testing.T, name string, tc convCase, in64 []*engine.Tensor[float64], mask []float64, res, relu, bias bool, rng *rand.Rand, tol float64) {
	t.Helper()
	conv := func(x *engine.Tensor[float64]) *engine.Tensor[T] {
		out := engine.NewTensor[T](x.Shape()...)
		for i, v := range x.Data() {
			out.Data()[i] = T(v)
		}
		return out
	}
	x, w, b := conv(in64[0]), conv(in64[1]), conv(in64[2])
	for _, threads := range []int{1, 3} {
		tp := engine.NewTape[T](threads)
		tp.SetNoGrad(true)
		var bv *engine.Var[T]
		var bd []T
		if bias {
			bv, bd = tp.Const(b), b.Data()
		}
		ref := tp.Conv2D(tp.Const(x), tp.Const(w), bv, tc.opts)
		var rv *engine.Var[T]
		if res {
			r := engine.NewTensor[T](ref.Shape()...)
			copy(r.Data(), conv(gradcheck.Random(rng, ref.Shape()...)).Data())
			rv = tp.Const(r)
			ref = tp.Add(ref, rv)
		}
		if relu {
			ref = tp.ReLU(ref)
		}
		ops := engine.FusedConvOpts[T]{Bias: bd, Residual: rv, ReLU: relu}
		wv := tp.Const(w)
		for _, pol := range []engine.KernelPolicy{-1, engine.KernelSparse, engine.KernelDense, engine.KernelAuto} {
			var s *engine.SparseWeight[T]
			if pol >= 0 {
				s = sparseOf(t, wv, mask, max(tc.opts.Groups, 1), pol, engine.WeightGradDense)
			}
			got := tp.FusedConv2D(tp.Const(x), w, tc.opts, s, ops)
			var maxAbs, maxDiff float64
			for i, v := range ref.Value.Data() {
				maxAbs = max(maxAbs, math.Abs(float64(v)))
				maxDiff = max(maxDiff, math.Abs(float64(got.Value.Data()[i]-v)))
			}
			if maxDiff > tol*max(1, maxAbs) {
				t.Errorf("%s threads %d policy %d: max diff %g (max |ref| %g)", name, threads, pol, maxDiff, maxAbs)
			}
		}
	}
}

// TestFusedConv2DNeedsNoGrad checks that FusedConv2D refuses an input that
// needs a gradient on a recording tape.
func TestFusedConv2DNeedsNoGrad(t *testing.T) {
	tp := engine.NewTape[float32](1)
	x := tp.Input(engine.NewTensor[float32](1, 1, 3, 3))
	w := engine.NewTensor[float32](1, 1, 1, 1)
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	tp.FusedConv2D(x, w, engine.ConvOpts{}, nil, engine.FusedConvOpts[float32]{})
}

// TestFusedConv2DGeometries checks the fused inference convolution on random
// geometries that reach every forward path of the sparse kernels (direct
// stride-1 on the padded image, the stride-2 phase planes, im2col, wide
// mode, 1x1 in place and strided) against Conv2D + Add + ReLU: kernels 1x1
// to 5x5 (square or not), strides 1 and 2, paddings up to half the kernel,
// odd and even sizes, groups, sparsities 0.5, 0.9 and 1 with an empty row
// and an empty column, float64 and float32, 1 and 3 threads.
func TestFusedConv2DGeometries(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	for i := 0; i < 40; i++ {
		kh, kw := 1+rng.IntN(5), 1+rng.IntN(5)
		if i%4 == 0 {
			kw = kh
		}
		s := 1 + rng.IntN(2)
		g := 1 + rng.IntN(2)
		tc := convCase{n: 1 + rng.IntN(3), c: g * (1 + rng.IntN(4)), h: kh + rng.IntN(24), w: kw + rng.IntN(24),
			o: g * (1 + rng.IntN(5)), kh: kh, kw: kw,
			opts: engine.ConvOpts{StrideH: s, StrideW: s, PadH: rng.IntN(kh/2 + 1), PadW: rng.IntN(kw/2 + 1), Groups: g}}
		for _, sp := range []float64{0.5, 0.9, 1} {
			in := tc.inputs(rng)
			mask := randomMask(rng, tc.o, tc.c/g*tc.kh*tc.kw, sp)
			maskInto(in[1], mask)
			res, relu := rng.IntN(2) == 0, rng.IntN(2) == 0
			name := fmt.Sprintf("%v sparsity %.1f res=%v relu=%v", tc, sp, res, relu)
			checkFused[float64](t, name, tc, in, mask, res, relu, true, rng, 1e-12)
			checkFused[float32](t, name+" float32", tc, in, mask, res, relu, true, rng, 1e-5)
		}
	}
}
