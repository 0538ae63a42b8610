package engine_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/internal/gradcheck"
	G "gorgonia.org/gorgonia"
)

// Tolerances: gradcheck.Check compares with central differences (H=1e-6) within
// gradcheck.AbsTol + gradcheck.RelTol*|want| (1e-7 + 1e-6*|want|);
// gradcheck.CheckReference compares with gorgonia within gradcheck.RefTol (1e-10)
// absolute plus relative. Closed forms computed here use ewTol.
const ewTol = 1e-12

type ewTensors = []*engine.Tensor[float64]

// ewPositive returns a tensor with entries in [lo, lo+1).
func ewPositive(rng *rand.Rand, lo float64, shape ...int) *engine.Tensor[float64] {
	t := engine.NewTensor[float64](shape...)
	for i := range t.Data() {
		t.Data()[i] = lo + rng.Float64()
	}
	return t
}

// ewBroadcastNaive computes op(a, b) with NumPy broadcasting, one index at a time.
func ewBroadcastNaive(a, b *engine.Tensor[float64], op func(x, y float64) float64) *engine.Tensor[float64] {
	out := engine.BroadcastShape(a.Shape(), b.Shape())
	r := len(out)
	res := engine.NewTensor[float64](out...)
	idx := make([]int, r)
	at := func(t *engine.Tensor[float64]) float64 {
		s := t.Shape()
		off := 0
		for k := range s {
			i := idx[r-len(s)+k]
			if s[k] == 1 {
				i = 0
			}
			off = off*s[k] + i
		}
		return t.Data()[off]
	}
	for j := range res.Data() {
		rem := j
		for k := r - 1; k >= 0; k-- {
			idx[k] = rem % out[k]
			rem /= out[k]
		}
		res.Data()[j] = op(at(a), at(b))
	}
	return res
}

type ewBinary struct {
	name  string
	op    func(tp *engine.Tape[float64], a, b *engine.Var[float64]) *engine.Var[float64]
	ref   func(a, b *G.Node, l, r []byte) (*G.Node, error)
	naive func(x, y float64) float64
}

var ewBinaries = []ewBinary{
	{"add", (*engine.Tape[float64]).Add, G.BroadcastAdd, func(x, y float64) float64 { return x + y }},
	{"sub", (*engine.Tape[float64]).Sub, G.BroadcastSub, func(x, y float64) float64 { return x - y }},
	{"mul", (*engine.Tape[float64]).Mul, G.BroadcastHadamardProd, func(x, y float64) float64 { return x * y }},
	{"div", (*engine.Tape[float64]).Div, G.BroadcastHadamardDiv, func(x, y float64) float64 { return x / y }},
}

type ewCase struct {
	a, b        []int
	left, right []byte // gorgonia broadcast patterns; nil and noRef for no comparison
	noRef       bool
}

var ewCases = []ewCase{
	{a: []int{3, 4}, b: []int{3, 4}},
	{a: []int{2, 3, 4, 5}, b: []int{1, 3, 1, 1}, right: []byte{0, 2, 3}},
	{a: []int{1, 3, 4, 5}, b: []int{2, 3, 4, 5}, left: []byte{0}},
	// gorgonia's gradient for a left operand broadcast over two axes disagrees
	// with finite differences (its multi-axis Sum), so no reference here.
	{a: []int{1, 3, 1, 5}, b: []int{2, 3, 4, 5}, noRef: true},
	{a: []int{3, 1}, b: []int{1, 4}, left: []byte{1}, right: []byte{0}},
	{a: []int{2, 3, 4}, b: []int{4}, noRef: true},
	{a: []int{}, b: []int{2, 3}, noRef: true},
	{a: []int{2, 1, 3}, b: []int{5, 1}, noRef: true},
}

