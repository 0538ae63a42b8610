package reports

import (
	"strings"
	"testing"
)

// TestSpeedupColumn checks the measured inference speed-up column: absent
// without a speed-ups file, present with one, the mean over a row's
// measured runs at batch 1 and 64, "—" for dense rows and unmeasured runs;
// and the file's round trip.
func TestSpeedupColumn(t *testing.T) {
	runs := fixtureRuns()
	spec := TableSpec{Table: "fixture", Metric: "top1"}
	if md := Table(runs, spec); strings.Contains(md, "speed-up") {
		t.Fatal("column without a speed-ups file")
	}
	var sparse []string
	for _, r := range runs {
		if r.Sparsity > 0 {
			sparse = append(sparse, r.ID)
		}
	}
	if len(sparse) == 0 {
		t.Fatal("fixture has no sparse run")
	}
	sp := &InferSpeedups{}
	sp.Set(sparse[0], InferSpeedup{Batch: 64, CPUSpeedup: 2.5, Machine: "m", Threads: 2, Load1: 1.5})
	sp.Set(sparse[0], InferSpeedup{Batch: 1, CPUSpeedup: 1.25, Machine: "m", Threads: 2, Load1: 2})
	sp.Set(sparse[0], InferSpeedup{Batch: 64, CPUSpeedup: 3, Machine: "m", Threads: 2, Load1: 1.5}) // replaces
	dir := t.TempDir()
	if err := WriteSpeedups(dir, sp); err != nil {
		t.Fatal(err)
	}
	back, err := ReadSpeedups(dir)
	if err != nil || back == nil {
		t.Fatal(back, err)
	}
	if e, ok := back.Get(sparse[0], 64); !ok || e.CPUSpeedup != 3 || len(back.Runs[sparse[0]]) != 2 {
		t.Fatalf("round trip: %+v", back.Runs)
	}
	if none, err := ReadSpeedups(t.TempDir()); none != nil || err != nil {
		t.Fatal("missing file:", none, err)
	}
	spec.Speedups = back
	md := Table(runs, spec)
	if !strings.Contains(md, "Inference speed-up, measured (batch 1 / 64)") || !strings.Contains(md, "1.25× / 3.00×") {
		t.Fatalf("column missing:\n%s", md)
	}
	if !strings.Contains(md, "1-minute load 1.5–2.0") {
		t.Fatalf("note without the load:\n%s", md)
	}
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| Dense") && !strings.Contains(line, "| — |") {
			t.Fatalf("dense row: %s", line)
		}
	}
}
