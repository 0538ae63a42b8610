package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gap-harness/gap/experiments"
	"github.com/gap-harness/gap/reports"
	"github.com/gap-harness/gap/results"
)

// TestReportAll writes a few imagenet runs, runs `gap report -all` and
// checks the index and the report: imagenet linked with its headline
// figure, lenet listed without runs, the claims section present.
func TestReportAll(t *testing.T) {
	base := t.TempDir()
	runsDir := filepath.Join(base, "runs", "imagenet")
	for _, row := range []struct {
		method, dist string
		s            float64
	}{{"dense", "dense", 0}, {"cgap", "uniform", 0.8}, {"rigl", "uniform", 0.8}} {
		for seed := int64(0); seed < 2; seed++ {
			r := &results.Run{ID: fmt.Sprintf("%s-%d", row.method, seed), Table: "imagenet", Row: results.RowKey(row.method, row.s, row.dist),
				Profile: "smoke", Method: row.method, Distribution: row.dist, Sparsity: row.s, Seed: seed, Epochs: 2, Metric: "top1",
				Final: map[string]float64{"top1": 50 + 10*row.s + float64(seed)}, TrainFLOPs: 1, DenseTrainFLOPs: 1}
			if _, err := results.Write(runsDir, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	out := filepath.Join(base, "reports")
	code, stdout, stderr := runCLI(t, "report", "-all", "-results", filepath.Join(base, "runs"), "-out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, filepath.Join(out, "README.md")) {
		t.Errorf("stdout: %s", stdout)
	}
	index, err := os.ReadFile(filepath.Join(out, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"](imagenet/README.md)", "![metric_vs_sparsity](imagenet/metric_vs_sparsity.png)", "Runs: 6 (smoke profile)", "No report: no runs in"} {
		if !strings.Contains(string(index), want) {
			t.Errorf("index lacks %q:\n%s", want, index)
		}
	}
	report, err := os.ReadFile(filepath.Join(out, "imagenet", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Reading", "## Paper claims", "| C-GaP > RigL at 80%, uniform |", "*Figure 1.*"} {
		if !strings.Contains(string(report), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// TestPaperSpecKeysAreTableRows checks that every row and claim of a paper
// spec names a row of the harness's table of the same name, so that no
// paper number or claim silently stays "pending" because its key drifted
// from the table's (the wmt14 spec once keyed κ=6 as "cgap-k6" where the
// table keys "cgap/0.8/uniform#k6").
func TestPaperSpecKeysAreTableRows(t *testing.T) {
	for name, spec := range reports.Specs() {
		tab, err := experiments.LookupTable(name)
		if err != nil {
			continue // a paper table the harness names differently (translation: wmt14)
		}
		rows := map[string]bool{}
		for _, r := range tab.Rows {
			rows[r.Key()] = true
		}
		for _, r := range spec.Rows {
			if !rows[r.Key] {
				t.Errorf("%s: paper row %q is not a row of the table", name, r.Key)
			}
		}
		for _, c := range spec.Claims {
			for _, k := range []string{c.A, c.B} {
				if !rows[k] {
					t.Errorf("%s: claim %q names %q, not a row of the table", name, c.Text, k)
				}
			}
		}
		// The report's spec: each table row once, with its paper number.
		p, err := tab.Profile("default")
		if err != nil {
			t.Fatal(err)
		}
		rs := tableSpec(tab, p)
		if len(rs.Rows) != len(tab.Rows) {
			t.Errorf("%s: the report's spec has %d rows for the table's %d", name, len(rs.Rows), len(tab.Rows))
		}
		withPaper := 0
		for _, r := range rs.Rows {
			if r.Paper != nil {
				withPaper++
			}
		}
		want := 0
		for _, r := range spec.Rows {
			if r.Paper != nil {
				want++
			}
		}
		if withPaper != want {
			t.Errorf("%s: %d report rows carry a paper number, the paper spec has %d", name, withPaper, want)
		}
	}
}
