package reports

import (
	"bytes"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/gap-harness/gap/results"
)

// Figures are drawn at a paper column's width; PNGs at figDPI (680
// pixels wide), sharp when shown at full width too.
const (
	figW   = 3.4 * vg.Inch
	figDPI = 200
)

// FigureWidth is the width of every figure: a paper column.
const FigureWidth = figW

// Figure is a figure a table adds to its report beside the five of every
// report (TableSpec.Extra), e.g. a point cloud coloured by part or
// detections drawn on an image. Draw it with the package's helpers
// (NewPanel, WithLegend, MethodPalette, CategoryColors) so it follows the
// same rules; the report's tests check it like the others (text inside the
// canvas, one colour per method, same bytes for the same runs).
type Figure struct {
	Stem    string              // file stem, e.g. "parts"
	Caption string              // one sentence: what, over how many seeds, which profile
	Height  vg.Length           // the width is FigureWidth
	Draw    func(c draw.Canvas) // draws the whole figure
	Methods []string            // methods whose colours the figure uses
}

// FigureMaker draws an extra figure from a table's runs; nil means no
// data for it.
type FigureMaker func(runs []*results.Run, spec TableSpec) (*Figure, error)

// figure is one drawn figure: its file stem, caption, size, the drawing
// and the method colours it uses (for the palette check).
type figure struct {
	stem    string
	caption string
	w, h    vg.Length
	draw    func(c draw.Canvas)
	colors  map[string]color.NRGBA // method -> base colour drawn
	legend  []LegendGroup          // the legend under the plots, when drawn with WithLegend
	marks   [][]mark               // per panel, the points drawn (for checks)
}

// encodeFigure renders f as PNG and SVG bytes. Both encoders write the
// same bytes for the same drawing.
func encodeFigure(f *figure) (png, svg []byte, err error) {
	img := vgimg.NewWith(vgimg.UseWH(f.w, f.h), vgimg.UseDPI(figDPI), vgimg.UseBackgroundColor(color.White))
	f.draw(draw.New(img))
	var pb bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&pb); err != nil {
		return nil, nil, fmt.Errorf("figure %s: png: %w", f.stem, err)
	}
	sc := vgsvg.New(f.w, f.h)
	white(draw.New(sc))
	f.draw(draw.New(sc))
	var sb bytes.Buffer
	if _, err := sc.WriteTo(&sb); err != nil {
		return nil, nil, fmt.Errorf("figure %s: svg: %w", f.stem, err)
	}
	return pb.Bytes(), sb.Bytes(), nil
}

func white(c draw.Canvas) { fillRect(c, c.Rectangle, color.White) }

func fillRect(c draw.Canvas, r vg.Rectangle, col color.Color) {
	c.FillPolygon(col, []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}})
}

// newPanel returns a plot styled for the figures: sans type at the
// figure sizes, light grid, no legend (figures draw their own).
func NewPanel(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, xLabel, yLabel
	for _, s := range []*text.Style{&p.Title.TextStyle, &p.X.Label.TextStyle, &p.Y.Label.TextStyle} {
		s.Font, s.Color = font.From(sans, vg.Points(sizeLabel)), inkColor
	}
	for _, s := range []*text.Style{&p.X.Tick.Label, &p.Y.Tick.Label} {
		s.Font, s.Color = font.From(sans, vg.Points(sizeTick)), inkColor
	}
	p.Title.Padding = vg.Points(2)
	p.X.Label.Padding, p.Y.Label.Padding = vg.Points(2), vg.Points(2)
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		ax.Padding = vg.Points(2)
		ax.Tick.Length = vg.Points(2.5)
		ax.LineStyle.Color, ax.Tick.LineStyle.Color = inkColor, inkColor
	}
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = gridColor, gridColor
	g.Vertical.Width = 0
	p.Add(g)
	return p
}

// unlabelled keeps a ticker's ticks (and so the grid) without labels, for
// panels that share the axis of their neighbour.
type unlabelled struct{ plot.Ticker }

