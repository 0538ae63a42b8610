package reports

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/gap-harness/gap/results"
)

// textBox is a string drawn on a figure and its bounding box in the
// figure's coordinates.
type textBox struct {
	s string
	r vg.Rectangle
}

// recorder is a vg.Canvas that forwards to another and records the box of
// every string drawn, measured with the font's extents (gonum/plot's
// font.Face) and the canvas transform in force.
type recorder struct {
	vg.Canvas
	m     [6]float64 // x' = m0 x + m2 y + m4, y' = m1 x + m3 y + m5
	stack [][6]float64
	boxes []textBox

	// Paths drawn inside a marker (see glyphProbe) are measured too.
	inGlyph int
	glyphs  []vg.Rectangle
	lineW   vg.Length
	lwStack []vg.Length
}

func (r *recorder) SetLineWidth(w vg.Length) { r.lineW = w; r.Canvas.SetLineWidth(w) }

func (r *recorder) Fill(p vg.Path)   { r.measure(p, 0); r.Canvas.Fill(p) }
func (r *recorder) Stroke(p vg.Path) { r.measure(p, r.lineW/2); r.Canvas.Stroke(p) }

// measure widens the box of the marker being drawn by path p (grown by
// pad, half the line width of a stroke) under the transform.
func (r *recorder) measure(p vg.Path, pad vg.Length) {
	if r.inGlyph == 0 || len(p) == 0 {
		return
	}
	var pts []vg.Point
	for _, c := range p {
		switch c.Type {
		case vg.ArcComp:
			// The arc's whole circle: a bound of it.
			pts = append(pts, vg.Point{X: c.Pos.X - c.Radius, Y: c.Pos.Y - c.Radius}, vg.Point{X: c.Pos.X + c.Radius, Y: c.Pos.Y + c.Radius})
		case vg.CloseComp:
		default:
			pts = append(pts, c.Pos)
			pts = append(pts, c.Control...)
		}
	}
	// Every path of a marker widens the marker's box (see glyphProbe).
	b := &r.glyphs[len(r.glyphs)-1]
	for _, q := range pts {
		for _, d := range []vg.Point{{X: -pad, Y: -pad}, {X: pad, Y: pad}, {X: -pad, Y: pad}, {X: pad, Y: -pad}} {
			x, y := r.apply(q.Add(d))
			b.Min.X, b.Min.Y = min(b.Min.X, vg.Length(x)), min(b.Min.Y, vg.Length(y))
			b.Max.X, b.Max.Y = max(b.Max.X, vg.Length(x)), max(b.Max.Y, vg.Length(y))
		}
	}
}

func newRecorder(c vg.Canvas) *recorder { return &recorder{Canvas: c, m: [6]float64{1, 0, 0, 1, 0, 0}} }

func (r *recorder) mul(n [6]float64) {
	m := r.m
	r.m = [6]float64{
		m[0]*n[0] + m[2]*n[1], m[1]*n[0] + m[3]*n[1],
		m[0]*n[2] + m[2]*n[3], m[1]*n[2] + m[3]*n[3],
		m[0]*n[4] + m[2]*n[5] + m[4], m[1]*n[4] + m[3]*n[5] + m[5],
	}
}

func (r *recorder) Push() {
	r.stack, r.lwStack = append(r.stack, r.m), append(r.lwStack, r.lineW)
	r.Canvas.Push()
}
func (r *recorder) Pop() {
	r.m, r.lineW = r.stack[len(r.stack)-1], r.lwStack[len(r.lwStack)-1]
	r.stack, r.lwStack = r.stack[:len(r.stack)-1], r.lwStack[:len(r.lwStack)-1]
	r.Canvas.Pop()
}
func (r *recorder) Translate(p vg.Point) {
	r.mul([6]float64{1, 0, 0, 1, float64(p.X), float64(p.Y)})
	r.Canvas.Translate(p)
}
func (r *recorder) Scale(x, y float64) { r.mul([6]float64{x, 0, 0, y, 0, 0}); r.Canvas.Scale(x, y) }
func (r *recorder) Rotate(rad float64) {
	s, c := math.Sincos(rad)
	r.mul([6]float64{c, s, -s, c, 0, 0})
	r.Canvas.Rotate(rad)
}
func (r *recorder) apply(p vg.Point) (float64, float64) {
	x, y := float64(p.X), float64(p.Y)
	return r.m[0]*x + r.m[2]*y + r.m[4], r.m[1]*x + r.m[3]*y + r.m[5]
}

