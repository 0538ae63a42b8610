package experiments

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gap-harness/gap/methods"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestPGaPResumeAtEveryStage runs a P-GaP row to the end keeping its
// checkpoints, then, for every stage boundary (each checkpoint file in stage
// order), deletes the run's result with that stage's checkpoint (and, in a
// second pass, every later one too) and runs it again: each re-run must give
// the uninterrupted run bit for bit.
func TestPGaPResumeAtEveryStage(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: BLAS-independent whole-table test, run in the OpenBLAS pass of make test")
	}
	plan := testPlan(t, "pgap/0.8/global")
	plan.Rows = nil
	plan.Table.Rows = []Row{{Method: "pgap", Sparsity: 0.8, Distribution: "global", Params: map[string]string{"rounds": "2"}}}
	dir := t.TempDir()
	opt := Options{ResultsDir: dir, Jobs: 1, KeepCheckpoints: true}
	want, err := RunPlan(context.Background(), plan, opt)
	if err != nil {
		t.Fatal(err)
	}
	id := want[0].ID
	ck := filepath.Join(dir, "imagenet", "ckpt", id)
	stages := []string{"round-0.ckpt", "branch-0-0.ckpt", "branch-0-3.ckpt", "round-1.ckpt", "branch-1-1.ckpt", "round-2.ckpt", "finetune.ckpt"}
	saved := map[string][]byte{}
	for _, s := range stages {
		b, err := os.ReadFile(filepath.Join(ck, s))
		if err != nil {
			t.Fatalf("stage checkpoint %s: %v", s, err)
		}
		saved[s] = b
	}
	restore := func() {
		for s, b := range saved {
			if err := os.WriteFile(filepath.Join(ck, s), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, s := range stages {
		// Every stage with all later ones; alone, the merges and the fine-tune
		// (the README's way to re-run part of a run).
		passes := []bool{true}
		if s == "round-1.ckpt" || s == "finetune.ckpt" {
			passes = append(passes, false)
		}
		for _, later := range passes {
			restore()
			if err := os.Remove(filepath.Join(dir, "imagenet", id+".arrow")); err != nil {
				t.Fatal(err)
			}
			del := []string{s}
			if later {
				del = stages[i:]
			}
			for _, d := range del {
				os.Remove(filepath.Join(ck, d))
			}
			got, err := RunPlan(context.Background(), plan, opt)
			if err != nil {
				t.Fatalf("after deleting %v: %v", del, err)
			}
			if diff := cmp.Diff(want, got, ignoreTimes, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("after deleting %v the re-run differs (-want +got):\n%s", del, diff)
			}
		}
	}
}

// everyMethodRows is one row of every method of the roster (P-GaP with two
// rounds), so that a kill can land on every kind of stage boundary.
func everyMethodRows() []Row {
	var rows []Row
	for _, m := range []string{"dense", "static", "snip", "gmp", "set", "rigl", "pfp", "ipfp", "cgap", "pgap"} {
		r := Row{Method: m, Sparsity: 0.9, Distribution: "uniform"}
		switch m {
		case "dense":
			r = Row{Method: m, Distribution: "dense"}
		case "pgap":
			r.Params = map[string]string{"rounds": "2"}
		case "ipfp":
			r.Params = map[string]string{"dense_epochs": "1", "cycles": "2", "cycle_epochs": "1"}
		}
		rows = append(rows, r)
	}
	return rows
}

// TestStageKillHelperProcess runs the every-method table into GAP_STAGEKILL_DIR
// and kills itself (SIGKILL) right after its GAP_STAGEKILL_AT-th checkpoint write.
func TestStageKillHelperProcess(t *testing.T) {
	dir := os.Getenv("GAP_STAGEKILL_DIR")
	if dir == "" {
		t.Skip("helper process for TestKillAtStageBoundaries")
	}
	at, err := strconv.Atoi(os.Getenv("GAP_STAGEKILL_AT"))
	if err != nil {
		t.Fatal(err)
	}
	plan := testPlan(t, "dense/0/dense")
	plan.Rows, plan.Table.Rows = nil, everyMethodRows()
	n := 0
	kill := func(string) {
		if n++; n == at {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
	if _, err := RunPlan(context.Background(), plan, Options{ResultsDir: dir, Jobs: 1, OnCheckpoint: kill}); err != nil {
		t.Fatal(err)
	}
}

// TestKillAtStageBoundaries kills a table with a row of every method at
// stage boundaries drawn at random (right after the N-th checkpoint write of
// the process, N random), again and again in the same results folder, each
// time resuming; the finished table must equal an uninterrupted one.
func TestKillAtStageBoundaries(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: BLAS-independent whole-table test, run in the OpenBLAS pass of make test")
	}
	plan := testPlan(t, "dense/0/dense")
	plan.Rows, plan.Table.Rows = nil, everyMethodRows()
	saves := 0
	want, err := RunPlan(context.Background(), plan, Options{ResultsDir: t.TempDir(), Jobs: 1, OnCheckpoint: func(string) { saves++ }})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(15, 1))
	kills := 0
	for try := 0; try < 6; try++ {
		at := 1 + rng.IntN(max(1, saves/3))
		cmd := exec.Command(os.Args[0], "-test.run=^TestStageKillHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "GAP_STAGEKILL_DIR="+dir, fmt.Sprintf("GAP_STAGEKILL_AT=%d", at))
		out, err := cmd.CombinedOutput()
		if err == nil {
			break // it finished before its N-th write
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("helper failed (not killed): %v\n%s", err, out)
		}
		kills++
	}
	if kills < 3 {
		t.Fatalf("only %d kills landed; the test proves little", kills)
	}
	got, err := RunPlan(context.Background(), plan, Options{ResultsDir: dir, Jobs: 1})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, ignoreTimes, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("after %d kills the table differs from an uninterrupted one (-want +got):\n%s", kills, diff)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "imagenet", "ckpt", "*")); len(left) > 0 {
		t.Fatalf("finished runs left checkpoint folders: %v", left)
	}
}

// failingMethod fails at Init, as a full disk or a bad setting would.
type failingMethod struct{ keepLargestLast }

func (failingMethod) Init(*methods.Context) error { return errors.New("no space left on device") }

// TestFirstRealErrorReported runs a long run beside one that fails: the
// error returned is the failure, not the sibling's cancellation it caused.
func TestFirstRealErrorReported(t *testing.T) {
	reg := methods.Default()
	if err := reg.Register("fails", "test method that fails at init", func(map[string]string) (methods.Method, error) {
		return failingMethod{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	plan := testPlan(t, "dense/0/dense")
	plan.Rows = nil
	plan.Profile.Epochs = 50
	plan.Table.Rows = []Row{{Method: "dense", Distribution: "dense"}, {Method: "fails", Sparsity: 0.5, Distribution: "uniform"}}
	_, err := RunPlan(context.Background(), plan, Options{ResultsDir: t.TempDir(), Jobs: 2, Registry: reg})
	if err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("want the failing run's error, got %v", err)
	}
}
