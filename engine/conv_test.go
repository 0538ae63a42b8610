package engine_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/internal/gradcheck"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func convOp[T engine.Float](o engine.ConvOpts, bias bool) opFn[T] {
	return func(tp *engine.Tape[T], in []*engine.Var[T]) *engine.Var[T] {
		if bias {
			return tp.Conv2D(in[0], in[1], in[2], o)
		}
		return tp.Conv2D(in[0], in[1], nil, o)
	}
}

type convCase struct {
	n, c, h, w, o, kh, kw int
	opts                  engine.ConvOpts
}

func (c convCase) String() string {
	return fmt.Sprintf("conv x[%d,%d,%d,%d] w[%d,%d,%d,%d] %+v", c.n, c.c, c.h, c.w, c.o, c.c/max(c.opts.Groups, 1), c.kh, c.kw, c.opts)
}

func (c convCase) inputs(rng *rand.Rand) []*engine.Tensor[float64] {
	g := max(c.opts.Groups, 1)
	return tensors(gradcheck.Random(rng, c.n, c.c, c.h, c.w), gradcheck.Random(rng, c.o, c.c/g, c.kh, c.kw), gradcheck.Random(rng, c.o))
}

var convCases = []convCase{
	{2, 3, 6, 6, 4, 3, 3, engine.ConvOpts{PadH: 1, PadW: 1}},
	{2, 3, 7, 7, 4, 3, 3, engine.ConvOpts{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},
	{1, 2, 7, 6, 3, 3, 3, engine.ConvOpts{PadH: 2, PadW: 2, DilationH: 2, DilationW: 2}},
	{2, 3, 5, 5, 4, 1, 1, engine.ConvOpts{}},
	{2, 3, 5, 5, 4, 1, 1, engine.ConvOpts{StrideH: 2, StrideW: 2}},
	{2, 2, 6, 7, 3, 2, 3, engine.ConvOpts{StrideH: 2, StrideW: 1, PadH: 1, PadW: 0}},
	{3, 2, 4, 5, 2, 3, 2, engine.ConvOpts{StrideH: 1, StrideW: 3, PadH: 0, PadW: 1, DilationW: 2}},
	{2, 2, 6, 5, 3, 3, 3, engine.ConvOpts{PadW: 1}},
	{2, 2, 5, 6, 3, 3, 3, engine.ConvOpts{}},
	{1, 2, 4, 4, 2, 3, 3, engine.ConvOpts{PadH: 3, PadW: 3}},
	{2, 3, 5, 6, 2, 2, 2, engine.ConvOpts{PadH: 1, PadW: 1}},
	{2, 2, 3, 1, 2, 1, 3, engine.ConvOpts{StrideW: 3, PadW: 2}},
	{1, 2, 4, 4, 2, 3, 3, engine.ConvOpts{StrideH: 2, StrideW: 2, PadH: 3, PadW: 3}},
}

// TestConv2D checks groups=1 convolutions against finite differences (x, w, b)
// and gorgonia's Conv2d (values and gradients of x and w; bias added with a
// broadcast), and float32 against float64.
func TestConv2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, tc := range convCases {
		name := tc.String()
		in := tc.inputs(rng)
		f := as64(convOp[float64](tc.opts, true))
		gradcheck.Check(t, name, f, in, nil, 1)
		o := tc.opts
		ref := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			y, err := G.Conv2d(in[0], in[1], tensor.Shape{tc.kh, tc.kw},
				[]int{o.PadH, o.PadW}, []int{max(o.StrideH, 1), max(o.StrideW, 1)}, []int{max(o.DilationH, 1), max(o.DilationW, 1)})
			if err != nil {
				return nil, err
			}
			b, err := G.Reshape(in[2], tensor.Shape{1, tc.o, 1, 1})
			if err != nil {
				return nil, err
			}
			return G.BroadcastAdd(y, b, nil, []byte{0, 2, 3})
		}
		gradcheck.CheckReference(t, name, f, ref, in, nil, 2)
		checkF32(t, name, convOp[float32](tc.opts, true), convOp[float64](tc.opts, true), in, nil)
		// Without bias and without an input gradient (the first layer's case).
		gradcheck.Check(t, name+" no bias", as64(convOp[float64](tc.opts, false)), in[:2], map[int]bool{0: true}, 3)
	}
}

