package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestShapeNetReproduceAndReport runs two rows of the shapenet table's
// smoke profile from the CLI and checks that the report renders with the
// point-cloud figure (dense beside 90% C-GaP) and that benchstat export
// works on it.
func TestShapeNetReproduceAndReport(t *testing.T) {
	dir := t.TempDir()
	res := filepath.Join(dir, "runs")
	code, out, stderr := runCLI(t, "reproduce", "-table", "shapenet", "-profile", "smoke", "-results", res, "-rows", "dense/0/dense,cgap/0.9/uniform", "-jobs", "2")
	if code != 0 {
		t.Fatalf("reproduce: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(out, "| C-GaP | uniform | 90% |") || !strings.Contains(out, "Results: 2 runs") || !strings.Contains(out, "not a result") {
		t.Fatalf("reproduce output:\n%s", out)
	}
	rep := filepath.Join(dir, "report")
	code, _, stderr = runCLI(t, "report", "-table", "shapenet", "-profile", "smoke", "-results", res, "-out", rep)
	if code != 0 {
		t.Fatalf("report: exit %d\n%s", code, stderr)
	}
	md, err := os.ReadFile(filepath.Join(rep, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"instance mIoU", "![parts](parts.png)", "C-GaP ≥ dense at 80%, uniform"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if fi, err := os.Stat(filepath.Join(rep, "parts.png")); err != nil || fi.Size() < 1000 {
		t.Errorf("parts.png: %v", err)
	}
	code, out, stderr = runCLI(t, "bench", "export", "-table", "shapenet", "-results", res)
	if code != 0 || !strings.Contains(out, "BenchmarkShapenet/") {
		t.Fatalf("bench export: exit %d\n%s\n%s", code, out, stderr)
	}
}
