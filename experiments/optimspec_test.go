package experiments

import (
	"math"
	"slices"
	"testing"

	"github.com/gap-harness/gap/engine/optim"
	"github.com/gap-harness/gap/methods"
)

// TestOptimSpecAdamBetasInverseSqrt builds the runner's optimiser from a
// spec with the translation recipe (Adam (0.9, 0.98), eps 1e-9,
// inverse-sqrt with a 4-step linear warm-up) and checks the betas reach
// Adam and the rate at a few steps is fairseq's formula, counted afresh
// after an optimiser restart.
func TestOptimSpecAdamBetasInverseSqrt(t *testing.T) {
	plan := testPlan(t, "dense/0/dense")
	specs, _ := plan.Specs()
	spec := specs[0]
	const peak, warm = 2e-3, 4
	spec.Profile.Optim = OptimSpec{Name: "adam", LR: peak, Beta1: 0.9, Beta2: 0.98, Eps: 1e-9, Schedule: "inverse-sqrt", WarmupSteps: warm}
	spec.Threads = 1
	m, err := methods.Default().New("dense", nil)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := newTrainer(spec, Env{Data: &DataCache{}}, 1, m, clock{})
	if err != nil {
		t.Fatal(err)
	}
	adam, ok := tr.opt.(*optim.Adam)
	if !ok {
		t.Fatalf("optimiser is %T, want *optim.Adam", tr.opt)
	}
	if c := adam.Config(); c.Beta1 != 0.9 || c.Beta2 != 0.98 || c.Eps != 1e-9 {
		t.Fatalf("Adam built with betas (%g, %g) eps %g, want (0.9, 0.98) 1e-9", c.Beta1, c.Beta2, c.Eps)
	}
	// fairseq inverse_sqrt, warmup_init_lr 0: lr = peak*s/W before W, then
	// peak*sqrt(W/s).
	formula := func(s int64) float64 {
		if s < warm {
			return peak * float64(s) / warm
		}
		return peak * math.Sqrt(warm/float64(s))
	}
	check := func(offset int64) {
		t.Helper()
		for _, s := range []int64{0, 1, 3, 4, 9, 16, 100} {
			tr.step = offset + s
			if got, want := tr.lr(), formula(s); math.Abs(got-want) > 1e-15*peak {
				t.Errorf("rate %d steps after the optimiser's start (run step %d): %g, want %g", s, tr.step, got, want)
			}
		}
	}
	check(0)
	tr.step = 37
	if err := tr.restartOptimizer(); err != nil {
		t.Fatal(err)
	}
	check(37)

	// Zero betas keep PyTorch's defaults and stay out of the settings.
	spec.Profile.Optim = OptimSpec{Name: "adam", LR: peak, Schedule: "constant"}
	for _, k := range []string{"optim.beta1", "optim.beta2", "optim.eps", "optim.warmup_steps"} {
		if _, ok := spec.Settings()[k]; ok {
			t.Errorf("settings of a default Adam hold %s", k)
		}
	}
	tr2, err := newTrainer(spec, Env{Data: &DataCache{}}, 1, m, clock{})
	if err != nil {
		t.Fatal(err)
	}
	if c := tr2.opt.(*optim.Adam).Config(); c.Beta1 != 0.9 || c.Beta2 != 0.999 || c.Eps != 1e-8 {
		t.Errorf("default Adam has betas (%g, %g) eps %g, want PyTorch's (0.9, 0.999) 1e-8", c.Beta1, c.Beta2, c.Eps)
	}
}

