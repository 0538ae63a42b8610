package reports

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/gap-harness/gap/results"
)

// crowdedRows are the imagenet rows (key, training FLOPs × dense, top-1
// per seed) of the runs in which the Pareto front's labels first crowded:
// ten front points between 0.1× and 1.4× dense FLOPs, seven of them
// within 0.5× and 2 points of top-1, among thirty other markers.
var crowdedRows = []struct {
	key  string
	cost float64
	top1 []float64
}{
	{"dense/0/dense", 1.0000, []float64{88.15, 86.5, 87.2}},
	{"gmp/0.8/uniform", 0.5598, []float64{87, 84.85, 84.95}},
	{"snip/0.8/uniform", 0.2062, []float64{86.3}},
	{"set/0.8/uniform", 0.2062, []float64{86.5}},
	{"rigl/0.8/uniform", 0.2161, []float64{86.1}},
	{"rigl/0.8/erk", 0.4988, []float64{86}},
	{"rigl/0.8/uniform@gap", 0.4322, []float64{87.8}},
	{"rigl/0.8/erk@gap", 0.9976, []float64{88.75}},
	{"cgap/0.8/uniform", 0.7442, []float64{87.95}},
	{"cgap/0.8/global", 1.3723, []float64{90}},
	{"pgap/0.8/uniform", 1.1479, []float64{82.8}},
	{"gmp/0.9/uniform", 0.5049, []float64{84.9}},
	{"snip/0.9/uniform", 0.1072, []float64{66.7}},
	{"set/0.9/uniform", 0.1072, []float64{85.4}},
	{"rigl/0.9/uniform", 0.1183, []float64{84.95}},
	{"rigl/0.9/erk", 0.2709, []float64{86.65}},
	{"rigl/0.9/uniform@gap", 0.2367, []float64{87.15}},
	{"rigl/0.9/erk@gap", 0.5419, []float64{87.65}},
	{"cgap/0.9/uniform", 0.5876, []float64{84.85}},
	{"cgap/0.9/global", 1.1956, []float64{89.4}},
	{"pgap/0.9/uniform", 0.9169, []float64{78.35}},
	{"gmp/0.8/global", 0.6780, []float64{87.5, 85.7, 86.05}},
	{"gmp/0.9/global", 0.6129, []float64{86.55}},
	{"pfp/0.8/global", 0.8035, []float64{88}},
	{"pfp/0.8/uniform", 0.7354, []float64{86.7}},
	{"pfp/0.9/global", 0.7661, []float64{87.6}},
	{"pfp/0.9/uniform", 0.7024, []float64{84.65}},
	{"pgap/0.8/global", 1.9500, []float64{87.45}},
	{"pgap/0.9/global", 1.6994, []float64{84.3}},
	{"set/0.8/erk", 0.4925, []float64{86.45}},
	{"set/0.8/erk@gap", 0.9849, []float64{88.45}},
	{"set/0.8/uniform@gap", 0.4124, []float64{88.1}},
	{"set/0.9/erk", 0.2618, []float64{86.4}},
	{"set/0.9/erk@gap", 0.5235, []float64{87.95}},
	{"set/0.9/uniform@gap", 0.2145, []float64{86.65}},
	{"snip/0.8/erk", 0.4925, []float64{87}},
	{"snip/0.9/erk", 0.2618, []float64{87.65}},
	{"static/0.8/erk", 0.4925, []float64{87.1}},
	{"static/0.8/uniform", 0.2062, []float64{86.35}},
	{"static/0.9/erk", 0.2618, []float64{87.5}},
	{"static/0.9/uniform", 0.1072, []float64{85.7}},
}

// crowdedRuns are runs with the crowdedRows' means and costs.
func crowdedRuns() []*results.Run {
	var runs []*results.Run
	for _, row := range crowdedRows {
		method, s, dist := splitKey(row.key)
		sp, _ := strconv.ParseFloat(s, 64)
		for seed, v := range row.top1 {
			runs = append(runs, &results.Run{
				ID: fmt.Sprintf("%s-s%d", strings.NewReplacer("/", "-", "@", "-").Replace(row.key), seed), Table: "imagenet", Row: row.key,
				Suite: "image", Profile: "default", Method: method, Distribution: dist, Sparsity: sp, Seed: int64(seed), Epochs: 3,
				Metric: "top1", Final: map[string]float64{"top1": v},
				TrainFLOPs: 1e15 * row.cost, DenseTrainFLOPs: 1e15,
			})
		}
	}
	return runs
}

