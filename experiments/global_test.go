package experiments

import (
	"context"
	"path/filepath"
	"sort"
	"testing"

	"github.com/gap-harness/gap/methods"
)

// TestGlobalRatiosFromTrainedWeights runs C-GaP and P-GaP at 90% "global"
// on the smoke profile (one dense warm-up epoch) and checks that the ratios
// they fix equal a hand-computed global magnitude threshold over the
// warm-up's trained weights, and differ from the ratios the random initial
// weights give.
func TestGlobalRatiosFromTrainedWeights(t *testing.T) {
	plan := testPlan(t, "cgap/0.9/global", "pgap/0.9/global")
	if plan.Profile.GlobalWarmupEpochs < 1 {
		t.Fatal("the smoke profile has no warm-up")
	}
	dir := t.TempDir()
	runs, err := RunPlan(context.Background(), plan, Options{ResultsDir: dir, Jobs: 1, KeepCheckpoints: true})
	if err != nil {
		t.Fatal(err)
	}
	model, err := buildModel(plan.Profile.Model, 0)
	if err != nil {
		t.Fatal(err)
	}
	dense, err := model.DenseSet(plan.Table.DenseLayers)
	if err != nil {
		t.Fatal(err)
	}
	isDense := map[string]bool{}
	for _, n := range dense {
		isDense[n] = true
	}
	var names []string
	for _, p := range model.Params().Prunable() {
		if !isDense[p.Name] {
			names = append(names, p.Name)
		}
	}
	// handRatios applies one threshold by hand: the k-th largest |w| over
	// all prunable (not dense) weights, k = round((1-s)*N).
	handRatios := func(state map[string][]float32) map[string]float64 {
		var all []float64
		for _, n := range names {
			for _, w := range state[n] {
				all = append(all, abs64(w))
			}
		}
		sort.Sort(sort.Reverse(sort.Float64Slice(all)))
		k := methods.KeepCount(len(all), 0.9)
		thr := all[k-1]
		out := map[string]float64{}
		for _, n := range names {
			kept := 0
			for _, w := range state[n] {
				if abs64(w) >= thr {
					kept++
				}
			}
			out[n] = 1 - float64(kept)/float64(len(state[n]))
		}
		return out
	}
	initRatios := handRatios(model.Params().StateDict())
	for i, r := range runs {
		ck := filepath.Join(dir, "imagenet", "ckpt", r.ID)
		warm, err := LoadCheckpoint(filepath.Join(ck, "warmup.ckpt"))
		if err != nil || warm == nil {
			t.Fatalf("%s: no warm-up checkpoint (%v)", r.Row, err)
		}
		stage := "phase-0.ckpt" // C-GaP's first step
		if i == 1 {
			stage = "round-0.ckpt"
		}
		after, err := LoadCheckpoint(filepath.Join(ck, stage))
		if err != nil || after == nil {
			t.Fatalf("%s: no %s (%v)", r.Row, stage, err)
		}
		want := handRatios(warm.State)
		differ := 0
		for _, n := range names {
			got := after.Targets[n]
			if d := got - want[n]; d > 1e-9 || d < -1e-9 {
				t.Errorf("%s: %s ratio %.6f, the hand threshold over the warm-up's weights gives %.6f", r.Row, n, got, want[n])
			}
			if d := got - initRatios[n]; d > 0.01 || d < -0.01 {
				differ++
			}
		}
		if differ == 0 {
			t.Errorf("%s: the ratios equal the random-init ones: the warm-up changed nothing", r.Row)
		}
		if w := plan.Profile.GlobalWarmupEpochs; len(r.Phases) < 2 || r.Phases[0].Name != "warmup" || r.Phases[0].EndEpoch != w || r.Phases[1].StartEpoch != w {
			t.Errorf("%s: the warm-up is not recorded as a phase: %+v", r.Row, r.Phases)
		}
	}
}

func abs64(w float32) float64 {
	if w < 0 {
		return -float64(w)
	}
	return float64(w)
}