func TestBinaryAddSubMulDiv(t *testing.T) {
	for ci, c := range ewCases {
		for _, op := range ewBinaries {
			name := fmt.Sprintf("%s%v%v", op.name, c.a, c.b)
			rng := rand.New(rand.NewPCG(uint64(ci), 7))
			a := gradcheck.Random(rng, c.a...)
			b := gradcheck.Random(rng, c.b...)
			if op.name == "div" {
				b = ewPositive(rng, 0.5, c.b...)
			}
			f := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] {
				return op.op(tp, in[0], in[1])
			}
			out := gradcheck.Check(t, name, f, ewTensors{a, b}, nil, 1)
			want := ewBroadcastNaive(a, b, op.naive)
			if !engine.SameShape(out.Shape(), want.Shape()) {
				t.Fatalf("%s: shape %v, want %v", name, out.Shape(), want.Shape())
			}
			if msg := gradcheck.Close(out.Data(), want.Data(), ewTol, ewTol); msg != "" {
				t.Fatalf("%s: forward: %s", name, msg)
			}
			if c.noRef {
				continue
			}
			ref := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
				return op.ref(in[0], in[1], c.left, c.right)
			}
			gradcheck.CheckReference(t, name, f, ref, ewTensors{a, b}, nil, 2)
		}
	}
}

// TestAddSubMulDivLargeParallel exercises chunks that start and end inside rows, with
// two threads, against the naive broadcast.
func TestAddSubMulDivLargeParallel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	shapes := [][2][]int{
		{{7, 5, 37, 41}, {1, 5, 1, 1}},
		{{7, 5, 37, 41}, {1, 5, 1, 41}},
		{{7, 5, 37, 41}, {7, 5, 37, 41}},
		{{1, 5, 1, 41}, {7, 5, 37, 1}},
	}
	for _, s := range shapes {
		a, b := gradcheck.Random(rng, s[0]...), ewPositive(rng, 0.5, s[1]...)
		for _, op := range ewBinaries {
			tp := engine.NewTape[float64](2)
			got := op.op(tp, tp.Const(a), tp.Const(b)).Value
			want := ewBroadcastNaive(a, b, op.naive)
			if msg := gradcheck.Close(got.Data(), want.Data(), 0, 0); msg != "" {
				t.Fatalf("%s %v: %s", op.name, s, msg)
			}
		}
	}
}

// TestMulGradLargeDeterministic checks the broadcast gradient reduction
// against a naive sum and that it does not depend on the thread count.
func TestMulGradLargeDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	a := gradcheck.Random(rng, 9, 6, 33, 35)
	b := gradcheck.Random(rng, 1, 6, 1, 1)
	grads := func(threads int) (*engine.Tensor[float64], *engine.Tensor[float64]) {
		tp := engine.NewTape[float64](threads)
		va, vb := engine.NewParam("a", a), engine.NewParam("b", b.Clone())
		y := tp.SumAll(tp.Mul(va, vb))
		if err := tp.Backward(y); err != nil {
			t.Fatal(err)
		}
		return va.Grad, vb.Grad
	}
	ga1, gb1 := grads(1)
	ga2, gb2 := grads(2)
	if msg := gradcheck.Close(ga2.Data(), ga1.Data(), 0, 0); msg != "" {
		t.Fatalf("grad a differs between 1 and 2 threads: %s", msg)
	}
	if msg := gradcheck.Close(gb2.Data(), gb1.Data(), 0, 0); msg != "" {
		t.Fatalf("grad b differs between 1 and 2 threads: %s", msg)
	}
	want := make([]float64, 6)
	for i, v := range a.Data() {
		want[(i/(33*35))%6] += v
	}
	if msg := gradcheck.Close(gb1.Data(), want, 1e-9, 1e-12); msg != "" {
		t.Fatalf("grad b: %s", msg)
	}
}

type ewUnary struct {
	name string
	op   func(tp *engine.Tape[float64], x *engine.Var[float64]) *engine.Var[float64]
	ref  func(x *G.Node) (*G.Node, error)
	f    func(x float64) float64
	pos  bool // needs positive inputs
}

var ewUnaries = []ewUnary{
	{"exp", (*engine.Tape[float64]).Exp, G.Exp, math.Exp, false},
	{"log", (*engine.Tape[float64]).Log, G.Log, math.Log, true},
	{"sqrt", (*engine.Tape[float64]).Sqrt, G.Sqrt, math.Sqrt, true},
	{"square", (*engine.Tape[float64]).Square, G.Square, func(x float64) float64 { return x * x }, false},
	{"sigmoid", (*engine.Tape[float64]).Sigmoid, G.Sigmoid, func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }, false},
	{"tanh", (*engine.Tape[float64]).Tanh, G.Tanh, math.Tanh, false},
	{"gelu", (*engine.Tape[float64]).GELU, nil, func(x float64) float64 { return x * 0.5 * math.Erfc(-x/math.Sqrt2) }, false},
	{"addscalar", ewAddScalar, nil, func(x float64) float64 { return x + 1.25 }, false},
	{"scale", ewScale, nil, func(x float64) float64 { return -0.75 * x }, false},
}