// TestConv2DGroups checks grouped and depthwise convolutions against finite
// differences, float32, and in closed form against groups=1 convolutions of the
// channel slices (values and all gradients).
func TestConv2DGroups(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for _, tc := range []convCase{
		{2, 4, 5, 5, 6, 3, 3, engine.ConvOpts{PadH: 1, PadW: 1, Groups: 2}},
		{2, 4, 6, 6, 8, 3, 3, engine.ConvOpts{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1, Groups: 4}},
		{1, 3, 5, 5, 3, 3, 3, engine.ConvOpts{PadH: 2, PadW: 2, DilationH: 2, DilationW: 2, Groups: 3}},
		{2, 6, 4, 4, 4, 1, 1, engine.ConvOpts{Groups: 2}},
	} {
		name := tc.String()
		in := tc.inputs(rng)
		f := as64(convOp[float64](tc.opts, true))
		gradcheck.Check(t, name, f, in, nil, 1)
		checkF32(t, name, convOp[float32](tc.opts, true), convOp[float64](tc.opts, true), in, nil)

		w := gradcheck.Weights(rand.New(rand.NewPCG(5, 5)), func() int {
			tp := engine.NewTape[float64](1)
			return f(tp, []*engine.Var[float64]{tp.Const(in[0]), tp.Const(in[1]), tp.Const(in[2])}).Value.Len()
		}())
		out, grads, err := gradcheck.Analytic(f, in, w, nil)
		if err != nil {
			t.Fatal(err)
		}
		grp := tc.opts.Groups
		cg, og := tc.c/grp, tc.o/grp
		os := out.Shape()
		ohw := os[2] * os[3]
		hw := tc.h * tc.w
		kk := cg * tc.kh * tc.kw
		single := tc.opts
		single.Groups = 1
		for gi := 0; gi < grp; gi++ {
			xs := engine.NewTensor[float64](tc.n, cg, tc.h, tc.w)
			for n := 0; n < tc.n; n++ {
				copy(xs.Data()[n*cg*hw:(n+1)*cg*hw], in[0].Data()[(n*tc.c+gi*cg)*hw:])
			}
			ws := engine.FromSlice(append([]float64(nil), in[1].Data()[gi*og*kk:(gi+1)*og*kk]...), og, cg, tc.kh, tc.kw)
			bs := engine.FromSlice(append([]float64(nil), in[2].Data()[gi*og:(gi+1)*og]...), og)
			wsl := make([]float64, 0, tc.n*og*ohw)
			for n := 0; n < tc.n; n++ {
				wsl = append(wsl, w[(n*tc.o+gi*og)*ohw:(n*tc.o+(gi+1)*og)*ohw]...)
			}
			so, sg, err := gradcheck.Analytic(as64(convOp[float64](single, true)), tensors(xs, ws, bs), wsl, nil)
			if err != nil {
				t.Fatal(err)
			}
			for n := 0; n < tc.n; n++ {
				expectClose(t, name+" forward vs sliced groups=1",
					out.Data()[(n*tc.o+gi*og)*ohw:(n*tc.o+(gi+1)*og)*ohw], so.Data()[n*og*ohw:(n+1)*og*ohw])
				expectClose(t, name+" dx vs sliced groups=1",
					grads[0].Data()[(n*tc.c+gi*cg)*hw:(n*tc.c+(gi+1)*cg)*hw], sg[0].Data()[n*cg*hw:(n+1)*cg*hw])
			}
			expectClose(t, name+" dw vs sliced groups=1", grads[1].Data()[gi*og*kk:(gi+1)*og*kk], sg[1].Data())
			expectClose(t, name+" db vs sliced groups=1", grads[2].Data()[gi*og:(gi+1)*og], sg[2].Data())
		}
	}
}

// TestConv2DDeterministic checks bit-identical repeats with 2 threads, and that 1
// and 2 threads agree to rounding, on a batch large enough to be split.
func TestConv2DDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	tc := convCase{8, 8, 8, 8, 8, 3, 3, engine.ConvOpts{PadH: 1, PadW: 1}}
	in := tc.inputs(rng)
	checkDeterministic(t, "conv", convOp[float32](tc.opts, true), in)
	o1, g1 := runOp(convOp[float64](tc.opts, true), in, nil, nil, 1)
	o2, g2 := runOp(convOp[float64](tc.opts, true), in, nil, nil, 2)
	expectClose(t, "conv threads 1 vs 2 forward", o2, o1)
	for i := range g1 {
		expectClose(t, "conv threads 1 vs 2 gradient", g2[i], g1[i])
	}
}

func conv1DOp[T engine.Float](bias bool) opFn[T] {
	return func(tp *engine.Tape[T], in []*engine.Var[T]) *engine.Var[T] {
		if bias {
			return tp.Conv1D(in[0], in[1], in[2])
		}
		return tp.Conv1D(in[0], in[1], nil)
	}
}

// TestConv1D checks the kernel-1 convolution against a direct loop, finite
// differences and float32.
func TestConv1D(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	n, c, l, o := 3, 4, 5, 6
	in := tensors(gradcheck.Random(rng, n, c, l), gradcheck.Random(rng, o, c, 1), gradcheck.Random(rng, o))
	f := as64(conv1DOp[float64](true))
	out := gradcheck.Check(t, "conv1d", f, in, nil, 1)
	if s := out.Shape(); len(s) != 3 || s[0] != n || s[1] != o || s[2] != l {
		t.Fatalf("conv1d shape %v", s)
	}
	want := make([]float64, n*o*l)
	x, w, b := in[0].Data(), in[1].Data(), in[2].Data()
	for i := 0; i < n; i++ {
		for oc := 0; oc < o; oc++ {
			for p := 0; p < l; p++ {
				s := b[oc]
				for ic := 0; ic < c; ic++ {
					s += w[oc*c+ic] * x[(i*c+ic)*l+p]
				}
				want[(i*o+oc)*l+p] = s
			}
		}
	}
	expectClose(t, "conv1d forward vs direct loop", out.Data(), want)
	gradcheck.Check(t, "conv1d no bias", as64(conv1DOp[float64](false)), in[:2], nil, 2)
	checkF32(t, "conv1d", conv1DOp[float32](true), conv1DOp[float64](true), in, nil)
}
