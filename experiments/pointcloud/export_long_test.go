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
	for _, split := range []struct {
		name string
		ex   []example
	}{{"train", task.trainCache}, {"test", task.testCache}} {
		s, n := len(split.ex), task.cfg.NumPoints
		xyz, nrm, cat, lab := make([]float32, 0, s*n*3), make([]float32, 0, s*n*3), make([]float32, s), make([]float32, 0, s*n)
		for i, e := range split.ex {
			xyz = append(xyz, e.pts...)
			nrm = append(nrm, e.normals...)
			cat[i] = float32(e.cat)
			for _, l := range e.parts {
				lab = append(lab, float32(l))
			}
		}
		ts := map[string]nn.STensor{
			"xyz":      {Shape: []int{s, n, 3}, Data: xyz, DType: "F32"},
			"normals":  {Shape: []int{s, n, 3}, Data: nrm, DType: "F32"},
			"category": {Shape: []int{s}, Data: cat, DType: "F32"},
			"labels":   {Shape: []int{s, n}, Data: lab, DType: "F32"},
		}
		var buf bytes.Buffer
		if err := nn.WriteSafetensors(&buf, ts, nil); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, split.name+".safetensors"), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