// crowdedSpec is the imagenet spec with the method labels of the
// harness's table (gap report labels rows from the table, "C-GaP").
func crowdedSpec() TableSpec {
	s := ImageNetSpec()
	rows := append([]RowSpec(nil), s.Rows...)
	for i := range rows {
		rows[i].Method = strings.TrimSuffix(rows[i].Method, " (κ=4)")
	}
	s.Rows = rows
	return s
}

// glyphProbe wraps a marker's shape so that the recorder measures
// the paths the marker draws, under the canvas transform in force.
type glyphProbe struct{ draw.GlyphDrawer }

// DrawGlyph implements draw.GlyphDrawer.
func (g glyphProbe) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	if r := findRecorder(c.Canvas); r != nil {
		// One box per marker, however many paths draw it.
		inf, ninf := vg.Length(math.Inf(1)), vg.Length(math.Inf(-1))
		r.glyphs = append(r.glyphs, vg.Rectangle{Min: vg.Point{X: inf, Y: inf}, Max: vg.Point{X: ninf, Y: ninf}})
		r.inGlyph++
		defer func() {
			r.inGlyph--
			if last := r.glyphs[len(r.glyphs)-1]; last.Min.X > last.Max.X {
				r.glyphs = r.glyphs[:len(r.glyphs)-1] // nothing drawn
			}
		}()
	}
	g.GlyphDrawer.DrawGlyph(c, sty, pt)
}

// findRecorder unwraps the canvases draw.Crop nests around a recorder.
func findRecorder(c vg.Canvas) *recorder {
	for {
		switch v := c.(type) {
		case *recorder:
			return v
		case draw.Canvas:
			c = v.Canvas
		case *draw.Canvas:
			c = v.Canvas
		default:
			return nil
		}
	}
}

// drawnFigure renders f and returns the strings it draws and the boxes
// of the markers of its data panels (f.marks), both in the figure's
// coordinates.
func drawnFigure(f *figure) ([]textBox, []vg.Rectangle) {
	for _, ms := range f.marks {
		for i := range ms {
			if _, ok := ms[i].shape.(glyphProbe); !ok {
				ms[i].shape = glyphProbe{ms[i].shape}
			}
		}
	}
	defer func() {
		for _, ms := range f.marks {
			for i := range ms {
				ms[i].shape = ms[i].shape.(glyphProbe).GlyphDrawer
			}
		}
	}()
	img := vgimg.New(f.w, f.h)
	rec := newRecorder(img)
	f.draw(draw.NewCanvas(rec, f.w, f.h))
	return rec.boxes, rec.glyphs
}

// checkTextClearOfMarkers reports every string of f that covers a marker
// and every marker of f.marks that was not drawn.
func checkTextClearOfMarkers(t *testing.T, name string, f *figure) {
	t.Helper()
	boxes, glyphs := drawnFigure(f)
	n := 0
	for _, ms := range f.marks {
		n += len(ms)
	}
	if len(glyphs) < n {
		t.Errorf("%s/%s: %d marker paths measured for %d markers", name, f.stem, len(glyphs), n)
	}
	// 0.1 pt of slack for the rounding of the canvas transform.
	const slack = 0.1
	for _, b := range boxes {
		r := grow(b.r, -slack)
		for _, g := range glyphs {
			if overlapArea(r, g) > 0 {
				t.Errorf("%s/%s: %q at %v covers a marker at %v", name, f.stem, b.s, b.r, g)
				break
			}
		}
	}
}

func TestFigureTextClearOfMarkers(t *testing.T) {
	for name, set := range figureSets() {
		figs, _, err := figureSpecs(set.runs, set.spec)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range figs {
			checkTextClearOfMarkers(t, name, f)
		}
	}
}