func (r *recorder) FillString(f font.Face, pt vg.Point, s string) {
	w := f.Width(s)
	e := f.Extents()
	d := vg.Length(math.Abs(float64(e.Descent)))
	corners := []vg.Point{{X: pt.X, Y: pt.Y - d}, {X: pt.X + w, Y: pt.Y - d}, {X: pt.X, Y: pt.Y + e.Ascent}, {X: pt.X + w, Y: pt.Y + e.Ascent}}
	b := vg.Rectangle{Min: vg.Point{X: vg.Length(math.Inf(1)), Y: vg.Length(math.Inf(1))}, Max: vg.Point{X: vg.Length(math.Inf(-1)), Y: vg.Length(math.Inf(-1))}}
	for _, c := range corners {
		x, y := r.apply(c)
		b.Min.X, b.Min.Y = min(b.Min.X, vg.Length(x)), min(b.Min.Y, vg.Length(y))
		b.Max.X, b.Max.Y = max(b.Max.X, vg.Length(x)), max(b.Max.Y, vg.Length(y))
	}
	r.boxes = append(r.boxes, textBox{s, b})
	r.Canvas.FillString(f, pt, s)
}

// drawnText renders f and returns the strings it draws with their boxes.
func drawnText(f *figure) []textBox {
	img := vgimg.New(f.w, f.h)
	rec := newRecorder(img)
	f.draw(draw.NewCanvas(rec, f.w, f.h))
	return rec.boxes
}

// translationRuns is a second suite's results: BLEU, uniform only, κ
// variants as their own methods, ten GaP rounds.
func translationRuns() []*results.Run {
	var runs []*results.Run
	for _, m := range []string{"dense", "cgap", "cgap-k6", "pgap", "pgap-k6"} {
		for _, s := range []float64{0.8, 0.9} {
			if m == "dense" && s == 0.9 {
				continue
			}
			sp, dist := s, "uniform"
			if m == "dense" {
				sp, dist = 0, "dense"
			}
			for seed := 0; seed < 2; seed++ {
				r := &results.Run{ID: fmt.Sprintf("%s-%g-%d", m, sp, seed), Table: "translation", Row: results.RowKey(m, sp, dist),
					Profile: "smoke", Method: m, Distribution: dist, Sparsity: sp, Seed: int64(seed), Epochs: 10, Metric: "bleu",
					Final:      map[string]float64{"bleu": 27 - 3*sp + 0.1*float64(seed)},
					TrainFLOPs: 1e12 * (1 - 0.5*sp), DenseTrainFLOPs: 1e12}
				for e := 1; e <= 10; e++ {
					r.Curves = append(r.Curves, results.Point{Epoch: e, Metric: "test_bleu", Value: 27 * (1 - math.Exp(-float64(e)/3))})
				}
				if m != "dense" {
					for round := 0; round < 10; round++ {
						for p := 0; p < 3; p++ {
							r.MaskChanges = append(r.MaskChanges, results.MaskChange{Round: round, Partition: p, Changed: 0.3 / float64(round+1)})
						}
					}
				}
				runs = append(runs, r)
			}
		}
	}
	return runs
}

// figureSets are the result sets the figure checks run over.
func figureSets() map[string]struct {
	runs []*results.Run
	spec TableSpec
} {
	vruns, vspec := variantRuns()
	odd := fixtureRuns()
	for i, m := range []string{"mystery", "enigma"} {
		r := *odd[0]
		r.ID, r.Method, r.Row = "odd"+m, m, results.RowKey(m, 0.9, "uniform")
		r.Sparsity, r.Distribution = 0.9, "uniform"
		r.Final = map[string]float64{"top1": 80 + float64(i)}
		odd = append(odd, &r)
	}
	return map[string]struct {
		runs []*results.Run
		spec TableSpec
	}{
		"imagenet":    {fixtureRuns(), ImageNetSpec()},
		"translation": {translationRuns(), withExtra(TranslationSpec())},
		"unknown":     {odd, ImageNetSpec()},
		"parts":       {fixtureRuns(), withParts(ImageNetSpec())},
		"crowded":     {crowdedRuns(), crowdedSpec()},
		"variants":    {vruns, vspec},
	}
}

