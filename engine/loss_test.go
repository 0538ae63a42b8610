package engine_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/internal/gradcheck"
)

// ceClosedForm computes PyTorch's cross-entropy from a naive log-softmax over
// axis 1: mean over non-ignored positions of (1-eps)*nll + eps*mean_c(-logp).
func ceClosedForm(x *engine.Tensor[float64], labels []int32, o engine.CEOpts) float64 {
	lp := smNaiveLog(x, 1)
	c := x.Shape()[1]
	inner := x.Len() / (x.Shape()[0] * c)
	var tot float64
	count := 0
	for p, l := range labels {
		if o.UseIgnore && l == o.IgnoreIndex {
			continue
		}
		count++
		base := (p/inner)*c*inner + p%inner
		var sm float64
		for k := range c {
			sm -= lp[base+k*inner]
		}
		tot += (1-o.LabelSmoothing)*(-lp[base+int(l)*inner]) + o.LabelSmoothing*sm/float64(c)
	}
	return tot / float64(count)
}

func TestCrossEntropyClosedForm(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 1))
	opts := []engine.CEOpts{
		{},
		{LabelSmoothing: 0.1},
		{IgnoreIndex: 1, UseIgnore: true},
		{LabelSmoothing: 0.25, IgnoreIndex: 2, UseIgnore: true},
		{IgnoreIndex: -100, UseIgnore: true},
	}
	for _, shape := range [][]int{{6, 4}, {3, 4, 5}, {2, 3, 2, 3}} {
		x := gradcheck.Random(rng, shape...)
		n := x.Len() / shape[1]
		labels := make([]int32, n)
		for i := range labels {
			labels[i] = int32(rng.IntN(shape[1]))
		}
		labels[0], labels[1] = 1, 2 // make sure some are ignored
		labels[n-1] = -100
		for oi, o := range opts {
			if oi < 4 {
				labels[n-1] = int32(n % shape[1])
			} else {
				labels[n-1] = -100
			}
			name := fmt.Sprintf("ce%v %+v", shape, o)
			f := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] {
				return tp.CrossEntropy(in[0], labels, o)
			}
			out := gradcheck.Check(t, name, f, ewTensors{x}, nil, 1)
			if out.Rank() != 0 {
				t.Fatalf("%s: shape %v, want scalar", name, out.Shape())
			}
			if w := ceClosedForm(x, labels, o); math.Abs(out.Data()[0]-w) > ewTol {
				t.Fatalf("%s: %.15g, want %.15g", name, out.Data()[0], w)
			}
		}
	}
}

// TestCrossEntropyTorchValues checks values and gradients printed by PyTorch 1.13:
//
//	x = torch.tensor([[0.5,-1.0,2.0,0.0],[1.5,0.25,-0.5,1.0],[-2.0,0.0,0.5,3.0]],
//	                 dtype=torch.float64, requires_grad=True)
//	y = torch.tensor([2,0,3])
//	for kw in [dict(), dict(label_smoothing=0.1), dict(ignore_index=0, label_smoothing=0.2)]:
//	    l = torch.nn.functional.cross_entropy(x, y, **kw)
//	    g, = torch.autograd.grad(l, x)
//	    print(kw, repr(l.item()), g.flatten().tolist())
//	x3 = torch.tensor([[[0.5,-1.0],[2.0,0.0],[1.5,0.25]],[[-0.5,1.0],[-2.0,0.0],[0.5,3.0]]], dtype=torch.float64)
//	y3 = torch.tensor([[2,0],[1,2]])
//	print(repr(torch.nn.functional.cross_entropy(x3, y3, label_smoothing=0.3).item()))
func TestCrossEntropyTorchValues(t *testing.T) {
	xd := []float64{0.5, -1.0, 2.0, 0.0, 1.5, 0.25, -0.5, 1.0, -2.0, 0.0, 0.5, 3.0}
	labels := []int32{2, 0, 3}
	cases := []struct {
		o    engine.CEOpts
		loss float64
		grad []float64
	}{
		{engine.CEOpts{}, 0.3931302314891383, []float64{0.05281490317165991, 0.01178459780291629, -0.0966333590379419, 0.032033858063365735, -0.16899782661790433, 0.047082910968420384, 0.02224039234716485, 0.09967452330231903, 0.0019725650621640694, 0.014575393903120935, 0.024030761956908446, -0.040578720922193424}},
		{engine.CEOpts{LabelSmoothing: 0.1}, 0.5660468981558049, []float64{0.04448156983832659, 0.003451264469582958, -0.0716333590379419, 0.023700524730032407, -0.1439978266179043, 0.03874957763508707, 0.013907059013831524, 0.09134118996898573, -0.006360768271169263, 0.006242060569787604, 0.015697428623575118, -0.01557872092219341}},
		{engine.CEOpts{LabelSmoothing: 0.2, IgnoreIndex: 0, UseIgnore: true}, 0.6610789074446852, []float64{0.05422235475748987, -0.007323103295625567, -0.0699500385569129, 0.023050787095048604, 0.0, 0.0, 0.0, 0.0, -0.022041152406753896, -0.0031369091453185977, 0.011046142935362671, 0.014131918616709815}},
	}
	for _, c := range cases {
		tp := engine.NewTape[float64](1)
		x := engine.NewParam("x", engine.FromSlice(append([]float64(nil), xd...), 3, 4))
		l := tp.CrossEntropy(x, labels, c.o)
		if math.Abs(l.Value.Data()[0]-c.loss) > 1e-14 {
			t.Fatalf("%+v: loss %.17g, torch %.17g", c.o, l.Value.Data()[0], c.loss)
		}
		if err := tp.Backward(l); err != nil {
			t.Fatal(err)
		}
		if msg := gradcheck.Close(x.Grad.Data(), c.grad, 1e-15, 1e-13); msg != "" {
			t.Fatalf("%+v: gradient vs torch: %s", c.o, msg)
		}
	}
	x3 := []float64{0.5, -1.0, 2.0, 0.0, 1.5, 0.25, -0.5, 1.0, -2.0, 0.0, 0.5, 3.0}
	tp := engine.NewTape[float64](1)
	l := tp.CrossEntropy(tp.Const(engine.FromSlice(x3, 2, 3, 2)), []int32{2, 0, 1, 2}, engine.CEOpts{LabelSmoothing: 0.3})
	if math.Abs(l.Value.Data()[0]-1.5114484632017646) > 1e-14 {
		t.Fatalf("[N,C,d] loss %.17g, torch 1.5114484632017646", l.Value.Data()[0])
	}
}