// TestCrowdedFrontLabels checks the crowded front: every front point is
// either labelled in the panel or numbered there and listed under the
// plot, the labels the first layout piled up among them.
func TestCrowdedFrontLabels(t *testing.T) {
	fc := newFigContext(crowdedRuns(), crowdedSpec())
	f, err := figMetricVsFLOPs(fc)
	if err != nil || f == nil {
		t.Fatal(f, err)
	}
	var rows []rowStats
	for _, r := range fc.rows {
		if r.cost > 0 {
			rows = append(rows, r)
		}
	}
	front := paretoFront(rows)
	if len(f.marks) != 1 || len(f.marks[0]) != len(rows) {
		t.Fatalf("figure records %d panels of marks, want 1 of %d", len(f.marks), len(rows))
	}
	if len(front) < 10 {
		t.Fatalf("fixture front has %d points, want at least 10", len(front))
	}
	boxes, _ := drawnFigure(f)
	drawn := map[string]int{}
	for _, b := range boxes {
		drawn[b.s]++
	}
	for _, want := range []string{"SNIP ERK 90%", "RigL (GaP budget) uniform 90%", "SET (GaP budget) uniform 80%"} {
		if !strings.Contains(f.caption, want) {
			t.Errorf("caption does not name %q", want)
		}
	}
	numbered := 0
	for _, g := range f.legend {
		if g.Title == "front:" {
			numbered = len(g.Entries)
		}
	}
	labelled := 0
	for _, i := range front {
		r := rows[i]
		full := joinLabel(groupLabel(fc.spec, r.method, r.budget), rowShort(fc.spec, r.key))
		short, _ := shortRowLabel(fc.spec, r)
		if drawn[full]+drawn[short] > 0 {
			labelled++
		}
	}
	if labelled+numbered != len(front) {
		t.Errorf("%d front points labelled and %d numbered, want %d in all", labelled, numbered, len(front))
	}
	for n := 1; n <= numbered; n++ {
		if drawn[itoa(n)] == 0 {
			t.Errorf("point number %d not drawn", n)
		}
	}
	if numbered > len(front)/2 {
		t.Errorf("%d of %d front points numbered", numbered, len(front))
	}
	checkTextClearOfMarkers(t, "crowded", f)
}

