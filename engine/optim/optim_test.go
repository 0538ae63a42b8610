package optim

import (
	"math"
	"testing"

	"github.com/gap-harness/gap/engine"
)

// Reference values from PyTorch 1.13 (/usr/bin/python3), three steps on one
// 5-element parameter:
//
//	w0 = [0.5, -1.25, 2.0, 0.0, -0.3]
//	grads = [[0.1, -0.2, 0.3, 0.05, -1.0], [-0.4, 0.25, 0.0, 1.5, 0.2], [0.3, 0.3, -0.7, -0.1, 0.9]]
//	p = torch.nn.Parameter(torch.tensor(w0)); opt = make([p])
//	for g in grads: p.grad = torch.tensor(g); opt.step()
var (
	w0    = []float32{0.5, -1.25, 2.0, 0.0, -0.3}
	grads = [][]float32{{0.1, -0.2, 0.3, 0.05, -1.0}, {-0.4, 0.25, 0.0, 1.5, 0.2}, {0.3, 0.3, -0.7, -0.1, 0.9}}
)

func param(name string, v []float32) *engine.Var[float32] {
	return engine.NewParam(name, engine.FromSlice(append([]float32(nil), v...), len(v)))
}

func setGrad(p *engine.Var[float32], g []float32) {
	if p.Grad == nil {
		p.Grad = engine.NewTensor[float32](p.Value.Shape()...)
	}
	copy(p.Grad.Data(), g)
}

func run(t *testing.T, o Optimizer, p *engine.Var[float32]) []float32 {
	t.Helper()
	for _, g := range grads {
		setGrad(p, g)
		o.Step()
	}
	return p.Value.Data()
}

func near(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > tol*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("%s: [%d] = %.9g, want %.9g (all %v)", what, i, got[i], want[i], got)
		}
	}
}

// TestAgainstPyTorch checks three steps of every optimiser configuration
// against torch.optim (values printed by PyTorch 1.13), e.g.
//
//	torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01)
//	torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
//	torch.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.5)
//	torch.optim.Adam(ps, lr=0.01)
//	torch.optim.Adam(ps, lr=0.01, weight_decay=0.1, betas=(0.8,0.99), eps=1e-3)
//	torch.optim.AdamW(ps, lr=0.01, weight_decay=0.1)
func TestAgainstPyTorch(t *testing.T) {
	cases := []struct {
		name string
		make func(p *engine.Var[float32]) (Optimizer, error)
		want []float32
	}{
		{"sgd", func(p *engine.Var[float32]) (Optimizer, error) {
			return NewSGD([]*engine.Var[float32]{p}, SGDConfig{LR: 0.1})
		}, []float32{0.5, -1.28499997, 2.03999996, -0.144999996, -0.310000002}},
		{"sgd-momentum-wd", func(p *engine.Var[float32]) (Optimizer, error) {
			return NewSGD([]*engine.Var[float32]{p}, SGDConfig{LR: 0.1, Momentum: 0.9, WeightDecay: 0.01})
		}, []float32{0.5160954, -1.26634455, 1.97760355, -0.28838101, -0.155678347}},
		{"sgd-nesterov-wd", func(p *engine.Var[float32]) (Optimizer, error) {
			return NewSGD([]*engine.Var[float32]{p}, SGDConfig{LR: 0.1, Momentum: 0.9, Nesterov: true, WeightDecay: 0.01})
		}, []float32{0.512950957, -1.29604173, 2.0140686, -0.404102027, -0.179846406}},
		{"sgd-dampening", func(p *engine.Var[float32]) (Optimizer, error) {
			return NewSGD([]*engine.Var[float32]{p}, SGDConfig{LR: 0.1, Momentum: 0.9, Dampening: 0.5})
		}, []float32{0.495899975, -1.23455012, 1.95370007, -0.151050001, -0.0930000246}},
		{"adam", func(p *engine.Var[float32]) (Optimizer, error) {
			return NewAdam([]*engine.Var[float32]{p}, AdamConfig{LR: 0.01})
		}, []float32{0.495331854, -1.24691451, 1.98713326, -0.023143813, -0.286158562}},
		{"adam-l2-betas-eps", func(p *engine.Var[float32]) (Optimizer, error) {
			return NewAdam([]*engine.Var[float32]{p}, AdamConfig{LR: 0.01, WeightDecay: 0.1, Beta1: 0.8, Beta2: 0.99, Eps: 1e-3})
		}, []float32{0.492547989, -1.23826993, 1.98149991, -0.0231651552, -0.286912113}},
		{"adamw", func(p *engine.Var[float32]) (Optimizer, error) {
			return NewAdamW([]*engine.Var[float32]{p}, AdamConfig{LR: 0.01, WeightDecay: 0.1})
		}, []float32{0.493847758, -1.24318659, 1.98116612, -0.0231161639, -0.285284579}},
	}
	for _, c := range cases {
		p := param("w", w0)
		o, err := c.make(p)
		if err != nil {
			t.Fatal(err)
		}
		near(t, c.name, run(t, o, p), c.want, 2e-7)
		if o.Steps() != 3 {
			t.Fatalf("%s: Steps() = %d", c.name, o.Steps())
		}
	}
}

