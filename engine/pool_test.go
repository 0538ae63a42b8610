package engine_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/internal/gradcheck"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func maxPoolOp[T engine.Float](o engine.PoolOpts) opFn[T] {
	return func(tp *engine.Tape[T], in []*engine.Var[T]) *engine.Var[T] { return tp.MaxPool2D(in[0], o) }
}

func avgPoolOp[T engine.Float](o engine.PoolOpts) opFn[T] {
	return func(tp *engine.Tape[T], in []*engine.Var[T]) *engine.Var[T] { return tp.AvgPool2D(in[0], o) }
}

func gapOp[T engine.Float]() opFn[T] {
	return func(tp *engine.Tape[T], in []*engine.Var[T]) *engine.Var[T] { return tp.GlobalAvgPool2D(in[0]) }
}

var poolCases = []engine.PoolOpts{
	{KH: 2, KW: 2},
	{KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
	{KH: 3, KW: 2, StrideH: 1, StrideW: 2},
	{KH: 2, KW: 3, StrideH: 2, StrideW: 1, PadH: 1, PadW: 1},
}

// TestMaxPool2D checks max pooling against finite differences (random inputs
// have no ties), gorgonia's MaxPool2D (values and gradients) and float32.
func TestMaxPool2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, o := range poolCases {
		name := fmt.Sprintf("maxpool %+v", o)
		x := gradcheck.Random(rng, 2, 3, 7, 6)
		f := as64(maxPoolOp[float64](o))
		gradcheck.Check(t, name, f, tensors(x), nil, 1)
		sh, sw := o.StrideH, o.StrideW
		if sh == 0 {
			sh, sw = o.KH, o.KW
		}
		ref := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			return G.MaxPool2D(in[0], tensor.Shape{o.KH, o.KW}, []int{o.PadH, o.PadW}, []int{sh, sw})
		}
		gradcheck.CheckReference(t, name, f, ref, tensors(x), nil, 2)
		checkF32(t, name, maxPoolOp[float32](o), maxPoolOp[float64](o), tensors(x), nil)
	}
}

// naiveAvgPool returns the count_include_pad average pooling of x [N,C,H,W] and
// the gradient of sum(out*w) with respect to x, by direct loops.
func naiveAvgPool(x *engine.Tensor[float64], o engine.PoolOpts, w []float64) (out, gx []float64) {
	s := x.Shape()
	sh, sw := o.StrideH, o.StrideW
	if sh == 0 {
		sh, sw = o.KH, o.KW
	}
	oh := (s[2]+2*o.PadH-o.KH)/sh + 1
	ow := (s[3]+2*o.PadW-o.KW)/sw + 1
	gx = make([]float64, x.Len())
	for n := 0; n < s[0]; n++ {
		for c := 0; c < s[1]; c++ {
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					var sum float64
					oi := ((n*s[1]+c)*oh+i)*ow + j
					for a := 0; a < o.KH; a++ {
						for b := 0; b < o.KW; b++ {
							h, v := i*sh-o.PadH+a, j*sw-o.PadW+b
							if h < 0 || h >= s[2] || v < 0 || v >= s[3] {
								continue
							}
							xi := ((n*s[1]+c)*s[2]+h)*s[3] + v
							sum += x.Data()[xi]
							gx[xi] += w[oi] / float64(o.KH*o.KW)
						}
					}
					out = append(out, sum/float64(o.KH*o.KW))
				}
			}
		}
	}
	return out, gx
}

// TestAvgPool2D checks average pooling (count_include_pad) against finite
// differences, direct loops for the value and the gradient, and float32.
// gorgonia's AveragePool2D backward is wrong, so it is not used.
func TestAvgPool2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	for _, o := range poolCases {
		name := fmt.Sprintf("avgpool %+v", o)
		x := gradcheck.Random(rng, 2, 3, 7, 6)
		f := as64(avgPoolOp[float64](o))
		gradcheck.Check(t, name, f, tensors(x), nil, 1)
		tp := engine.NewTape[float64](1)
		n := f(tp, []*engine.Var[float64]{tp.Const(x)}).Value.Len()
		w := gradcheck.Weights(rng, n)
		out, grads, err := gradcheck.Analytic(f, tensors(x), w, nil)
		if err != nil {
			t.Fatal(err)
		}
		wantOut, wantG := naiveAvgPool(x, o, w)
		expectClose(t, name+" forward vs direct loop", out.Data(), wantOut)
		expectClose(t, name+" gradient vs direct loop", grads[0].Data(), wantG)
		checkF32(t, name, avgPoolOp[float32](o), avgPoolOp[float64](o), tensors(x), nil)
	}
}

