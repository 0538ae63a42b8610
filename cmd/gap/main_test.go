package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gap-harness/gap/experiments"
	"github.com/gap-harness/gap/reports"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

// TestBadInput checks that unknown names and bad flags exit 2 with an error
// that lists the valid choices.
func TestBadInput(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"nope"}, "unknown command"},
		{[]string{"reproduce", "-table", "nope"}, "imagenet"},
		{[]string{"reproduce", "-profile", "huge"}, "smoke"},
		{[]string{"reproduce", "-rows", "cgap/0.95/uniform"}, "cgap/0.9/uniform"},
		{[]string{"reproduce", "-seeds", "0"}, "-seeds"},
		{[]string{"train", "-method", "nope"}, "cgap"},
		{[]string{"train", "-method", "cgap", "-param", "kappa=x"}, "kappa"},
		{[]string{"train", "-dist", "zipf"}, "uniform, erk or global"},
		{[]string{"train", "-sparsity", "1.5"}, "[0, 1)"},
		{[]string{"train", "-sparsity", "NaN"}, "[0, 1)"},
		{[]string{"train", "-epochs", "-3"}, "-epochs"},
		{[]string{"train", "-threads", "-4"}, "-threads"},
		{[]string{"train", "-threads", "0"}, "-threads"},
		{[]string{"train", "-sparse-kernels", "csr"}, "expected auto or sparse"},
		{[]string{"reproduce", "-jobs", "-3"}, "-jobs"},
		{[]string{"train", "-method", "cgap", "-param", "rounds=4611686018427387904"}, "rounds"},
		{[]string{"train", "-method", "pgap", "-param", "rounds=4611686018427387904"}, "rounds"},
		{[]string{"train", "-method", "cgap", "-param", "step_epochs=4611686018427387904"}, "step_epochs"},
		{[]string{"list", "things"}, "methods"},
		{[]string{"score", "nope"}, "bleu, map, miou"},
		{[]string{"data", "check", "-dataset", "nope"}, "fashion-mnist"},
		{[]string{"bench", "step", "-batch", "0"}, "-batch"},
		{[]string{"bench", "step", "-model", "resnet20", "-points", "1024"}, "-points"},
		{[]string{"bench", "step", "-model", "pointnet2", "-points", "-5"}, "-points"},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("gap %s: exit %d, stderr %q; want exit 2 mentioning %q", strings.Join(c.args, " "), code, stderr, c.want)
		}
	}
}

// TestListShowsRoster checks that every method of the roster is listed with a description.
func TestListShowsRoster(t *testing.T) {
	code, out, _ := runCLI(t, "list", "methods")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, m := range []string{"dense", "cgap", "pgap", "gmp", "rigl", "set", "snip", "static", "pfp", "ipfp"} {
		if !strings.Contains(out, "\n  "+m+" ") {
			t.Errorf("method %s missing from:\n%s", m, out)
		}
	}
}

