package reports

import (
	"image/color"
	"math"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// The visual identity of every report lives in this file: one colour per
// method, one marker and line style per distribution, one shade per
// sparsity, the same in every figure of every suite.
//
// The colours are Paul Tol's "muted" qualitative scheme (colour-blind
// safe, https://personal.sron.nl/~pault/), black for dense, and Okabe &
// Ito's scheme (also colour-blind safe) for methods beyond those nine.

// Tol's muted scheme.
var (
	tolIndigo = rgb(0x332288)
	tolCyan   = rgb(0x88CCEE)
	tolTeal   = rgb(0x44AA99)
	tolGreen  = rgb(0x117733)
	tolOlive  = rgb(0x999933)
	tolSand   = rgb(0xDDCC77)
	tolRose   = rgb(0xCC6677)
	tolWine   = rgb(0x882255)
	tolPurple = rgb(0xAA4499)
)

// Okabe-Ito, for methods the fixed map does not name.
var okabeIto = []color.NRGBA{
	rgb(0xE69F00), // orange
	rgb(0x0072B2), // blue
	rgb(0xD55E00), // vermillion
	rgb(0x56B4E9), // sky blue
	rgb(0x009E73), // bluish green
	rgb(0xCC79A7), // reddish purple
	rgb(0xF0E442), // yellow
}

// methodColors is the fixed colour of every method the harness ships:
// the GaP family in reds, RigL in blues, the pruning baselines in greens.
var methodColors = map[string]color.NRGBA{
	"dense":             rgb(0x000000),
	"cgap":              tolWine,
	"pgap":              tolRose,
	"rigl":              tolIndigo,
	"set":               tolTeal,
	"static":            tolSand,
	"gmp":               tolGreen,
	"pfp":               tolOlive,
	"snip":              tolPurple,
	"cgap-k6":           okabeIto[2],
	"pgap-k6":           okabeIto[0],
	"ipfp":              okabeIto[1],
	"magnitude_oneshot": okabeIto[3],
}

// Pale tints for the shading of GaP partitions (Tol's "pale" scheme),
// light enough that every method colour reads on top of them.
var partitionShades = []color.NRGBA{
	rgb(0xBBCCEE), rgb(0xEEEEBB), rgb(0xCCEEFF), rgb(0xFFCCCC), rgb(0xCCDDAA), rgb(0xDDDDDD),
}

// Neutral colours of axes, grids and bands.
var (
	gridColor = rgb(0xE4E4E4)
	inkColor  = rgb(0x222222)
)

func rgb(v uint32) color.NRGBA {
	return color.NRGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 255}
}

// palette maps the methods of one table to colours: the fixed colour
// where methodColors has one, otherwise the Okabe-Ito colours no other
// method of the table uses, in the order of the sorted method names.
type palette map[string]color.NRGBA

// newPalette builds the palette of a table's methods.
func newPalette(methods []string) palette {
	p := palette{}
	used := map[color.NRGBA]bool{}
	var unknown []string
	for _, m := range methods {
		if c, ok := methodColors[m]; ok {
			p[m] = c
			used[c] = true
		} else {
			unknown = append(unknown, m)
		}
	}
	sort.Strings(unknown)
	next := 0
	for _, m := range unknown {
		if _, ok := p[m]; ok {
			continue
		}
		c := color.NRGBA{}
		for next < len(okabeIto) && used[okabeIto[next]] {
			next++
		}
		if next < len(okabeIto) {
			c = okabeIto[next]
			next++
		} else {
			// Past sixteen methods: a grey that differs per method.
			g := uint8(40 + 15*(len(p)%10))
			c = color.NRGBA{R: g, G: g, B: g, A: 255}
		}
		used[c] = true
		p[m] = c
	}
	return p
}

// MethodPalette returns the colour of each of a table's methods, as every
// figure of its report draws them.
func MethodPalette(methods []string) map[string]color.NRGBA {
	return newPalette(methods)
}

// CategoryColors returns n colour-blind-safe colours for categories that
// are not methods (point-cloud parts, detection classes): Tol's muted
// scheme, then Okabe-Ito, then greys.
func CategoryColors(n int) []color.NRGBA {
	base := []color.NRGBA{tolIndigo, tolCyan, tolTeal, tolGreen, tolOlive, tolSand, tolRose, tolWine, tolPurple}
	base = append(base, okabeIto...)
	out := make([]color.NRGBA, n)
	for i := range out {
		if i < len(base) {
			out[i] = base[i]
		} else {
			g := uint8(40 + 13*((i-len(base))%15))
			out[i] = color.NRGBA{R: g, G: g, B: g, A: 255}
		}
	}
	return out
}