// TestOptimSpecStepDecay builds the runner's schedule from a step-decay spec
// (PointNet++'s recipe: x0.5 every 2 epochs here, clipped at LR/16) and
// checks the rate at hand-picked epochs; that a GaP step's optimiser restart
// keeps the decayed rate (the decay counts the run's epochs) while a warm-up
// starts over; that the step settings enter the run identity only when set;
// and that bad step settings are refused.
func TestOptimSpecStepDecay(t *testing.T) {
	plan := testPlan(t, "dense/0/dense")
	specs, _ := plan.Specs()
	spec := specs[0]
	const base = 1e-3
	spec.Profile.Optim = OptimSpec{Name: "adam", LR: base, Schedule: "step", StepEpochs: 2, StepGamma: 0.5, MinLR: base / 16}
	spec.Threads = 1
	m, err := methods.Default().New("dense", nil)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := newTrainer(spec, Env{Data: &DataCache{}}, 1, m, clock{})
	if err != nil {
		t.Fatal(err)
	}
	spe := int64(tr.stepsPerEpoch)
	at := func(epoch, step int64) float64 {
		tr.step = epoch*spe + step
		return tr.lr()
	}
	cases := []struct {
		epoch, step int64
		want        float64
	}{{0, 0, base}, {1, spe - 1, base}, {2, 0, base / 2}, {3, spe - 1, base / 2}, {4, 0, base / 4},
		{7, 0, base / 8}, {8, 0, base / 16}, {9, 3, base / 16}, {40, 0, base / 16}}
	for _, c := range cases {
		if got := at(c.epoch, c.step); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("epoch %d step %d: lr %g, want %g", c.epoch, c.step, got, c.want)
		}
	}
	// A GaP step restarts the optimiser at epoch 3: the rate stays that of
	// the run's epoch.
	tr.step = 3 * spe
	if err := tr.restartOptimizer(); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases[3:] {
		if got := at(c.epoch, c.step); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("after a restart at epoch 3: epoch %d step %d: lr %g, want %g", c.epoch, c.step, got, c.want)
		}
	}
	// The cgap method does restart the optimiser at its steps (so the
	// runner's restart above is the path a GaP run takes).
	cg, err := methods.Default().New("cgap", map[string]string{"kappa": "2", "rounds": "1", "step_epochs": "1", "finetune_epochs": "1"})
	if err != nil {
		t.Fatal(err)
	}
	cg.Epochs(4) // the runner's contract: Epochs before anything else
	if r, ok := cg.(methods.Restarter); !ok || !r.RestartsOptimizerAt(1) {
		t.Errorf("cgap does not restart its optimiser at its second step")
	}
	// With a warm-up, the warm-up starts over at the restart; the decay does not.
	spec.Profile.Optim.WarmupSteps = 4
	tr, err = newTrainer(spec, Env{Data: &DataCache{}}, 1, m, clock{})
	if err != nil {
		t.Fatal(err)
	}
	tr.step = 5 * spe
	if err := tr.restartOptimizer(); err != nil {
		t.Fatal(err)
	}
	if got, want := at(5, 2), base/4*2/4; math.Abs(got-want) > 1e-15 {
		t.Errorf("2 steps into a restarted warm-up at epoch 5: lr %g, want %g", got, want)
	}

	// The step settings are in the identity when set, absent otherwise.
	set := spec.Settings()
	for k, v := range map[string]string{"optim.schedule": "step", "optim.step_epochs": "2", "optim.step_gamma": "0.5", "optim.min_lr": "6.25e-05"} {
		if set[k] != v {
			t.Errorf("settings[%s] = %q, want %q", k, set[k], v)
		}
	}
	for _, tab := range []*Table{ImageNet(), LeNet(), WMT14(), COCO()} {
		for pn := range tab.Profiles {
			if tab.Name == "coco" && pn == "full" {
				continue // NVIDIA's multi-step decay, by design (TestOptimSpecMilestones)
			}
			p, _ := tab.Profile(pn)
			ss, _ := Plan{Table: tab, Profile: p, Seeds: 1}.Specs()
			for _, k := range []string{"optim.step_epochs", "optim.step_gamma", "optim.min_lr"} {
				if _, ok := ss[0].Settings()[k]; ok {
					t.Errorf("table %s profile %s: settings hold %s", tab.Name, pn, k)
				}
			}
		}
	}

	for _, bad := range []OptimSpec{
		{Name: "adam", LR: base, Schedule: "step", StepGamma: 0.5},
		{Name: "adam", LR: base, Schedule: "step", StepEpochs: 2},
		{Name: "adam", LR: base, Schedule: "step", StepEpochs: 2, StepGamma: 1.5},
		{Name: "adam", LR: base, Schedule: "step", StepEpochs: 2, StepGamma: 0.5, MinLR: math.NaN()},
	} {
		spec.Profile.Optim = bad
		if err := spec.Validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
		if _, err := newTrainer(spec, Env{Data: &DataCache{}}, 1, m, clock{}); err == nil {
			t.Errorf("trainer built with %+v", bad)
		}
	}
}