// TestReproduceAndReport runs two rows of the smoke table through the CLI,
// then the report and the benchstat export on its results.
func TestReproduceAndReport(t *testing.T) {
	dir := t.TempDir()
	res := filepath.Join(dir, "runs")
	code, out, stderr := runCLI(t, "reproduce", "-profile", "smoke", "-results", res, "-rows", "dense/0/dense,cgap/0.9/uniform", "-jobs", "2")
	if code != 0 {
		t.Fatalf("reproduce: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(out, "| C-GaP | uniform | 90% |") || !strings.Contains(out, "Results: 2 runs") {
		t.Fatalf("reproduce output:\n%s", out)
	}
	code, out, stderr = runCLI(t, "report", "-table", "imagenet", "-results", res, "-out", filepath.Join(dir, "report"))
	if code != 0 {
		t.Fatalf("report: exit %d\n%s", code, stderr)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report", "README.md"))
	if err != nil || !bytes.Contains(md, []byte("C-GaP")) {
		t.Fatalf("report README: %v\n%s", err, md)
	}
	code, out, stderr = runCLI(t, "bench", "export", "-table", "imagenet", "-results", res)
	if code != 0 || !strings.Contains(out, "BenchmarkImagenet/") {
		t.Fatalf("bench export: exit %d\n%s\n%s", code, out, stderr)
	}
}

// TestTableSpecKeepsPaperRows checks that the paper's rows a table does not
// run are shown (pending), and that budget rows are labelled with their
// multiple and stand for the paper's RigL 5x row.
func TestTableSpecKeepsPaperRows(t *testing.T) {
	tab, err := experiments.LookupTable("imagenet")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := tab.Profile("default")
	tab.Rows = tab.Rows[:3] // dense and two GMP rows
	spec := tableSpec(tab, p)
	paper := reports.ImageNetSpec()
	keys := map[string]bool{}
	for _, r := range spec.Rows {
		keys[r.Key] = true
	}
	for _, r := range paper.Rows {
		if !keys[r.Key] {
			t.Errorf("paper row %s dropped from the report", r.Key)
		}
	}
	out := reports.Table(nil, spec)
	if !strings.Contains(out, "| RigL (GaP budget) | ERK | 90% | pending |") {
		t.Errorf("paper row RigL at the GaP budget (the paper's RigL 5x) not pending in:\n%s", out)
	}
	full, _ := experiments.LookupTable("imagenet")
	spec = tableSpec(full, p)
	found := false
	for _, r := range spec.Rows {
		if r.Key == "rigl/0.9/erk@gap" {
			found = true
			if !strings.Contains(r.Method, "GaP budget, 2×") || r.Paper == nil || r.Paper.Epochs != 500 {
				t.Errorf("RigL at the GaP budget: label %q, paper %+v", r.Method, r.Paper)
			}
		}
	}
	if !found {
		t.Error("no RigL row at the GaP budget")
	}
	seen := map[string]bool{}
	for _, r := range spec.Rows {
		if seen[r.Key] {
			t.Errorf("row %s listed twice", r.Key)
		}
		seen[r.Key] = true
		if strings.HasPrefix(r.Key, "set/") && strings.Contains(r.Key, "@") && r.Paper != nil {
			t.Errorf("%s shows the paper's x1 SET number %+v", r.Key, r.Paper)
		}
	}
}

// TestListMethodHelp checks that `gap list -method M` prints M's parameters
// with their types, defaults and valid ranges.
func TestListMethodHelp(t *testing.T) {
	code, out, _ := runCLI(t, "list", "-method", "cgap")
	if code != 0 || !strings.Contains(out, "kappa") || !strings.Contains(out, "default 4") || !strings.Contains(out, "cyclic|random") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if code, _, stderr := runCLI(t, "list", "-method", "nope"); code != 2 || !strings.Contains(stderr, "cgap") {
		t.Fatalf("unknown method: exit %d %s", code, stderr)
	}
}

// TestListMethodPlan checks that `gap list -method M -base N` prints M's
// plan at that budget and that `gap list -markdown` prints the tables the
// methods README holds.
func TestListMethodPlan(t *testing.T) {
	code, out, _ := runCLI(t, "list", "-method", "pfp", "-base", "10")
	if code != 0 || !strings.Contains(out, "plan at a base budget of 10 epochs") ||
		!strings.Contains(out, "epochs 0-4  dense#0") || !strings.Contains(out, "epochs 5-9  finetune#1; fresh optimiser") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	code, out, _ = runCLI(t, "list", "-markdown")
	if code != 0 || !strings.Contains(out, "| cgap | kappa | int | 4 |") || !strings.Contains(out, "plan at a base budget of 8 epochs") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if code, _, stderr := runCLI(t, "list", "-method", "pfp", "-base", "0"); code != 2 || !strings.Contains(stderr, "-base") {
		t.Fatalf("-base 0: exit %d %s", code, stderr)
	}
}
