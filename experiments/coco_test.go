package experiments

import (
	"context"
	"maps"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gap-harness/gap/datasets/cocoimg"
	"github.com/gap-harness/gap/methods"
	"github.com/gap-harness/gap/results"
)

// TestCOCOTableShape checks the coco table against the issue: dense plus
// GMP, RigL, SET, static, prune-from-pretrained, C-GaP and P-GaP at 80%
// and 90%, uniform and non-uniform (RigL and SET also at the GaP budget),
// the four profiles, and a full profile refused with the pipeline's reason.
func TestCOCOTableShape(t *testing.T) {
	tab, err := LookupTable("coco")
	if err != nil {
		t.Fatal(err)
	}
	if tab.Suite != "detection" || tab.Metric != "map" {
		t.Fatalf("suite %q metric %q", tab.Suite, tab.Metric)
	}
	if _, ok := DefaultSuites()["detection"]; !ok {
		t.Fatal("detection suite not in DefaultSuites")
	}
	seen := map[string]bool{}
	count := map[string]int{}
	for _, r := range tab.Rows {
		if seen[r.Key()] {
			t.Fatalf("row %s twice", r.Key())
		}
		seen[r.Key()] = true
		count[r.Method]++
	}
	for _, m := range []string{"gmp", "static", "pfp", "cgap", "pgap"} {
		if count[m] != 4 {
			t.Errorf("%s: %d rows, want 4 (80%%/90%% x uniform/non-uniform)", m, count[m])
		}
	}
	if count["rigl"] != 8 || count["set"] != 8 || count["dense"] != 1 || len(tab.Rows) != 37 {
		t.Errorf("rows %v (%d)", count, len(tab.Rows))
	}
	for _, n := range []string{"smoke", "default", "long", "full"} {
		p, err := tab.Profile(n)
		if err != nil {
			t.Fatal(err)
		}
		if (n == "full") != (p.Proxy == "") {
			t.Errorf("profile %s: proxy label %q", n, p.Proxy)
		}
	}
	full, _ := tab.Profile("full")
	for _, path := range []string{"", t.TempDir()} {
		if err := Available(full.Data.Name, path); err == nil || !strings.Contains(err.Error(), "train2017/, val2017/, annotations/instances_train2017.json") {
			t.Errorf("Available(%s, %q): %v, want the layout named", full.Data.Name, path, err)
		}
		if _, err := DefaultSuites().Build("detection", TaskConfig{Profile: full, Seed: 1, DataPath: path}); err == nil || !strings.Contains(err.Error(), "needs DATA") {
			t.Errorf("full task on %q: %v, want the layout named", path, err)
		}
	}
	// On a generated COCO-layout folder the full profile builds its task
	// (SSD300, 81 classes, the generated images); training it is
	// TestCOCOFullProfileThroughRunner (-tags long: ~7 GB, SSD300 at 300x300).
	root := t.TempDir()
	if _, err := cocoimg.WriteSynthetic(root, cocoimg.SyntheticConfig{Train: 2, Val: 1, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	full.Batch = 2
	task, err := DefaultSuites().Build("detection", TaskConfig{Profile: full, Seed: 1, DataPath: root, Data: &DataCache{}})
	if err != nil {
		t.Fatalf("full task on generated COCO: %v", err)
	}
	if task.StepsPerEpoch() != 1 || task.ExamplesPerStep() != 2 || task.DenseForwardFLOPs() < 1e10 {
		t.Errorf("full task: %d steps of %d, %.3g FLOPs", task.StepsPerEpoch(), task.ExamplesPerStep(), task.DenseForwardFLOPs())
	}
	// NVIDIA's colour jitter is in the full profile's options (so in its
	// run identity), and a bad one is refused.
	if got := full.Options["jitter"]; got != "0.125,0.5,0.5,0.05" {
		t.Errorf("full options.jitter %q, want NVIDIA's 0.125,0.5,0.5,0.05", got)
	}
	bad := full
	bad.Options = maps.Clone(full.Options)
	bad.Options["jitter"] = "0.1,0.2"
	if _, err := DefaultSuites().Build("detection", TaskConfig{Profile: bad, Seed: 1, DataPath: root, Data: &DataCache{}}); err == nil || !strings.Contains(err.Error(), "options.jitter") {
		t.Errorf("jitter %q: %v, want an error naming options.jitter", bad.Options["jitter"], err)
	}
	for _, pn := range []string{"smoke", "default", "long"} {
		if p, _ := tab.Profile(pn); p.Options["jitter"] != "" || p.Options["augment"] != "" {
			t.Errorf("proxy profile %s: options %v, want no COCO augmentation", pn, p.Options)
		}
	}
}

// TestCOCOSmokeThroughRunner runs five rows of the coco smoke table
// (dense, a sparse-from-scratch, a prune-after-training and both GaP
// methods) through the runner (every row ends at its target sparsity,
// the first conv stays dense, mAP and AP50 are recorded, the artifacts are
// written) and reads the results back.
func TestCOCOSmokeThroughRunner(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: BLAS-independent whole-table test, run in the OpenBLAS pass of make test")
	}
	if err := Available("mnist-detect", ""); err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	tab := COCO()
	p, err := tab.Profile("smoke")
	if err != nil {
		t.Fatal(err)
	}
	rows := []string{"dense/0/dense", "rigl/0.9/erk", "pfp/0.8/global", "cgap/0.9/uniform", "pgap/0.8/global"}
	dir := t.TempDir()
	runs, err := RunPlan(context.Background(), Plan{Table: tab, Profile: p, Seeds: 1, Rows: rows}, Options{ResultsDir: dir, Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != len(rows) {
		t.Fatalf("%d runs for %d rows", len(runs), len(rows))
	}
	back, err := results.ReadDir(filepath.Join(dir, "coco"), "coco")
	if err != nil {
		t.Fatal(err)
	}
	byRow := map[string]*results.Run{}
	for _, r := range back {
		byRow[r.Row] = r
	}
	for _, k := range rows {
		r, ok := byRow[k]
		if !ok {
			t.Fatalf("row %s: not read back", k)
		}
		for _, m := range []string{"map", "ap50", "ap75", "voc_map"} {
			if v, ok := r.Final[m]; !ok || math.IsNaN(v) || v < 0 || v > 1 {
				t.Errorf("%s: final %s = %v (present %v)", k, m, v, ok)
			}
		}
		for _, f := range []string{"figure.json", "detections.json", "gt.json", "detections.png"} {
			if _, err := os.Stat(filepath.Join(ArtifactDir(filepath.Join(dir, "coco"), r.ID), f)); err != nil {
				t.Errorf("%s: artifact: %v", k, err)
			}
		}
		if r.Suite != "detection" || r.Dataset != "mnist-detect" {
			t.Errorf("%s: suite %q data %q", k, r.Suite, r.Dataset)
		}
		if got := r.Final["sparsity"]; math.Abs(got-r.Sparsity) > 0.005 {
			t.Errorf("%s: sparsity %.4f, target %.2f", k, got, r.Sparsity)
		}
		for _, l := range r.Layers {
			if l.Name == "backbone.conv1.weight" && l.Nonzero != l.Params && r.Sparsity > 0 {
				// the stem is kept dense (DenseLayers "first"); it is
				// listed with its full count
				t.Errorf("%s: stem conv %d of %d nonzero", k, l.Nonzero, l.Params)
			}
			if r.Distribution == "uniform" && l.Name == "backbone.layer3.0.conv1.weight" &&
				l.Nonzero != int64(methods.KeepCount(int(l.Params), r.Sparsity)) {
				t.Errorf("%s: %s keeps %d of %d", k, l.Name, l.Nonzero, l.Params)
			}
		}
	}
}