// TestOptimSpecMilestones builds the runner's step schedule with milestones
// (NVIDIA SSD300's MultiStepLR) and checks the rate at hand-picked steps
// for a run of the profile's length (decays at exactly the milestone
// epochs) and for a longer run (the milestones stretched to the same
// fractions), with a warm-up in front; that the milestones enter the run
// identity only when set; that the coco full profile holds NVIDIA's
// schedule; and that bad milestone settings are refused.
func TestOptimSpecMilestones(t *testing.T) {
	plan := testPlan(t, "dense/0/dense")
	specs, _ := plan.Specs()
	spec := specs[0]
	const base = 0.1
	spec.Profile.Epochs, spec.Epochs = 6, 0
	spec.Profile.Optim = OptimSpec{Name: "sgd", LR: base, Momentum: 0.9, Schedule: "step", StepAt: []int{3, 5}, StepGamma: 0.1, WarmupSteps: 2}
	spec.Threads = 1
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	m, err := methods.Default().New("dense", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		total int // the run's epochs (0: the profile's 6)
		cases [][3]float64
	}{
		// epoch, step in the epoch, rate
		{0, [][3]float64{{0, 0, 0}, {0, 1, base / 2}, {0, 2, base}, {2, -1, base}, {3, 0, base / 10}, {4, -1, base / 10}, {5, 0, base / 100}, {5, -1, base / 100}}},
		// 12 epochs in all: milestones at epochs 6 and 10.
		{12, [][3]float64{{5, -1, base}, {6, 0, base / 10}, {9, -1, base / 10}, {10, 0, base / 100}, {11, -1, base / 100}}},
	} {
		tr, err := newTrainer(spec, Env{Data: &DataCache{}}, 1, m, clock{total: c.total})
		if err != nil {
			t.Fatal(err)
		}
		spe := int64(tr.stepsPerEpoch)
		for _, k := range c.cases {
			e, s := int64(k[0]), int64(k[1])
			if s < 0 {
				s += spe
			}
			tr.step = e*spe + s
			if got := tr.lr(); math.Abs(got-k[2]) > 1e-15 {
				t.Errorf("run of %d epochs: epoch %d step %d: lr %g, want %g", c.total, e, s, got, k[2])
			}
		}
	}
	if got := spec.Settings()["optim.step_at"]; got != "3,5" {
		t.Errorf("settings[optim.step_at] = %q, want 3,5", got)
	}
	spec.Profile.Optim.StepAt = nil
	spec.Profile.Optim.StepEpochs = 2
	if _, ok := spec.Settings()["optim.step_at"]; ok {
		t.Error("settings hold optim.step_at without milestones")
	}

	full, err := COCO().Profile("full")
	if err != nil {
		t.Fatal(err)
	}
	if o := full.Optim; o.Schedule != "step" || !slices.Equal(o.StepAt, []int{43, 54}) || o.StepGamma != 0.1 || o.WarmupSteps != 300 || o.WarmupEpochs != 0 ||
		o.LR != 2.6e-3 || o.Momentum != 0.9 || o.WeightDecay != 5e-4 || full.Epochs != 65 || full.Batch != 32 {
		t.Errorf("coco full: epochs %d, batch %d, optim %+v; want NVIDIA's (65 epochs of 32, lr 2.6e-3, x0.1 at 43 and 54, 300 warm-up steps)", full.Epochs, full.Batch, o)
	}
	if got, want := full.Optim.Summary(full.Epochs), "sgd lr 0.0026 momentum 0.9 wd 0.0005; step x0.1 at epochs 43,54 of 65 (same fractions of a longer run); warm-up 300 steps"; got != want {
		t.Errorf("coco full summary (gap list profiles):\n got  %s\n want %s", got, want)
	}
	for _, pn := range []string{"smoke", "default", "long"} {
		if p, _ := COCO().Profile(pn); p.Optim.Schedule != "cosine" || p.Optim.StepAt != nil || p.Optim.WarmupSteps != 0 {
			t.Errorf("coco %s: optim %+v, want the proxy's cosine", pn, p.Optim)
		}
	}

	for _, bad := range []OptimSpec{
		{Name: "sgd", LR: base, Schedule: "step", StepAt: []int{3, 5}},
		{Name: "sgd", LR: base, Schedule: "step", StepAt: []int{5, 3}, StepGamma: 0.1},
		{Name: "sgd", LR: base, Schedule: "step", StepAt: []int{3, 3}, StepGamma: 0.1},
		{Name: "sgd", LR: base, Schedule: "step", StepAt: []int{0, 3}, StepGamma: 0.1},
		{Name: "sgd", LR: base, Schedule: "step", StepAt: []int{3, 6}, StepGamma: 0.1},
		{Name: "sgd", LR: base, Schedule: "step", StepAt: []int{3}, StepGamma: 0.1, MinLR: 1e-4},
		{Name: "sgd", LR: base, Schedule: "step", StepAt: []int{3}, StepGamma: 0.1, StepEpochs: 2},
	} {
		spec.Profile.Optim = bad
		if err := spec.Validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
		if _, err := newTrainer(spec, Env{Data: &DataCache{}}, 1, m, clock{}); err == nil {
			t.Errorf("trainer built with %+v", bad)
		}
	}
}