// color returns the colour of method m.
func (p palette) color(m string) color.NRGBA {
	if c, ok := p[m]; ok {
		return c
	}
	return rgb(0x777777)
}

// distClass folds a distribution into the two panels of the sparsity
// figure: "uniform" and "non-uniform" (dense rows have their own class).
func distClass(dist string) string {
	switch dist {
	case "uniform", "dense", "":
		return dist
	}
	return "non-uniform"
}

// distShape is the marker of a distribution.
func distShape(dist string) draw.GlyphDrawer {
	switch dist {
	case "uniform":
		return draw.CircleGlyph{}
	case "erk":
		return draw.PyramidGlyph{}
	case "global":
		return draw.BoxGlyph{}
	case "dense":
		return draw.CrossGlyph{}
	}
	return draw.PlusGlyph{}
}

// budgetFill is how a marker shows its row's training budget: filled at
// the base budget, and one of the open styles at each other budget of a
// table, so that two budgets never share a marker.
type budgetFill int

const (
	fillSolid  budgetFill = iota // the base budget
	fillHollow                   // the outline only; always the GaP budget
	fillDot                      // the outline with a dot in the middle
	fillHalf                     // the outline, its lower half filled
	fillBar                      // the outline with a bar across
	fillPlus                     // the outline with a plus inside
)

// budgetFillNames are the words of the legend for each fill.
var budgetFillNames = map[budgetFill]string{
	fillSolid: "filled", fillHollow: "hollow", fillDot: "dot", fillHalf: "half", fillBar: "bar", fillPlus: "plus",
}

// budgetStyles maps a table's row budgets ("" for the base one) to their
// marker fills.
type budgetStyles map[string]budgetFill

// newBudgetStyles gives the base budget the filled marker, the GaP budget
// the hollow one (in every table) and the other budgets the remaining
// open styles in their order: multiples of the base budget by size, then
// the rest by name. Past five non-base budgets the open styles repeat.
func newBudgetStyles(budgets []string) budgetStyles {
	st := budgetStyles{"": fillSolid, "gap": fillHollow}
	var rest []string
	for _, b := range budgets {
		if _, ok := st[b]; !ok && !contains(rest, b) {
			rest = append(rest, b)
		}
	}
	mult := func(b string) (float64, bool) {
		if !strings.HasPrefix(b, "x") {
			return 0, false
		}
		v, err := strconv.ParseFloat(b[1:], 64)
		return v, err == nil
	}
	sort.Slice(rest, func(i, j int) bool {
		vi, oki := mult(rest[i])
		vj, okj := mult(rest[j])
		switch {
		case oki && okj && vi != vj:
			return vi < vj
		case oki != okj:
			return oki
		}
		return rest[i] < rest[j]
	})
	open := []budgetFill{fillDot, fillHalf, fillBar, fillPlus, fillHollow}
	for i, b := range rest {
		st[b] = open[i%len(open)]
	}
	return st
}

// shape is the marker of a row: its distribution's, in its budget's fill.
func (st budgetStyles) shape(dist, budget string) draw.GlyphDrawer {
	f, ok := st[budget]
	if !ok {
		f = fillHollow
	}
	if f == fillSolid {
		return distShape(dist)
	}
	return budgetGlyph{dist: dist, fill: f}
}

// budgetGlyph draws a distribution's marker in an open budget fill.
type budgetGlyph struct {
	dist string
	fill budgetFill
}