func TestPaletteUniquePerMethod(t *testing.T) {
	seen := map[color.NRGBA]string{}
	for m, c := range methodColors {
		if o, ok := seen[c]; ok {
			t.Errorf("methods %s and %s share colour %v", m, o, c)
		}
		seen[c] = m
	}
	global := map[string]color.NRGBA{}
	for name, set := range figureSets() {
		figs, _, err := figureSpecs(set.runs, set.spec)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range figs {
			if len(f.colors) == 0 {
				t.Errorf("%s/%s: no method colours recorded", name, f.stem)
			}
			owner := map[color.NRGBA]string{}
			for m, c := range f.colors {
				if o, ok := owner[c]; ok {
					t.Errorf("%s/%s: methods %s and %s share colour %v", name, f.stem, m, o, c)
				}
				owner[c] = m
				if g, ok := global[m]; ok && g != c {
					t.Errorf("%s/%s: method %s is %v here and %v elsewhere", name, f.stem, m, c, g)
				}
				if _, fixed := methodColors[m]; fixed {
					global[m] = c
				}
			}
		}
	}
}

func TestFigureTextInsideCanvas(t *testing.T) {
	for name, set := range figureSets() {
		figs, _, err := figureSpecs(set.runs, set.spec)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range figs {
			boxes := drawnText(f)
			if len(boxes) == 0 {
				t.Errorf("%s/%s: no text drawn", name, f.stem)
			}
			const tol = 0.5
			for _, b := range boxes {
				if b.r.Min.X < -tol || b.r.Min.Y < -tol || b.r.Max.X > f.w+tol || b.r.Max.Y > f.h+tol {
					t.Errorf("%s/%s: %q at %v lies outside the %v×%v canvas", name, f.stem, b.s, b.r, f.w, f.h)
				}
			}
			for i := range boxes {
				for j := i + 1; j < len(boxes); j++ {
					if a := overlapArea(shrink(boxes[i].r), shrink(boxes[j].r)); a > 0 {
						t.Errorf("%s/%s: %q and %q overlap", name, f.stem, boxes[i].s, boxes[j].s)
					}
				}
			}
		}
	}
}

// shrink trims a text box by the font's line gap, so that lines set one
// under the other do not count as overlapping.
func shrink(r vg.Rectangle) vg.Rectangle {
	d := vg.Points(0.8)
	return vg.Rectangle{Min: vg.Point{X: r.Min.X + d, Y: r.Min.Y + d}, Max: vg.Point{X: r.Max.X - d, Y: r.Max.Y - d}}
}

func TestFigureLabelsFromTable(t *testing.T) {
	set := figureSets()["translation"]
	figs, _, err := figureSpecs(set.runs, set.spec)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"metric_vs_sparsity": "BLEU", "metric_vs_flops": "BLEU", "curves": "test BLEU"}
	for _, f := range figs {
		w, ok := want[f.stem]
		if !ok {
			continue
		}
		found := false
		for _, b := range drawnText(f) {
			found = found || b.s == w
		}
		if !found {
			t.Errorf("%s: no axis label %q", f.stem, w)
		}
		if !strings.Contains(f.caption, "BLEU") || !strings.Contains(f.caption, "seeds") {
			t.Errorf("%s: caption %q", f.stem, f.caption)
		}
	}
}

func TestMaskChangesOneAndTenRounds(t *testing.T) {
	for name, set := range map[string][]*results.Run{"one round": fixtureOneRound(), "ten rounds": translationRuns()} {
		spec := ImageNetSpec()
		if name == "ten rounds" {
			spec = TranslationSpec()
		}
		fc := newFigContext(set, spec)
		f, err := figMaskChanges(fc)
		if err != nil || f == nil {
			t.Fatalf("%s: %v %v", name, f, err)
		}
		cells := 0
		for _, b := range drawnText(f) {
			if _, err := fmt.Sscanf(b.s, "%g", new(float64)); err == nil && strings.Contains(b.s, ".") || isInt(b.s) {
				cells++
			}
		}
		// Every cell value is printed: one per partition and round, per
		// GaP method, plus the round numbers on the axis.
		want := map[string]int{"one round": 2 * (4*1 + 1), "ten rounds": 4 * (3*10 + 10)}[name]
		if cells != want {
			t.Errorf("%s: %d numbers printed, want %d", name, cells, want)
		}
	}
}

