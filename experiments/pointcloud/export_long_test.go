//go:build long

package pointcloud

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/gap-harness/gap/engine/nn"
)

// TestExportForTorch writes the default profile's train and test shapes
// to $PC_EXPORT/{train,test}.safetensors (xyz, normals, category, labels)
// for scripts/torch/parity_pointnet2.py --train, the PyTorch side of the
// dense row's comparison. Skips unless PC_EXPORT is set.
func TestExportForTorch(t *testing.T) {
	dir := os.Getenv("PC_EXPORT")
	if dir == "" {
		t.Skip("PC_EXPORT not set")
	}
	p, err := ProfileNamed("default")
	if err != nil {
		t.Fatal(err)
	}
	task, err := New(p.Task)
	if err != nil {
		t.Fatal(err)
	}
	for _, split := range []string{"train", "test"} {
		ts, err := task.SplitTensors(split == "test")
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := nn.WriteSafetensors(&buf, ts, nil); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, split+".safetensors"), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