// TestGlobalAvgPool2D checks the channel mean against finite differences, the
// closed forms (mean; gradient w/(H*W)), gorgonia's forward and float32.
func TestGlobalAvgPool2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	x := gradcheck.Random(rng, 3, 4, 5, 6)
	f := as64(gapOp[float64]())
	gradcheck.Check(t, "gap", f, tensors(x), nil, 1)
	w := gradcheck.Weights(rng, 12)
	out, grads, err := gradcheck.Analytic(f, tensors(x), w, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := out.Shape(); len(s) != 2 || s[0] != 3 || s[1] != 4 {
		t.Fatalf("gap shape %v", s)
	}
	wantOut := make([]float64, 12)
	wantG := make([]float64, x.Len())
	for p := 0; p < 12; p++ {
		for i := 0; i < 30; i++ {
			wantOut[p] += x.Data()[p*30+i] / 30
			wantG[p*30+i] = w[p] / 30
		}
	}
	expectClose(t, "gap forward", out.Data(), wantOut)
	expectClose(t, "gap gradient", grads[0].Data(), wantG)
	rout, _, err := gradcheck.Reference(func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		return G.GlobalAveragePool2D(in[0])
	}, tensors(x), make([]float64, 12), map[int]bool{0: true})
	if err != nil {
		t.Fatal(err)
	}
	expectClose(t, "gap forward vs gorgonia", out.Data(), rout)
	checkF32(t, "gap", gapOp[float32](), gapOp[float64](), tensors(x), nil)
}

// TestPoolParallel runs the pools on inputs large enough to be split over 2
// threads: float32 against float64, and bit-identical repeats.
func TestPoolParallel(t *testing.T) {
	rng := rand.New(rand.NewPCG(37, 38))
	x := tensors(gradcheck.Random(rng, 4, 8, 16, 16))
	o := engine.PoolOpts{KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}
	checkF32(t, "maxpool parallel", maxPoolOp[float32](o), maxPoolOp[float64](o), x, nil)
	checkDeterministic(t, "maxpool parallel", maxPoolOp[float32](o), x)
	checkF32(t, "avgpool parallel", avgPoolOp[float32](o), avgPoolOp[float64](o), x, nil)
	checkDeterministic(t, "avgpool parallel", avgPoolOp[float32](o), x)
	checkF32(t, "gap parallel", gapOp[float32](), gapOp[float64](), x, nil)
	checkDeterministic(t, "gap parallel", gapOp[float32](), x)
}

