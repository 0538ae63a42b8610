package nn

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/google/go-cmp/cmp"
)

// TestSafetensorsTorchInterop round-trips a file through the project's
// PyTorch-side reader/writer (scripts/torch/stio.py): Go writes, Python reads
// and doubles every value and writes, Go reads. Skips without python3-torch.
func TestSafetensorsTorchInterop(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import torch").Run(); err != nil {
		t.Skip("python3-torch not installed (make setup-torch installs it): skipping the PyTorch interop check")
	}
	dir := t.TempDir()
	s := NewParamSet()
	s.Add("a.weight", engine.FromSlice([]float32{1, -2.5, 3e-8, 4e10, 0, 6}, 2, 3), true)
	s.AddBuffer("a.running_var", engine.FromSlice([]float32{0.5}, 1))
	in, out := filepath.Join(dir, "in.safetensors"), filepath.Join(dir, "out.safetensors")
	if err := s.SaveSafetensors(in, SafetensorsOptions{}); err != nil {
		t.Fatal(err)
	}
	script := `import sys; sys.path.insert(0, sys.argv[1]); import stio
ts, meta = stio.load(sys.argv[2])
assert ts["a.weight"].shape == (2, 3), ts["a.weight"].shape
stio.save(sys.argv[3], {k: v * 2 for k, v in ts.items()}, {"by": "torch"})`
	cmd := exec.Command(py, "-c", script, filepath.Join("..", "..", "scripts", "torch"), in, out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("python: %v\n%s", err, b)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	ts, meta, err := ReadSafetensors(out, raw)
	if err != nil {
		t.Fatal(err)
	}
	if meta["by"] != "torch" {
		t.Errorf("metadata %v", meta)
	}
	if d := cmp.Diff([]float32{2, -5, 6e-8, 8e10, 0, 12}, ts["a.weight"].Data); d != "" {
		t.Errorf("weight (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]int{2, 3}, ts["a.weight"].Shape); d != "" {
		t.Errorf("shape: %s", d)
	}
}
