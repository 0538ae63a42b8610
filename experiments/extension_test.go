package experiments_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gap-harness/gap/experiments"
	"github.com/gap-harness/gap/methods"
)

// This file is the proof that a method can be added from outside package
// methods, with its exported helpers only, and run through the real runner
// in a table of its own, without editing a table file. methods/README.md
// ("Adding a method") walks through it.

// lateSNIP prunes once by SNIP's saliency |g*w| on trained weights: it
// trains dense for dense_frac of the budget, then keeps each layer's top
// |g*w| (one gradient batch) and fine-tunes with a fresh optimiser.
type lateSNIP struct {
	methods.Base
	denseFrac float64
	denseEp   int // resolved by plan
}

// newLateSNIP is the method's factory: it declares the typed parameters
// (they drive parsing, `gap list -method` and the run identity).
func newLateSNIP(p map[string]string) (methods.Method, error) {
	ps := methods.NewParams("late-snip", p)
	m := &lateSNIP{denseFrac: ps.Float("dense_frac", 0.5)}
	ps.Check(m.denseFrac > 0 && m.denseFrac < 1, "dense_frac", "a float in (0, 1)")
	if err := ps.Err(); err != nil {
		return nil, err
	}
	m.Base = methods.NewPlannedBase("late-snip", ps, m.plan)
	return m, nil
}

// plan declares the schedule as data: dense, then a fine-tune that starts
// a fresh optimiser; the targets are fixed at the prune, from trained
// weights. Epochs, Phase, RestartsOptimizerAt and TargetsAtInit come from
// it (methods.Base).
func (m *lateSNIP) plan(budget int) methods.Plan {
	m.denseEp = max(1, min(budget-1, int(math.Round(m.denseFrac*float64(budget)))))
	return methods.Plan{Targets: methods.TargetsFirstPrune}.
		Then("dense", m.denseEp, -1, 0, false).
		Then("finetune", budget-m.denseEp, -1, 1, true)
}

// Init starts dense.
func (m *lateSNIP) Init(ctx *methods.Context) error {
	for _, t := range ctx.Tensors {
		for i := range t.M {
			t.M[i] = 1
		}
	}
	return nil
}

// EpochEnd prunes after the last dense epoch: the shared prune-to-keeps
// loop with SNIP's score.
func (m *lateSNIP) EpochEnd(ctx *methods.Context) error {
	if ctx.Epoch+1 != m.denseEp {
		return nil
	}
	if err := ctx.Grad(); err != nil {
		return err
	}
	keeps, err := methods.TargetKeeps(ctx)
	if err != nil {
		return err
	}
	methods.PruneToKeepsBy(ctx, keeps, methods.TopScores(methods.Saliency), nil)
	return nil
}

// TestMethodFromOutsideThePackage registers late-snip into a registry and
// runs it through the real runner in a custom smoke table: both rows
// finish at their targets, with the plan's epochs and phases, and the
// fine-tune ran as its own stage (the plan's restart).
func TestMethodFromOutsideThePackage(t *testing.T) {
	reg := methods.Default()
	if err := reg.Register("late-snip", "SNIP's |g*w| on trained weights, then fine-tune", newLateSNIP); err != nil {
		t.Fatal(err)
	}
	prof, err := experiments.ImageNet().Profile("smoke")
	if err != nil {
		t.Fatal(err)
	}
	if err := experiments.Available(prof.Data.Name, ""); err != nil {
		t.Skipf("%s not available: %v", prof.Data.Name, err)
	}
	tab := &experiments.Table{
		Name: "extension", Title: "a method added from outside", Suite: "image", Metric: "top1",
		DenseLayers: "first", Profiles: map[string]experiments.Profile{"smoke": prof},
		Rows: []experiments.Row{
			{Method: "late-snip", Sparsity: 0.8, Distribution: methods.Uniform},
			{Method: "late-snip", Sparsity: 0.9, Distribution: methods.Global, Params: map[string]string{"dense_frac": "0.5"}},
		},
	}
	dir := t.TempDir()
	runs, err := experiments.RunPlan(context.Background(), experiments.Plan{Table: tab, Profile: prof, Seeds: 1},
		experiments.Options{ResultsDir: dir, Jobs: 1, Registry: reg, KeepCheckpoints: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 {
		t.Fatalf("%d runs, want 2", len(runs))
	}
	for _, r := range runs {
		if r.Epochs != prof.Epochs || len(r.Phases) != prof.Epochs ||
			r.Phases[0].Name != "dense" || r.Phases[len(r.Phases)-1].Name != "finetune" {
			t.Fatalf("%s: %d epochs, phases %+v; want the plan's %d (dense, then finetune)", r.Row, r.Epochs, r.Phases, prof.Epochs)
		}
		if _, ok := r.Final["top1"]; !ok {
			t.Fatalf("%s: no top-1", r.Row)
		}
		var n, nz int64
		for i, l := range r.Layers {
			if i == 0 { // the first conv is kept dense (DenseLayers "first")
				continue
			}
			n, nz = n+l.Params, nz+l.Nonzero
			if r.Distribution == methods.Uniform && l.Nonzero != int64(methods.KeepCount(int(l.Params), r.Sparsity)) {
				t.Fatalf("%s: %s keeps %d of %d at %v", r.Row, l.Name, l.Nonzero, l.Params, r.Sparsity)
			}
		}
		if s := 1 - float64(nz)/float64(n); math.Abs(s-r.Sparsity) > 1e-3 {
			t.Fatalf("%s: sparsity %.4f, want %v", r.Row, s, r.Sparsity)
		}
		stages, _ := filepath.Glob(filepath.Join(dir, tab.Name, "ckpt", r.ID, "phase-*.ckpt"))
		if len(stages) != 2 {
			t.Fatalf("%s: stages %v: want phase-0 and phase-1 (the fine-tune restarts the optimiser)", r.Row, stages)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, tab.Name, runs[0].ID+".arrow")); err != nil {
		t.Fatalf("result not written: %v", err)
	}
}
