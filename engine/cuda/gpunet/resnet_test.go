package gpunet

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/cuda"
)

func openOps(tb testing.TB) *cuda.Ops {
	tb.Helper()
	dv, err := cuda.Open(0)
	if err != nil {
		if errors.Is(err, cuda.ErrUnavailable) {
			tb.Skipf("no GPU: %v", err)
		}
		tb.Fatal(err)
	}
	o, err := cuda.NewOps(dv)
	if err != nil {
		tb.Fatal(err)
	}
	return o
}

// small is ResNet-50's layout (stem, [3,4,6,3] bottlenecks, projection
// shortcuts) with widths /16, on 96x96 images, batch 8, 10 classes: the
// last stage normalises 72 values per channel. (At batch 4 on 64x64 one
// block output's pre-activation lies within float32 rounding of zero, so
// float32 and float64 take different ReLU branches there and the gradients
// below it differ by 2-4%: a property of that draw, not of the code.)
func small() Config {
	return Config{Batch: 8, Size: 96, Classes: 10, Stem: 4, Planes: [4]int{4, 8, 16, 32}, Blocks: [4]int{3, 4, 6, 3}, Seed: 3}
}

func randBatch(cfg Config, seed uint64) ([]float32, []int32) {
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, cfg.Batch*3*cfg.Size*cfg.Size)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	l := make([]int32, cfg.Batch)
	for i := range l {
		l[i] = int32(r.IntN(cfg.Classes))
	}
	return x, l
}

// cpuResNet is the same network on the CPU engine in float64 (Conv2D,
// BatchNorm in training mode, ReLU, Add, MaxPool2D, GlobalAvgPool2D, Linear,
// CrossEntropy), with parameters from w by state-dict key: the loss, each
// parameter's gradient and the running statistics.
func cpuResNet(cfg Config, w map[string][]float32, shapes map[string][]int, x []float32, labels []int32, acts map[string][]float64) (float64, map[string][]float64, map[string][]float64) {
	tp := engine.NewTape[float64](1)
	vars := map[string]*engine.Var[float64]{}
	p := func(name string) *engine.Var[float64] {
		if v, ok := vars[name]; ok {
			return v
		}
		v := engine.NewParam(name, engine.FromSlice(f64(w[name]), shapes[name]...))
		vars[name] = v
		return v
	}
	stats := map[string][]float64{}
	unit := func(in *engine.Var[float64], conv, bn string, stride, pad int, relu bool) *engine.Var[float64] {
		c := tp.Conv2D(in, p(conv+".weight"), nil, engine.ConvOpts{StrideH: stride, StrideW: stride, PadH: pad, PadW: pad})
		st := engine.NewBNState[float64](c.Shape()[1])
		y := tp.BatchNorm(c, p(bn+".weight"), p(bn+".bias"), st, true)
		stats[bn+".running_mean"], stats[bn+".running_var"] = st.RunningMean.Data(), st.RunningVar.Data()
		if relu {
			y = tp.ReLU(y)
		}
		return y
	}
	h := tp.Const(engine.FromSlice(f64(x), cfg.Batch, 3, cfg.Size, cfg.Size))
	h = unit(h, "conv1", "bn1", 2, 3, true)
	h = tp.MaxPool2D(h, engine.PoolOpts{KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1})
	inC := cfg.Stem
	for s := range 4 {
		for i := 0; i < cfg.Blocks[s]; i++ {
			stride := 1
			if s > 0 && i == 0 {
				stride = 2
			}
			pre := fmt.Sprintf("layer%d.%d.", s+1, i)
			a := unit(h, pre+"conv1", pre+"bn1", 1, 0, true)
			a = unit(a, pre+"conv2", pre+"bn2", stride, 1, true)
			a = unit(a, pre+"conv3", pre+"bn3", 1, 0, false)
			sc := h
			if stride != 1 || inC != 4*cfg.Planes[s] {
				sc = unit(h, pre+"downsample.0", pre+"downsample.1", stride, 0, false)
			}
			h = tp.ReLU(tp.Add(a, sc))
			if acts != nil {
				acts[pre] = h.Value.Data()
			}
			inC = 4 * cfg.Planes[s]
		}
	}
	logits := tp.Linear(tp.GlobalAvgPool2D(h), p("fc.weight"), p("fc.bias"))
	loss := tp.CrossEntropy(logits, labels, engine.CEOpts{})
	if err := tp.Backward(loss); err != nil {
		panic(err)
	}
	grads := map[string][]float64{}
	for name, v := range vars {
		grads[name] = v.Grad.Data()
	}
	return loss.Value.Data()[0], grads, stats
}

