package main

import (
	"bytes"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gap-harness/gap/experiments"
	"github.com/gap-harness/gap/methods"
	"github.com/gap-harness/gap/results"
)

// The progress line names the table's own metric, and a run that reports
// more epochs than planned (a dense warm-up before a "global" row) raises
// the total, so the share done never passes 100%.
func TestProgressMetricAndShare(t *testing.T) {
	tab, err := experiments.LookupTable("wmt14")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := tab.Profile("smoke")
	specs, _ := (experiments.Plan{Table: tab, Profile: p, Seeds: 1}).Specs()
	if len(specs) == 0 {
		t.Fatal("no specs")
	}
	specs = specs[:1]
	var buf bytes.Buffer
	prog, err := newProgress(&buf, specs, methods.Default(), slog.New(slog.NewTextHandler(&buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	planned := prog.total
	id := specs[0].ID()
	for e := 1; e <= planned+2; e++ {
		prog.update(experiments.Progress{ID: id, Row: "dense", Stage: "main", Epoch: e, Epochs: planned + 2, Loss: 1, Metric: 12.5})
	}
	out := buf.String()
	if !strings.Contains(out, specs[0].Metric+"=12.50") || strings.Contains(out, "top1=") {
		t.Errorf("progress does not name the metric %q:\n%s", specs[0].Metric, out)
	}
	if strings.Contains(out, "table_done=10") && !strings.Contains(out, "table_done=100%") || strings.Contains(out, "table_done=11") || strings.Contains(out, "table_done=12") {
		t.Errorf("share done passed 100%%:\n%s", out)
	}
	if !strings.Contains(out, "table_done=100%") {
		t.Errorf("share done never reached 100%%:\n%s", out)
	}
}

// TestProgressLeavesOutFinishedRuns checks that the runs whose results
// exist (skipped by the runner) do not enter the progress total: adding
// seeds to a finished table must not start the share done near 0%.
func TestProgressLeavesOutFinishedRuns(t *testing.T) {
	tab, err := experiments.LookupTable("imagenet")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := tab.Profile("smoke")
	specs, _ := (experiments.Plan{Table: tab, Profile: p, Seeds: 2}).Specs()
	dir := t.TempDir()
	finished := map[string]bool{}
	for i, s := range specs {
		if i%2 == 0 {
			finished[s.ID()] = true
			if err := os.WriteFile(filepath.Join(dir, s.ID()+results.Ext), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	left := unfinished(specs, dir)
	if len(left) != len(specs)-len(finished) {
		t.Fatalf("%d unfinished of %d with %d finished", len(left), len(specs), len(finished))
	}
	for _, s := range left {
		if finished[s.ID()] {
			t.Errorf("finished run %s counted", s.ID())
		}
	}
}

// TestProgressReachesFullShare runs a real reproduce (one smoke row) and
// requires its last progress line to say 100%, then adds a seed and
// requires the same: the planned runs are counted under the ids the runner
// gives them (their thread count included), so finished runs are left out
// and the epochs reported match the ones planned.
func TestProgressReachesFullShare(t *testing.T) {
	dir := t.TempDir()
	for _, seeds := range []string{"1", "2"} {
		code, out, errOut := runCLI(t, "reproduce", "-table", "lenet", "-profile", "smoke", "-rows", "static/0.9/uniform",
			"-results", dir, "-jobs", "1", "-seeds", seeds)
		if code != 0 {
			t.Fatalf("reproduce -seeds %s: exit %d\n%s\n%s", seeds, code, out, errOut)
		}
		var last string
		for _, l := range strings.Split(errOut, "\n") {
			if strings.Contains(l, "table_done=") {
				last = l
			}
		}
		if !strings.Contains(last, "table_done=100%") {
			t.Fatalf("-seeds %s: last progress line %q, want table_done=100%%\n%s", seeds, last, errOut)
		}
	}
}

// TestProgressMergeHasNoLoss checks that an epoch that trained nothing (a
// P-GaP merge reports a NaN loss) prints its loss as "-", not as 0 or NaN,
// and a real loss with four decimals.
func TestProgressMergeHasNoLoss(t *testing.T) {
	tab, err := experiments.LookupTable("imagenet")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := tab.Profile("smoke")
	specs, _ := (experiments.Plan{Table: tab, Profile: p, Seeds: 1, Rows: []string{"pgap/0.8/global"}}).Specs()
	var buf bytes.Buffer
	prog, err := newProgress(&buf, specs, methods.Default(), slog.New(slog.NewTextHandler(&buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	id := specs[0].ID()
	prog.update(experiments.Progress{ID: id, Row: "pgap", Stage: "merge 0", Epoch: 2, Epochs: 5, Loss: math.NaN(), Metric: 40})
	prog.update(experiments.Progress{ID: id, Row: "pgap", Stage: "round 1 branch 0", Epoch: 3, Epochs: 5, Loss: 1.25, Metric: 41})
	out := buf.String()
	if !strings.Contains(out, "loss=- ") || !strings.Contains(out, "loss=1.2500 ") || strings.Contains(out, "NaN") {
		t.Errorf("want loss=- for the merge and loss=1.2500 after it:\n%s", out)
	}
}
