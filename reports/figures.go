package reports

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/stat/distuv"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gap-harness/gap/results"
)

// rowStats is the per-row summary used by the figures.
type rowStats struct {
	key, method, dist string
	budget            string // "" for the base budget
	sparsity          float64
	n                 int
	metric, lo, hi    float64 // mean and interval (see interval)
	cost              float64 // training FLOPs × dense, NaN when unknown
}

// interval is the 95% Student-t interval of the mean of xs when there are
// at least 3 values, else their min and max; minMax says which.
func interval(xs []float64) (mean, lo, hi float64, minMax bool) {
	m, s := meanStd(xs)
	if len(xs) >= 3 {
		t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(len(xs) - 1)}.Quantile(0.975)
		h := t * s / math.Sqrt(float64(len(xs)))
		return m, m - h, m + h, false
	}
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	if len(xs) == 0 {
		lo, hi = math.NaN(), math.NaN()
	}
	return m, lo, hi, true
}

// summarize gives the rows with a metric in spec order (rows of the
// spec, then other rows by key).
func summarize(spec TableSpec, groups map[string][]*results.Run) []rowStats {
	var out []rowStats
	for _, key := range rowOrder(spec, groups) {
		g := groups[key]
		m, lo, hi, _ := interval(values(g, metricOf(spec.Metric)))
		if math.IsNaN(m) {
			continue
		}
		c, _ := meanStd(values(g, trainCost))
		method, _, dist := splitKey(key)
		out = append(out, rowStats{key: key, method: method, dist: dist, budget: keyBudget(key), sparsity: g[0].Sparsity,
			n: len(values(g, metricOf(spec.Metric))), metric: m, lo: lo, hi: hi, cost: c})
	}
	return out
}

// rowOrder lists the row keys with runs: spec order first, then the rest
// sorted.
func rowOrder(spec TableSpec, groups map[string][]*results.Run) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range spec.Rows {
		if len(groups[r.Key]) > 0 && !seen[r.Key] {
			seen[r.Key] = true
			out = append(out, r.Key)
		}
	}
	for _, k := range sortedKeys(groups) {
		if !seen[k] {
			out = append(out, k)
		}
	}
	return out
}

// methodBudgetOrder lists the "method@budget" pairs of the row keys in
// first-seen order.
func methodBudgetOrder(keys []string) []string {
	var out []string
	for _, k := range keys {
		m, _, _ := splitKey(k)
		mb := m + "@" + keyBudget(k)
		if !contains(out, mb) {
			out = append(out, mb)
		}
	}
	return out
}