func f64(v []float32) []float64 {
	o := make([]float64, len(v))
	for i, x := range v {
		o[i] = float64(x)
	}
	return o
}

// normErr is ||got - want|| / ||want|| (2-norms).
func normErr(got []float32, want []float64) float64 {
	var d, n float64
	for i := range want {
		e := float64(got[i]) - want[i]
		d += e * e
		n += want[i] * want[i]
	}
	return math.Sqrt(d / math.Max(n, 1e-300))
}

// TestResNetStepMatchesCPU: one training step of the small ResNet on the GPU
// against the same network on the CPU engine in float64, from the same
// weights and batch. Tolerances: the loss 1e-4 relative; every block's
// output 1e-4 of its largest value; each parameter's gradient 5e-2 in
// relative 2-norm (a wiring or kernel error is O(1); a ReLU whose input
// lies within float32 rounding of zero takes the other branch in float64
// and moves the gradients below it by ~1/(values per channel), so the GPU
// bound allows for such a flip, and the test logs how many parameters are
// above 1e-3); the weights after the SGD update (momentum 0.9, weight decay
// 1e-4, lr 0.1; from the step's own gradients) 1e-6; the running statistics
// 1e-4. A second network from the same seed, stepped on the same batch, ends
// bit-identical.
func TestResNetStepMatchesCPU(t *testing.T) {
	stepMatchesCPU(t, openOps(t), 5e-2)
}

// TestResNetStepSplitKMatchesCPU is TestResNetStepMatchesCPU with the
// convolutions' weight gradients split over 4 groups of images (Ops.SetSplitK).
func TestResNetStepSplitKMatchesCPU(t *testing.T) {
	o := openOps(t)
	if err := o.SetSplitK(4); err != nil {
		t.Skip(err)
	}
	stepMatchesCPU(t, o, 5e-2)
}

// TestResNetStepHostMatchesCPU is TestResNetStepMatchesCPU on cuda.Host, the
// kernels' Go twins: the network's wiring (layouts, buffers, accumulation,
// shortcuts) checked without a GPU. No ReLU flips on this draw, so each
// gradient is held to 1e-3.
func TestResNetStepHostMatchesCPU(t *testing.T) {
	stepMatchesCPU(t, cuda.Host{}, 1e-3)
}

