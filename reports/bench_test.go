package reports

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchproc"

	"github.com/gap-harness/gap/results"
)

func TestExportBench(t *testing.T) {
	runs := fixtureRuns()
	runs[0].Final["nan"] = math.NaN()
	var buf bytes.Buffer
	if err := ExportBench(runs, &buf); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	for _, want := range []string{"goos: ", "goarch: ", "pkg: ", "commit: 0123456789abcdef\n", "profile: default\n",
		"BenchmarkImagenet/method=cgap/sparsity=0.9/dist=uniform 1 89.5 top1 "} {
		if !strings.Contains(text, want) {
			t.Errorf("export lacks %q:\n%s", want, text)
		}
	}

	// Read it back with benchfmt and project it as benchstat's
	// "-col /method -row /sparsity" would.
	var parser benchproc.ProjectionParser
	filter, err := benchproc.NewFilter("/dist:uniform")
	if err != nil {
		t.Fatal(err)
	}
	colBy, err := parser.Parse("/method", filter)
	if err != nil {
		t.Fatal(err)
	}
	rowBy, err := parser.Parse("/sparsity", filter)
	if err != nil {
		t.Fatal(err)
	}
	rd := benchfmt.NewReader(bytes.NewReader(buf.Bytes()), "export.txt")
	seeds := map[string]int{} // method@sparsity -> results
	n := 0
	for rd.Scan() {
		res, ok := rd.Result().(*benchfmt.Result)
		if !ok {
			t.Fatalf("not a result: %v", rd.Result())
		}
		n++
		if v, ok := res.Value("top1"); !ok || v < 80 {
			t.Errorf("%s: top1 = %v, %v", res.Name, v, ok)
		}
		if _, ok := res.Value("nan"); ok {
			t.Errorf("%s: NaN value exported", res.Name)
		}
		for _, u := range []string{"train-xdense", "infer-xdense", "sec/run", "top5", "loss"} {
			if _, ok := res.Value(u); !ok {
				t.Errorf("%s lacks unit %s", res.Name, u)
			}
		}
		if res.GetConfig("commit") != "0123456789abcdef" || res.GetConfig("machine") == "" {
			t.Errorf("%s: config commit=%q machine=%q", res.Name, res.GetConfig("commit"), res.GetConfig("machine"))
		}
		if ok, err := filter.Apply(res); err != nil || !ok {
			continue
		}
		seeds[colBy.Project(res).StringValues()+"@"+rowBy.Project(res).StringValues()]++
	}
	if err := rd.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(runs) {
		t.Errorf("read back %d results, want %d", n, len(runs))
	}
	want := map[string]int{"cgap@0.9": 3, "cgap@0.95": 1, "pgap@0.9": 2}
	if len(seeds) != len(want) {
		t.Errorf("projection gave %v, want %v", seeds, want)
	}
	for k, v := range want {
		if seeds[k] != v {
			t.Errorf("projection %s: %d results, want %d (all: %v)", k, seeds[k], v, seeds)
		}
	}
}

func TestNameChars(t *testing.T) {
	for in, want := range map[string]string{"rigl": "rigl", "a b/c=d": "a_b_c_d", "gap-4": "gap_4", "x-y": "x-y"} {
		if got := nameChars(in); got != want {
			t.Errorf("nameChars(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCompare(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, shift float64) string {
		var runs []*results.Run
		for s := 0; s < 6; s++ {
			for _, m := range []string{"cgap", "rigl"} {
				v := 70 + 0.1*float64(s)
				if m == "cgap" {
					v += shift
				}
				runs = append(runs, &results.Run{ID: m + string(rune('a'+s)), Table: "imagenet", Method: m, Sparsity: 0.9,
					Distribution: "uniform", Seed: int64(s), Metric: "top1", Final: map[string]float64{"top1": v}, WallSeconds: 10, Commit: name})
			}
		}
		var buf bytes.Buffer
		if err := ExportBench(runs, &buf); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name+".txt")
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	oldF, newF := mk("old", 0), mk("new", 5)
	var out bytes.Buffer
	if err := Compare(oldF, newF, &out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	lines := strings.Split(text, "\n")
	var cg, rg string
	for _, l := range lines {
		if strings.HasPrefix(l, "Imagenet/method=cgap") && cg == "" {
			cg = l
		}
		if strings.HasPrefix(l, "Imagenet/method=rigl") && rg == "" {
			rg = l
		}
	}
	// cgap moved by +5 in every seed: significant (p=0.002 for n=6+6).
	if !strings.Contains(cg, "+7.12%") || !strings.Contains(cg, "p=0.002 n=6") {
		t.Errorf("cgap line %q\n%s", cg, text)
	}
	// rigl did not move.
	if !strings.Contains(rg, "~ (p=1.000 n=6)") {
		t.Errorf("rigl line %q\n%s", rg, text)
	}
	if !strings.Contains(text, "\ntop1 ") || !strings.Contains(text, "\nsec/run ") {
		t.Errorf("compare lacks unit headers:\n%s", text)
	}

	if err := Compare(filepath.Join(dir, "missing.txt"), newF, &out); err == nil || !strings.Contains(err.Error(), "missing.txt") {
		t.Errorf("missing file: %v", err)
	}
	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, nil, 0o644)
	if err := Compare(empty, empty, &out); err == nil {
		t.Error("compare of empty files succeeded")
	}
}
