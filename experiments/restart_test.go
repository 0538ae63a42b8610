package experiments

import (
	"context"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/optim"
	"github.com/gap-harness/gap/methods"
)

// TestRestartIsAFreshOptimizer trains a few Adam steps, restarts the
// optimiser, and checks that the next update equals the first update of a
// fresh Adam on the same weights and gradients (bias correction included:
// with the old step counter kept, the update differs), and that the warm-up
// starts over at the restart.
func TestRestartIsAFreshOptimizer(t *testing.T) {
	plan := testPlan(t, "dense/0/dense")
	specs, _ := plan.Specs()
	spec := specs[0]
	spec.Profile.Optim = OptimSpec{Name: "adam", LR: 1e-3, Schedule: "constant", WarmupEpochs: 1}
	spec.Threads = 1
	m, err := methods.Default().New("dense", nil)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := newTrainer(spec, Env{Data: &DataCache{}}, 1, m, clock{})
	if err != nil {
		t.Fatal(err)
	}
	init, _ := tr.rngSrc.MarshalBinary()
	if err := tr.initMethod(init); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.runEpoch(context.Background(), 0, 0); err != nil {
		t.Fatal(err)
	}
	if tr.opt.Steps() == 0 {
		t.Fatal("no optimiser steps taken")
	}
	if err := tr.restartOptimizer(); err != nil {
		t.Fatal(err)
	}
	if got := tr.lr(); got != 0 {
		t.Fatalf("learning rate right after a restart with warm-up: %g, want 0 (warm-up starts over)", got)
	}
	tr.step += int64(tr.stepsPerEpoch) // past the warm-up
	if got, want := tr.lr(), tr.sched.LR(tr.step); got != want {
		t.Fatalf("learning rate after the warm-up: %g, want the schedule's %g", got, want)
	}
	if err := tr.oneBatchGrad(); err != nil {
		t.Fatal(err)
	}
	// A fresh Adam on copies of the same weights and gradients.
	var fresh []*engine.Var[float32]
	for _, p := range tr.params.All() {
		v := engine.NewParam(p.Name, engine.FromSlice(append([]float32(nil), p.V.Value.Data()...), p.V.Value.Shape()...))
		v.Grad = engine.FromSlice(append([]float32(nil), p.V.Grad.Data()...), p.V.Value.Shape()...)
		fresh = append(fresh, v)
	}
	ref, err := optim.NewAdam(fresh, optim.AdamConfig{LR: 1e-3, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	lr := tr.lr()
	if lr != 1e-3 {
		t.Fatalf("learning rate %g, want 1e-3", lr)
	}
	tr.opt.SetLR(lr)
	tr.opt.Step()
	ref.SetLR(lr)
	ref.Step()
	for i, p := range tr.params.All() {
		got, want := p.V.Value.Data(), fresh[i].Value.Data()
		for j := range got {
			if got[j] != want[j] {
				t.Fatalf("%s[%d]: restarted Adam gives %g, a fresh Adam %g", p.Name, j, got[j], want[j])
			}
		}
	}
}