// Ticks implements plot.Ticker.
func (u unlabelled) Ticks(min, max float64) []plot.Tick {
	ts := u.Ticker.Ticks(min, max)
	for i := range ts {
		ts[i].Label = ""
	}
	return ts
}

// fixedTicks labels the given positions.
type fixedTicks struct {
	at     []float64
	labels []string
}

// Ticks implements plot.Ticker.
func (f fixedTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for i, x := range f.at {
		if x >= min && x <= max {
			ts = append(ts, plot.Tick{Value: x, Label: f.labels[i]})
		}
	}
	return ts
}

// barCap is the half width of an interval bar's caps.
var barCap = vg.Points(1.8)

// mark is one point of a figure with its vertical interval.
type mark struct {
	x, y, lo, hi float64
	color        color.NRGBA
	shape        draw.GlyphDrawer
}

// marks draws points with their intervals (plot.Plotter and DataRanger).
type marks struct {
	ms     []mark
	radius vg.Length
	// spacing, when > 0, is the distance (data units) between neighbouring
	// points on x: markers shrink to fit it, down to minMarkRadius.
	spacing float64
}

// minMarkRadius is the smallest radius a marker shrinks to.
var minMarkRadius = vg.Points(1.2)

// Plot implements plot.Plotter.
func (m *marks) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	radius := m.radius
	if m.spacing > 0 {
		// The widest marker (the triangle) is 2.17 r across, plus its
		// outline; keep 0.4 pt between neighbours.
		px := trX(m.spacing) - trX(0)
		radius = max(minMarkRadius, min(radius, (px-vg.Points(0.9))/2.2))
	}
	for _, p := range m.ms {
		x := trX(p.x)
		if !math.IsNaN(p.lo) && !math.IsNaN(p.hi) && p.hi > p.lo {
			ls := draw.LineStyle{Color: p.color, Width: vg.Points(0.9)}
			y0, y1 := trY(p.lo), trY(p.hi)
			cap := barCap
			c.StrokeLine2(ls, x, y0, x, y1)
			c.StrokeLine2(ls, x-cap, y0, x+cap, y0)
			c.StrokeLine2(ls, x-cap, y1, x+cap, y1)
		}
		c.DrawGlyph(draw.GlyphStyle{Color: p.color, Radius: radius, Shape: p.shape}, vg.Point{X: x, Y: trY(p.y)})
	}
}

// DataRange implements plot.DataRanger.
func (m *marks) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, ymin = math.Inf(1), math.Inf(1)
	xmax, ymax = math.Inf(-1), math.Inf(-1)
	for _, p := range m.ms {
		xmin, xmax = math.Min(xmin, p.x), math.Max(xmax, p.x)
		for _, y := range []float64{p.y, p.lo, p.hi} {
			if !math.IsNaN(y) {
				ymin, ymax = math.Min(ymin, y), math.Max(ymax, y)
			}
		}
	}
	return
}

// hband is a horizontal band [lo, hi] across the whole panel with a line
// at y (the dense reference).
type hband struct {
	y, lo, hi float64
	color     color.NRGBA
}

// Plot implements plot.Plotter.
func (b *hband) Plot(c draw.Canvas, plt *plot.Plot) {
	_, trY := plt.Transforms(&c)
	if b.hi > b.lo {
		fillRect(c, vg.Rectangle{Min: vg.Point{X: c.Min.X, Y: trY(b.lo)}, Max: vg.Point{X: c.Max.X, Y: trY(b.hi)}}, alpha(b.color, 40))
	}
	c.StrokeLine2(draw.LineStyle{Color: alpha(b.color, 200), Width: vg.Points(0.8), Dashes: []vg.Length{vg.Points(2), vg.Points(1.5)}}, c.Min.X, trY(b.y), c.Max.X, trY(b.y))
}

