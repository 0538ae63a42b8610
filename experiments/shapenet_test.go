package experiments

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gap-harness/gap/experiments/pointcloud"
	"github.com/gap-harness/gap/methods"
	"github.com/gap-harness/gap/reports"
	"github.com/gap-harness/gap/results"
	"github.com/google/go-cmp/cmp"
)

// TestShapeNetSmokeTable runs the shapenet table's smoke profile through
// the runner (every method once, uniform at 90%, and the non-uniform
// distributions at 80%), checks that every sparse row ends at its target
// sparsity with the point-cloud metrics recorded, that the results read
// back as returned, and that the report renders with the table's spec.
func TestShapeNetSmokeTable(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: BLAS-independent whole-table test, run in the OpenBLAS pass of make test")
	}
	tab, err := LookupTable("shapenet")
	if err != nil {
		t.Fatal(err)
	}
	p, err := tab.Profile("smoke")
	if err != nil {
		t.Fatal(err)
	}
	if p.Proxy == "" {
		t.Fatal("the smoke profile is not labelled a proxy")
	}
	rows := []string{"dense/0/dense", "cgap/0.8/global", "rigl/0.8/erk"}
	for _, m := range []string{"gmp", "rigl", "set", "static", "pfp", "cgap", "pgap"} {
		rows = append(rows, m+"/0.9/uniform")
	}
	dir := t.TempDir()
	plan := Plan{Table: tab, Profile: p, Seeds: 1, Rows: rows}
	runs, err := RunPlan(context.Background(), plan, Options{ResultsDir: dir, Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != len(rows) {
		t.Fatalf("%d runs for %d rows", len(runs), len(rows))
	}
	for _, r := range runs {
		if r.Suite != "pointcloud" || r.Metric != "miou_instance" {
			t.Errorf("%s: suite %q metric %q", r.Row, r.Suite, r.Metric)
		}
		for _, k := range []string{"miou_instance", "miou_class"} {
			if v, ok := r.Final[k]; !ok || math.IsNaN(v) || v <= 0 || v > 1 {
				t.Errorf("%s: %s = %v", r.Row, k, r.Final[k])
			}
		}
		if len(r.Layers) == 0 {
			t.Fatalf("%s: no layers recorded", r.Row)
		}
		var nz, all int64
		for _, l := range r.Layers {
			nz += l.Nonzero
			all += l.Params
			if r.Distribution == "uniform" {
				if want := int64(methods.KeepCount(int(l.Params), r.Sparsity)); l.Nonzero != want {
					t.Errorf("%s: layer %s keeps %d of %d, want %d", r.Row, l.Name, l.Nonzero, l.Params, want)
				}
			}
		}
		got := 1 - float64(nz)/float64(all)
		if math.Abs(got-r.Sparsity) > 0.005 {
			t.Errorf("%s: prunable sparsity %.4f, target %.2f", r.Row, got, r.Sparsity)
		}
		if r.Method != "dense" && !(r.InferFLOPs < r.DenseInferFLOPs) {
			t.Errorf("%s: inference FLOPs %g not below dense %g", r.Row, r.InferFLOPs, r.DenseInferFLOPs)
		}
	}
	for _, r := range runs {
		s, err := pointcloud.ReadSegmentation(filepath.Join(ArtifactDir(filepath.Join(dir, "shapenet"), r.ID), pointcloud.SegmentationFile))
		if err != nil {
			t.Fatalf("%s: %v", r.Row, err)
		}
		if len(s.Shapes) == 0 || len(s.Shapes[0].Pred) != p.Model.InputSize {
			t.Fatalf("%s: %d figure shapes saved", r.Row, len(s.Shapes))
		}
	}
	back, err := results.ReadDir(filepath.Join(dir, "shapenet"), "shapenet")
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*results.Run{}
	for _, r := range back {
		byID[r.ID] = r
	}
	for _, r := range runs {
		b, ok := byID[r.ID]
		if !ok {
			t.Fatalf("%s: not read back", r.Row)
		}
		if d := cmp.Diff(r, b, ignoreTimes); d != "" {
			t.Fatalf("%s: read back differs (-run +read):\n%s", r.Row, d)
		}
	}
	spec := reports.Specs()["shapenet"]
	out := filepath.Join(dir, "report")
	if _, err := reports.Report(filepath.Join(dir, "shapenet"), "shapenet", out, spec); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(out, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"instance mIoU", "C-GaP", "Paper claims"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// TestShapeNetSpecCoversRows checks that the report spec names every row of
// the table and the table every row of the spec, and that each profile
// builds its Task with the table's kappa.
func TestShapeNetSpecCoversRows(t *testing.T) {
	tab := ShapeNet()
	spec := reports.Specs()["shapenet"]
	inSpec := map[string]bool{}
	for _, r := range spec.Rows {
		inSpec[r.Key] = true
	}
	for _, r := range tab.Rows {
		if !inSpec[r.Key()] {
			t.Errorf("row %s not in the report spec", r.Key())
		}
		delete(inSpec, r.Key())
	}
	for k := range inSpec {
		t.Errorf("spec row %s not in the table", k)
	}
	for _, c := range spec.Claims {
		for _, k := range []string{c.A, c.B} {
			found := false
			for _, r := range tab.Rows {
				found = found || r.Key() == k
			}
			if !found {
				t.Errorf("claim %q names row %s, not in the table", c.Text, k)
			}
		}
	}
	for _, name := range tab.ProfileNames() {
		p := tab.Profiles[name]
		if name != "full" && p.Proxy == "" {
			t.Errorf("profile %s is not labelled a proxy", name)
		}
	}
	p, _ := tab.Profile("smoke")
	task, err := DefaultSuites().Build(tab.Suite, TaskConfig{Profile: p, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if task.NumPartitions() != shapenetKappa {
		t.Fatalf("task has %d partitions, the table %d", task.NumPartitions(), shapenetKappa)
	}
	p.Options["kappa"] = "3"
	if _, err := DefaultSuites().Build(tab.Suite, TaskConfig{Profile: p, Seed: 1}); err == nil || !strings.Contains(err.Error(), "kappa") {
		t.Fatalf("kappa 3 accepted: %v", err)
	}
	full, _ := tab.Profile("full")
	if err := Available(full.Data.Name, ""); err == nil {
		t.Fatal("full profile without DATA accepted")
	}
}
