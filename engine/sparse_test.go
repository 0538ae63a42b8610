package engine_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/internal/gradcheck"
)

// randomMask keeps each entry with probability 1-sparsity, and empties the
// first output row and the last input column when n allows.
func randomMask(rng *rand.Rand, rows, cols int, sparsity float64) []float64 {
	m := make([]float64, rows*cols)
	for i := range m {
		if rng.Float64() >= sparsity && i/cols != 0 && i%cols != cols-1 {
			m[i] = 1
		}
	}
	return m
}

// maskInto zeroes the entries of t outside mask (so that the dense op on t is
// the dense-masked reference).
func maskInto(t *engine.Tensor[float64], mask []float64) {
	for i := range t.Data() {
		t.Data()[i] *= mask[i]
	}
}

func sparseOf[T engine.Float](tb testing.TB, w *engine.Var[T], mask []float64, groups int, pol engine.KernelPolicy, wg engine.WeightGrad) *engine.SparseWeight[T] {
	m := make([]T, len(mask))
	for i, v := range mask {
		m[i] = T(v)
	}
	s, err := engine.NewSparseWeight("w", w.Value, m, groups)
	if err != nil {
		tb.Fatal(err)
	}
	s.Policy, s.WeightGrad = pol, wg
	return s
}

func sparseConvOp[T engine.Float](tb testing.TB, o engine.ConvOpts, mask []float64, pol engine.KernelPolicy, wg engine.WeightGrad) opFn[T] {
	return func(tp *engine.Tape[T], in []*engine.Var[T]) *engine.Var[T] {
		return tp.SparseConv2D(in[0], in[1], in[2], o, sparseOf(tb, in[1], mask, max(o.Groups, 1), pol, wg))
	}
}