func ewAddScalar(tp *engine.Tape[float64], x *engine.Var[float64]) *engine.Var[float64] {
	return tp.AddScalar(x, 1.25)
}

func ewScale(tp *engine.Tape[float64], x *engine.Var[float64]) *engine.Var[float64] {
	return tp.Scale(x, -0.75)
}

func TestUnaryExpLogSqrtSquareSigmoidTanhGELUScalar(t *testing.T) {
	for _, u := range ewUnaries {
		rng := rand.New(rand.NewPCG(5, 5))
		x := gradcheck.Random(rng, 3, 4, 5)
		if u.pos {
			x = ewPositive(rng, 0.3, 3, 4, 5)
		}
		f := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] { return u.op(tp, in[0]) }
		out := gradcheck.Check(t, u.name, f, ewTensors{x}, nil, 1)
		for i, v := range x.Data() {
			if w := u.f(v); math.Abs(out.Data()[i]-w) > 1e-15+1e-14*math.Abs(w) {
				t.Fatalf("%s(%g) = %g, want %g", u.name, v, out.Data()[i], w)
			}
		}
		if u.ref != nil {
			ref := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return u.ref(in[0]) }
			gradcheck.CheckReference(t, u.name, f, ref, ewTensors{x}, nil, 2)
		}
	}
}

// TestGELUTorchValues checks exact-erf GELU against values printed by PyTorch 1.13:
//
//	import torch
//	x = torch.tensor([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0], dtype=torch.float64)
//	print(torch.nn.functional.gelu(x).tolist())
func TestGELUTorchValues(t *testing.T) {
	x := []float64{-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0}
	want := []float64{-0.00404969409489031, -0.15865525393145702, -0.15426876936299344, 0.0, 0.34573123063700656, 0.841344746068543, 2.99595030590511}
	tp := engine.NewTape[float64](1)
	got := tp.GELU(tp.Const(engine.FromSlice(x, len(x)))).Value.Data()
	if msg := gradcheck.Close(got, want, 1e-15, 1e-14); msg != "" {
		t.Fatal(msg)
	}
}

// TestSigmoidExtreme checks that Sigmoid does not overflow for large |x|.
func TestSigmoidExtreme(t *testing.T) {
	tp := engine.NewTape[float32](1)
	got := tp.Sigmoid(tp.Const(engine.FromSlice([]float32{-1000, 1000}, 2))).Value.Data()
	if got[0] != 0 || got[1] != 1 {
		t.Fatalf("sigmoid(-1000, 1000) = %v", got)
	}
}

// TestBinaryFloat32Add checks the float32 instantiation against float64.
func TestBinaryFloat32Add(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	a, b := gradcheck.Random(rng, 2, 3, 4, 5), gradcheck.Random(rng, 1, 3, 1, 1)
	tp := engine.NewTape[float32](2)
	got := tp.Add(tp.Const(engine.Convert[float32](a)), tp.Const(engine.Convert[float32](b))).Value
	want := ewBroadcastNaive(a, b, func(x, y float64) float64 { return x + y })
	if msg := gradcheck.Close(engine.Convert[float64](got).Data(), want.Data(), 1e-6, 1e-6); msg != "" {
		t.Fatal(msg)
	}
}