// TestCrossEntropyAllIgnored matches PyTorch's NaN loss when nothing counts, and
// checks that no gradient flows.
func TestCrossEntropyAllIgnored(t *testing.T) {
	tp := engine.NewTape[float64](1)
	x := engine.NewParam("x", engine.NewTensor[float64](2, 3))
	l := tp.CrossEntropy(x, []int32{-1, -1}, engine.CEOpts{IgnoreIndex: -1, UseIgnore: true})
	if !math.IsNaN(l.Value.Data()[0]) {
		t.Fatalf("loss %v, want NaN", l.Value.Data()[0])
	}
	if err := tp.Backward(l); err != nil {
		t.Fatal(err)
	}
	for _, g := range x.Grad.Data() {
		if g != 0 {
			t.Fatalf("gradient %v, want zeros", x.Grad.Data())
		}
	}
}

func TestSmoothL1(t *testing.T) {
	rng := rand.New(rand.NewPCG(32, 1))
	x, y := gradcheck.Random(rng, 3, 7), gradcheck.Random(rng, 3, 7)
	for _, beta := range []float64{1, 0.5, 0} {
		f := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] {
			return tp.SmoothL1(in[0], in[1], beta)
		}
		out := gradcheck.Check(t, fmt.Sprint("smoothl1 beta ", beta), f, ewTensors{x, y}, nil, 1)
		var want float64
		for i := range x.Data() {
			d := math.Abs(x.Data()[i] - y.Data()[i])
			if d < beta {
				want += 0.5 * d * d / beta
			} else {
				want += d - 0.5*beta
			}
		}
		want /= float64(x.Len())
		if math.Abs(out.Data()[0]-want) > ewTol {
			t.Fatalf("smoothl1 beta %g: %g, want %g", beta, out.Data()[0], want)
		}
	}
	// PyTorch 1.13:
	//	a = torch.tensor([0.1,-0.3,2.0,-1.5,0.7], dtype=torch.float64)
	//	b = torch.tensor([0.0,0.4,0.5,0.2,0.7], dtype=torch.float64)
	//	for beta in [1.0, 0.5, 0.0]: print(torch.nn.functional.smooth_l1_loss(a, b, beta=beta).item())
	a := engine.FromSlice([]float64{0.1, -0.3, 2.0, -1.5, 0.7}, 5)
	b := engine.FromSlice([]float64{0.0, 0.4, 0.5, 0.2, 0.7}, 5)
	for i, beta := range []float64{1, 0.5, 0} {
		want := []float64{0.49000000000000005, 0.632, 0.8}[i]
		tp := engine.NewTape[float64](1)
		if got := tp.SmoothL1(tp.Const(a), tp.Const(b), beta).Value.Data()[0]; math.Abs(got-want) > 1e-15 {
			t.Fatalf("smoothl1 beta %g: %.17g, torch %.17g", beta, got, want)
		}
	}
}