// TestResumeBitIdentical saves the state after one step into a fresh optimiser
// and checks that both then produce bit-identical weights.
func TestResumeBitIdentical(t *testing.T) {
	mk := func(p *engine.Var[float32]) Optimizer {
		o, err := NewAdamW([]*engine.Var[float32]{p}, AdamConfig{LR: 0.01, WeightDecay: 0.1})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	p := param("w", w0)
	a := mk(p)
	setGrad(p, grads[0])
	a.Step()
	sd := StateDict(a, []string{"w"})
	q := param("w", p.Value.Data())
	b := mk(q)
	if err := LoadStateDict(b, []string{"w"}, sd); err != nil {
		t.Fatal(err)
	}
	for _, g := range grads[1:] {
		setGrad(p, g)
		setGrad(q, g)
		a.Step()
		b.Step()
	}
	for i := range p.Value.Data() {
		if p.Value.Data()[i] != q.Value.Data()[i] {
			t.Fatalf("resumed run differs at %d: %v vs %v", i, p.Value.Data(), q.Value.Data())
		}
	}
	if err := LoadStateDict(b, []string{"nope"}, sd); err == nil {
		t.Fatal("LoadStateDict of an unknown name succeeded")
	}
}

// TestZeroState checks per-index and mask-driven zeroing of every buffer.
func TestZeroState(t *testing.T) {
	p := param("w", w0)
	o, err := NewAdam([]*engine.Var[float32]{p}, AdamConfig{LR: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	setGrad(p, []float32{1, 1, 1, 1, 1})
	o.Step()
	o.ZeroState("w", []int{1})
	o.ZeroWhereMasked("w", []float32{1, 1, 0, 1, 1})
	for _, k := range []string{"exp_avg", "exp_avg_sq"} {
		s := o.State("w")[k]
		for i, v := range s {
			if (i == 1 || i == 2) != (v == 0) {
				t.Fatalf("%s after zeroing = %v", k, s)
			}
		}
	}
	o.ZeroState("unknown", []int{0}) // no panic
	if o.State("unknown") != nil {
		t.Fatal("State of unknown name not nil")
	}
	if err := o.SetState("w", map[string][]float32{"exp_avg": make([]float32, 5)}); err == nil {
		t.Fatal("SetState with a missing key succeeded")
	}
}

// TestNameChecks rejects unnamed and duplicate parameters and a bad Nesterov.
func TestNameChecks(t *testing.T) {
	if _, err := NewSGD([]*engine.Var[float32]{param("a", w0), param("a", w0)}, SGDConfig{}); err == nil {
		t.Fatal("duplicate names accepted")
	}
	if _, err := NewAdam([]*engine.Var[float32]{param("", w0)}, AdamConfig{}); err == nil {
		t.Fatal("unnamed parameter accepted")
	}
	if _, err := NewSGD(nil, SGDConfig{Nesterov: true}); err == nil {
		t.Fatal("Nesterov without momentum accepted")
	}
}

// TestDecayFilter checks that a parameter excluded by Decay gets no decay.
func TestDecayFilter(t *testing.T) {
	p, q := param("w", []float32{1}), param("b", []float32{1})
	o, err := NewSGD([]*engine.Var[float32]{p, q}, SGDConfig{LR: 1, WeightDecay: 0.5, Decay: func(n string) bool { return n == "w" }})
	if err != nil {
		t.Fatal(err)
	}
	setGrad(p, []float32{0})
	setGrad(q, []float32{0})
	o.Step()
	if p.Value.Data()[0] != 0.5 || q.Value.Data()[0] != 1 {
		t.Fatalf("decay filter: w=%v b=%v", p.Value.Data(), q.Value.Data())
	}
}

// TestParallelMatchesSerial checks that a large parameter updated with several
// goroutines matches the single-threaded update bit for bit.
func TestParallelMatchesSerial(t *testing.T) {
	n := 100_000
	v := make([]float32, n)
	g := make([]float32, n)
	for i := range v {
		v[i] = float32(math.Sin(float64(i)))
		g[i] = float32(math.Cos(float64(i) * 0.7))
	}
	var out [2][]float32
	for k, threads := range []int{1, 4} {
		p := param("w", v)
		o, err := NewAdam([]*engine.Var[float32]{p}, AdamConfig{LR: 0.01, Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		setGrad(p, g)
		o.Step()
		o.Step()
		out[k] = p.Value.Data()
	}
	for i := range out[0] {
		if out[0][i] != out[1][i] {
			t.Fatalf("threads differ at %d", i)
		}
	}
}

// TestClipGradNorm checks against torch.nn.utils.clip_grad_norm_([p, q], 1.0)
// with p.grad = grads[0] and q.grad = [3, 4].
func TestClipGradNorm(t *testing.T) {
	p, q := param("p", w0), param("q", []float32{3, 4})
	setGrad(p, grads[0])
	setGrad(q, []float32{3, 4})
	n := ClipGradNorm([]*engine.Var[float32]{p, q, param("nograd", w0)}, 1)
	if math.Abs(n-5.11297369) > 1e-6 {
		t.Fatalf("norm %v", n)
	}
	near(t, "clipped", append(append([]float32(nil), p.Grad.Data()...), q.Grad.Data()...),
		[]float32{0.019558087, -0.039116174, 0.0586742647, 0.0097790435, -0.19558087, 0.58674264, 0.78232348}, 1e-6)
	// Under the limit nothing changes.
	before := q.Grad.Data()[1]
	if n := ClipGradNorm([]*engine.Var[float32]{q}, 100); n >= 100 || q.Grad.Data()[1] != before {
		t.Fatalf("clip under the limit changed the gradient")
	}
}