var sparseConvCases = append([]convCase{
	{3, 4, 6, 6, 6, 3, 3, engine.ConvOpts{PadH: 1, PadW: 1, Groups: 2}},
	{2, 8, 9, 9, 70, 1, 1, engine.ConvOpts{}},
	{1, 3, 12, 11, 5, 3, 3, engine.ConvOpts{PadH: 1, PadW: 1}},
	{0, 3, 5, 5, 4, 3, 3, engine.ConvOpts{PadH: 1, PadW: 1}},
}, append(convCases,
	// Large enough for the direct (padded-image) stride-1 path.
	convCase{2, 3, 17, 16, 5, 3, 3, engine.ConvOpts{PadH: 1, PadW: 1}},
	convCase{1, 2, 18, 20, 3, 3, 3, engine.ConvOpts{PadH: 2, PadW: 1, DilationH: 2, DilationW: 2}},
	convCase{2, 4, 16, 16, 6, 3, 2, engine.ConvOpts{PadH: 1, Groups: 2}},
	// The training path's tall layout with several batches per chunk and a
	// short last batch (3, 3, 1 images of 40x38; 4, 3 of the stride-2
	// phases of 63x61, whose phase planes are 33x32), and stride-2 phases of a 5x5 kernel and of an
	// unpadded 3x3 kernel.
	convCase{7, 2, 40, 38, 3, 3, 3, engine.ConvOpts{PadH: 1, PadW: 1}},
	convCase{7, 2, 63, 61, 3, 3, 3, engine.ConvOpts{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},
	convCase{3, 2, 9, 10, 3, 5, 5, engine.ConvOpts{StrideH: 2, StrideW: 2, PadH: 2, PadW: 2}},
	convCase{3, 2, 8, 9, 3, 3, 3, engine.ConvOpts{StrideH: 2, StrideW: 2}},
	// Even kernels on the stride-2 phases: 2x2 unpadded (patchify), 4x4 padded by 1.
	convCase{2, 3, 8, 7, 4, 2, 2, engine.ConvOpts{StrideH: 2, StrideW: 2}},
	convCase{2, 3, 9, 8, 4, 4, 4, engine.ConvOpts{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},
)...)

// TestSparseConv2D checks SparseConv2D against Conv2D on the masked weight
// (values and the gradients of x, w and b) for both kernels, both weight
// gradients, 1 and 3 threads, sparsities from 0 to 1 (empty rows and
// columns) and an empty batch; against finite differences with the masked
// weight gradient; and float32 (the assembly tiles) against float64.
func TestSparseConv2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for ci, tc := range sparseConvCases {
		for _, sp := range []float64{0, 0.5, 0.9, 1} {
			in := tc.inputs(rng)
			g := max(tc.opts.Groups, 1)
			mask := randomMask(rng, tc.o, tc.c/g*tc.kh*tc.kw, sp)
			maskInto(in[1], mask)
			name := fmt.Sprintf("%v sparsity %.1f", tc, sp)
			ref := convOp[float64](tc.opts, true)
			oRef, gRef := runOp(ref, in, nil, nil, 1)
			for _, pol := range []engine.KernelPolicy{engine.KernelSparse, engine.KernelDense, engine.KernelAuto} {
				for _, threads := range []int{1, 3} {
					for _, wg := range []engine.WeightGrad{engine.WeightGradDense, engine.WeightGradMasked} {
						n := fmt.Sprintf("%s policy %v threads %d wgrad %d", name, pol, threads, wg)
						o, gr := runOp(sparseConvOp[float64](t, tc.opts, mask, pol, wg), in, nil, nil, threads)
						expectClose(t, n+": output", o, oRef)
						expectClose(t, n+": dx", gr[0], gRef[0])
						expectClose(t, n+": db", gr[2], gRef[2])
						wantW := gRef[1]
						if wg == engine.WeightGradMasked {
							wantW = append([]float64(nil), wantW...)
							for i := range wantW {
								wantW[i] *= mask[i]
							}
						}
						expectClose(t, n+": dw", gr[1], wantW)
					}
				}
			}
			if tc.n > 0 && ci < 6 && sp == 0.5 {
				gradcheck.Check(t, name, as64(sparseConvOp[float64](t, tc.opts, mask, engine.KernelSparse, engine.WeightGradMasked)), in, nil, 5)
			}
			if tc.n > 0 {
				checkF32(t, name, sparseConvOp[float32](t, tc.opts, mask, engine.KernelSparse, engine.WeightGradDense),
					sparseConvOp[float64](t, tc.opts, mask, engine.KernelSparse, engine.WeightGradDense), in, nil)
				checkF32(t, name+" masked dW", sparseConvOp[float32](t, tc.opts, mask, engine.KernelSparse, engine.WeightGradMasked),
					sparseConvOp[float64](t, tc.opts, mask, engine.KernelSparse, engine.WeightGradMasked), in, nil)
				checkDeterministic(t, name, sparseConvOp[float32](t, tc.opts, mask, engine.KernelSparse, engine.WeightGradMasked), in)
			}
		}
	}
}

func sparseLinearOp[T engine.Float](tb testing.TB, mask []float64, pol engine.KernelPolicy, wg engine.WeightGrad) opFn[T] {
	return func(tp *engine.Tape[T], in []*engine.Var[T]) *engine.Var[T] {
		return tp.SparseLinear(in[0], in[1], in[2], sparseOf(tb, in[1], mask, 1, pol, wg))
	}
}

// TestSparseLinear is TestSparseConv2D for SparseLinear, at batch 0, 1, a
// ragged batch and a batch of 64 (one full assembly tile).
func TestSparseLinear(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	ref := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] {
		return tp.Linear(in[0], in[1], in[2])
	}
	for _, shp := range [][3]int{{0, 5, 3}, {1, 7, 9}, {5, 13, 4}, {64, 20, 33}, {3, 1, 1}} {
		rows, nin, nout := shp[0], shp[1], shp[2]
		for _, sp := range []float64{0, 0.5, 0.9, 1} {
			in := tensors(gradcheck.Random(rng, rows, nin), gradcheck.Random(rng, nout, nin), gradcheck.Random(rng, nout))
			mask := randomMask(rng, nout, nin, sp)
			maskInto(in[1], mask)
			name := fmt.Sprintf("linear x[%d,%d] w[%d,%d] sparsity %.1f", rows, nin, nout, nin, sp)
			oRef, gRef := runOp(ref, in, nil, nil, 1)
			for _, pol := range []engine.KernelPolicy{engine.KernelSparse, engine.KernelDense} {
				for _, threads := range []int{1, 3} {
					for _, wg := range []engine.WeightGrad{engine.WeightGradDense, engine.WeightGradMasked} {
						n := fmt.Sprintf("%s policy %v threads %d wgrad %d", name, pol, threads, wg)
						o, gr := runOp(sparseLinearOp[float64](t, mask, pol, wg), in, nil, nil, threads)
						expectClose(t, n+": output", o, oRef)
						expectClose(t, n+": dx", gr[0], gRef[0])
						expectClose(t, n+": db", gr[2], gRef[2])
						wantW := gRef[1]
						if wg == engine.WeightGradMasked {
							wantW = append([]float64(nil), wantW...)
							for i := range wantW {
								wantW[i] *= mask[i]
							}
						}
						expectClose(t, n+": dw", gr[1], wantW)
					}
				}
			}
			if rows > 0 {
				gradcheck.Check(t, name, as64(sparseLinearOp[float64](t, mask, engine.KernelSparse, engine.WeightGradMasked)), in, nil, 6)
				checkF32(t, name, sparseLinearOp[float32](t, mask, engine.KernelSparse, engine.WeightGradDense),
					sparseLinearOp[float64](t, mask, engine.KernelSparse, engine.WeightGradDense), in, nil)
				checkF32(t, name+" masked dW", sparseLinearOp[float32](t, mask, engine.KernelSparse, engine.WeightGradMasked),
					sparseLinearOp[float64](t, mask, engine.KernelSparse, engine.WeightGradMasked), in, nil)
				checkDeterministic(t, name, sparseLinearOp[float32](t, mask, engine.KernelSparse, engine.WeightGradMasked), in)
			}
		}
	}
}

