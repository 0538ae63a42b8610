package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/perf/benchfmt"

	"github.com/gap-harness/gap/experiments"
)

// TestCOCOReproduceReportAndExport runs two rows of the coco table's smoke
// profile from the CLI (dense and 90% C-GaP), renders the report with its
// detection figure (dense beside 90% C-GaP), and checks that `gap bench
// export` writes them in the benchmark format benchstat reads: one result
// per run, the headline mAP first with AP50, AP75, VOC mAP and the FLOPs
// multiples beside it, and the run's commit, profile and machine as
// configuration.
func TestCOCOReproduceReportAndExport(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: BLAS-independent whole-table test, run in the OpenBLAS pass of make test")
	}
	if err := experiments.Available("mnist-detect", ""); err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	dir := t.TempDir()
	res := filepath.Join(dir, "runs")
	code, out, stderr := runCLI(t, "reproduce", "-table", "coco", "-profile", "smoke", "-results", res, "-rows", "dense/0/dense,cgap/0.9/uniform", "-jobs", "2")
	if code != 0 {
		t.Fatalf("reproduce: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(out, "| C-GaP | uniform | 90% |") || !strings.Contains(out, "Results: 2 runs") {
		t.Fatalf("reproduce output:\n%s", out)
	}
	rep := filepath.Join(dir, "report")
	code, _, stderr = runCLI(t, "report", "-table", "coco", "-profile", "smoke", "-results", res, "-out", rep)
	if code != 0 {
		t.Fatalf("report: exit %d\n%s", code, stderr)
	}
	md, err := os.ReadFile(filepath.Join(rep, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "mAP@[.5:.95]") || !strings.Contains(string(md), "detections") {
		t.Errorf("report lacks the mAP column or the detection figure:\n%s", md)
	}
	if fi, err := os.Stat(filepath.Join(rep, "detections.png")); err != nil || fi.Size() < 1000 {
		t.Errorf("detections.png: %v", err)
	}

	code, out, stderr = runCLI(t, "bench", "export", "-table", "coco", "-results", res)
	if code != 0 {
		t.Fatalf("bench export: exit %d\n%s", code, stderr)
	}
	rd := benchfmt.NewReader(strings.NewReader(out), "coco.bench")
	names := map[string]bool{}
	for rd.Scan() {
		r, ok := rd.Result().(*benchfmt.Result)
		if !ok {
			t.Fatalf("not a result: %v", rd.Result())
		}
		names[string(r.Name)] = true
		if len(r.Values) == 0 || r.Values[0].Unit != "map" {
			t.Errorf("%s: first value %v, want the headline map", r.Name, r.Values)
		}
		for _, u := range []string{"map", "ap50", "ap75", "voc_map", "train-xdense", "infer-xdense", "sec/run"} {
			v, ok := r.Value(u)
			if !ok || (u != "sec/run" && u != "train-xdense" && u != "infer-xdense" && (v < 0 || v > 1)) {
				t.Errorf("%s: %s = %v (present %v)", r.Name, u, v, ok)
			}
		}
		if r.GetConfig("profile") != "smoke" || r.GetConfig("machine") == "" {
			t.Errorf("%s: config profile=%q machine=%q", r.Name, r.GetConfig("profile"), r.GetConfig("machine"))
		}
	}
	if err := rd.Err(); err != nil {
		t.Fatal(err)
	}
	// benchfmt's Name drops the "Benchmark" prefix.
	for _, want := range []string{"Coco/method=dense/sparsity=0/dist=dense", "Coco/method=cgap/sparsity=0.9/dist=uniform"} {
		if !names[want] || !strings.Contains(out, "\nBenchmark"+want+" 1 ") {
			t.Errorf("export lacks %s:\n%s", want, out)
		}
	}
}
