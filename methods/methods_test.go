package methods

import (
	"strings"
	"testing"
)

var dists = []string{Uniform, ERK, Global}

func mustNew(t *testing.T, name string, p map[string]string) Method {
	t.Helper()
	m, err := Default().New(name, p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Every method that is sparse from the start is exactly at its targets
// after Init, with pruned weights zero and their optimiser state zero.
func TestInitMethodsHitTargets(t *testing.T) {
	for _, name := range []string{"static", "magnitude-oneshot", "snip", "rigl", "set"} {
		for _, d := range dists {
			ctx := newCtx(3, fakeSpecs(), 0.9, d)
			ctx.Grad = func() error { return nil }
			m := mustNew(t, name, nil)
			ctx.TotalEpochs = m.Epochs(10)
			if err := m.Init(ctx); err != nil {
				t.Fatalf("%s/%s: %v", name, d, err)
			}
			checkMasked(t, ctx, name+"/"+d)
			checkTargets(t, ctx, name+"/"+d)
		}
	}
}

func TestMagnitudeOneshotKeepsLargest(t *testing.T) {
	ctx := newCtx(4, fakeSpecs(), 0.7, Uniform)
	orig := map[string][]float32{}
	for _, x := range ctx.Tensors {
		orig[x.Name] = append([]float32(nil), x.W...)
	}
	m := mustNew(t, "magnitude-oneshot", nil)
	ctx.TotalEpochs = m.Epochs(5)
	if err := m.Init(ctx); err != nil {
		t.Fatal(err)
	}
	for _, x := range ctx.Tensors {
		if x.Dense {
			continue
		}
		want := refTopK(absCopy(orig[x.Name]), KeepCount(x.Size(), 0.7))
		for i := range want {
			if want[i] != x.M[i] {
				t.Fatalf("%s: not the top |w|", x.Name)
			}
		}
	}
}

func TestSNIPKeepsTopGradTimesWeight(t *testing.T) {
	for _, d := range []string{Uniform, Global} {
		ctx := newCtx(5, fakeSpecs(), 0.8, d)
		calls := 0
		ctx.Grad = func() error {
			calls++
			for _, x := range ctx.Tensors {
				for i := range x.M {
					if x.M[i] != 1 {
						t.Fatal("snip gradient batch must see dense masks")
					}
				}
			}
			return nil
		}
		orig := map[string][]float32{}
		for _, x := range ctx.Tensors {
			orig[x.Name] = append([]float32(nil), x.W...)
		}
		m := mustNew(t, "snip", nil)
		ctx.TotalEpochs = m.Epochs(5)
		if err := m.Init(ctx); err != nil {
			t.Fatal(err)
		}
		if calls != 1 {
			t.Fatalf("ctx.Grad called %d times", calls)
		}
		score := func(x *Tensor, i int) float32 {
			s := x.G[i] * orig[x.Name][i]
			if s < 0 {
				s = -s
			}
			return s
		}
		if d == Uniform {
			for _, x := range ctx.Tensors {
				if x.Dense {
					continue
				}
				sc := make([]float32, x.Size())
				for i := range sc {
					sc[i] = score(x, i)
				}
				want := refTopK(sc, KeepCount(x.Size(), 0.8))
				for i := range want {
					if want[i] != x.M[i] {
						t.Fatalf("uniform: %s is not the top |g*w|", x.Name)
					}
				}
			}
			continue
		}
		// Global: every kept score >= every pruned score, across layers.
		minKept, maxPruned := float32(1e30), float32(-1)
		for _, x := range ctx.Tensors {
			if x.Dense {
				continue
			}
			for i := range x.M {
				if x.M[i] == 1 {
					minKept = min(minKept, score(x, i))
				} else {
					maxPruned = max(maxPruned, score(x, i))
				}
			}
		}
		if minKept < maxPruned {
			t.Fatalf("global: kept %v < pruned %v", minKept, maxPruned)
		}
		checkTargets(t, ctx, "snip/global")
	}
}

func TestSNIPNeedsGrad(t *testing.T) {
	ctx := newCtx(5, fakeSpecs(), 0.8, Uniform)
	if err := mustNew(t, "snip", nil).Init(ctx); err == nil || !strings.Contains(err.Error(), "Grad") {
		t.Fatalf("want an error about ctx.Grad, got %v", err)
	}
}

// runEpochs emulates the runner loop for the given epochs.
func runEpochs(t *testing.T, m Method, ctx *Context, from, to int, check func(epoch int)) {
	t.Helper()
	for e := from; e < to; e++ {
		ctx.Epoch = e
		for s := 0; s < ctx.StepsPerEpoch; s++ {
			if err := m.Update(ctx); err != nil {
				t.Fatal(err)
			}
			if sk, ok := m.(StepSkipper); !ok || !sk.SkipsOptimizerStep(ctx.Step) {
				train(ctx)
			}
			if as, ok := m.(AfterStepper); ok {
				if err := as.AfterStep(ctx); err != nil {
					t.Fatal(err)
				}
			}
			ctx.Step++
		}
		if err := m.EpochEnd(ctx); err != nil {
			t.Fatal(err)
		}
		if check != nil {
			check(e)
		}
	}
}

func TestDenseStaysDense(t *testing.T) {
	ctx := newCtx(1, fakeSpecs(), 0.9, Uniform)
	m := mustNew(t, "dense", nil)
	ctx.TotalEpochs = m.Epochs(2)
	if err := m.Init(ctx); err != nil {
		t.Fatal(err)
	}
	runEpochs(t, m, ctx, 0, 2, nil)
	for _, x := range ctx.Tensors {
		if CountOnes(x.M) != x.Size() {
			t.Fatalf("%s pruned by dense", x.Name)
		}
	}
	if m.Phase(1).Name != "dense" {
		t.Fatalf("phase %v", m.Phase(1))
	}
}

func TestPFPPrunesOnceAfterDense(t *testing.T) {
	for _, d := range dists {
		ctx := newCtx(6, fakeSpecs(), 0.8, d)
		m := mustNew(t, "pfp", map[string]string{"dense_epochs": "2", "finetune_epochs": "2"})
		if ctx.TotalEpochs = m.Epochs(10); ctx.TotalEpochs != 4 {
			t.Fatalf("epochs %d", ctx.TotalEpochs)
		}
		if err := m.Init(ctx); err != nil {
			t.Fatal(err)
		}
		var before map[string][]float32
		runEpochs(t, m, ctx, 0, 4, func(e int) {
			switch e {
			case 0:
				if OverallSparsity(ctx.Tensors) != 0 {
					t.Fatal("pruned during the dense phase")
				}
			case 1, 2, 3:
				checkTargets(t, ctx, "pfp/"+d)
				checkMasked(t, ctx, "pfp/"+d)
				if e == 1 {
					before = map[string][]float32{}
					for _, x := range ctx.Tensors {
						before[x.Name] = append([]float32(nil), x.M...)
					}
				} else {
					for _, x := range ctx.Tensors {
						for i := range x.M {
							if x.M[i] != before[x.Name][i] {
								t.Fatal("mask changed during fine-tune")
							}
						}
					}
				}
			}
		})
		if m.Phase(1).Name != "dense" || m.Phase(2).Name != "finetune" {
			t.Fatalf("phases %v %v", m.Phase(1), m.Phase(2))
		}
	}
}

func TestIPFPSchedule(t *testing.T) {
	for _, sched := range []string{"geometric", "cubic"} {
		ctx := newCtx(7, fakeSpecs(), 0.9, Uniform)
		m := mustNew(t, "ipfp", map[string]string{"dense_epochs": "1", "cycles": "3", "cycle_epochs": "1", "schedule": sched})
		ctx.TotalEpochs = m.Epochs(10)
		if ctx.TotalEpochs != 4 {
			t.Fatalf("epochs %d", ctx.TotalEpochs)
		}
		if err := m.Init(ctx); err != nil {
			t.Fatal(err)
		}
		ip := m.(*IPFP)
		runEpochs(t, m, ctx, 0, 4, func(e int) {
			if e == 3 {
				return
			}
			k := e + 1
			want := ip.CycleSparsity(0.9, k)
			if sched == "geometric" {
				if w := 1 - pow(0.1, float64(k)/3); !near(want, w) {
					t.Fatalf("geometric cycle %d: %v want %v", k, want, w)
				}
			}
			for _, x := range ctx.Tensors {
				if x.Dense {
					continue
				}
				w := KeepCount(x.Size(), want)
				if k == 3 {
					w = KeepCount(x.Size(), 0.9)
				}
				if CountOnes(x.M) != w {
					t.Fatalf("%s cycle %d: %s keeps %d want %d", sched, k, x.Name, CountOnes(x.M), w)
				}
			}
			checkMasked(t, ctx, "ipfp")
		})
	}
}

func TestGMPFollowsCubic(t *testing.T) {
	for _, d := range dists {
		ctx := newCtx(8, fakeSpecs(), 0.9, d)
		m := mustNew(t, "gmp", map[string]string{"start_epoch": "2", "end_epoch": "5", "freq": "7"})
		ctx.TotalEpochs = m.Epochs(8)
		if err := m.Init(ctx); err != nil {
			t.Fatal(err)
		}
		g := m.(*GMP)
		prunes := 0
		for ctx.Step = 0; ctx.Step < 80; ctx.Step++ {
			prev := map[string]int{}
			for _, x := range ctx.Tensors {
				prev[x.Name] = CountOnes(x.M)
			}
			if err := m.Update(ctx); err != nil {
				t.Fatal(err)
			}
			st := ctx.Step
			isPrune := st >= 20 && st <= 50 && ((st-20)%7 == 0 || st == 50)
			if g.IsPruneStep(ctx, st) != isPrune {
				t.Fatalf("step %d: prune step %v, want %v", st, !isPrune, isPrune)
			}
			frac := 0.0
			if st >= 20 {
				x := 1 - float64(min(st, 50)-20)/30
				frac = 1 - x*x*x
			}
			if !near(g.SparsityAt(ctx, st), frac) {
				t.Fatalf("step %d: sparsity fraction %v want %v", st, g.SparsityAt(ctx, st), frac)
			}
			if isPrune {
				prunes++
				s, _ := ResolveTargets(ctx)
				for i, x := range ctx.Tensors {
					if x.Dense {
						continue
					}
					zeros := x.Size() - KeepCount(x.Size(), s[i])
					want := x.Size() - int(float64(zeros)*frac+0.5)
					if CountOnes(x.M) != want {
						t.Fatalf("%s step %d: %s keeps %d want %d", d, st, x.Name, CountOnes(x.M), want)
					}
				}
			} else {
				for _, x := range ctx.Tensors {
					if CountOnes(x.M) != prev[x.Name] {
						t.Fatalf("step %d: mask changed outside a prune step", st)
					}
				}
			}
			train(ctx)
		}
		if prunes != 6 { // 20,27,34,41,48,50
			t.Fatalf("%d prune steps", prunes)
		}
		checkTargets(t, ctx, "gmp/"+d)
		checkMasked(t, ctx, "gmp/"+d)
	}
}

func TestRegistry(t *testing.T) {
	r := Default()
	list := r.List()
	if len(list) < 11 {
		t.Fatalf("roster has %d methods", len(list))
	}
	for i, info := range list {
		if i > 0 && list[i-1].Name >= info.Name {
			t.Fatal("List not sorted")
		}
		if info.Description == "" {
			t.Fatalf("%s has no description", info.Name)
		}
		m, err := r.New(info.Name, nil)
		if err != nil {
			t.Fatalf("%s with defaults: %v", info.Name, err)
		}
		if m.Name() != info.Name {
			t.Fatalf("%s reports name %q", info.Name, m.Name())
		}
		if m.Epochs(10) <= 0 {
			t.Fatalf("%s: Epochs(10) = %d", info.Name, m.Epochs(10))
		}
	}
	_, err := r.New("rigl", map[string]string{"drop_fraction": "lots"})
	if err == nil || !strings.Contains(err.Error(), "rigl") || !strings.Contains(err.Error(), "drop_fraction") || !strings.Contains(err.Error(), "float") {
		t.Fatalf("bad float: %v", err)
	}
	_, err = r.New("cgap", map[string]string{"kapa": "3"})
	if err == nil || !strings.Contains(err.Error(), "kapa") || !strings.Contains(err.Error(), "kappa") {
		t.Fatalf("unknown param: %v", err)
	}
	_, err = r.New("cgap", map[string]string{"order": "spiral"})
	if err == nil || !strings.Contains(err.Error(), "cyclic|random") {
		t.Fatalf("bad enum: %v", err)
	}
	if _, err = r.New("nope", nil); err == nil || !strings.Contains(err.Error(), "rigl") {
		t.Fatalf("unknown method: %v", err)
	}
	if err := r.Register("dense", "again", newDense); err == nil {
		t.Fatal("duplicate registration accepted")
	}
	// No shared state: two registries are independent.
	if err := NewRegistry().Register("x", "y", newDense); err != nil {
		t.Fatal(err)
	}
	if _, err := Default().New("x", nil); err == nil {
		t.Fatal("registration leaked into Default()")
	}
}

func TestFLOPsHandComputed(t *testing.T) {
	a := &Tensor{Name: "a", M: []float32{1, 0, 1, 0}, FwdFLOPs: 100}
	b := &Tensor{Name: "b", M: []float32{1, 1}, FwdFLOPs: 50}
	ts := []*Tensor{a, b}
	// f_S = 100*0.5 + 50 = 100, f_D = 150, other = 10.
	if got := StepFLOPs(ts, 2, false, 10); got != 2*(3*100+30) {
		t.Fatalf("step %v", got)
	}
	if got := StepFLOPs(ts, 2, true, 10); got != 2*(2*100+150+30) {
		t.Fatalf("dense-grad step %v", got)
	}
	if got := InferenceFLOPs(ts, 10); got != 110 {
		t.Fatalf("inference %v", got)
	}
	var m Method = mustNew(t, "rigl", nil)
	if _, ok := m.(DenseGradStepper); !ok {
		t.Fatal("rigl must implement DenseGradStepper")
	}
	if _, ok := mustNew(t, "set", nil).(DenseGradStepper); ok {
		t.Fatal("set needs no dense gradient")
	}
}

// TestIPFPDefaultBudget checks that iterative prune-from-pretrained's
// default split trains the row's budget, dense and fine-tune cycles about
// half each (as prune-from-pretrained's dense_frac 0.5), from the smallest
// budget the cycles fit in.
func TestIPFPDefaultBudget(t *testing.T) {
	for _, c := range []struct{ base, dense, cycle int }{{4, 1, 1}, {6, 3, 1}, {8, 5, 1}, {12, 6, 2}, {40, 22, 6}, {100, 52, 16}} {
		m := mustNew(t, "ipfp", nil)
		if n := m.Epochs(c.base); n != c.base {
			t.Errorf("base %d: %d epochs", c.base, n)
		}
		ip := m.(*IPFP)
		if ip.denseEp != c.dense || ip.cycleEp != c.cycle {
			t.Errorf("base %d: dense %d, cycles of %d; want %d, %d", c.base, ip.denseEp, ip.cycleEp, c.dense, c.cycle)
		}
	}
}
