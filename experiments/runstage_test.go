package experiments

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/gap-harness/gap/results"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Plan.Runs gives each run's id, result path and shape: serial runs one
// stage, P-GaP its rounds and kappa resolved, and the ids are those the
// local executor gives at the same thread count.
func TestPlanRuns(t *testing.T) {
	plan := testPlan(t, "gmp/0.9/uniform", "pgap/0.8/global")
	dir := t.TempDir()
	runs, err := plan.Runs(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 {
		t.Fatalf("%d runs, want 2", len(runs))
	}
	specs, _ := plan.Specs()
	for i, r := range runs {
		s := specs[i]
		s.Threads = 3
		if r.ID != s.ID() || r.Result != filepath.Join(dir, s.ID()+".arrow") || r.Spec.Threads != 3 {
			t.Errorf("run %d: id %s result %s threads %d; want %s, %s/%s.arrow, 3", i, r.ID, r.Result, r.Spec.Threads, s.ID(), dir, s.ID())
		}
	}
	if r := runs[0]; r.Parallel || !reflect.DeepEqual(r.Stages(), [][]string{{"main"}}) {
		t.Errorf("gmp: parallel %v stages %v, want one stage main", r.Parallel, r.Stages())
	}
	p := runs[1]
	if !p.Parallel || p.Rounds < 1 || p.Kappa < 2 {
		t.Fatalf("pgap: parallel %v rounds %d kappa %d", p.Parallel, p.Rounds, p.Kappa)
	}
	st := p.Stages()
	if len(st) != 2+2*p.Rounds || st[0][0] != "round-0" || len(st[1]) != p.Kappa || st[1][p.Kappa-1] != fmt.Sprintf("branch-0-%d", p.Kappa-1) ||
		st[2][0] != "round-1" || st[len(st)-1][0] != "finetune" {
		t.Errorf("pgap stages %v", st)
	}
	if _, err := plan.Runs(dir, 0); err == nil {
		t.Error("Runs with 0 threads: no error")
	}
}

// Running a plan stage by stage, each stage a RunStage call as a Slurm task
// makes it, gives the same runs as the local executor, bit for bit; a stage
// run again (its checkpoint complete, or the run finished) does nothing.
func TestRunStageMatchesExecute(t *testing.T) {
	plan := testPlan(t, "gmp/0.9/uniform", "pgap/0.8/global")
	plan.Rows = nil
	plan.Table.Rows = []Row{{Method: "gmp", Sparsity: 0.9, Distribution: "uniform"},
		{Method: "pgap", Sparsity: 0.8, Distribution: "global", Params: map[string]string{"rounds": "1"}}}
	ctx := context.Background()
	local, staged := t.TempDir(), t.TempDir()
	runs, err := plan.Runs(staged, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteSpecs(staged, runs); err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		want, err := Execute(ctx, r.Spec, Env{Dir: local, Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		if r.Parallel {
			if err := RunStage(ctx, staged, r.ID, "main", Env{}); err == nil {
				t.Error("stage main of a P-GaP run: no error")
			}
			if err := RunStage(ctx, staged, r.ID, "round-1", Env{}); err == nil {
				t.Error("a merge before its branches: no error")
			}
			if err := RunStage(ctx, staged, r.ID, "finetune", Env{}); err == nil {
				t.Error("the fine-tune before the last merge: no error")
			}
			if err := RunStage(ctx, staged, r.ID, "branch-9-0", Env{}); err == nil {
				t.Error("a branch of a round the run does not have: no error")
			}
		} else if err := RunStage(ctx, staged, r.ID, "round-0", Env{}); err == nil {
			t.Error("stage round-0 of a serial run: no error")
		}
		stages := r.Stages()
		for i, set := range stages {
			for _, s := range set {
				// Threads 7 is ignored: the spec fixes the run's.
				if err := RunStage(ctx, staged, r.ID, s, Env{Threads: 7}); err != nil {
					t.Fatalf("%s stage %s: %v", r.Spec.Row.Key(), s, err)
				}
				if i == len(stages)-1 {
					continue
				}
				ck := filepath.Join(staged, "ckpt", r.ID, s+".ckpt")
				before, err := os.ReadFile(ck)
				if err != nil {
					t.Fatalf("stage %s left no checkpoint: %v", s, err)
				}
				if err := RunStage(ctx, staged, r.ID, s, Env{}); !errors.Is(err, ErrStageDone) {
					t.Errorf("stage %s run again: %v, want ErrStageDone", s, err)
				}
				if after, _ := os.ReadFile(ck); !bytes.Equal(before, after) {
					t.Errorf("stage %s run again rewrote its checkpoint", s)
				}
			}
		}
		got, err := results.Read(r.Result)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, ignoreTimes, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: staged run differs from the local one (-local +staged):\n%s", r.Spec.Row.Key(), diff)
		}
		for _, set := range stages {
			for _, s := range set {
				if err := RunStage(ctx, staged, r.ID, s, Env{}); !errors.Is(err, ErrStageDone) {
					t.Errorf("stage %s of a finished run: %v, want ErrStageDone", s, err)
				}
			}
		}
	}
	if err := RunStage(ctx, staged, "0123456789abcdef", "main", Env{}); err == nil {
		t.Error("a run without a spec: no error")
	}
}

// A stage stopped mid-run (the context a SIGTERM cancels) fails, leaves its
// last epoch's checkpoint and no result; run again it resumes and ends with
// the uninterrupted run's result.
func TestRunStageInterrupted(t *testing.T) {
	plan := testPlan(t, "gmp/0.9/uniform")
	dir, ref := t.TempDir(), t.TempDir()
	runs, err := plan.Runs(dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	r := runs[0]
	if err := WriteSpecs(dir, runs); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var saved []string
	env := Env{OnCheckpoint: func(path string) { saved = append(saved, path); cancel() }}
	err = RunStage(ctx, dir, r.ID, "main", env)
	if err == nil || errors.Is(err, ErrStageDone) || !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped stage: %v, want a context.Canceled error", err)
	}
	if len(saved) != 1 {
		t.Fatalf("checkpoints written before the stop: %v, want 1", saved)
	}
	if c, err := LoadCheckpoint(saved[0]); err != nil || c == nil || c.Epoch != 1 {
		t.Fatalf("checkpoint after the stop: %+v, %v; want epoch 1", c, err)
	}
	if _, err := os.Stat(r.Result); err == nil {
		t.Fatal("a stopped stage wrote the run's result")
	}
	if err := RunStage(context.Background(), dir, r.ID, "main", Env{}); err != nil {
		t.Fatal(err)
	}
	got, err := results.Read(r.Result)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Execute(context.Background(), r.Spec, Env{Dir: ref})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, ignoreTimes, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("resumed stage differs from an uninterrupted run (-want +got):\n%s", diff)
	}
}