// DataRange implements plot.DataRanger: the band's y extent only.
func (b *hband) DataRange() (xmin, xmax, ymin, ymax float64) {
	lo, hi := b.y, b.y
	if b.hi > b.lo {
		lo, hi = math.Min(lo, b.lo), math.Max(hi, b.hi)
	}
	return math.Inf(1), math.Inf(-1), lo, hi
}

// curve is a mean line with a band [lo, hi] per x.
type curve struct {
	xs, ys, lo, hi []float64
	color          color.NRGBA
	dashes         []vg.Length
}

// Plot implements plot.Plotter.
func (cv *curve) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	if len(cv.xs) > 1 {
		var poly []vg.Point
		for i := range cv.xs {
			poly = append(poly, vg.Point{X: trX(cv.xs[i]), Y: trY(cv.hi[i])})
		}
		for i := len(cv.xs) - 1; i >= 0; i-- {
			poly = append(poly, vg.Point{X: trX(cv.xs[i]), Y: trY(cv.lo[i])})
		}
		c.FillPolygon(alpha(cv.color, 56), c.ClipPolygonXY(poly))
	}
	var line []vg.Point
	for i := range cv.xs {
		line = append(line, vg.Point{X: trX(cv.xs[i]), Y: trY(cv.ys[i])})
	}
	ls := draw.LineStyle{Color: cv.color, Width: vg.Points(1.1), Dashes: cv.dashes}
	if len(line) == 1 {
		c.DrawGlyph(draw.GlyphStyle{Color: cv.color, Radius: vg.Points(1.5), Shape: draw.CircleGlyph{}}, line[0])
		return
	}
	c.StrokeLines(ls, c.ClipLinesXY(line)...)
}

// DataRange implements plot.DataRanger.
func (cv *curve) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax = cv.xs[0], cv.xs[len(cv.xs)-1]
	ymin, ymax = math.Inf(1), math.Inf(-1)
	for i := range cv.xs {
		ymin, ymax = math.Min(ymin, cv.lo[i]), math.Max(ymax, cv.hi[i])
	}
	return
}

// LegendEntry is one item of a legend: a thumbnail and its label.
type LegendEntry struct {
	Label string
	Thumb func(c draw.Canvas) // draws into a box of the thumbnail's size
}

// LegendGroup is a line (or lines) of a legend with an optional title.
type LegendGroup struct {
	Title   string
	Entries []LegendEntry
}

// Legend geometry.
var (
	thumbW    = vg.Points(10)
	thumbGap  = vg.Points(2.5)
	entryGap  = vg.Points(7)
	lineSkip  = vg.Points(sizeLegend * 1.45)
	legendPad = vg.Points(3)
)

// legendLayout places the groups in rows that fit width; it returns the
// height they need and the position (relative to the top left) of each
// title and entry.
func legendLayout(groups []LegendGroup, width vg.Length) (height vg.Length, place func(func(g, e int, x, y vg.Length))) {
	sty := textStyle(sizeLegend)
	type pos struct {
		g, e int
		x, y vg.Length
	}
	var ps []pos
	y := vg.Length(0)
	for gi, g := range groups {
		if len(g.Entries) == 0 {
			continue
		}
		x := vg.Length(0)
		if g.Title != "" {
			ps = append(ps, pos{gi, -1, x, y})
			x += sty.Width(g.Title) + thumbGap
		}
		for ei, e := range g.Entries {
			w := thumbW + thumbGap + sty.Width(e.Label)
			if x > 0 && x+w > width {
				x, y = vg.Points(8), y+lineSkip
			}
			ps = append(ps, pos{gi, ei, x, y})
			x += w + entryGap
		}
		y += lineSkip
	}
	return y, func(f func(g, e int, x, y vg.Length)) {
		for _, p := range ps {
			f(p.g, p.e, p.x, p.y)
		}
	}
}

