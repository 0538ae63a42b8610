package experiments

import (
	"math"
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