// methodOrder lists the methods of the row keys in first-seen order.
func methodOrder(keys []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, k := range keys {
		m, _, _ := splitKey(k)
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sortedInts[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}

// methodLabel is the spec's label of a method (its first row's).
func methodLabel(spec TableSpec, method string) string {
	for _, r := range spec.Rows {
		if m, _, _ := splitKey(r.Key); m == method && keyBudget(r.Key) == "" {
			return r.methodLabel()
		}
	}
	for _, r := range spec.Rows {
		if m, _, _ := splitKey(r.Key); m == method {
			l := r.Method
			if l == "" {
				l = m
			}
			return l
		}
	}
	return method
}

// groupLabel is the label of a method at a budget: "RigL (GaP budget)".
func groupLabel(spec TableSpec, method, budget string) string {
	l := methodLabel(spec, method)
	if b := budgetLabel(budget); b != "" {
		l += " (" + b + ")"
	}
	return l
}

// distLabel is a short label of a distribution.
func distLabel(dist string) string {
	switch dist {
	case "erk":
		return "ERK"
	case "global":
		return "global"
	}
	return dist
}

// figContext is what every figure of one report shares: the spec, the
// runs by row, the palette and the words of the captions.
type figContext struct {
	spec    TableSpec
	groups  map[string][]*results.Run
	rows    []rowStats
	pal     palette
	budgets budgetStyles // marker fill of each row budget
	profile string       // e.g. "smoke profile (...)"
}

func newFigContext(runs []*results.Run, spec TableSpec) *figContext {
	groups := byRow(runs)
	keys := rowOrder(spec, groups)
	var methods []string
	for _, r := range spec.Rows {
		m, _, _ := splitKey(r.Key)
		methods = append(methods, m)
	}
	methods = append(methods, methodOrder(keys)...)
	var prof []string
	for _, p := range uniq(runs, func(r *results.Run) string { return r.Profile }) {
		s := p + " profile"
		if note, ok := spec.Proxies[p]; ok {
			s = note
		}
		prof = append(prof, s)
	}
	ps := strings.Join(prof, "; ")
	if ps == "" {
		ps = "profile unknown"
	}
	var budgets []string
	for _, k := range keys {
		budgets = append(budgets, keyBudget(k))
	}
	return &figContext{spec: spec, groups: groups, rows: summarize(spec, groups), pal: newPalette(methods),
		budgets: newBudgetStyles(budgets), profile: ps}
}

// seedsPhrase says over how many seeds rows are averaged, "3 seeds" or
// "1–3 seeds".
func seedsPhrase(ns []int) string {
	if len(ns) == 0 {
		return "no seeds"
	}
	lo, hi := ns[0], ns[0]
	for _, n := range ns {
		lo, hi = min(lo, n), max(hi, n)
	}
	s := "s"
	if hi == 1 {
		s = ""
	}
	if lo == hi {
		return fmt.Sprintf("%d seed%s", hi, s)
	}
	return fmt.Sprintf("%d–%d seeds", lo, hi)
}

// intervalPhrase describes the error bars of rows.
func intervalPhrase(rows []rowStats) string {
	var small []string
	for _, r := range rows {
		if r.n < 3 {
			small = append(small, r.key)
		}
	}
	switch {
	case len(small) == 0:
		return "bars: 95% Student-t interval of the mean"
	case len(small) == len(rows):
		return "bars: min–max over seeds (n < 3)"
	}
	return fmt.Sprintf("bars: 95%% Student-t interval of the mean, min–max for the %d row(s) with n < 3", len(small))
}

func rowNs(rows []rowStats) []int {
	var ns []int
	for _, r := range rows {
		ns = append(ns, r.n)
	}
	return ns
}

// methodLegend is a legend group with one entry per method of rows.
func (fc *figContext) methodLegend(methods []string, thumb func(color.NRGBA) func(draw.Canvas)) LegendGroup {
	g := LegendGroup{}
	for _, m := range methods {
		th := thumb(fc.pal.color(m))
		if m == "dense" {
			th = GlyphThumb(fc.pal.color(m), distShape("dense"))
		}
		g.Entries = append(g.Entries, LegendEntry{Label: methodLabel(fc.spec, m), Thumb: th})
	}
	return g
}

// distLegend has one marker per distribution of rows, in the order
// uniform, ERK, global, others.
func distLegend(dists []string, line bool) LegendGroup {
	dists = append([]string(nil), dists...)
	rank := map[string]int{"uniform": 0, "erk": 1, "global": 2}
	sort.SliceStable(dists, func(i, j int) bool {
		ri, ok := rank[dists[i]]
		if !ok {
			ri = 3
		}
		rj, ok := rank[dists[j]]
		if !ok {
			rj = 3
		}
		return ri < rj
	})
	g := LegendGroup{}
	for _, d := range dists {
		th := GlyphThumb(inkColor, distShape(d))
		if line {
			th = LineThumb(inkColor, distDashes(d))
		}
		g.Entries = append(g.Entries, LegendEntry{Label: distLabel(d), Thumb: th})
	}
	return g
}

// withBudgets adds to a distribution legend the marker of each budget
// other than the base one among rows.
func withBudgets(g LegendGroup, rows []rowStats, st budgetStyles) LegendGroup {
	var bs []string
	for _, r := range rows {
		if r.budget != "" && !contains(bs, r.budget) {
			bs = append(bs, r.budget)
		}
	}
	sort.Slice(bs, func(i, j int) bool {
		if st[bs[i]] != st[bs[j]] {
			return st[bs[i]] < st[bs[j]]
		}
		return bs[i] < bs[j]
	})
	for _, b := range bs {
		g.Entries = append(g.Entries, LegendEntry{Label: budgetFillNames[st[b]] + ": " + budgetLabel(b), Thumb: GlyphThumb(inkColor, st.shape("uniform", b))})
	}
	return g
}

// sparsityLegend shows the shade of each sparsity on a neutral colour.
func sparsityLegend(sps []float64) LegendGroup {
	g := LegendGroup{Title: "shade:"}
	for _, s := range sps {
		g.Entries = append(g.Entries, LegendEntry{Label: pct(s), Thumb: SwatchThumb(shade(rgb(0x555555), s))})
	}
	return g
}

func usedColors(fc *figContext, methods []string) map[string]color.NRGBA {
	out := map[string]color.NRGBA{}
	for _, m := range methods {
		out[m] = fc.pal.color(m)
	}
	return out
}

// figMetricVsSparsity: the headline metric at each sparsity, one panel per
// distribution class, one offset point per method, dense as a band.
func figMetricVsSparsity(fc *figContext) (*figure, error) {
	var dense *rowStats
	classes := map[string][]rowStats{}
	var classOrder []string
	spSet := map[float64]bool{}
	for i, r := range fc.rows {
		if r.method == "dense" || r.dist == "dense" {
			if dense == nil {
				dense = &fc.rows[i]
			}
			continue
		}
		c := distClass(r.dist)
		if _, ok := classes[c]; !ok {
			classOrder = append(classOrder, c)
		}
		classes[c] = append(classes[c], r)
		spSet[r.sparsity] = true
	}
	if len(classOrder) == 0 {
		return nil, nil
	}
	sort.SliceStable(classOrder, func(i, j int) bool { return classOrder[i] == "uniform" && classOrder[j] != "uniform" })
	var sps []float64
	for s := range spSet {
		sps = append(sps, s)
	}
	sort.Float64s(sps)
	spPos := map[float64]float64{}
	var tickLabels []string
	for i, s := range sps {
		spPos[s] = float64(i)
		tickLabels = append(tickLabels, pct(s))
	}
	label := fc.spec.metricLabel()
	var panels []*plot.Plot
	var panelMarks [][]mark
	var methods, dists []string
	seenM, seenD := map[string]bool{}, map[string]bool{}
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for ci, c := range classOrder {
		rows := classes[c]
		// Slots: one per method/distribution pair of the panel.
		var slots []string
		slot := map[string]int{}
		for _, r := range rows {
			k := r.method + "/" + r.dist + "@" + r.budget
			if _, ok := slot[k]; !ok {
				slot[k] = len(slots)
				slots = append(slots, k)
			}
			if !seenM[r.method] {
				seenM[r.method] = true
				methods = append(methods, r.method)
			}
			if !seenD[r.dist] {
				seenD[r.dist] = true
				dists = append(dists, r.dist)
			}
		}
		width := 0.9
		step := width / float64(len(slots))
		m := &marks{radius: vg.Points(2.1), spacing: step}
		for _, r := range rows {
			x := spPos[r.sparsity] - width/2 + step*(float64(slot[r.method+"/"+r.dist+"@"+r.budget])+0.5)
			m.ms = append(m.ms, mark{x: x, y: r.metric, lo: r.lo, hi: r.hi, color: shade(fc.pal.color(r.method), r.sparsity), shape: fc.budgets.shape(r.dist, r.budget)})
		}
		title := c
		if c == "non-uniform" {
			var ds []string
			for _, r := range rows {
				if !contains(ds, distLabel(r.dist)) {
					ds = append(ds, distLabel(r.dist))
				}
			}
			title = "non-uniform (" + strings.Join(ds, ", ") + ")"
		}
		yl := label
		if ci > 0 {
			yl = ""
		}
		p := NewPanel(title, "target sparsity", yl)
		if dense != nil {
			p.Add(&hband{y: dense.metric, lo: dense.lo, hi: dense.hi, color: fc.pal.color(dense.method)})
		}
		p.Add(m)
		panelMarks = append(panelMarks, m.ms)
		p.X.Min, p.X.Max = -0.5, float64(len(sps))-0.5
		p.X.Tick.Marker = fixedTicks{at: rangeF(len(sps)), labels: tickLabels}
		_, _, y0, y1 := m.DataRange()
		ymin, ymax = math.Min(ymin, y0), math.Max(ymax, y1)
		if dense != nil {
			ymin, ymax = math.Min(ymin, dense.lo), math.Max(ymax, dense.hi)
		}
		panels = append(panels, p)
	}
	pad := 0.04 * (ymax - ymin)
	if pad == 0 {
		pad = 1
	}
	for i, p := range panels {
		p.Y.Min, p.Y.Max = ymin-pad, ymax+pad
		if i > 0 {
			p.Y.Tick.Marker = unlabelled{plot.DefaultTicks{}}
		}
	}
	groups := []LegendGroup{fc.methodLegend(methods, func(c color.NRGBA) func(draw.Canvas) { return GlyphThumb(c, draw.CircleGlyph{}) })}
	groups = append(groups, withBudgets(distLegend(dists, false), fc.rows, fc.budgets), sparsityLegend(sps))
	if dense != nil {
		groups[len(groups)-1].Entries = append(groups[len(groups)-1].Entries, LegendEntry{Label: methodLabel(fc.spec, dense.method) + " (line: mean, band: interval)", Thumb: BandThumb(fc.pal.color(dense.method))})
	}
	h := 2.1*vg.Inch + LegendHeight(groups)
	caption := fmt.Sprintf("Final %s against target sparsity, one panel per distribution, one point per method (offset so none overlaps), mean over %s per row, %s; dense as a dashed line with its interval as a band; %s.",
		label, seedsPhrase(rowNs(fc.rows)), intervalPhrase(fc.rows), fc.profile)
	used := usedColors(fc, methods)
	if dense != nil {
		used[dense.method] = fc.pal.color(dense.method)
	}
	return &figure{stem: "metric_vs_sparsity", caption: caption, w: figW, h: h, colors: used, marks: panelMarks,
		legend: groups, draw: WithLegend(groups, func(c draw.Canvas) { Tiled(c, [][]*plot.Plot{panels}, vg.Points(4), 0) })}, nil
}

func rangeF(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(i)
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// curveOf is the per-epoch mean and min–max of a metric over runs.
func curveOf(runs []*results.Run, metric string) (xs, ys, lo, hi []float64) {
	perEpoch := map[int][]float64{}
	for _, r := range runs {
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
	for _, e := range sortedInts(perEpoch) {
		v := perEpoch[e]
		m, _ := meanStd(v)
		l, h := v[0], v[0]
		for _, x := range v {
			l, h = math.Min(l, x), math.Max(h, x)
		}
		// Curve epochs count the epochs done (1 after the first).
		xs, ys, lo, hi = append(xs, float64(e)), append(ys, m), append(lo, l), append(hi, h)
	}
	return
}

// phaseShading shades the grow phases of a run, one pale colour per
// partition: full height where one partition grows at a time, in a strip
// per partition where phases overlap; a phase of partition -1 (P-GaP's
// parallel branches, every partition at once) is shaded grey.
type phaseShading struct{ phases []results.Phase }

func growPhases(ph []results.Phase) []results.Phase {
	var out []results.Phase
	for _, p := range ph {
		if (p.Name == "grow" || p.Name == "branch") && p.EndEpoch > p.StartEpoch {
			out = append(out, p)
		}
	}
	return out
}

func (s *phaseShading) partitions() []int {
	seen := map[int]bool{}
	for _, p := range s.phases {
		seen[p.Partition] = true
	}
	return sortedInts(seen)
}

// Plot implements plot.Plotter.
func (s *phaseShading) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, _ := plt.Transforms(&c)
	parts := s.partitions()
	idx := map[int]int{}
	for i, p := range parts {
		idx[p] = i
	}
	for i, ph := range s.phases {
		overlap := false
		for j, o := range s.phases {
			if j != i && o.Partition != ph.Partition && o.StartEpoch < ph.EndEpoch && ph.StartEpoch < o.EndEpoch {
				overlap = true
			}
		}
		x0 := max(trX(float64(ph.StartEpoch)), c.Min.X)
		x1 := min(trX(float64(ph.EndEpoch)), c.Max.X)
		if x1 <= x0 {
			continue
		}
		y0, y1 := c.Min.Y, c.Max.Y
		if overlap && ph.Partition >= 0 {
			h := (c.Max.Y - c.Min.Y) / vg.Length(len(parts))
			y1 = c.Max.Y - h*vg.Length(idx[ph.Partition])
			y0 = y1 - h
		}
		fillRect(c, vg.Rectangle{Min: vg.Point{X: x0, Y: y0}, Max: vg.Point{X: x1, Y: y1}}, partitionShade(ph.Partition))
	}
}

// partitionShade is the shading of partition p's grow phases; -1 (all
// partitions at once) is grey.
func partitionShade(p int) color.NRGBA {
	if p < 0 {
		return rgb(0xE2E2E2)
	}
	return partitionShades[p%len(partitionShades)]
}

// curvePanel is one panel of the curves figure: rows of one method at one
// budget, at most maxCurves of them.
type curvePanel struct {
	method, budget string
	keys           []string
}

// maxCurves is the most series a curves panel draws.
const maxCurves = 4

// curvePanels splits the rows with a curve into panels: one per method and
// budget, and one more per maxCurves further rows.
func curvePanels(fc *figContext, metric string) []curvePanel {
	var defs []curvePanel
	keys := rowOrder(fc.spec, fc.groups)
	for _, mb := range methodBudgetOrder(keys) {
		m, b, _ := strings.Cut(mb, "@")
		var mk []string
		for _, k := range keys {
			if km, _, _ := splitKey(k); km == m && keyBudget(k) == b {
				if xs, _, _, _ := curveOf(fc.groups[k], metric); len(xs) > 0 {
					mk = append(mk, k)
				}
			}
		}
		for len(mk) > 0 {
			n := min(maxCurves, len(mk))
			defs = append(defs, curvePanel{m, b, mk[:n]})
			mk = mk[n:]
		}
	}
	return defs
}

// figCurves: one panel per method (and per four rows of it), each row a
// mean line with a min–max band over seeds; GaP grow phases shaded.
func figCurves(fc *figContext) (*figure, error) {
	metric := fc.spec.curveMetric()
	defs := curvePanels(fc, metric)
	if len(defs) == 0 {
		return nil, nil
	}
	cols := 3
	if len(defs) <= 4 {
		cols = 2
	}
	if len(defs) == 1 {
		cols = 1
	}
	nrows := (len(defs) + cols - 1) / cols
	ylabel := metric
	if metric == "test_"+fc.spec.Metric {
		ylabel = "test " + fc.spec.metricLabel()
	}
	grid := make([][]*plot.Plot, nrows)
	for i := range grid {
		grid[i] = make([]*plot.Plot, cols)
	}
	var methods, dists []string
	spSet := map[float64]bool{}
	partSet := map[int]bool{}
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	var shaded []string
	for i, d := range defs {
		if !contains(methods, d.method) {
			methods = append(methods, d.method)
		}
		// Titles wider than a panel go on two lines.
		title := wrapTitle(groupLabel(fc.spec, d.method, d.budget), sizeLabel, (figW-curveLabelW)/vg.Length(cols)-vg.Points(8))
		p := NewPanel(title, "", "")
		// Grow phases of the method's representative run.
		rep := representative(fc.groups, func(r *results.Run) bool {
			return runMethod(r) == d.method && keyBudget(r.Row) == d.budget && len(growPhases(r.Phases)) > 0
		})
		if rep != "" {
			sh := &phaseShading{phases: growPhases(fc.groups[rep][0].Phases)}
			p.Add(sh)
			for _, part := range sh.partitions() {
				partSet[part] = true
			}
			shaded = append(shaded, fmt.Sprintf("%s (%s, seed %d)", methodLabel(fc.spec, d.method), rowShort(fc.spec, rep), fc.groups[rep][0].Seed))
		}
		for _, k := range d.keys {
			_, _, dist := splitKey(k)
			xs, ys, lo, hi := curveOf(fc.groups[k], metric)
			sp := fc.groups[k][0].Sparsity
			spSet[sp] = true
			if !contains(dists, dist) && dist != "dense" {
				dists = append(dists, dist)
			}
			cv := &curve{xs: xs, ys: ys, lo: lo, hi: hi, color: shade(fc.pal.color(d.method), sp), dashes: distDashes(dist)}
			p.Add(cv)
			a, b, c, e := cv.DataRange()
			xmin, xmax, ymin, ymax = math.Min(xmin, a), math.Max(xmax, b), math.Min(ymin, c), math.Max(ymax, e)
		}
		grid[i/cols][i%cols] = p
	}
	pad := 0.03 * (ymax - ymin)
	xmin = math.Min(xmin, 0)
	for i := range defs {
		p := grid[i/cols][i%cols]
		p.X.Min, p.X.Max = xmin, xmax
		p.Y.Min, p.Y.Max = ymin-pad, ymax+pad
		r, c := i/cols, i%cols
		if c > 0 {
			p.Y.Tick.Marker = unlabelled{plot.DefaultTicks{}}
		}
		// Tick labels on every panel keep the rows evenly spaced; the axis
		// label only under the bottom row.
		if r == nrows-1 {
			p.X.Label.Text = "epoch"
		}
	}
	var sps []float64
	for s := range spSet {
		if s > 0 {
			sps = append(sps, s)
		}
	}
	sort.Float64s(sps)
	groups := []LegendGroup{distLegend(dists, true), sparsityLegend(sps)}
	if len(partSet) > 0 {
		g := LegendGroup{Title: "grow phase:"}
		for _, part := range sortedInts(partSet) {
			l := "P" + strconv.Itoa(part)
			if part < 0 {
				l = "all (parallel branches)"
			}
			g.Entries = append(g.Entries, LegendEntry{Label: l, Thumb: SwatchThumb(partitionShade(part))})
		}
		groups = append(groups, g)
	}
	h := vg.Length(nrows)*1.05*vg.Inch + 0.25*vg.Inch + LegendHeight(groups)
	caption := fmt.Sprintf("%s against epoch, one panel per method (at most four rows each; colour: method, line: distribution, shade: sparsity), mean over %s with the min–max over seeds as a band",
		upperFirst(ylabel), seedsPhrase(rowNs(fc.rows)))
	if len(shaded) > 0 {
		caption += fmt.Sprintf("; background: the epochs in which each partition grows (P0, P1, …; grey: every partition at once in parallel branches) in the run of %s", strings.Join(shaded, ", "))
	}
	caption += "; " + fc.profile + "."
	return &figure{stem: "curves", caption: caption, w: figW, h: h, colors: usedColors(fc, methods),
		legend: groups, draw: WithLegend(groups, func(c draw.Canvas) {
			// One y label for the whole grid, left of it: a label longer
			// than one panel is tall would stretch that panel.
			sty := textStyle(sizeLabel)
			sty.Rotation, sty.XAlign, sty.YAlign = math.Pi/2, draw.XCenter, draw.YTop
			c.FillText(sty, vg.Point{X: c.Min.X, Y: (c.Min.Y + c.Max.Y) / 2}, ylabel)
			Tiled(draw.Crop(c, curveLabelW, 0, 0, 0), grid, vg.Points(3), vg.Points(2))
		})}, nil
}

// curveLabelW is the room left of the curve panels for their y label.
var curveLabelW = vg.Points(sizeLabel * 1.4)

// wrapTitle breaks a title wider than w (at size pt) into two lines at
// the space that makes the longer line shortest.
func wrapTitle(title string, pt float64, w vg.Length) string {
	sty := textStyle(pt)
	if sty.Width(title) <= w {
		return title
	}
	best, bestW := title, sty.Width(title)
	for i, r := range title {
		if r != ' ' {
			continue
		}
		if lw := max(sty.Width(title[:i]), sty.Width(title[i+1:])); lw < bestW {
			best, bestW = title[:i]+"\n"+title[i+1:], lw
		}
	}
	return best
}

// joinLabel joins the non-empty parts with spaces.
func joinLabel(parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, " ")
}

// upperFirst capitalises the first letter of s.
func upperFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	return strings.ToUpper(string(r[0])) + string(r[1:])
}

// rowShort is a compact label of a row: "global 90%".
func rowShort(spec TableSpec, key string) string {
	_, s, d := splitKey(key)
	if d == "dense" {
		return ""
	}
	sp, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return distLabel(d)
	}
	return distLabel(d) + " " + pct(sp)
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

// figMetricVsFLOPs: the headline metric against training FLOPs (× dense),
// the Pareto front drawn and its points labelled.
func figMetricVsFLOPs(fc *figContext) (*figure, error) {
	var rows []rowStats
	for _, r := range fc.rows {
		if !math.IsNaN(r.cost) && r.cost > 0 {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return nil, nil
	}
	front := paretoFront(rows)
	m := &marks{radius: vg.Points(2.1)}
	var methods, dists []string
	spSet := map[float64]bool{}
	for _, r := range rows {
		m.ms = append(m.ms, mark{x: r.cost, y: r.metric, lo: r.lo, hi: r.hi, color: shade(fc.pal.color(r.method), r.sparsity), shape: fc.budgets.shape(r.dist, r.budget)})
		if !contains(methods, r.method) {
			methods = append(methods, r.method)
		}
		if r.dist != "dense" && !contains(dists, r.dist) {
			dists = append(dists, r.dist)
		}
		if r.sparsity > 0 {
			spSet[r.sparsity] = true
		}
	}
	p := NewPanel("", "training FLOPs (× dense training)", fc.spec.metricLabel())
	fl := &frontLine{radius: m.radius}
	var frontNames []string
	abbrev := map[string]bool{}
	for _, i := range front {
		r := rows[i]
		fl.xs, fl.ys = append(fl.xs, r.cost), append(fl.ys, r.metric)
		full := joinLabel(groupLabel(fc.spec, r.method, r.budget), rowShort(fc.spec, r.key))
		short, used := shortRowLabel(fc.spec, r)
		for _, u := range used {
			abbrev[u] = true
		}
		fl.items = append(fl.items, labelItem{texts: []string{full, short}, caption: full})
		frontNames = append(frontNames, full)
	}
	p.Add(fl, m)
	x0, x1, y0, y1 := m.DataRange()
	dx, dy := 0.06*(x1-x0), 0.06*(y1-y0)
	if dx == 0 {
		dx = 0.1
	}
	if dy == 0 {
		dy = 1
	}
	// Twice the room above the data: the front runs along the top, and its
	// labels go there first.
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = math.Max(0, x0-dx), x1+dx, y0-dy, y1+2*dy
	fl.points = m.ms
	var sps []float64
	for s := range spSet {
		sps = append(sps, s)
	}
	sort.Float64s(sps)
	groups := []LegendGroup{fc.methodLegend(methods, func(c color.NRGBA) func(draw.Canvas) { return GlyphThumb(c, draw.CircleGlyph{}) })}
	groups = append(groups, withBudgets(distLegend(dists, false), rows, fc.budgets), sparsityLegend(sps))
	groups[len(groups)-1].Entries = append(groups[len(groups)-1].Entries, LegendEntry{Label: "Pareto front", Thumb: LineThumb(frontColor, frontDashes)})
	// Lay the labels out on the plot area (its size does not depend on the
	// legend's height), then list the numbered points in the legend.
	const plotH = 2.5 * vg.Inch
	Tiled(draw.NewCanvas(nopCanvas{}, figW, plotH), [][]*plot.Plot{{p}}, 0, 0)
	labelNote := "its rows are labelled"
	if fl.layout.variant > 0 {
		labelNote += " (" + abbrevNote(abbrev) + ")"
	}
	if len(fl.layout.numbered) > 0 {
		g := LegendGroup{Title: "front:"}
		for n, i := range fl.layout.numbered {
			pm := frontMark(m.ms, fl.xs[i], fl.ys[i])
			g.Entries = append(g.Entries, LegendEntry{Label: itoa(n+1) + " " + fl.items[i].caption, Thumb: GlyphThumb(pm.color, pm.shape)})
		}
		groups = append(groups, g)
		labelNote += ", the numbered ones under the plot"
	}
	h := plotH + LegendHeight(groups)
	caption := fmt.Sprintf("Final %s against the training FLOPs of the whole schedule as a multiple of dense training, one point per row (mean over %s; %s); the grey line is the Pareto front (no row is both cheaper and better) and %s: from the cheapest, %s; %s.",
		fc.spec.metricLabel(), seedsPhrase(rowNs(rows)), intervalPhrase(rows), labelNote, strings.Join(frontNames, ", "), fc.profile)
	return &figure{stem: "metric_vs_flops", caption: caption, w: figW, h: h, colors: usedColors(fc, methods),
		legend: groups, marks: [][]mark{m.ms}, draw: WithLegend(groups, func(c draw.Canvas) { Tiled(c, [][]*plot.Plot{{p}}, 0, 0) })}, nil
}

// frontMark is the mark drawn at (x, y).
func frontMark(ms []mark, x, y float64) mark {
	for _, p := range ms {
		if p.x == x && p.y == y {
			return p
		}
	}
	return mark{color: inkColor, shape: draw.CircleGlyph{}}
}

// Abbreviations of the short point labels.
var (
	methodAbbrev = map[string]string{"pfp": "PfP", "ipfp": "iPfP", "magnitude_oneshot": "OneShot"}
	distAbbrev   = map[string]string{"uniform": "unif", "global": "glob"}
)

// shortRowLabel is a compact label of a row, "RigL† unif 90%", and the
// abbreviations it uses (for the caption).
func shortRowLabel(spec TableSpec, r rowStats) (string, []string) {
	var used []string
	m := methodLabel(spec, r.method)
	if a, ok := methodAbbrev[r.method]; ok && a != m {
		used = append(used, a+" "+m)
		m = a
	}
	switch {
	case r.budget == "gap":
		m += "†"
		used = append(used, "† "+budgetLabel(r.budget))
	case r.budget != "":
		b := budgetLabel(r.budget)
		m += " [" + b + "]"
	}
	if r.dist == "dense" {
		return m, used
	}
	d := distLabel(r.dist)
	if a, ok := distAbbrev[r.dist]; ok {
		used = append(used, a+" "+d)
		d = a
	}
	return joinLabel(m, d, pct(r.sparsity)), used
}

// abbrevNote spells out the abbreviations used, in a fixed order.
func abbrevNote(used map[string]bool) string {
	var out []string
	for _, u := range sortedKeys(used) {
		out = append(out, u)
	}
	return "short labels: " + strings.Join(out, ", ")
}

// paretoFront returns the indices of rows on the front (higher metric,
// lower cost), by increasing cost.
func paretoFront(rows []rowStats) []int {
	idx := rangeI(len(rows))
	sort.SliceStable(idx, func(a, b int) bool {
		ra, rb := rows[idx[a]], rows[idx[b]]
		if ra.cost != rb.cost {
			return ra.cost < rb.cost
		}
		return ra.metric > rb.metric
	})
	var out []int
	best := math.Inf(-1)
	for _, i := range idx {
		if rows[i].metric > best {
			out = append(out, i)
			best = rows[i].metric
		}
	}
	return out
}

func rangeI(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

var (
	frontColor  = rgb(0x888888)
	frontDashes = []vg.Length{vg.Points(3), vg.Points(1.5)}
)

// frontLine draws the Pareto front as a staircase and labels its points
// (see layoutLabels): no label covers a marker, an interval bar or another
// label, and every label stays inside the panel; a point whose label fits
// nowhere is numbered and listed under the plot.
type frontLine struct {
	xs, ys []float64
	items  []labelItem // per front point: its labels (pt filled in Plot)
	points []mark      // every point drawn in the panel
	radius vg.Length   // the markers' radius
	layout *labelLayout
}

// markReach is the half size of the box of a marker of radius r: the
// tallest glyph (the triangle reaches 1.25 r above its centre) and the
// outline's width.
func markReach(r vg.Length) vg.Length { return 1.25*r + vg.Points(0.4) }

// Plot implements plot.Plotter.
func (f *frontLine) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	var pts []vg.Point
	for i := range f.xs {
		x, y := trX(f.xs[i]), trY(f.ys[i])
		if i > 0 {
			pts = append(pts, vg.Point{X: x, Y: pts[len(pts)-1].Y})
		}
		pts = append(pts, vg.Point{X: x, Y: y})
	}
	if len(pts) > 0 {
		// Extend to the right edge: nothing above the last step is reachable.
		pts = append(pts, vg.Point{X: c.Max.X, Y: pts[len(pts)-1].Y})
		c.StrokeLines(draw.LineStyle{Color: frontColor, Width: vg.Points(0.9), Dashes: frontDashes}, c.ClipLinesXY(pts)...)
	}
	// Everything below is relative to the panel's origin, so a layout made
	// once (figMetricVsFLOPs lays the figure out before it sizes the
	// legend) is reused wherever the panel is drawn.
	o := c.Min
	rel := func(p vg.Point) vg.Point { return vg.Point{X: p.X - o.X, Y: p.Y - o.Y} }
	size := vg.Point{X: c.Max.X - c.Min.X, Y: c.Max.Y - c.Min.Y}
	sty := textStyle(sizeCell)
	if f.layout == nil || math.Abs(float64(f.layout.size.X-size.X)) > 0.01 || math.Abs(float64(f.layout.size.Y-size.Y)) > 0.01 {
		reach := markReach(f.radius)
		var obstacles []vg.Rectangle
		for _, p := range f.points {
			pt := rel(vg.Point{X: trX(p.x), Y: trY(p.y)})
			obstacles = append(obstacles, vg.Rectangle{Min: vg.Point{X: pt.X - reach, Y: pt.Y - reach}, Max: vg.Point{X: pt.X + reach, Y: pt.Y + reach}})
			if !math.IsNaN(p.lo) && p.hi > p.lo {
				// The interval bar with its caps.
				cp := barCap + vg.Points(0.5)
				obstacles = append(obstacles, vg.Rectangle{Min: vg.Point{X: pt.X - cp, Y: rel(vg.Point{Y: trY(p.lo)}).Y - cp}, Max: vg.Point{X: pt.X + cp, Y: rel(vg.Point{Y: trY(p.hi)}).Y + cp}})
			}
		}
		items := make([]labelItem, len(f.items))
		for i, it := range f.items {
			it.pt, it.reach = rel(vg.Point{X: trX(f.xs[i]), Y: trY(f.ys[i])}), reach
			items[i] = it
		}
		var front []vg.Point
		for _, p := range pts {
			front = append(front, rel(p))
		}
		f.layout = layoutLabels(size, items, obstacles, front, sty)
	}
	_, _, dy := textExtent(sty, "0")
	for _, pl := range f.layout.placed {
		if pl.has {
			a, b := pl.leader[0].Add(o), pl.leader[1].Add(o)
			c.StrokeLine2(draw.LineStyle{Color: frontColor, Width: vg.Points(0.5)}, a.X, a.Y, b.X, b.Y)
		}
		box := vg.Rectangle{Min: pl.box.Min.Add(o), Max: pl.box.Max.Add(o)}
		fillRect(c, box, color.NRGBA{R: 255, G: 255, B: 255, A: 190})
		c.FillText(sty, vg.Point{X: box.Min.X, Y: box.Min.Y + dy}, pl.text)
	}
}

// nopCanvas is a vg.Canvas that draws nothing: figures are laid out on
// it before their size is known.
type nopCanvas struct{}

func (nopCanvas) SetLineWidth(vg.Length)                 {}
func (nopCanvas) SetLineDash([]vg.Length, vg.Length)     {}
func (nopCanvas) SetColor(color.Color)                   {}
func (nopCanvas) Rotate(float64)                         {}
func (nopCanvas) Translate(vg.Point)                     {}
func (nopCanvas) Scale(float64, float64)                 {}
func (nopCanvas) Push()                                  {}
func (nopCanvas) Pop()                                   {}
func (nopCanvas) Stroke(vg.Path)                         {}
func (nopCanvas) Fill(vg.Path)                           {}
func (nopCanvas) FillString(font.Face, vg.Point, string) {}
func (nopCanvas) DrawImage(vg.Rectangle, image.Image)    {}

func overlapArea(a, b vg.Rectangle) vg.Length {
	w := min(a.Max.X, b.Max.X) - max(a.Min.X, b.Min.X)
	h := min(a.Max.Y, b.Max.Y) - max(a.Min.Y, b.Min.Y)
	if w <= 0 || h <= 0 {
		return 0
	}
	return w * h
}

// gapMethods lists the methods with data for has, GaP first.
func gapMethods(groups map[string][]*results.Run, has func(*results.Run) bool) []string {
	seen := map[string]bool{}
	for _, g := range groups {
		for _, r := range g {
			if has(r) {
				seen[runMethod(r)] = true
			}
		}
	}
	ms := sortedKeys(seen)
	sort.SliceStable(ms, func(i, j int) bool { return gapRank(ms[i]) < gapRank(ms[j]) })
	return ms
}

func gapRank(m string) int {
	switch {
	case m == "cgap":
		return 0
	case m == "pgap":
		return 1
	case strings.HasPrefix(m, "cgap"):
		return 2
	case strings.HasPrefix(m, "pgap"):
		return 3
	}
	return 4
}

// figMaskChanges: per GaP method (its most sparse row), a heatmap of the
// share of each partition's mask changed between consecutive rounds.
func figMaskChanges(fc *figContext) (*figure, error) {
	has := func(r *results.Run) bool { return len(r.MaskChanges) > 0 }
	var maps []heatmap
	var parts []string
	var methods []string
	n := 0
	for _, m := range gapMethods(fc.groups, has) {
		rep := representative(fc.groups, func(r *results.Run) bool { return runMethod(r) == m && has(r) })
		vals := map[int]map[int][]float64{}
		rounds := map[int]bool{}
		for _, r := range fc.groups[rep] {
			for _, mc := range r.MaskChanges {
				if vals[mc.Partition] == nil {
					vals[mc.Partition] = map[int][]float64{}
				}
				vals[mc.Partition][mc.Round] = append(vals[mc.Partition][mc.Round], mc.Changed)
				rounds[mc.Round] = true
			}
		}
		tc := fc.pal.color(m)
		hm := heatmap{title: joinLabel(methodLabel(fc.spec, m), rowShort(fc.spec, rep)), xLabel: "round", yLabel: "partition", lo: 0, format: pctCell, titleColor: &tc}
		for _, rd := range sortedInts(rounds) {
			hm.cols = append(hm.cols, strconv.Itoa(rd))
		}
		for _, part := range sortedInts(vals) {
			hm.rows = append(hm.rows, "P"+strconv.Itoa(part))
			var line []float64
			for _, rd := range sortedInts(rounds) {
				mean, _ := meanStd(vals[part][rd])
				line = append(line, 100*mean)
			}
			hm.vals = append(hm.vals, line)
		}
		n = max(n, len(fc.groups[rep]))
		parts = append(parts, fmt.Sprintf("%s %s (%s)", methodLabel(fc.spec, m), rowShort(fc.spec, rep), seedsPhrase([]int{len(fc.groups[rep])})))
		methods = append(methods, m)
		maps = append(maps, hm)
	}
	if len(maps) == 0 {
		return nil, nil
	}
	hi := 0.0
	for _, hm := range maps {
		for _, l := range hm.vals {
			for _, v := range l {
				if !math.IsNaN(v) {
					hi = math.Max(hi, v)
				}
			}
		}
	}
	for i := range maps {
		maps[i].hi = math.Max(hi, 1)
	}
	h := vg.Points(6)
	for _, hm := range maps {
		h += heatmapWeight(hm)
	}
	caption := fmt.Sprintf("Share of each partition's mask entries (%%) that changed from one GaP round to the next, mean over seeds, for %s; darker is more change; %s.",
		strings.Join(parts, " and "), fc.profile)
	return &figure{stem: "mask_changes", caption: caption, w: figW, h: h, colors: usedColors(fc, methods),
		draw: func(c draw.Canvas) { drawHeatmaps(c, maps, true) }}, nil
}

func pctCell(v float64) string {
	if v < 9.95 {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// figLayers: per-layer sparsity of each method's representative run as a
// heatmap, layers down, methods across, the value printed in each cell.
func figLayers(fc *figContext) (*figure, error) {
	var methods []string
	var reps []*results.Run
	for _, m := range methodOrder(rowOrder(fc.spec, fc.groups)) {
		k := representative(fc.groups, func(r *results.Run) bool { return runMethod(r) == m && len(r.Layers) > 0 && r.Sparsity > 0 })
		if k == "" {
			continue
		}
		methods = append(methods, m)
		reps = append(reps, fc.groups[k][0])
	}
	if len(reps) == 0 {
		return nil, nil
	}
	hm := heatmap{yLabel: "layer", lo: 0, hi: 100, format: func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }}
	pos := map[string]int{}
	for _, r := range reps {
		for _, l := range r.Layers {
			if _, ok := pos[l.Name]; !ok {
				pos[l.Name] = len(hm.rows)
				hm.rows = append(hm.rows, shortLayer(l.Name))
			}
		}
	}
	hm.vals = make([][]float64, len(hm.rows))
	for i := range hm.vals {
		hm.vals[i] = make([]float64, len(reps))
		for j := range hm.vals[i] {
			hm.vals[i][j] = math.NaN()
		}
	}
	var which []string
	for j, r := range reps {
		hm.cols = append(hm.cols, joinLabel(methodLabel(fc.spec, runMethod(r)), rowShort(fc.spec, r.Row)))
		hm.colColors = append(hm.colColors, fc.pal.color(runMethod(r)))
		for _, l := range r.Layers {
			if l.Params > 0 {
				hm.vals[pos[l.Name]][j] = 100 * (1 - float64(l.Nonzero)/float64(l.Params))
			}
		}
		if !contains(which, strconv.FormatInt(r.Seed, 10)) {
			which = append(which, strconv.FormatInt(r.Seed, 10))
		}
	}
	hm.rotateCols = true
	h := vg.Length(len(hm.rows))*vg.Points(10.5) + hm.colHeaderHeight() + vg.Points(28)
	caption := fmt.Sprintf("Sparsity (%%) of each prunable layer of the final model (darker is sparser; value printed in each cell), one column per method: its most sparse row, non-uniform where it has one, seed %s; %s.",
		strings.Join(which, ", "), fc.profile)
	return &figure{stem: "layer_sparsity", caption: caption, w: figW, h: h, colors: usedColors(fc, methods),
		draw: func(c draw.Canvas) { drawHeatmaps(c, []heatmap{hm}, false) }}, nil
}