// TestCrossEntropyFloat32 checks CEOpts.Float32 (float32 log-softmax with
// expf) on a float32 tape against the float64 path on a float64 tape: on
// PyTorch's printed cases, and on 64 rows of 8000 classes (a translation
// vocabulary) with label smoothing, ignored rows, a row of huge negative
// logits and a row with -Inf entries (masks), the loss within 1e-6
// relative and every gradient within 1e-6 of the largest; any thread count
// gives the same bits; all rows ignored is NaN with no gradient.
func TestCrossEntropyFloat32(t *testing.T) {
	run := func(xd []float64, n, c int, labels []int32, o engine.CEOpts, threads int) (float64, []float64, float32, []float32) {
		tp64 := engine.NewTape[float64](threads)
		x64 := engine.NewParam("x", engine.FromSlice(append([]float64(nil), xd...), n, c))
		l64 := tp64.CrossEntropy(x64, labels, o)
		if err := tp64.Backward(l64); err != nil {
			t.Fatal(err)
		}
		x32d := make([]float32, len(xd))
		for i, v := range xd {
			x32d[i] = float32(v)
		}
		o32 := o
		o32.Float32 = true
		tp32 := engine.NewTape[float32](threads)
		x32 := engine.NewParam("x", engine.FromSlice(x32d, n, c))
		l32 := tp32.CrossEntropy(x32, labels, o32)
		if err := tp32.Backward(l32); err != nil {
			t.Fatal(err)
		}
		return l64.Value.Data()[0], x64.Grad.Data(), l32.Value.Data()[0], x32.Grad.Data()
	}
	compare := func(name string, l64 float64, g64 []float64, l32 float32, g32 []float32) {
		t.Helper()
		if rel := math.Abs(float64(l32)-l64) / math.Abs(l64); !(rel <= 1e-6) {
			t.Fatalf("%s: loss %.9g, float64 path %.12g (relative %.3g)", name, l32, l64, rel)
		}
		var gmax, dmax float64
		for i := range g64 {
			gmax = max(gmax, math.Abs(g64[i]))
			dmax = max(dmax, math.Abs(float64(g32[i])-g64[i]))
		}
		if dmax > 1e-6*gmax {
			t.Fatalf("%s: gradient off by %.3g (largest %.3g)", name, dmax, gmax)
		}
	}
	xd := []float64{0.5, -1.0, 2.0, 0.0, 1.5, 0.25, -0.5, 1.0, -2.0, 0.0, 0.5, 3.0}
	for _, o := range []engine.CEOpts{{}, {LabelSmoothing: 0.1}, {LabelSmoothing: 0.2, IgnoreIndex: 0, UseIgnore: true}} {
		l64, g64, l32, g32 := run(xd, 3, 4, []int32{2, 0, 3}, o, 1)
		compare(fmt.Sprintf("torch case %+v", o), l64, g64, l32, g32)
	}
	rng := rand.New(rand.NewPCG(5, 9))
	n, c := 64, 8000
	big := make([]float64, n*c)
	for i := range big {
		big[i] = 3 * rng.NormFloat64()
	}
	for k := range c {
		big[5*c+k] = -1e4 + rng.Float64() // huge negative logits
		if k%3 == 0 {
			big[6*c+k] = math.Inf(-1) // masked classes
		}
	}
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(rng.IntN(c))
	}
	labels[6] = 10 // not masked
	labels[3], labels[17], labels[40] = 1, 1, 1
	o := engine.CEOpts{LabelSmoothing: 0.1, IgnoreIndex: 1, UseIgnore: true}
	// Without the -Inf row (the smoothing term is infinite with it) ...
	rows := append(append([]float64(nil), big[:6*c]...), big[7*c:]...)
	lab := append(append([]int32(nil), labels[:6]...), labels[7:]...)
	l64, g64, l32, g32 := run(rows, n-1, c, lab, o, 2)
	compare("8000 classes, smoothing, ignored rows", l64, g64, l32, g32)
	_, _, l32b, g32b := run(rows, n-1, c, lab, o, 1)
	if l32b != l32 {
		t.Fatalf("1 thread: loss %v, 2 threads %v", l32b, l32)
	}
	for i := range g32 {
		if g32[i] != g32b[i] {
			t.Fatalf("gradient %d: 1 thread %v, 2 threads %v", i, g32b[i], g32[i])
		}
	}
	// ... and with it, without smoothing.
	l64, g64, l32, g32 = run(big, n, c, labels, engine.CEOpts{IgnoreIndex: 1, UseIgnore: true}, 2)
	compare("8000 classes, -Inf masks", l64, g64, l32, g32)
	// Everything ignored.
	_, _, l32, g32 = run(make([]float64, 6), 2, 3, []int32{-1, -1}, engine.CEOpts{IgnoreIndex: -1, UseIgnore: true}, 1)
	if !math.IsNaN(float64(l32)) {
		t.Fatalf("all ignored: loss %v, want NaN", l32)
	}
	for _, g := range g32 {
		if g != 0 {
			t.Fatalf("all ignored: gradient %v", g32)
		}
	}
}