func isInt(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// fixtureOneRound is the fixture with one GaP round of mask changes.
func fixtureOneRound() []*results.Run {
	runs := fixtureRuns()
	for _, r := range runs {
		var keep []results.MaskChange
		for _, mc := range r.MaskChanges {
			if mc.Round == 1 {
				keep = append(keep, mc)
			}
		}
		r.MaskChanges = keep
	}
	return runs
}

func TestFiguresDeterministic(t *testing.T) {
	runs := fixtureRuns()
	want, _, _, err := Figures(runs, ImageNetSpec())
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 10 {
		t.Fatalf("%d files, want 10", len(want))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	rng.Shuffle(len(runs), func(a, b int) { runs[a], runs[b] = runs[b], runs[a] })
	got, _, _, err := Figures(runs, ImageNetSpec())
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range want {
		if !bytes.Equal(got[name], b) {
			t.Errorf("%s differs between two renderings of the same runs", name)
		}
	}
}

func TestParetoFront(t *testing.T) {
	rows := []rowStats{
		{key: "a", cost: 1, metric: 90},
		{key: "b", cost: 0.5, metric: 85},
		{key: "c", cost: 0.6, metric: 84}, // dominated by b
		{key: "d", cost: 1.5, metric: 91},
		{key: "e", cost: 0.2, metric: 70},
		{key: "f", cost: 2, metric: 90.5}, // dominated by d
	}
	var got []string
	for _, i := range paretoFront(rows) {
		got = append(got, rows[i].key)
	}
	if strings.Join(got, "") != "ebad" {
		t.Errorf("front %v, want e b a d", got)
	}
}

func TestInterval(t *testing.T) {
	// n = 3: mean ± t(0.975, 2)·s/√3, t = 4.302652729911275.
	m, lo, hi, mm := interval([]float64{1, 2, 3})
	h := 4.302652729911275 * 1 / math.Sqrt(3)
	if mm || m != 2 || math.Abs(lo-(2-h)) > 1e-9 || math.Abs(hi-(2+h)) > 1e-9 {
		t.Errorf("interval(1,2,3) = %v %v %v %v", m, lo, hi, mm)
	}
	if m, lo, hi, mm := interval([]float64{5, 3}); !mm || m != 4 || lo != 3 || hi != 5 {
		t.Errorf("interval(5,3) = %v %v %v %v", m, lo, hi, mm)
	}
}

func TestShadeAndStyles(t *testing.T) {
	c := rgb(0x882255)
	if shade(c, 0.9) != c || shade(c, 0) != c {
		t.Error("90% and dense keep the method colour")
	}
	if luminance(shade(c, 0.8)) <= luminance(c) || luminance(shade(c, 0.95)) >= luminance(c) {
		t.Error("80% must be lighter and 95% darker than 90%")
	}
	shapes := map[string]bool{}
	for _, d := range []string{"uniform", "erk", "global", "dense", "other"} {
		shapes[fmt.Sprintf("%T", distShape(d))] = true
	}
	if len(shapes) != 5 {
		t.Errorf("distributions share markers: %v", shapes)
	}
	p := newPalette([]string{"cgap", "x", "y"})
	if p.color("cgap") != methodColors["cgap"] || p.color("x") == p.color("y") {
		t.Errorf("palette %v", p)
	}
}

// withExtra adds a suite figure to spec: a point cloud coloured by part,
// one panel per GaP method, drawn with the exported helpers.
func withExtra(spec TableSpec) TableSpec {
	spec.Extra = append(spec.Extra, func(runs []*results.Run, spec TableSpec) (*Figure, error) {
		parts := []string{"wing", "body", "tail", "engine"}
		cols := CategoryColors(len(parts))
		var panels []*plot.Plot
		for _, m := range []string{"cgap", "pgap"} {
			p := NewPanel(m, "x (m)", "y (m)")
			for i := range parts {
				var xy plotter.XYs
				for j := 0; j < 20; j++ {
					a := float64(i*20+j) / 80 * 2 * math.Pi
					xy = append(xy, plotter.XY{X: math.Cos(a) * float64(i+1), Y: math.Sin(a)})
				}
				sc, err := plotter.NewScatter(xy)
				if err != nil {
					return nil, err
				}
				sc.GlyphStyle.Color, sc.GlyphStyle.Radius = cols[i], vg.Points(1.2)
				p.Add(sc)
			}
			panels = append(panels, p)
		}
		legend := LegendGroup{Title: "part:"}
		for i, name := range parts {
			legend.Entries = append(legend.Entries, LegendEntry{Label: name, Thumb: SwatchThumb(cols[i])})
		}
		groups := []LegendGroup{legend}
		return &Figure{Stem: "parts", Caption: "a point cloud coloured by part", Height: 1.6*vg.Inch + LegendHeight(groups),
			Methods: []string{"cgap", "pgap"},
			Draw:    WithLegend(groups, func(c draw.Canvas) { Tiled(c, [][]*plot.Plot{panels}, vg.Points(4), 0) })}, nil
	})
	return spec
}

func TestExtraFigure(t *testing.T) {
	files, captions, _, err := Figures(translationRuns(), withExtra(TranslationSpec()))
	if err != nil {
		t.Fatal(err)
	}
	if files["parts.png"] == nil || files["parts.svg"] == nil || captions[len(captions)-1][0] != "parts" {
		t.Errorf("extra figure missing: %v", captions)
	}
	spec := withExtra(withExtra(TranslationSpec()))
	if _, _, _, err := Figures(translationRuns(), spec); err == nil || !strings.Contains(err.Error(), "taken") {
		t.Errorf("two figures with one stem: %v", err)
	}
}

// TestLegendBelowData checks that every legend label is drawn inside the
// legend strip at the bottom of its figure and every other text above it,
// so the legend covers no data.
func TestLegendBelowData(t *testing.T) {
	for name, set := range figureSets() {
		figs, _, err := figureSpecs(set.runs, set.spec)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range figs {
			if f.legend == nil {
				continue
			}
			strip := LegendHeight(f.legend)
			labels := map[string]bool{}
			for _, g := range f.legend {
				if g.Title != "" {
					labels[g.Title] = true
				}
				for _, e := range g.Entries {
					labels[e.Label] = true
				}
			}
			found := map[string]bool{}
			for _, b := range drawnText(f) {
				if b.r.Max.Y <= strip {
					if !labels[b.s] {
						t.Errorf("%s/%s: %q is drawn in the legend strip", name, f.stem, b.s)
					}
					found[b.s] = true
				} else if b.r.Min.Y < strip {
					t.Errorf("%s/%s: %q crosses the top of the legend strip", name, f.stem, b.s)
				}
			}
			for l := range labels {
				if !found[l] {
					t.Errorf("%s/%s: legend label %q not drawn in the legend strip", name, f.stem, l)
				}
			}
		}
	}
}

// TestSparsityPointsApart checks that no two points of a panel of the
// sparsity figure share an x position (methods are offset), with a
// method at two budgets in the table.
func TestSparsityPointsApart(t *testing.T) {
	for name, set := range figureSets() {
		fc := newFigContext(set.runs, set.spec)
		f, err := figMetricVsSparsity(fc)
		if err != nil || f == nil {
			t.Fatalf("%s: %v", name, err)
		}
		n := 0
		for pi, ms := range f.marks {
			for i := range ms {
				for j := i + 1; j < len(ms); j++ {
					if math.Abs(ms[i].x-ms[j].x) < 0.02 {
						t.Errorf("%s panel %d: points %d and %d at x %v and %v", name, pi, i, j, ms[i].x, ms[j].x)
					}
				}
			}
			n += len(ms)
		}
		dense := 0
		for _, r := range fc.rows {
			if r.dist == "dense" {
				dense++
			}
		}
		if n != len(fc.rows)-dense {
			t.Errorf("%s: %d points for %d non-dense rows", name, n, len(fc.rows)-dense)
		}
	}
}

func TestCurvePanelsAtMostFour(t *testing.T) {
	runs := fixtureRuns()
	// Six rows of one method: two panels, four and two.
	for i, s := range []float64{0.5, 0.6, 0.7} {
		for _, d := range []string{"uniform", "erk"} {
			r := *runs[0]
			r.ID, r.Method, r.Row = fmt.Sprintf("set%d%s", i, d), "set", results.RowKey("set", s, d)
			r.Sparsity, r.Distribution = s, d
			runs = append(runs, &r)
		}
	}
	fc := newFigContext(runs, ImageNetSpec())
	var sizes []int
	for _, p := range curvePanels(fc, "test_top1") {
		if len(p.keys) > maxCurves {
			t.Errorf("panel %s has %d series", p.method, len(p.keys))
		}
		if p.method == "set" {
			sizes = append(sizes, len(p.keys))
		}
	}
	if fmt.Sprint(sizes) != "[4 2]" {
		t.Errorf("set panels %v, want [4 2]", sizes)
	}
}
