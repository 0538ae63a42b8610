package reports

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/gap-harness/gap/results"
)

// Figure size: 8 × 5 inches, PNG at 96 dpi (768 × 480 pixels).
const (
	figW   = 8 * vg.Inch
	figH   = 5 * vg.Inch
	figDPI = 96
)

// figure is one drawn plot and the file stem it is saved under.
type figure struct {
	stem    string
	caption string
	plot    *plot.Plot
}

// series is one line of a figure: a label and its points.
type series struct {
	label      string
	xs, ys, es []float64 // es: ± error on y (0 when unknown)
	xerr       []float64 // ± error on x, optional
}

// rowLabel labels a row key with the spec's method and distribution labels.
func rowLabel(spec TableSpec, key string) string {
	for _, r := range spec.Rows {
		if r.Key == key {
			return joinLabel(r.methodLabel(), r.distLabel(), pct(r.Sparsity))
		}
	}
	return key
}

// joinLabel joins label parts with spaces, leaving out empty ones and "—".
func joinLabel(parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p != "" && p != "—" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, " ")
}

// groupLabel labels a method/distribution pair.
func groupLabel(spec TableSpec, method, dist string) string {
	for _, r := range spec.Rows {
		m, _, d := splitKey(r.Key)
		if m == method && d == dist {
			return joinLabel(r.methodLabel(), r.distLabel())
		}
	}
	return method + " " + dist
}

// rowStats is the per-row summary used by the figures.
type rowStats struct {
	key, method, dist             string
	sparsity                      float64
	metric, metricStd, cost, cstd float64
}

func summarize(spec TableSpec, groups map[string][]*results.Run) []rowStats {
	var out []rowStats
	for _, key := range sortedKeys(groups) {
		g := groups[key]
		m, s := meanStd(values(g, metricOf(spec.Metric)))
		if math.IsNaN(m) {
			continue
		}
		c, cs := meanStd(values(g, trainCost))
		method, _, dist := splitKey(key)
		out = append(out, rowStats{key: key, method: method, dist: dist, sparsity: g[0].Sparsity,
			metric: m, metricStd: zeroNaN(s), cost: c, cstd: zeroNaN(cs)})
	}
	return out
}

