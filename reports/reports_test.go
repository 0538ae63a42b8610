package reports

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gap-harness/gap/results"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.md")

func TestTableGolden(t *testing.T) {
	got := Table(fixtureRuns(), ImageNetSpec())
	golden := filepath.Join("testdata", "imagenet.golden.md")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("Table differs from %s (go test -update rewrites it):\n%s", golden, got)
	}
}

// TestWholeModelSparsityColumn: the whole-model sparsity the runner records
// (final "sparsity_model") is its own column beside the prunable one.
func TestWholeModelSparsityColumn(t *testing.T) {
	runs := fixtureRuns()
	for _, r := range runs {
		if r.Row == "cgap/0.9/uniform" {
			r.Final["sparsity_model"] = 0.83
		}
	}
	md := Table(runs, ImageNetSpec())
	if !strings.Contains(md, "| C-GaP (κ=4) | uniform | 90% | 89.63 ± 0.12 | 3 | 14 | 90.0% | 83.0% |") {
		t.Errorf("whole-model sparsity not shown:\n%s", md)
	}
}

func TestTableContent(t *testing.T) {
	md := Table(fixtureRuns(), ImageNetSpec())
	for _, want := range []string{
		// cgap/0.9/uniform: seeds 0,1,2 -> 89.5, 89.7, 89.7: mean 89.633, sample std 0.1155.
		"| C-GaP (κ=4) | uniform | 90% | 89.63 ± 0.12 | 3 | 14 |",
		"76.348 [G] |",
		// rigl/0.9/erk has one seed: no std.
		"| RigL | ERK | 90% | 88.40 ± — | 1 | 14 |",
		"| SNIP | uniform | 80% | pending | 0 |",
		"| Dense | — | 0% | 91.10 ± 0.14 | 2 | 14 | 0.0% | — | 1.00 | 1.00 | 76.8 [B] (100 ep.) |", // no whole-model sparsity recorded
		"| 72.0 [B] (100 ep.) |",
		"| cgap | uniform | 95% | 87.00 ± — | 1 |", // not in the spec
		"Rows not in the paper's table: `cgap/0.95/uniform`.",
		"a ResNet on Fashion-MNIST, a proxy for ResNet-50/ImageNet",
		"- Commits: `0123456789abcdef`",
		"- Machines: Test CPU, 2 cores, linux/amd64",
		// Reading and claims.
		"**default profile.** Rows train for 2 different epoch budgets: 14 epochs: Dense, C-GaP (κ=4), RigL, P-GaP (κ=4) (6 rows, 0.43–1.00× dense training FLOPs); 20 epochs: RigL (GaP budget) (1 row, 0.46× dense training FLOPs).",
		"| C-GaP > RigL (GaP budget) at 90%, uniform | 76.348 vs 75.7 | 89.63 (3) | pending | — | — | pending |",
		"| C-GaP ≥ dense at 80%, non-uniform | 78.132 vs 76.8 | 90.30 (2) | 91.10 (2) | 0.333 | matched: 14 epochs; 0.52× vs 1.00× dense FLOPs | not significant |",
		"| C-GaP > RigL at 90%, non-uniform | 77.896 vs 73.0 | pending | 88.40 (1) | — | — | pending |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("table lacks %q:\n%s", want, md)
		}
	}
	main := md[:strings.Index(md, "Rows not in")]
	if n := strings.Count(main, "| pending |"); n != 21-6 {
		t.Errorf("%d pending rows, want 15", n)
	}
}

func TestTableDeterministic(t *testing.T) {
	runs := fixtureRuns()
	want := Table(runs, ImageNetSpec())
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 5; i++ {
		rng.Shuffle(len(runs), func(a, b int) { runs[a], runs[b] = runs[b], runs[a] })
		if got := Table(runs, ImageNetSpec()); got != want {
			t.Fatalf("shuffled input gives different markdown")
		}
	}
}

func TestMeanStd(t *testing.T) {
	m, s := meanStd([]float64{1, 2, 3, 4})
	if m != 2.5 || math.Abs(s-math.Sqrt(5.0/3)) > 1e-15 {
		t.Errorf("meanStd = %v, %v", m, s)
	}
	if m, s := meanStd([]float64{7}); m != 7 || !math.IsNaN(s) {
		t.Errorf("meanStd(one) = %v, %v", m, s)
	}
	if fixed(math.NaN(), 2) != "—" || fixed(-0.001, 2) != "0.00" || pct(0.9) != "90%" || pct(0.875) != "87.5%" {
		t.Error("formatting helpers")
	}
}