// TestFiguresOfRuns runs the figure checks on a results folder given in
// GAP_FIGURE_RUNS (e.g. a finished imagenet table), for the table in
// GAP_FIGURE_TABLE (default imagenet), and writes the PNGs into
// GAP_FIGURE_OUT when it is set.
func TestFiguresOfRuns(t *testing.T) {
	dir := os.Getenv("GAP_FIGURE_RUNS")
	if dir == "" {
		t.Skip("GAP_FIGURE_RUNS not set")
	}
	table := os.Getenv("GAP_FIGURE_TABLE")
	if table == "" {
		table = "imagenet"
	}
	spec, ok := Specs()[table]
	if !ok {
		t.Fatalf("no table %q", table)
	}
	runs, err := results.ReadDir(dir, table)
	if err != nil {
		t.Fatal(err)
	}
	figs, _, err := figureSpecs(runs, spec)
	if err != nil {
		t.Fatal(err)
	}
	out := os.Getenv("GAP_FIGURE_OUT")
	for _, f := range figs {
		checkTextClearOfMarkers(t, table, f)
		checkTextLayout(t, table, f)
		if out != "" {
			png, _, err := encodeFigure(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(out, f.stem+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// checkTextLayout reports strings of f outside the canvas or on each
// other.
func checkTextLayout(t *testing.T, name string, f *figure) {
	t.Helper()
	boxes, _ := drawnFigure(f)
	const tol = 0.5
	for _, b := range boxes {
		if b.r.Min.X < -tol || b.r.Min.Y < -tol || b.r.Max.X > f.w+tol || b.r.Max.Y > f.h+tol {
			t.Errorf("%s/%s: %q at %v lies outside the %v×%v canvas", name, f.stem, b.s, b.r, f.w, f.h)
		}
	}
	for i := range boxes {
		for j := i + 1; j < len(boxes); j++ {
			if overlapArea(shrink(boxes[i].r), shrink(boxes[j].r)) > 0 {
				t.Errorf("%s/%s: %q and %q overlap", name, f.stem, boxes[i].s, boxes[j].s)
			}
		}
	}
}

func TestSegmentGeometry(t *testing.T) {
	box := vg.Rectangle{Min: vg.Point{X: 0, Y: 0}, Max: vg.Point{X: 10, Y: 5}}
	for _, c := range []struct {
		s    [2]vg.Point
		want bool
	}{
		{[2]vg.Point{{X: -5, Y: 2}, {X: 15, Y: 2}}, true},   // through
		{[2]vg.Point{{X: -5, Y: 2}, {X: -1, Y: 2}}, false},  // short of it
		{[2]vg.Point{{X: -5, Y: -5}, {X: 20, Y: 20}}, true}, // diagonal
		{[2]vg.Point{{X: -5, Y: 6}, {X: 20, Y: 6}}, false},  // above
		{[2]vg.Point{{X: 5, Y: 2}, {X: 5, Y: 3}}, true},     // inside
		{[2]vg.Point{{X: 11, Y: -1}, {X: 20, Y: 4}}, false}, // beside
	} {
		if got := segmentHitsBox(c.s, box); got != c.want {
			t.Errorf("segmentHitsBox(%v) = %v, want %v", c.s, got, c.want)
		}
	}
	a := [2]vg.Point{{X: 0, Y: 0}, {X: 10, Y: 10}}
	if !segmentsCross(a, [2]vg.Point{{X: 0, Y: 10}, {X: 10, Y: 0}}) || segmentsCross(a, [2]vg.Point{{X: 1, Y: 0}, {X: 11, Y: 10}}) {
		t.Error("segmentsCross")
	}
	if itoa(7) != "7" || itoa(12) != "12" {
		t.Error("itoa")
	}
}

// pathCanvas records the paths drawn on it.
type pathCanvas struct {
	nopCanvas
	ops []string
}

func (p *pathCanvas) Fill(path vg.Path)   { p.ops = append(p.ops, fmt.Sprint("fill", path)) }
func (p *pathCanvas) Stroke(path vg.Path) { p.ops = append(p.ops, fmt.Sprint("stroke", path)) }

// TestBudgetMarkersDistinct checks that every budget of a table gets its
// own marker fill, the same whatever the order of the rows, the GaP
// budget always hollow, and that the markers drawn differ.
func TestBudgetMarkersDistinct(t *testing.T) {
	budgets := []string{"", "x5", "gap", "x2", "later"}
	st := newBudgetStyles(budgets)
	want := budgetStyles{"": fillSolid, "gap": fillHollow, "x2": fillDot, "x5": fillHalf, "later": fillBar}
	if fmt.Sprint(st) != fmt.Sprint(want) {
		t.Errorf("styles %v, want %v", st, want)
	}
	if got := newBudgetStyles([]string{"later", "x2", "", "x5", "gap"}); fmt.Sprint(got) != fmt.Sprint(st) {
		t.Errorf("styles depend on the order of the rows: %v and %v", got, st)
	}
	if newBudgetStyles([]string{"x2"})["gap"] != fillHollow {
		t.Error("the GaP budget is not hollow in every table")
	}
	for _, dist := range []string{"uniform", "erk", "global", "dense"} {
		drawn := map[string]string{}
		for _, b := range budgets {
			pc := &pathCanvas{}
			c := draw.NewCanvas(pc, 20, 20)
			st.shape(dist, b).DrawGlyph(&c, draw.GlyphStyle{Radius: 3}, vg.Point{X: 10, Y: 10})
			key := strings.Join(pc.ops, ";")
			if len(pc.ops) == 0 {
				t.Errorf("%s at budget %q draws nothing", dist, b)
			}
			if o, ok := drawn[key]; ok {
				t.Errorf("%s: budgets %q and %q draw the same marker", dist, o, b)
			}
			drawn[key] = b
		}
	}
	// In a figure: two non-base budgets, two legend entries, two markers.
	runs := fixtureRuns()
	for _, r := range runs {
		if r.Method == "rigl" && keyBudget(r.Row) == "" {
			r2 := *r
			r2.ID, r2.Row = r.ID+"x5", r.Row+"@x5"
			runs = append(runs, &r2)
		}
	}
	fc := newFigContext(runs, ImageNetSpec())
	f, err := figMetricVsFLOPs(fc)
	if err != nil || f == nil {
		t.Fatal(f, err)
	}
	var entries []string
	for _, g := range f.legend {
		for _, e := range g.Entries {
			if strings.Contains(e.Label, "budget") {
				entries = append(entries, e.Label)
			}
		}
	}
	if fmt.Sprint(entries) != "[hollow: GaP budget dot: 5× budget]" {
		t.Errorf("budget legend %v", entries)
	}
	shapes := map[string]bool{}
	for _, m := range f.marks[0] {
		shapes[fmt.Sprintf("%#v", m.shape)] = true
	}
	if len(shapes) < 4 { // filled ERK, hollow ERK, dot ERK, and the others
		t.Errorf("markers %v", shapes)
	}
}

// TestSparsityMarkersApart checks that no two markers of the sparsity
// figure touch, measured as drawn, in the crowded table (ten rows at one
// sparsity in a panel).
func TestSparsityMarkersApart(t *testing.T) {
	for name, set := range figureSets() {
		f, err := figMetricVsSparsity(newFigContext(set.runs, set.spec))
		if err != nil || f == nil {
			t.Fatalf("%s: %v", name, err)
		}
		_, glyphs := drawnFigure(f)
		for i := range glyphs {
			for j := i + 1; j < len(glyphs); j++ {
				if overlapArea(glyphs[i], glyphs[j]) > 0 {
					t.Errorf("%s: markers at %v and %v touch", name, glyphs[i], glyphs[j])
				}
			}
		}
	}
}

// variantRuns are the translation fixture keyed as the wmt14 table keys
// its rows: C-GaP and P-GaP at κ 3 and 6 as variants ("#k3", "#k6") of
// one method, and two baselines with long names, labelled as gap report
// labels them, under the table's long metric label.
func variantRuns() ([]*results.Run, TableSpec) {
	var runs []*results.Run
	spec := TranslationSpec()
	spec.Rows = nil
	spec.MetricLabel = "BLEU (case-insensitive)"
	addRow := func(key, label string, sp float64) {
		for _, s := range spec.Rows {
			if s.Key == key {
				return
			}
		}
		spec.Rows = append(spec.Rows, RowSpec{Key: key, Method: label, Sparsity: sp})
	}
	for _, r := range translationRuns() {
		m, v := r.Method, ""
		switch m {
		case "cgap", "pgap":
			v = "k3"
		case "cgap-k6", "pgap-k6":
			m, v = strings.TrimSuffix(m, "-k6"), "k6"
		}
		if v != "" {
			r.Method, r.Row = m, results.RowKey(m, r.Sparsity, r.Distribution)+"#"+v
			addRow(r.Row, map[string]string{"cgap": "C-GaP", "pgap": "P-GaP"}[m]+" ["+v+"]", r.Sparsity)
		}
		runs = append(runs, r)
		if m == "dense" {
			for i, b := range []struct{ method, label string }{{"pfp", "Prune from pretrained"}, {"ipfp", "Iterative prune from pretrained"}} {
				for _, sp := range []float64{0.8, 0.9} {
					c := *r
					c.Method, c.Sparsity, c.Distribution = b.method, sp, "uniform"
					c.Row = results.RowKey(b.method, sp, "uniform")
					c.ID = r.ID + c.Row
					c.Final = map[string]float64{"bleu": 26 - float64(i) - 2*sp}
					addRow(c.Row, b.label, sp)
					runs = append(runs, &c)
				}
			}
		}
	}
	return runs, spec
}

// TestVariantRows checks rows that differ only in a variant ("#k3",
// "#k6": κ of C-GaP and P-GaP, as the wmt14 table keys them): each
// variant is its own method with its own colour and label, and its
// distribution stays uniform (one panel, circle markers).
func TestVariantRows(t *testing.T) {
	runs, spec := variantRuns()
	if m, s, d := splitKey("cgap/0.9/uniform@gap#k6"); m != "cgap-k6" || s != "0.9" || d != "uniform" || keyBudget("cgap/0.9/uniform@gap#k6") != "gap" {
		t.Errorf("splitKey: %q %q %q", m, s, d)
	}
	fc := newFigContext(runs, spec)
	for _, m := range []string{"cgap-k3", "cgap-k6", "pgap-k3", "pgap-k6"} {
		if l := methodLabel(spec, m); !strings.HasSuffix(l, "["+m[len(m)-2:]+"]") {
			t.Errorf("%s labelled %q", m, l)
		}
	}
	figs, _, err := figureSpecs(runs, spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range figs {
		switch f.stem {
		case "metric_vs_sparsity":
			if len(f.marks) != 1 {
				t.Errorf("sparsity figure has %d panels, want 1 (uniform)", len(f.marks))
			}
		case "mask_changes":
			if !strings.Contains(f.caption, "C-GaP [k6]") || !strings.Contains(f.caption, "C-GaP [k3]") {
				t.Errorf("mask changes leave out a variant: %s", f.caption)
			}
		}
		owner := map[string]string{}
		for m, c := range f.colors {
			if o, ok := owner[fmt.Sprint(c)]; ok {
				t.Errorf("%s: %s and %s share a colour", f.stem, m, o)
			}
			owner[fmt.Sprint(c)] = m
		}
	}
	for _, r := range fc.rows {
		if r.dist != "uniform" && r.dist != "dense" {
			t.Errorf("row %s has distribution %q", r.key, r.dist)
		}
	}
}

// TestCrowdedFiguresDeterministic checks that the label layout gives the
// same PNG and SVG bytes whatever the order of the runs.
func TestCrowdedFiguresDeterministic(t *testing.T) {
	runs := crowdedRuns()
	want, _, _, err := Figures(runs, crowdedSpec())
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(runs)-1; i < j; i, j = i+1, j-1 {
		runs[i], runs[j] = runs[j], runs[i]
	}
	got, _, _, err := Figures(runs, crowdedSpec())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"metric_vs_flops.png", "metric_vs_flops.svg", "metric_vs_sparsity.png"} {
		if len(want[name]) == 0 || !bytes.Equal(got[name], want[name]) {
			t.Errorf("%s differs between two renderings of the same runs", name)
		}
	}
}
