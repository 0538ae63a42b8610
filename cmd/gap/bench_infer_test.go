package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gap-harness/gap/experiments"
	"github.com/gap-harness/gap/models"
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