// TestMaxPool2DInference checks the inference max pool against MaxPool2D bit
// for bit (random inputs: no NaNs, no signed-zero ties) on shapes and
// windows with every kind of clipping, float32 and float64, and that it
// refuses an input that needs a gradient.
func TestMaxPool2DInference(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	opts := append(append([]engine.PoolOpts(nil), poolCases...),
		engine.PoolOpts{KH: 3, KW: 3, StrideH: 2, StrideW: 2}, engine.PoolOpts{KH: 1, KW: 1},
		engine.PoolOpts{KH: 4, KW: 5, StrideH: 3, StrideW: 2, PadH: 2, PadW: 2})
	for _, o := range opts {
		for _, hw := range [][2]int{{1, 1}, {2, 2}, {5, 7}, {8, 8}, {9, 6}, {112, 112}} {
			if hw[0]+2*o.PadH < o.KH || hw[1]+2*o.PadW < o.KW {
				continue
			}
			n, c := 2, 3
			if hw[0] == 112 {
				n, c = 1, 2
			}
			x32 := engine.NewTensor[float32](n, c, hw[0], hw[1])
			x64 := engine.NewTensor[float64](n, c, hw[0], hw[1])
			for i := range x32.Data() {
				v := rng.NormFloat64()
				x32.Data()[i], x64.Data()[i] = float32(v), v
			}
			name := fmt.Sprintf("%+v on %v", o, hw)
			tp := engine.NewTape[float32](2)
			want, got := tp.MaxPool2D(tp.Const(x32), o).Value.Data(), tp.MaxPool2DInference(tp.Const(x32), o).Value.Data()
			if len(got) != len(want) {
				t.Fatalf("%s: %d outputs, want %d", name, len(got), len(want))
			}
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s float32: output %d = %g, MaxPool2D %g", name, i, got[i], want[i])
				}
			}
			tp64 := engine.NewTape[float64](1)
			want64, got64 := tp64.MaxPool2D(tp64.Const(x64), o).Value.Data(), tp64.MaxPool2DInference(tp64.Const(x64), o).Value.Data()
			for i := range want64 {
				if math.Float64bits(got64[i]) != math.Float64bits(want64[i]) {
					t.Fatalf("%s float64: output %d = %g, MaxPool2D %g", name, i, got64[i], want64[i])
				}
			}
		}
	}
	tp := engine.NewTape[float32](1)
	x := tp.Input(engine.NewTensor[float32](1, 1, 4, 4))
	defer func() {
		if recover() == nil {
			t.Fatal("MaxPool2DInference accepted an input that needs a gradient")
		}
	}()
	tp.MaxPool2DInference(x, engine.PoolOpts{KH: 2, KW: 2})
}

// TestMaxPool2DTies checks which element of a window gets the gradient when
// the maximum is tied: the first in row-major order, for the 2x2 stride-2
// path and the general one alike. Inputs from {0, 1, 2} tie often; the
// reference is a direct loop.
func TestMaxPool2DTies(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, o := range []engine.PoolOpts{{KH: 2, KW: 2}, {KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}, {KH: 2, KW: 3, StrideH: 1, StrideW: 2}} {
		const n, c, h, w = 2, 3, 7, 6
		xd := make([]float64, n*c*h*w)
		for i := range xd {
			xd[i] = float64(rng.IntN(3))
		}
		tp := engine.NewTape[float32](2)
		x := engine.NewParam("x", engine.Convert[float32](engine.FromSlice(xd, n, c, h, w)))
		out := tp.MaxPool2D(x, o)
		dy := make([]float64, out.Value.Len())
		for i := range dy {
			dy[i] = float64(i + 1)
		}
		if err := tp.Backward(weighted(tp, out, dy)); err != nil {
			t.Fatal(err)
		}
		sh, sw := o.StrideH, o.StrideW
		if sh == 0 {
			sh, sw = o.KH, o.KW
		}
		os := out.Value.Shape()
		want := make([]float64, len(xd))
		for p := 0; p < n*c; p++ {
			for i := 0; i < os[2]; i++ {
				for j := 0; j < os[3]; j++ {
					best, bv := -1, 0.0
					for a := i*sh - o.PadH; a < i*sh-o.PadH+o.KH; a++ {
						for b := j*sw - o.PadW; b < j*sw-o.PadW+o.KW; b++ {
							if a < 0 || a >= h || b < 0 || b >= w {
								continue
							}
							if v := xd[p*h*w+a*w+b]; best < 0 || v > bv {
								best, bv = p*h*w+a*w+b, v
							}
						}
					}
					k := (p*os[2]+i)*os[3] + j
					if got := float64(out.Value.Data()[k]); got != bv {
						t.Fatalf("%+v: out[%d] = %v, want %v", o, k, got, bv)
					}
					want[best] += dy[k]
				}
			}
		}
		for i, g := range x.Grad.Data() {
			if float64(g) != want[i] {
				t.Fatalf("%+v: dx[%d] = %v, want %v (the first maximum of a tied window gets the gradient)", o, i, g, want[i])
			}
		}
	}
}