func zeroNaN(x float64) float64 {
	if math.IsNaN(x) {
		return 0
	}
	return x
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// byGroup splits row stats into method/distribution series with x from fx.
func byGroup(spec TableSpec, rows []rowStats, withX func(rowStats) (x, xerr float64, ok bool)) []series {
	idx := map[string]int{}
	var out []series
	for _, r := range rows {
		x, xe, ok := withX(r)
		if !ok {
			continue
		}
		k := r.method + "/" + r.dist
		i, seen := idx[k]
		if !seen {
			i = len(out)
			idx[k] = i
			out = append(out, series{label: groupLabel(spec, r.method, r.dist)})
		}
		s := &out[i]
		s.xs, s.ys, s.es, s.xerr = append(s.xs, x), append(s.ys, r.metric), append(s.es, r.metricStd), append(s.xerr, xe)
	}
	for i := range out {
		sortSeries(&out[i])
	}
	return out
}

func sortSeries(s *series) {
	idx := make([]int, len(s.xs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return s.xs[idx[a]] < s.xs[idx[b]] })
	perm := func(v []float64) []float64 {
		if v == nil {
			return nil
		}
		out := make([]float64, len(v))
		for i, j := range idx {
			out[i] = v[j]
		}
		return out
	}
	s.xs, s.ys, s.es, s.xerr = perm(s.xs), perm(s.ys), perm(s.es), perm(s.xerr)
}

// errPoints is plotter data with x and y error bars.
type errPoints struct {
	plotter.XYs
	plotter.YErrors
	plotter.XErrors
}

// addSeries draws series as lines (when lines is true) with point markers
// and error bars, one colour per series.
func addSeries(p *plot.Plot, ss []series, lines, xErrors bool) error {
	for i, s := range ss {
		d := errPoints{XYs: make(plotter.XYs, len(s.xs)), YErrors: make(plotter.YErrors, len(s.xs)), XErrors: make(plotter.XErrors, len(s.xs))}
		for j := range s.xs {
			d.XYs[j] = plotter.XY{X: s.xs[j], Y: s.ys[j]}
			d.YErrors[j] = struct{ Low, High float64 }{s.es[j], s.es[j]}
			if s.xerr != nil {
				d.XErrors[j] = struct{ Low, High float64 }{s.xerr[j], s.xerr[j]}
			}
		}
		col := plotutil.Color(i)
		sc, err := plotter.NewScatter(d.XYs)
		if err != nil {
			return err
		}
		sc.GlyphStyle.Color, sc.GlyphStyle.Shape = col, plotutil.Shape(i)
		eb, err := plotter.NewYErrorBars(d)
		if err != nil {
			return err
		}
		eb.LineStyle.Color = col
		p.Add(sc, eb)
		thumbs := []plot.Thumbnailer{sc}
		if lines && len(s.xs) > 1 {
			ln, err := plotter.NewLine(d.XYs)
			if err != nil {
				return err
			}
			ln.LineStyle.Color = col
			p.Add(ln)
			thumbs = append(thumbs, ln)
		}
		if xErrors {
			xb, err := plotter.NewXErrorBars(d)
			if err != nil {
				return err
			}
			xb.LineStyle.Color = col
			p.Add(xb)
		}
		p.Legend.Add(s.label, thumbs...)
	}
	return nil
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, x, y
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	return p
}

// figMetricVsSparsity is figure 1.
func figMetricVsSparsity(spec TableSpec, rows []rowStats) (*figure, error) {
	ss := byGroup(spec, rows, func(r rowStats) (float64, float64, bool) { return 100 * r.sparsity, 0, true })
	if len(ss) == 0 {
		return nil, nil
	}
	p := newPlot(spec.metricLabel()+" vs sparsity", "target sparsity (%)", spec.metricLabel())
	if err := addSeries(p, ss, true, false); err != nil {
		return nil, err
	}
	padAxes(p, 0.05)
	return &figure{"metric_vs_sparsity", spec.metricLabel() + " against target sparsity (mean ± sample std over seeds)", p}, nil
}

// figMetricVsFLOPs is figure 3.
func figMetricVsFLOPs(spec TableSpec, rows []rowStats) (*figure, error) {
	ss := byGroup(spec, rows, func(r rowStats) (float64, float64, bool) { return r.cost, r.cstd, !math.IsNaN(r.cost) })
	if len(ss) == 0 {
		return nil, nil
	}
	p := newPlot(spec.metricLabel()+" vs training cost", "training FLOPs (× dense)", spec.metricLabel())
	if err := addSeries(p, ss, false, true); err != nil {
		return nil, err
	}
	padAxes(p, 0.05)
	return &figure{"metric_vs_flops", spec.metricLabel() + " against training FLOPs as a multiple of dense training", p}, nil
}

// representative returns the representative row key of runs: the most
// sparse row (ties: smaller key).
func representative(groups map[string][]*results.Run, keep func(*results.Run) bool) string {
	best, bestS := "", math.Inf(-1)
	for _, k := range sortedKeys(groups) {
		g := groups[k]
		if !keep(g[0]) {
			continue
		}
		if g[0].Sparsity > bestS {
			best, bestS = k, g[0].Sparsity
		}
	}
	return best
}

// gapRow picks the representative row for phase and mask figures: that
// of cgap, else pgap, else any method whose runs have data per has.
func gapRow(groups map[string][]*results.Run, has func(*results.Run) bool) string {
	for _, m := range []string{"cgap", "pgap", ""} {
		k := representative(groups, func(r *results.Run) bool { return (m == "" || r.Method == m) && has(r) })
		if k != "" {
			return k
		}
	}
	return ""
}

// figCurves is figure 2.
func figCurves(spec TableSpec, groups map[string][]*results.Run) (*figure, error) {
	metric := spec.curveMetric()
	var ss []series
	for _, k := range sortedKeys(groups) {
		perEpoch := map[int][]float64{}
		for _, r := range groups[k] {
			last := map[int]float64{}
			for _, pt := range r.Curves {
				if pt.Metric == metric {
					last[pt.Epoch] = pt.Value
				}
			}
			for e, v := range last {
				perEpoch[e] = append(perEpoch[e], v)
			}
		}
		if len(perEpoch) == 0 {
			continue
		}
		s := series{label: rowLabel(spec, k)}
		for _, e := range sortedInts(perEpoch) {
			m, _ := meanStd(perEpoch[e])
			s.xs, s.ys = append(s.xs, float64(e)), append(s.ys, m)
		}
		ss = append(ss, s)
	}
	if len(ss) == 0 {
		return nil, nil
	}
	p := newPlot(metric+" during training", "epoch", metric)
	rep := gapRow(groups, func(r *results.Run) bool { return len(r.Phases) > 0 })
	if rep != "" {
		sh := &shading{phases: groups[rep][0].Phases}
		p.Add(sh)
		for _, part := range sh.partitions() {
			p.Legend.Add(fmt.Sprintf("grow P%d (%s)", part, rowLabel(spec, rep)), swatch(shadeColor(part)))
		}
	}
	for i, s := range ss {
		xy := make(plotter.XYs, len(s.xs))
		for j := range s.xs {
			xy[j] = plotter.XY{X: s.xs[j], Y: s.ys[j]}
		}
		ln, err := plotter.NewLine(xy)
		if err != nil {
			return nil, err
		}
		ln.LineStyle.Color, ln.LineStyle.Dashes = plotutil.Color(i), plotutil.Dashes(i/len(plotutil.DefaultColors))
		p.Add(ln)
		p.Legend.Add(s.label, ln)
	}
	padAxes(p, 0.02)
	caption := fmt.Sprintf("%s against epoch, mean over seeds per row", metric)
	if rep != "" {
		caption += fmt.Sprintf("; shaded: grow phases of %s (seed %d), one colour per partition", rowLabel(spec, rep), groups[rep][0].Seed)
	}
	return &figure{"curves", caption, p}, nil
}

func sortedInts[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}

// figMaskChanges is figure 4.
func figMaskChanges(spec TableSpec, groups map[string][]*results.Run) (*figure, error) {
	rep := gapRow(groups, func(r *results.Run) bool { return len(r.MaskChanges) > 0 })
	if rep == "" {
		return nil, nil
	}
	vals := map[int]map[int][]float64{} // partition -> round -> values
	for _, r := range groups[rep] {
		for _, mc := range r.MaskChanges {
			if vals[mc.Partition] == nil {
				vals[mc.Partition] = map[int][]float64{}
			}
			vals[mc.Partition][mc.Round] = append(vals[mc.Partition][mc.Round], mc.Changed)
		}
	}
	var ss []series
	for _, part := range sortedInts(vals) {
		s := series{label: "partition " + strconv.Itoa(part)}
		for _, round := range sortedInts(vals[part]) {
			m, sd := meanStd(vals[part][round])
			s.xs, s.ys, s.es = append(s.xs, float64(round)), append(s.ys, 100*m), append(s.es, 100*zeroNaN(sd))
		}
		ss = append(ss, s)
	}
	p := newPlot("mask change between GaP rounds: "+rowLabel(spec, rep), "round", "mask entries changed (%)")
	if err := addSeries(p, ss, true, false); err != nil {
		return nil, err
	}
	padAxes(p, 0.05)
	p.Y.Min = max(p.Y.Min, 0)
	return &figure{"mask_changes", fmt.Sprintf("share of each partition's mask entries changed between consecutive rounds, %s, mean ± std over %d seed(s)", rowLabel(spec, rep), len(groups[rep])), p}, nil
}

// figLayers is figure 5.
func figLayers(spec TableSpec, groups map[string][]*results.Run) (*figure, error) {
	methods := map[string]bool{}
	for _, g := range groups {
		if len(g[0].Layers) > 0 {
			methods[g[0].Method] = true
		}
	}
	var reps []*results.Run
	for _, m := range sortedKeys(methods) {
		k := representative(groups, func(r *results.Run) bool { return r.Method == m && len(r.Layers) > 0 })
		reps = append(reps, groups[k][0])
	}
	if len(reps) == 0 {
		return nil, nil
	}
	var names []string
	pos := map[string]int{}
	for _, r := range reps {
		for _, l := range r.Layers {
			if _, ok := pos[l.Name]; !ok {
				pos[l.Name] = len(names)
				names = append(names, l.Name)
			}
		}
	}
	p := newPlot("per-layer sparsity of the final model", "", "sparsity (%)")
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = math.Pi / 2
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
	// The data area is about 55% of the figure width less the y axis
	// (the legend strip takes the rest); bars fill 80% of a layer's slot.
	groupW := 0.8 * float64(0.55*figW-vg.Inch) / float64(len(names))
	w := vg.Length(groupW / float64(len(reps)))
	for i, r := range reps {
		v := make(plotter.Values, len(names))
		for _, l := range r.Layers {
			if l.Params > 0 {
				v[pos[l.Name]] = 100 * (1 - float64(l.Nonzero)/float64(l.Params))
			}
		}
		bc, err := plotter.NewBarChart(v, w)
		if err != nil {
			return nil, err
		}
		bc.LineStyle.Width = 0
		bc.Color = plotutil.Color(i)
		bc.Offset = vg.Length(float64(i)-float64(len(reps)-1)/2) * w
		p.Add(bc)
		p.Legend.Add(fmt.Sprintf("%s (seed %d)", rowLabel(spec, r.Row), r.Seed), bc)
	}
	p.Y.Min, p.Y.Max = 0, 100
	return &figure{"layer_sparsity", "sparsity of each prunable layer in the final model; per method its most sparse row, smallest seed", p}, nil
}

// shading draws translucent rectangles over the epochs of grow phases.
type shading struct{ phases []results.Phase }

func (s *shading) partitions() []int {
	seen := map[int]bool{}
	var out []int
	for _, ph := range s.phases {
		if ph.Name == "grow" && !seen[ph.Partition] {
			seen[ph.Partition] = true
			out = append(out, ph.Partition)
		}
	}
	sort.Ints(out)
	return out
}

// Plot implements plot.Plotter.
func (s *shading) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, _ := plt.Transforms(&c)
	for _, ph := range s.phases {
		if ph.Name != "grow" {
			continue
		}
		x0 := max(trX(float64(ph.StartEpoch)), c.Min.X)
		x1 := min(trX(float64(ph.EndEpoch)), c.Max.X)
		if x1 <= x0 {
			continue
		}
		c.FillPolygon(shadeColor(ph.Partition), []vg.Point{{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y}})
	}
}