func stepMatchesCPU(t *testing.T, o cuda.Backend, gradTol float64) {
	cfg := small()
	net, err := New(o, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	x, labels := randBatch(cfg, 7)
	if err := net.SetBatch(x, labels); err != nil {
		t.Fatal(err)
	}
	w0, shapes := map[string][]float32{}, map[string][]int{}
	for _, p := range net.Params() {
		v, err := net.Read(p.W)
		if err != nil {
			t.Fatal(err)
		}
		w0[p.Name], shapes[p.Name] = v, p.Shape
	}
	if err := net.Forward(); err != nil {
		t.Fatal(err)
	}
	acts := map[string][]float64{}
	cpuLoss, grads, stats := cpuResNet(cfg, w0, shapes, x, labels, acts)
	flips := 0
	for _, b := range net.blocks {
		name := b.u3.name[:len(b.u3.name)-len("conv3")]
		v, err := net.Read(b.u3.y)
		if err != nil {
			t.Fatal(err)
		}
		l, ref := b.u3.g.Out(), acts[name]
		var e, m float64
		for n := 0; n < l.N; n++ {
			for c := 0; c < l.C; c++ {
				for s := 0; s < l.S; s++ {
					got, want := float64(v[n*l.SN+c*l.SC+s]), ref[(n*l.C+c)*l.S+s]
					e, m = math.Max(e, math.Abs(got-want)), math.Max(m, math.Abs(want))
					if (got > 0) != (want > 0) {
						flips++
					}
				}
			}
		}
		if e > 1e-4*m || math.IsNaN(e) {
			t.Errorf("block %s output: max error %.3g of the largest value %.3g", name, e, m)
		}
	}
	if err := net.Backward(); err != nil {
		t.Fatal(err)
	}
	loss, err := net.Loss()
	if err != nil {
		t.Fatal(err)
	}
	const lr, mom, wd = 0.1, 0.9, 1e-4
	if err := net.Update(lr, mom, wd); err != nil {
		t.Fatal(err)
	}
	t.Logf("loss: backend %.7g, CPU float64 %.7g; ReLU sign flips at block outputs: %d", loss, cpuLoss, flips)
	if math.Abs(float64(loss)-cpuLoss) > 1e-4*math.Abs(cpuLoss) {
		t.Errorf("loss %v, CPU %v", loss, cpuLoss)
	}
	worstG, worstU, above := 0.0, 0.0, 0
	for _, p := range net.Params() {
		g, err := net.Read(p.G)
		if err != nil {
			t.Fatal(err)
		}
		e := normErr(g, grads[p.Name])
		if e > gradTol || math.IsNaN(e) {
			t.Errorf("%s: gradient relative error %.3g > %g", p.Name, e, gradTol)
		}
		if e > 1e-3 {
			above++
		}
		worstG = math.Max(worstG, e)
		w1, err := net.Read(p.W)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float64, len(w1))
		for i := range w1 {
			w := float64(w0[p.Name][i])
			want[i] = w - lr*(float64(g[i])+wd*w)
		}
		e = normErr(w1, want)
		if e > 1e-6 || math.IsNaN(e) {
			t.Errorf("%s: updated weights relative error %.3g > 1e-6", p.Name, e)
		}
		worstU = math.Max(worstU, e)
	}
	t.Logf("largest relative error over %d parameters: gradient %.3g (%d above 1e-3), update %.3g", len(net.Params()), worstG, above, worstU)
	for _, name := range []string{"bn1.running_mean", "bn1.running_var", "layer4.2.bn3.running_var", "layer2.0.downsample.1.running_mean"} {
		v, err := net.Read(net.Stat(name))
		if err != nil {
			t.Fatal(err)
		}
		if e := normErr(v, stats[name]); e > 1e-4 || math.IsNaN(e) {
			t.Errorf("%s: relative error %.3g > 1e-4", name, e)
		}
	}
	// Determinism: the same step on a second network is bit-identical.
	net2, err := New(o, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer net2.Close()
	if err := net2.SetBatch(x, labels); err != nil {
		t.Fatal(err)
	}
	if err := net2.Step(lr, mom, wd); err != nil {
		t.Fatal(err)
	}
	for _, p := range net.Params() {
		a, err1 := net.Read(p.W)
		b, err2 := net2.Read(net2.Param(p.Name).W)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("%s[%d]: %v, repeat %v", p.Name, i, a[i], b[i])
			}
		}
	}
}

// TestSetParamAndBatchErrors: bad inputs are refused with the name and
// sizes (on cuda.Host: no device needed).
func TestSetParamAndBatchErrors(t *testing.T) {
	net, err := New(cuda.Host{}, small())
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	if err := net.SetParam("fc.weight", make([]float32, 3)); err == nil {
		t.Error("short fc.weight accepted")
	}
	if err := net.SetParam("nope", nil); err == nil {
		t.Error("unknown parameter accepted")
	}
	x, l := randBatch(small(), 1)
	l[0] = 10
	if err := net.SetBatch(x, l); err == nil {
		t.Error("label 10 of 10 classes accepted")
	}
}