// drawLegend draws groups in c from its top left corner.
func drawLegend(c draw.Canvas, groups []LegendGroup) {
	sty := textStyle(sizeLegend)
	_, place := legendLayout(groups, c.Max.X-c.Min.X)
	h := sty.FontExtents().Height
	place(func(g, e int, x, y vg.Length) {
		top := c.Max.Y - y
		base := top - lineSkip + (lineSkip-h)/2
		if e < 0 {
			c.FillText(sty, vg.Point{X: c.Min.X + x, Y: base}, groups[g].Title)
			return
		}
		en := groups[g].Entries[e]
		box := vg.Rectangle{Min: vg.Point{X: c.Min.X + x, Y: base}, Max: vg.Point{X: c.Min.X + x + thumbW, Y: base + h*0.8}}
		if en.Thumb != nil {
			en.Thumb(draw.Canvas{Canvas: c.Canvas, Rectangle: box})
		}
		c.FillText(sty, vg.Point{X: box.Max.X + thumbGap, Y: base}, en.Label)
	})
}

// GlyphThumb is a legend thumbnail: a marker of colour col.
func GlyphThumb(col color.NRGBA, shape draw.GlyphDrawer) func(draw.Canvas) {
	return func(c draw.Canvas) {
		c.DrawGlyph(draw.GlyphStyle{Color: col, Radius: vg.Points(2.4), Shape: shape}, c.Center())
	}
}

// LineThumb is a legend thumbnail: a line of colour col.
func LineThumb(col color.NRGBA, dashes []vg.Length) func(draw.Canvas) {
	return func(c draw.Canvas) {
		y := c.Center().Y
		c.StrokeLine2(draw.LineStyle{Color: col, Width: vg.Points(1.1), Dashes: dashes}, c.Min.X, y, c.Max.X, y)
	}
}

// SwatchThumb is a legend thumbnail filled with col.
func SwatchThumb(col color.Color) func(draw.Canvas) {
	return func(c draw.Canvas) { fillRect(c, c.Rectangle, col) }
}

// BandThumb is a legend thumbnail of a reference band with its line.
func BandThumb(col color.NRGBA) func(draw.Canvas) {
	return func(c draw.Canvas) {
		fillRect(c, c.Rectangle, alpha(col, 40))
		y := c.Center().Y
		c.StrokeLine2(draw.LineStyle{Color: alpha(col, 200), Width: vg.Points(0.8), Dashes: []vg.Length{vg.Points(2), vg.Points(1.5)}}, c.Min.X, y, c.Max.X, y)
	}
}

// Tiled lays plots out in a grid over the top of c (above the legend)
// with aligned data areas and draws them.
func Tiled(c draw.Canvas, plots [][]*plot.Plot, padX, padY vg.Length) {
	rows := len(plots)
	cols := 0
	for _, r := range plots {
		cols = max(cols, len(r))
	}
	t := draw.Tiles{Rows: rows, Cols: cols, PadX: padX, PadY: padY, PadTop: vg.Points(2), PadRight: vg.Points(4), PadLeft: vg.Points(1), PadBottom: vg.Points(1)}
	cs := plot.Align(plots, t, c)
	for i := range plots {
		for j, p := range plots[i] {
			if p != nil {
				p.Draw(cs[i][j])
			}
		}
	}
}

// withLegend splits a figure canvas into the plot area and a legend strip
// under it and draws both.
func WithLegend(groups []LegendGroup, body func(c draw.Canvas)) func(draw.Canvas) {
	return func(c draw.Canvas) {
		lh, _ := legendLayout(groups, c.Max.X-c.Min.X-2*legendPad)
		if lh > 0 {
			lh += legendPad
		}
		body(draw.Crop(c, 0, 0, lh, 0))
		if lh > 0 {
			drawLegend(draw.Crop(c, legendPad, -legendPad, 0, -(c.Max.Y-c.Min.Y-lh)), groups)
		}
	}
}

// legendHeight is the height the legend groups need at the figure width.
func LegendHeight(groups []LegendGroup) vg.Length {
	h, _ := legendLayout(groups, figW-2*legendPad)
	if h > 0 {
		h += legendPad
	}
	return h
}