// ewGeneric lists ops written once for both element types; TestFloat32Ops checks
// the float32 instantiation (kernels have type-specific paths) against float64.
func ewGeneric[T engine.Float]() map[string]func(tp *engine.Tape[T], in []*engine.Var[T]) *engine.Var[T] {
	labels := make([]int32, 24)
	for i := range labels {
		labels[i] = int32(i * 7 % 5)
	}
	return map[string]func(tp *engine.Tape[T], in []*engine.Var[T]) *engine.Var[T]{
		"add":        func(tp *engine.Tape[T], in []*engine.Var[T]) *engine.Var[T] { return tp.Add(in[0], in[1]) },
		"div":        func(tp *engine.Tape[T], in []*engine.Var[T]) *engine.Var[T] { return tp.Div(in[0], tp.Exp(in[1])) },
		"relu":       func(tp *engine.Tape[T], in []*engine.Var[T]) *engine.Var[T] { return tp.ReLU(in[0]) },
		"gelu":       func(tp *engine.Tape[T], in []*engine.Var[T]) *engine.Var[T] { return tp.GELU(in[0]) },
		"sigmoid":    func(tp *engine.Tape[T], in []*engine.Var[T]) *engine.Var[T] { return tp.Sigmoid(in[0]) },
		"sum":        func(tp *engine.Tape[T], in []*engine.Var[T]) *engine.Var[T] { return tp.Sum(in[0], []int{0, 2}, true) },
		"max":        func(tp *engine.Tape[T], in []*engine.Var[T]) *engine.Var[T] { return tp.Max(in[0], []int{1}, false) },
		"logsoftmax": func(tp *engine.Tape[T], in []*engine.Var[T]) *engine.Var[T] { return tp.LogSoftmax(in[0], 1) },
		"softmax":    func(tp *engine.Tape[T], in []*engine.Var[T]) *engine.Var[T] { return tp.Softmax(in[0], -1) },
		"permute":    func(tp *engine.Tape[T], in []*engine.Var[T]) *engine.Var[T] { return tp.Permute(in[0], 2, 0, 1) },
		"crossentropy": func(tp *engine.Tape[T], in []*engine.Var[T]) *engine.Var[T] {
			return tp.CrossEntropy(tp.Reshape(in[0], 6, 5, -1), labels, engine.CEOpts{LabelSmoothing: 0.1})
		},
		"smoothl1": func(tp *engine.Tape[T], in []*engine.Var[T]) *engine.Var[T] { return tp.SmoothL1(in[0], in[1], 0.5) },
	}
}

// ewRun evaluates f on float64 inputs converted to T and returns its output and
// the gradients of sum(out * w), in float64.
func ewRun[T engine.Float](t *testing.T, f func(tp *engine.Tape[T], in []*engine.Var[T]) *engine.Var[T], inputs ewTensors, seed uint64) ([]float64, [][]float64) {
	tp := engine.NewTape[T](2)
	vars := make([]*engine.Var[T], len(inputs))
	for i, x := range inputs {
		vars[i] = engine.NewParam("in", engine.Convert[T](x))
	}
	out := f(tp, vars)
	w := gradcheck.Weights(rand.New(rand.NewPCG(seed, 1)), out.Value.Len())
	wt := engine.Convert[T](engine.FromSlice(w, out.Shape()...))
	if err := tp.Backward(tp.SumAll(tp.Mul(out, tp.Const(wt)))); err != nil {
		t.Fatal(err)
	}
	grads := make([][]float64, len(vars))
	for i, v := range vars {
		if v.Grad == nil {
			grads[i] = make([]float64, inputs[i].Len())
			continue
		}
		grads[i] = engine.Convert[float64](v.Grad).Data()
	}
	return engine.Convert[float64](out.Value).Data(), grads
}

func TestFloat32AddDivSoftmaxCrossMatchFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(81, 1))
	a, b := gradcheck.Random(rng, 6, 5, 4), gradcheck.Random(rng, 6, 5, 4)
	f32, f64 := ewGeneric[float32](), ewGeneric[float64]()
	for name, f := range f64 {
		o64, g64 := ewRun(t, f, ewTensors{a, b}, 3)
		o32, g32 := ewRun(t, f32[name], ewTensors{a, b}, 3)
		// float32 rounding of O(1) values: 1e-5 relative to the largest magnitude.
		scale := func(x []float64) float64 {
			m := 1.0
			for _, v := range x {
				m = math.Max(m, math.Abs(v))
			}
			return m
		}
		if msg := gradcheck.Close(o32, o64, 1e-5*scale(o64), 0); msg != "" {
			t.Fatalf("%s forward float32 vs float64: %s", name, msg)
		}
		for i := range g64 {
			if msg := gradcheck.Close(g32[i], g64[i], 1e-5*scale(g64[i]), 0); msg != "" {
				t.Fatalf("%s gradient %d float32 vs float64: %s", name, i, msg)
			}
		}
	}
}
