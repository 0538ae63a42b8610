package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gap-harness/gap/experiments"
	"github.com/gap-harness/gap/models"
	"github.com/gap-harness/gap/reports"
	"github.com/gap-harness/gap/results"
)

// TestBenchInfer runs `gap bench infer` on a small model with random masks and
// on a saved checkpoint, and checks its bad-input errors.
func TestBenchInfer(t *testing.T) {
	code, out, errOut := runCLI(t, "bench", "infer", "-model", "lenet5", "-sparsity", "0.9", "-batch", "3", "-reps", "1", "-threads", "1")
	if code != 0 || !strings.Contains(out, "RESULT infer model=lenet5 sparsity=0.90 batch=3") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	m, err := models.New("lenet5", models.Config{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	ck := &experiments.Checkpoint{State: m.Params().StateDict(), Masks: map[string][]float32{}}
	for _, p := range m.Params().Prunable() {
		if p.FirstOrLast {
			continue
		}
		mask := make([]float32, p.Len())
		for i := range mask {
			if i%4 == 0 {
				mask[i] = 1
			}
		}
		ck.Masks[p.Name] = mask
	}
	path := filepath.Join(t.TempDir(), "run.ckpt")
	if err := experiments.SaveCheckpoint(path, ck); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, "bench", "infer", "-model", "lenet5", "-checkpoint", path, "-batch", "2", "-reps", "1", "-threads", "1", "-kernels", "sparse")
	if code != 0 || !strings.Contains(out, "sparsity=0.75 batch=2") || !strings.Contains(out, "sparse_layers=3/3") {
		t.Fatalf("checkpoint: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, c := range []struct{ args []string }{
		{[]string{"bench", "infer", "-sparsity", "1.5"}},
		{[]string{"bench", "infer", "-kernels", "dense"}},
		{[]string{"bench", "infer", "-model", "lenet5", "-checkpoint", filepath.Join(t.TempDir(), "missing.ckpt")}},
		{[]string{"bench", "infer", "-model", "mlp", "-checkpoint", path, "-batch", "1"}},
	} {
		if code, _, _ := runCLI(t, c.args...); code == 0 {
			t.Fatalf("%v accepted", c.args)
		}
	}
}

// TestBenchInferRun trains one smoke run with -save-models, times its final
// model with `gap bench infer -run`, and checks that the measurement lands
// in the table's speed-ups file and in the report's column (and that a run
// without a saved model is a clear error).
func TestBenchInferRun(t *testing.T) {
	dir := t.TempDir()
	if code, out, errOut := runCLI(t, "reproduce", "-table", "lenet", "-profile", "smoke", "-rows", "static/0.9/uniform",
		"-results", dir, "-save-models", "-jobs", "1", "-seeds", "2"); code != 0 {
		t.Fatalf("reproduce: exit %d\n%s\n%s", code, out, errOut)
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "lenet", "*.arrow"))
	if len(paths) != 2 {
		t.Fatalf("runs %v", paths)
	}
	bySeed := map[int64]string{}
	for _, p := range paths {
		r, err := results.Read(p)
		if err != nil {
			t.Fatal(err)
		}
		bySeed[r.Seed] = r.ID
	}
	id, other := bySeed[0], bySeed[1]
	// -table with -seeds 1 times seed 0's run only.
	code, out, errOut := runCLI(t, "bench", "infer", "-table", "lenet", "-seeds", "1", "-results", dir, "-batch", "2", "-reps", "1", "-threads", "1")
	if code != 0 || !strings.Contains(out, "run="+id) || strings.Contains(out, "run="+other) {
		t.Fatalf("bench infer -table -seeds 1: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, _, _ := runCLI(t, "bench", "infer", "-table", "lenet", "-seeds", "-1", "-results", dir); code != 2 {
		t.Fatalf("-seeds -1: exit %d, want a usage error (2)", code)
	}
	code, out, errOut = runCLI(t, "bench", "infer", "-run", id, "-results", dir, "-batch", "2", "-reps", "1", "-threads", "1")
	if code != 0 || !strings.Contains(out, "run="+id) || !strings.Contains(out, "batch=2") {
		t.Fatalf("bench infer -run: exit %d\n%s\n%s", code, out, errOut)
	}
	sp, err := reports.ReadSpeedups(filepath.Join(dir, "lenet"))
	if err != nil || sp == nil {
		t.Fatalf("speed-ups file: %v %v", sp, err)
	}
	if e, ok := sp.Get(id, 2); !ok || e.CPUSpeedup <= 0 || e.Threads != 1 || e.Machine == "" {
		t.Fatalf("speed-up entry %+v %v", e, ok)
	}
	// The report shows the column (batch 2 is neither 1 nor 64: "—").
	rep := filepath.Join(dir, "report")
	if code, out, errOut := runCLI(t, "report", "-table", "lenet", "-results", dir, "-profile", "smoke", "-out", rep); code != 0 {
		t.Fatalf("report: exit %d\n%s\n%s", code, out, errOut)
	}
	md, err := os.ReadFile(filepath.Join(rep, "README.md"))
	if err != nil || !strings.Contains(string(md), "Inference speed-up, measured (batch 1 / 64)") {
		t.Fatalf("report has no speed-up column (%v)", err)
	}
	os.Remove(experiments.ModelPath(filepath.Join(dir, "lenet"), id))
	if code, _, errOut := runCLI(t, "bench", "infer", "-run", id, "-results", dir, "-batch", "2"); code == 0 || !strings.Contains(errOut, "save-models") {
		t.Fatalf("run without a saved model: exit %d, %s", code, errOut)
	}
}