// TestSparseChoice checks that KernelAuto calibrates once per input shape and
// thread count, records the choice, and that SetChoice fixes a choice.
func TestSparseChoice(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	w := engine.Convert[float32](gradcheck.Random(rng, 8, 16))
	mask := make([]float32, 128)
	for i := range mask {
		if i%10 == 0 {
			mask[i] = 1
		}
	}
	s, err := engine.NewSparseWeight("fc.weight", w, mask, 1)
	if err != nil {
		t.Fatal(err)
	}
	tp := engine.NewTape[float32](2)
	wv := engine.NewParam("fc.weight", w)
	for i := 0; i < 3; i++ {
		tp.Reset()
		tp.SparseLinear(tp.Const(engine.Convert[float32](gradcheck.Random(rng, 4, 16))), wv, nil, s)
	}
	tp.SparseLinear(tp.Const(engine.Convert[float32](gradcheck.Random(rng, 1, 16))), wv, nil, s)
	ch := s.Choices()
	if len(ch) != 2 || ch[0].Input[0] != 4 || ch[1].Input[0] != 1 || ch[0].DenseSec <= 0 || ch[0].SparseSec <= 0 {
		t.Fatalf("choices %+v, want one calibrated choice per input shape", ch)
	}
	if ch[0].Sparse != (ch[0].SparseSec < ch[0].DenseSec) || ch[0].Layer != "fc.weight" || ch[0].Threads != 2 {
		t.Fatalf("choice %+v inconsistent", ch[0])
	}
	s.SetChoice("linear", []int{4, 16}, 2, false)
	if c := s.Choices()[0]; c.Sparse || c.DenseSec != 0 {
		t.Fatalf("SetChoice: %+v", c)
	}
	if _, err := engine.ParseKernelPolicy("fast"); err == nil {
		t.Fatal("bad policy accepted")
	}
}

// TestSparseMismatchPanics checks that an op given a pattern prepared for
// another weight shape refuses with a message (the engine's convention for
// shape errors; callers get an error from NewSparseWeight first).
func TestSparseMismatchPanics(t *testing.T) {
	w := engine.NewTensor[float32](4, 6)
	s, err := engine.NewSparseWeight("w", w, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("no panic for a pattern of another shape")
		}
	}()
	tp := engine.NewTape[float32](1)
	tp.SparseLinear(tp.Const(engine.NewTensor[float32](2, 5)), tp.Const(engine.NewTensor[float32](4, 5)), nil, s)
}

// TestSparseConv2DFreshGrad checks the input gradient SparseConv2D writes
// into a fresh (uncleared) buffer: x is the output of an op (ReLU of
// positive values, an identity), read by two sparse convolutions whose
// outputs are added, so that one backward writes x's gradient fresh and the
// other adds to it; stride 1 and stride 2 (the tall path) and a 1x1 kernel
// (the im2col path, which accumulates into a cleared buffer), against the same
// graph through Conv2D on the masked weights.
func TestSparseConv2DFreshGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for _, tc := range []convCase{
		{3, 3, 9, 8, 4, 3, 3, engine.ConvOpts{PadH: 1, PadW: 1}},
		{3, 3, 9, 8, 4, 3, 3, engine.ConvOpts{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},
		{3, 3, 9, 8, 4, 1, 1, engine.ConvOpts{StrideH: 2, StrideW: 2}},
	} {
		in := tc.inputs(rng)
		for i := range in[0].Data() {
			in[0].Data()[i] = math.Abs(in[0].Data()[i]) + 0.1
		}
		w2 := tc.inputs(rng)[1]
		mask := randomMask(rng, tc.o, tc.c*tc.kh*tc.kw, 0.6)
		maskInto(in[1], mask)
		maskInto(w2, mask)
		graph := func(sparse bool) opFn[float64] {
			return func(tp *engine.Tape[float64], v []*engine.Var[float64]) *engine.Var[float64] {
				x := tp.ReLU(v[0])
				wb := tp.Input(engine.Convert[float64](w2))
				if !sparse {
					return tp.Add(tp.Conv2D(x, v[1], v[2], tc.opts), tp.Conv2D(x, wb, nil, tc.opts))
				}
				return tp.Add(tp.SparseConv2D(x, v[1], v[2], tc.opts, sparseOf(t, v[1], mask, 1, engine.KernelSparse, engine.WeightGradMasked)),
					tp.SparseConv2D(x, wb, nil, tc.opts, sparseOf(t, wb, mask, 1, engine.KernelSparse, engine.WeightGradMasked)))
			}
		}
		oRef, gRef := runOp(graph(false), in, nil, nil, 1)
		for _, threads := range []int{1, 2} {
			o, g := runOp(graph(true), in, nil, nil, threads)
			name := fmt.Sprintf("%v threads %d", tc, threads)
			expectClose(t, name+": output", o, oRef)
			expectClose(t, name+": dx", g[0], gRef[0])
		}
	}
}