// TestResNet50Layout: the parameter list of ResNet50 is torchvision's
// resnet50 (161 tensors, 25,557,032 values); no device needed.
func TestResNet50Layout(t *testing.T) {
	specs := Specs(ResNet50(1, 224, 1000))
	total := 0
	for _, s := range specs {
		k := 1
		for _, d := range s.Shape {
			k *= d
		}
		total += k
	}
	if len(specs) != 161 || total != 25557032 {
		t.Errorf("%d tensors, %d values; torchvision resnet50 has 161 and 25,557,032", len(specs), total)
	}
	for _, s := range specs[len(specs)-14:] {
		t.Log(s.Name, s.Shape)
	}
}

// BenchmarkResNet50Step times one ResNet-50 training step (batch 64,
// 224x224, float32, 1000 classes, SGD momentum 0.9, weight decay 1e-4) on
// random data already on the device; the device is synchronised before the
// timer starts and after the last step. Reports ms/step and img/s, with the
// weight-gradient GEMMs whole (splitk=1) and split over 8 groups of images
// (splitk=8, Ops.SetSplitK).
func BenchmarkResNet50Step(b *testing.B) {
	o := openOps(b)
	b.Logf("device: %+v", o.Device().Info())
	for _, s := range []int{1, 8} {
		b.Run(fmt.Sprintf("splitk=%d", s), func(b *testing.B) {
			if err := o.SetSplitK(s); err != nil {
				b.Skip(err)
			}
			benchStep(b, o)
		})
	}
}

// benchStep times ResNet-50 steps on o with its current settings.
func benchStep(b *testing.B, o *cuda.Ops) {
	cfg := ResNet50(64, 224, 1000)
	net, err := New(o, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer net.Close()
	x, l := randBatch(cfg, 5)
	if err := net.SetBatch(x, l); err != nil {
		b.Fatal(err)
	}
	for range 2 { // warm-up: kernel loading, cuBLAS heuristics
		if err := net.Step(0.01, 0.9, 1e-4); err != nil {
			b.Fatal(err)
		}
	}
	loss, err := net.Loss()
	if err != nil {
		b.Fatal(err)
	}
	if math.IsNaN(float64(loss)) || math.IsInf(float64(loss), 0) {
		b.Fatalf("loss %v after the warm-up steps", loss)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := net.Step(0.01, 0.9, 1e-4); err != nil {
			b.Fatal(err)
		}
	}
	if err := o.Device().Sync(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(sec*1e3, "ms/step")
	b.ReportMetric(float64(cfg.Batch)/sec, "img/s")
	loss, err = net.Loss()
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("loss after %d steps: %v", b.N+2, loss)
	if b.N > 1 {
		profileStep(b, net, o.Device())
	}
}

// profileStep logs where a step's time goes, outside the timed loop: the
// forward, backward and update phases (synchronised between), then each
// kernel and GEMM kind with every launch waited for.
func profileStep(b *testing.B, net *Net, dv *cuda.Device) {
	const reps = 3
	var fwd, bwd, upd time.Duration
	for range reps {
		for i, f := range []func() error{net.Forward, net.Backward, func() error { return net.Update(0.01, 0.9, 1e-4) }} {
			start := time.Now()
			if err := f(); err != nil {
				b.Fatal(err)
			}
			if err := dv.Sync(); err != nil {
				b.Fatal(err)
			}
			*[]*time.Duration{&fwd, &bwd, &upd}[i] += time.Since(start)
		}
	}
	ms := func(d time.Duration) float64 { return d.Seconds() * 1e3 / reps }
	b.Logf("phases (ms/step, synchronised): forward %.2f, backward %.2f, update %.2f", ms(fwd), ms(bwd), ms(upd))
	dv.Profile(true)
	for range reps {
		if err := net.Step(0.01, 0.9, 1e-4); err != nil {
			b.Fatal(err)
		}
	}
	var total time.Duration
	entries := dv.Profile(false)
	for _, e := range entries {
		total += e.Time
	}
	b.Logf("per launch kind, each launch waited for (ms/step; total %.2f):", ms(total))
	for _, e := range entries {
		b.Logf("  %-20s %6d calls/step %8.2f ms/step", e.Name, e.Calls/reps, ms(e.Time))
	}
}
