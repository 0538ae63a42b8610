package methods

import (
	"strings"
	"testing"
)

// TestPlanDerivesRunnerAnswers checks the shared derivation on a hand
// plan: the epochs sum, the phase of every epoch (past the end: the last
// phase), and restarts only at the first epoch of a restarting phase that
// is not the first.
func TestPlanDerivesRunnerAnswers(t *testing.T) {
	p := Plan{Targets: TargetsInit}.
		Then("dense", 2, -1, 0, true). // a first phase never restarts
		Then("grow", 0, 1, 1, true).   // 0 epochs: left out
		Then("grow", 3, 2, 1, true).
		Then("prune", 1, -1, 2, false).
		Then("finetune", 2, -1, 3, true)
	if len(p.Phases) != 4 || p.Epochs() != 8 {
		t.Fatalf("phases %+v, epochs %d", p.Phases, p.Epochs())
	}
	want := []string{"dense#0", "dense#0", "grow[2]#1", "grow[2]#1", "grow[2]#1", "prune#2", "finetune#3", "finetune#3", "finetune#3"}
	for e, w := range want {
		if got := p.PhaseAt(e).String(); got != w {
			t.Errorf("epoch %d: phase %s, want %s", e, got, w)
		}
	}
	for e := -1; e <= 9; e++ {
		if got, w := p.RestartsAt(e), e == 2 || e == 6; got != w {
			t.Errorf("epoch %d: restart %v, want %v", e, got, w)
		}
	}
	if (Plan{}).PhaseAt(0).Name != "sparse" || (Plan{}).RestartsAt(1) {
		t.Error("an empty plan: want a sparse phase and no restart")
	}
}

// restartsBefore is how the methods with restarts answered before plans:
// a fresh optimiser wherever the phase step changes.
func restartsBefore(m Method, e int) bool {
	return e > 0 && m.Phase(e).Step != m.Phase(e-1).Step
}

// TestPlansKeepTheHandWrittenSchedules checks every method of the roster,
// at several budgets and parameters, against the schedule rules each
// method wrote by hand before it declared a plan: C-GaP, P-GaP and the
// prune-from-pretrained methods restart where the step changes and no
// other method ever restarts; the methods sparse from the first step fix
// their targets at Init and the others do not; and Epochs, Phase and the
// plan agree.
func TestPlansKeepTheHandWrittenSchedules(t *testing.T) {
	restarting := map[string]bool{"cgap": true, "pgap": true, "pfp": true, "ipfp": true}
	atInit := map[string]bool{"cgap": true, "pgap": true, "static": true, "snip": true, "rigl": true, "set": true}
	params := map[string][]map[string]string{
		"cgap":              {nil, {"step_epochs": "2", "rounds": "1", "kappa": "2"}, {"finetune_epochs": "3"}},
		"pgap":              {nil, {"step_epochs": "2", "rounds": "3"}},
		"gmp":               {nil, {"start_epoch": "0", "end_epoch": "30"}, {"start_frac": "0", "end_frac": "1"}},
		"pfp":               {nil, {"dense_frac": "1"}, {"dense_epochs": "4", "finetune_epochs": "1"}},
		"ipfp":              {nil, {"cycles": "2", "cycle_epochs": "3"}},
		"magnitude-oneshot": {nil, {"epochs_factor": "2.5"}},
	}
	for _, info := range Default().List() {
		ps := append([]map[string]string{nil}, params[info.Name]...)
		for _, p := range ps {
			for _, budget := range []int{1, 2, 3, 8, 41} {
				m := mustNew(t, info.Name, p)
				n := m.Epochs(budget)
				plan := PlanOf(m, budget)
				where := info.Name + " " + strings.TrimSpace(plan.String())
				if plan.Epochs() != n || n < 1 {
					t.Fatalf("%s: plan of %d epochs, Epochs %d", where, plan.Epochs(), n)
				}
				if got := m.(TargetsAtInit).TargetsAtInit(); got != atInit[info.Name] {
					t.Errorf("%s: TargetsAtInit %v", where, got)
				}
				r := m.(Restarter)
				for e := 0; e < n; e++ {
					if m.Phase(e) != plan.PhaseAt(e) {
						t.Fatalf("%s: epoch %d: Phase %v, plan %v", where, e, m.Phase(e), plan.PhaseAt(e))
					}
					if want := restarting[info.Name] && restartsBefore(m, e); r.RestartsOptimizerAt(e) != want {
						t.Fatalf("%s: epoch %d: restart %v, want %v", where, e, !want, want)
					}
				}
			}
		}
	}
}

// hooksOnly is a method that implements only the hooks (no Base, no
// plan): a dense phase, then a sparse one that restarts the optimiser.
type hooksOnly struct{}

func (hooksOnly) Name() string                   { return "hooks-only" }
func (hooksOnly) Epochs(base int) int            { return base + 1 }
func (hooksOnly) Init(*Context) error            { return nil }
func (hooksOnly) Update(*Context) error          { return nil }
func (hooksOnly) EpochEnd(*Context) error        { return nil }
func (hooksOnly) RestartsOptimizerAt(e int) bool { return e == 2 }
func (hooksOnly) Phase(e int) Phase {
	if e < 2 {
		return Phase{Name: "dense", Partition: -1}
	}
	return Phase{Name: "sparse", Partition: -1, Step: 1}
}

// TestPlanOfHooksOnlyMethod checks that PlanOf describes a method that
// declares no plan from its hooks.
func TestPlanOfHooksOnlyMethod(t *testing.T) {
	p := PlanOf(hooksOnly{}, 4)
	want := Plan{Targets: TargetsInitialWeights}.Then("dense", 2, -1, 0, false).Then("sparse", 3, -1, 1, true)
	if p.String() != want.String() || len(p.Phases) != 2 || p.Phases[1] != want.Phases[1] {
		t.Fatalf("got %+v\nwant %+v", p, want)
	}
}

// TestPlanString checks the listing `gap list -method` prints: C-GaP's
// grow steps folded with their partitions, restarts and the fine-tune.
func TestPlanString(t *testing.T) {
	m := mustNew(t, "cgap", map[string]string{"rounds": "1", "kappa": "2"})
	got := PlanOf(m, 8).String()
	want := "14 epochs; targets fixed at init (after the dense warm-up for global)\n" +
		"  epochs 0-5  3 x grow (2 epochs each, steps 0..2), growing partitions 0,1,0; fresh optimiser at each start after the first\n" +
		"  epochs 6-13  finetune#3; fresh optimiser\n"
	if got != want {
		t.Fatalf("plan listing:\n%s\nwant:\n%s", got, want)
	}
}