// DrawGlyph implements draw.GlyphDrawer.
func (g budgetGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	r := sty.Radius
	var outline draw.GlyphDrawer
	var lower vg.Path // the lower half, for fillHalf
	switch distShape(g.dist).(type) {
	case draw.CircleGlyph:
		outline = draw.RingGlyph{}
		lower.Move(vg.Point{X: pt.X - r, Y: pt.Y})
		lower.Arc(pt, r, math.Pi, math.Pi)
	case draw.PyramidGlyph:
		// gonum's triangle: top at 1.25 r, base at -0.625 r.
		outline = draw.TriangleGlyph{}
		R := r + (r-r*0.5)/2
		hw := R * vg.Length(math.Cos(math.Pi/6))
		lower.Move(vg.Point{X: pt.X - hw, Y: pt.Y - R/2})
		lower.Line(vg.Point{X: pt.X + hw, Y: pt.Y - R/2})
		lower.Line(vg.Point{X: pt.X + hw/2, Y: pt.Y + R/4})
		lower.Line(vg.Point{X: pt.X - hw/2, Y: pt.Y + R/4})
	case draw.BoxGlyph:
		outline = draw.SquareGlyph{}
		x := (r-r*math.Sqrt2/2)/2 + r*math.Sqrt2/2
		lower.Move(vg.Point{X: pt.X - x, Y: pt.Y - x})
		lower.Line(vg.Point{X: pt.X + x, Y: pt.Y - x})
		lower.Line(vg.Point{X: pt.X + x, Y: pt.Y})
		lower.Line(vg.Point{X: pt.X - x, Y: pt.Y})
	default:
		// Crosses and pluses have no inside: the budget shows as a ring
		// around them (drawn last, over the fill).
		cross, inner := distShape(g.dist), sty
		defer cross.DrawGlyph(c, inner, pt)
		outline = draw.RingGlyph{}
		r *= 1.4
		sty.Radius = r
		lower.Move(vg.Point{X: pt.X - r, Y: pt.Y})
		lower.Arc(pt, r, math.Pi, math.Pi)
	}
	outline.DrawGlyph(c, sty, pt)
	ls := draw.LineStyle{Color: sty.Color, Width: vg.Points(0.5)}
	switch g.fill {
	case fillDot:
		draw.CircleGlyph{}.DrawGlyph(c, draw.GlyphStyle{Color: sty.Color, Radius: r * 0.38}, pt)
	case fillHalf:
		if len(lower) > 0 {
			lower.Close()
			c.Fill(lower)
		}
	case fillBar:
		c.StrokeLine2(ls, pt.X-r*0.8, pt.Y, pt.X+r*0.8, pt.Y)
	case fillPlus:
		d := r * 0.5
		c.StrokeLine2(ls, pt.X-d, pt.Y, pt.X+d, pt.Y)
		c.StrokeLine2(ls, pt.X, pt.Y-d, pt.X, pt.Y+d)
	}
}

// distDashes is the line style of a distribution: solid for uniform,
// dashed for ERK, dotted for global.
func distDashes(dist string) []vg.Length {
	switch dist {
	case "uniform", "dense", "":
		return nil
	case "erk":
		return []vg.Length{vg.Points(3.5), vg.Points(1.8)}
	case "global":
		return []vg.Length{vg.Points(1.2), vg.Points(1.2)}
	}
	return []vg.Length{vg.Points(4), vg.Points(1.5), vg.Points(1), vg.Points(1.5)}
}

// shade is the colour of a method at sparsity s: the method's colour at
// 90%, lighter below (80% mixes in 35% white), darker above; dense (s = 0)
// keeps the colour.
func shade(c color.NRGBA, s float64) color.NRGBA {
	if s <= 0 {
		return c
	}
	t := math.Max(-0.35, math.Min(0.6, (0.9-s)*3.5))
	if t >= 0 {
		return mix(c, color.NRGBA{R: 255, G: 255, B: 255, A: 255}, t)
	}
	return mix(c, color.NRGBA{A: 255}, -t)
}

// mix returns a + t(b - a), per channel.
func mix(a, b color.NRGBA, t float64) color.NRGBA {
	f := func(x, y uint8) uint8 { return uint8(math.Round(float64(x) + t*(float64(y)-float64(x)))) }
	return color.NRGBA{R: f(a.R, b.R), G: f(a.G, b.G), B: f(a.B, b.B), A: f(a.A, b.A)}
}

// alpha returns c with opacity a.
func alpha(c color.NRGBA, a uint8) color.NRGBA { c.A = a; return c }

// luminance is the relative luminance of c (sRGB, approximately), used to
// pick black or white text on a cell.
func luminance(c color.NRGBA) float64 {
	lin := func(v uint8) float64 {
		x := float64(v) / 255
		if x <= 0.04045 {
			return x / 12.92
		}
		return math.Pow((x+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c.R) + 0.7152*lin(c.G) + 0.0722*lin(c.B)
}

// Type sizes in points. Figures are drawn at a paper column's width
// (figW), so these are the sizes a reader sees in print.
const (
	sizeTick   = 6.5
	sizeLabel  = 7.5
	sizeLegend = 7
	sizeCell   = 6
)

// sans is the typeface of every figure.
var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

// textStyle is a left-aligned, bottom-aligned text style of size pt.
func textStyle(pt float64) text.Style {
	return text.Style{
		Color:   inkColor,
		Font:    font.From(sans, vg.Points(pt)),
		XAlign:  draw.XLeft,
		YAlign:  draw.YBottom,
		Handler: &text.Plain{Fonts: font.DefaultCache},
	}
}

// shortLayer shortens a parameter name for a heatmap row label.
func shortLayer(name string) string {
	return strings.TrimSuffix(name, ".weight")
}
