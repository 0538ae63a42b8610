//go:build long

package experiments

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gap-harness/gap/datasets/cocoimg"
	"github.com/gap-harness/gap/datasets/detection"
)

// TestCOCOFullProfileThroughRunner runs the full profile's dense row
// (SSD300, ResNet-50 backbone, 300x300, 81 classes, SSD augmentation)
// through the runner on a generated COCO-layout data set (2 training JPEGs
// and 1 validation JPEG, one step of batch 2): the whole pipeline, from the
// instances files to COCO-format detections scored by mAP (-tags long:
// SSD300 at 300x300 peaks near 7 GB at batch 2; measured 43 s with
// OpenBLAS, 2026-11-29 at load ~10).
func TestCOCOFullProfileThroughRunner(t *testing.T) {
	root := t.TempDir()
	if _, err := cocoimg.WriteSynthetic(root, cocoimg.SyntheticConfig{Train: 2, Val: 1, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if err := Available("coco2017", root); err != nil {
		t.Fatal(err)
	}
	tab := COCO()
	p, err := tab.Profile("full")
	if err != nil {
		t.Fatal(err)
	}
	p.Epochs, p.Batch, p.EvalBatch, p.Optim.WarmupEpochs, p.GlobalWarmupEpochs = 1, 2, 1, 0, 0
	// NVIDIA's milestones (epochs 43 and 54 of 65) do not fit one epoch,
	// nor does the 300-step warm-up: the schedule is TestOptimSpecMilestones'.
	p.Optim.Schedule, p.Optim.StepAt, p.Optim.StepGamma, p.Optim.WarmupSteps = "constant", nil, 0, 0
	dir := t.TempDir()
	runs, err := RunPlan(context.Background(), Plan{Table: tab, Profile: p, Seeds: 1, DataPath: root, Rows: []string{"dense/0/dense"}}, Options{ResultsDir: dir, Jobs: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 {
		t.Fatalf("%d runs", len(runs))
	}
	r := runs[0]
	if r.Dataset != "coco2017" || r.Model != "ssd300" {
		t.Errorf("dataset %q model %q", r.Dataset, r.Model)
	}
	for _, m := range []string{"map", "ap50", "ap75", "voc_map"} {
		if v, ok := r.Final[m]; !ok || math.IsNaN(v) || v < 0 || v > 1 {
			t.Errorf("final %s = %v (present %v)", m, v, ok)
		}
	}
	art := ArtifactDir(filepath.Join(dir, "coco"), r.ID)
	gt, err := detection.LoadCOCO(filepath.Join(art, "gt.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(gt.Images) != 1 || gt.Images[0].Width != 96 {
		t.Errorf("gt.json: %+v", gt.Images)
	}
	if _, err := detection.LoadDetections(filepath.Join(art, "detections.json"), gt); err != nil {
		t.Error(err)
	}
	b, err := os.ReadFile(filepath.Join(art, "figure.json"))
	if err != nil || !strings.Contains(string(b), `"size":300`) {
		t.Errorf("figure.json: %v %.80s", err, b)
	}
}
