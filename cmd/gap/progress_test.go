package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/gap-harness/gap/experiments"
	"github.com/gap-harness/gap/methods"
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