func shadeColor(partition int) color.Color {
	r, g, b, _ := plotutil.Color(partition + 3).RGBA()
	return color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: 48}
}

// swatch is a legend thumbnail filled with colour c.
func swatch(c color.Color) plot.Thumbnailer { return swatchThumb{c} }

type swatchThumb struct{ c color.Color }

func (s swatchThumb) Thumbnail(c *draw.Canvas) {
	c.FillPolygon(s.c, []vg.Point{{X: c.Min.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Min.X, Y: c.Max.Y}})
}

// encodeFigure renders f as PNG and SVG bytes.
func encodeFigure(f *figure) (png, svg []byte, err error) {
	img := vgimg.NewWith(vgimg.UseWH(figW, figH), vgimg.UseDPI(figDPI))
	render(f.plot, draw.New(img))
	var pb bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&pb); err != nil {
		return nil, nil, fmt.Errorf("figure %s: png: %w", f.stem, err)
	}
	sc := vgsvg.New(figW, figH)
	render(f.plot, draw.New(sc))
	var sb bytes.Buffer
	if _, err := sc.WriteTo(&sb); err != nil {
		return nil, nil, fmt.Errorf("figure %s: svg: %w", f.stem, err)
	}
	return pb.Bytes(), sb.Bytes(), nil
}

// render draws p on c with its legend in a strip on the right, outside
// the data area (at most 45% of the width), so it hides no data.
func render(p *plot.Plot, c draw.Canvas) {
	leg := p.Legend
	r := leg.Rectangle(c)
	lw := r.Max.X - r.Min.X
	if lw <= 0 {
		p.Draw(c)
		return
	}
	lw = min(lw+vg.Points(12), 0.45*(c.Max.X-c.Min.X))
	p.Legend = plot.NewLegend()
	p.Draw(draw.Crop(c, 0, -lw, 0, 0))
	p.Legend = leg
	leg.Left, leg.Top = true, true
	leg.Draw(draw.Crop(c, c.Max.X-c.Min.X-lw+vg.Points(6), 0, 0, -vg.Points(24)))
}

// padAxes widens the axes' data ranges by frac of their span on each
// side (by 1 when the span is 0), so that points at the edges show whole.
func padAxes(p *plot.Plot, frac float64) {
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		d := (ax.Max - ax.Min) * frac
		if d == 0 {
			d = 1
		}
		ax.Min, ax.Max = ax.Min-d, ax.Max+d
	}
}