func TestGenerate(t *testing.T) {
	dir := writeFixture(t)
	out := filepath.Join(t.TempDir(), "report")
	if err := Generate(dir, "imagenet", out, ImageNetSpec()); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(out, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	runs, _ := results.ReadDir(dir, "imagenet")
	if !bytes.HasPrefix(readme, []byte(Table(runs, ImageNetSpec()))) {
		t.Error("README.md does not start with the table")
	}
	if bytes.Contains(readme, []byte("Not drawn")) {
		t.Errorf("README.md reports missing figures:\n%s", readme)
	}
	for _, stem := range []string{"metric_vs_sparsity", "curves", "metric_vs_flops", "mask_changes", "layer_sparsity"} {
		if !bytes.Contains(readme, []byte("]("+stem+".png)")) {
			t.Errorf("README.md does not link %s.png", stem)
		}
		f, err := os.Open(filepath.Join(out, stem+".png"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s.png: %v", stem, err)
		}
		// A paper column (3.4 in) at 200 dpi; heights follow the content.
		if b := img.Bounds(); b.Dx() != 680 || b.Dy() < 300 || b.Dy() > 1400 {
			t.Errorf("%s.png is %dx%d, want 680 wide and 300-1400 high", stem, b.Dx(), b.Dy())
		}
		svg, err := os.ReadFile(filepath.Join(out, stem+".svg"))
		if err != nil {
			t.Fatal(err)
		}
		if err := checkXML(svg); err != nil {
			t.Errorf("%s.svg: %v", stem, err)
		}
	}
	// The same runs again: byte-identical markdown.
	out2 := filepath.Join(t.TempDir(), "report2")
	if err := Generate(dir, "imagenet", out2, ImageNetSpec()); err != nil {
		t.Fatal(err)
	}
	readme2, _ := os.ReadFile(filepath.Join(out2, "README.md"))
	if !bytes.Equal(readme, readme2) {
		t.Error("README.md differs between two generations")
	}
}

// checkXML parses an SVG document and checks its root element.
func checkXML(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	root := ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		return errors.New("root element is " + root + ", want svg")
	}
	return nil
}

func TestGenerateSparseData(t *testing.T) {
	// A run without curves, layers, phases or FLOPs still gives a report.
	dir := t.TempDir()
	if _, err := results.Write(dir, &results.Run{ID: "x", Table: "t", Row: "m/0.5/uniform", Method: "m", Sparsity: 0.5, Metric: "acc", Final: map[string]float64{"acc": 50}}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "r")
	if err := Generate(dir, "t", out, TableSpec{Metric: "acc"}); err != nil {
		t.Fatal(err)
	}
	readme, _ := os.ReadFile(filepath.Join(out, "README.md"))
	if !bytes.Contains(readme, []byte("Not drawn (no data in these runs): curves, metric_vs_flops, mask_changes, layer_sparsity.")) {
		t.Errorf("README.md:\n%s", readme)
	}
}

func TestGenerateErrors(t *testing.T) {
	base := t.TempDir()
	out := filepath.Join(base, "out")
	missing := filepath.Join(base, "missing")
	if err := Generate(missing, "imagenet", out, ImageNetSpec()); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing folder: %v", err)
	}
	empty := filepath.Join(base, "empty")
	os.Mkdir(empty, 0o755)
	err := Generate(empty, "imagenet", out, ImageNetSpec())
	if !errors.Is(err, ErrNoRuns) || !strings.Contains(err.Error(), `"imagenet"`) {
		t.Errorf("no runs: %v", err)
	}
	dir := writeFixture(t)
	if err := Generate(dir, "cifar", out, ImageNetSpec()); !errors.Is(err, ErrNoRuns) {
		t.Errorf("other table: %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output folder was created on error: %v", err)
	}
	bad := filepath.Join(dir, "zz.arrow")
	os.WriteFile(bad, []byte("garbage"), 0o644)
	if err := Generate(dir, "imagenet", out, ImageNetSpec()); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("corrupt file: %v", err)
	}
}

func TestSpecs(t *testing.T) {
	for name, spec := range Specs() {
		if spec.Table != name || spec.Metric == "" || len(spec.Rows) == 0 {
			t.Errorf("spec %s: table %q metric %q rows %d", name, spec.Table, spec.Metric, len(spec.Rows))
		}
		seen := map[string]bool{}
		for _, r := range spec.Rows {
			if seen[r.Key] {
				t.Errorf("spec %s: duplicate row %s", name, r.Key)
			}
			seen[r.Key] = true
			if r.Paper != nil && spec.Sources[r.Paper.Source] == "" {
				t.Errorf("spec %s row %s: source %q not described", name, r.Key, r.Paper.Source)
			}
			k, _, _ := strings.Cut(r.Key, "#") // without the row's variant and budget
			k, _, _ = strings.Cut(k, "@")
			if p := strings.SplitN(k, "/", 3); len(p) != 3 || results.RowKey(p[0], r.Sparsity, p[2]) != k {
				t.Errorf("spec %s row %s: sparsity %v does not match the key", name, r.Key, r.Sparsity)
			}
		}
	}
	// The GaP numbers of research §2.1, exactly.
	want := map[string]float64{
		"cgap/0.8/uniform": 77.856, "cgap/0.9/uniform": 76.348,
		"cgap/0.8/global": 78.132, "cgap/0.9/global": 77.896,
		"pgap/0.8/uniform": 77.492, "pgap/0.9/uniform": 76.128,
	}
	for _, r := range ImageNetSpec().Rows {
		if v, ok := want[r.Key]; ok {
			if r.Paper == nil || r.Paper.Value != v || r.Paper.Source != "G" {
				t.Errorf("imagenet %s: paper %+v, want %v [G]", r.Key, r.Paper, v)
			}
			delete(want, r.Key)
		}
	}
	if len(want) > 0 {
		t.Errorf("imagenet spec lacks rows %v", want)
	}
}
