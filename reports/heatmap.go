package reports

import (
	"image/color"
	"math"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// heatmap is a labelled grid of values drawn on a sequential scale from lo
// to hi with each value printed where it fits.
type heatmap struct {
	title, xLabel, yLabel string
	rows, cols            []string
	vals                  [][]float64 // [row][col], NaN: no value
	lo, hi                float64
	format                func(float64) string
	rotateCols            bool          // column labels vertical
	colColors             []color.NRGBA // optional strip above each column (method colours)
	titleColor            *color.NRGBA  // optional key swatch before the title
}

// seqScale is a sequential colour scale (Tol's YlOrBr), light to dark.
var seqScale = []color.NRGBA{
	rgb(0xFFFFE5), rgb(0xFFF7BC), rgb(0xFEE391), rgb(0xFEC44F), rgb(0xFB9A29), rgb(0xEC7014), rgb(0xCC4C02), rgb(0x993404), rgb(0x662506),
}

func scaleColor(v, lo, hi float64) color.NRGBA {
	if math.IsNaN(v) {
		return rgb(0xDDDDDD)
	}
	t := 0.0
	if hi > lo {
		t = math.Max(0, math.Min(1, (v-lo)/(hi-lo)))
	}
	f := t * float64(len(seqScale)-1)
	i := int(math.Floor(f))
	if i >= len(seqScale)-1 {
		return seqScale[len(seqScale)-1]
	}
	return mix(seqScale[i], seqScale[i+1], f-float64(i))
}

func (hm heatmap) colHeaderHeight() vg.Length {
	sty := textStyle(sizeCell)
	if !hm.rotateCols {
		return sty.FontExtents().Height + vg.Points(2)
	}
	w := vg.Length(0)
	for _, c := range hm.cols {
		w = max(w, sty.Width(c))
	}
	return w + vg.Points(3)
}

// heatmapWeight is the height a stacked heatmap asks for: its rows and
// the room for its title and axis labels.
func heatmapWeight(hm heatmap) vg.Length {
	return vg.Length(len(hm.rows))*vg.Points(13) + vg.Points(38)
}

// drawHeatmaps stacks heatmaps down c, sharing the row-label column
// width; column labels above the grid when rotated, below otherwise.
func drawHeatmaps(c draw.Canvas, maps []heatmap, labelsBelow bool) {
	lsty := textStyle(sizeLabel)
	csty := textStyle(sizeCell)
	tsty := textStyle(sizeTick)
	labelW := vg.Length(0)
	for _, hm := range maps {
		for _, r := range hm.rows {
			labelW = max(labelW, tsty.Width(r))
		}
	}
	lh := lsty.FontExtents().Height
	th := tsty.FontExtents().Height
	left := c.Min.X + lh + vg.Points(4) + labelW + vg.Points(3)
	right := c.Max.X - vg.Points(4)
	top := c.Max.Y - vg.Points(3)
	// Each map's share of the height follows its number of rows, so that
	// maps with fewer rows leave no gap (heatmapWeight).
	total := vg.Length(0)
	for _, hm := range maps {
		total += heatmapWeight(hm)
	}
	for _, hm := range maps {
		slot := (c.Max.Y - c.Min.Y - vg.Points(3)) * heatmapWeight(hm) / total
		bottom := top - slot
		y := top
		if hm.title != "" {
			ts := lsty
			ts.XAlign = draw.XCenter
			c.FillText(ts, vg.Point{X: (left + right) / 2, Y: y - lh}, hm.title)
			if hm.titleColor != nil {
				x := (left+right)/2 - lsty.Width(hm.title)/2 - vg.Points(10)
				fillRect(c, vg.Rectangle{Min: vg.Point{X: x, Y: y - lh + vg.Points(1)}, Max: vg.Point{X: x + vg.Points(7), Y: y - vg.Points(2)}}, *hm.titleColor)
			}
			y -= lh + vg.Points(2)
		}
		if hm.rotateCols {
			y -= hm.colHeaderHeight()
		}
		if len(hm.colColors) > 0 {
			y -= vg.Points(4)
		}
		gridBottom := bottom + vg.Points(2)
		if labelsBelow {
			gridBottom += th + lh + vg.Points(4)
		}
		cellW := min((right-left)/vg.Length(len(hm.cols)), vg.Points(48))
		if w := cellW * vg.Length(len(hm.cols)); w < right-left {
			left += (right - left - w) / 2
			right = left + w
		}
		cellH := (y - gridBottom) / vg.Length(len(hm.rows))
		cellH = min(cellH, vg.Points(16))
		gridTop := y
		gridBottom = gridTop - cellH*vg.Length(len(hm.rows))
		for i, rl := range hm.rows {
			y1 := gridTop - cellH*vg.Length(i)
			y0 := y1 - cellH
			rs := tsty
			rs.XAlign, rs.YAlign = draw.XRight, draw.YCenter
			c.FillText(rs, vg.Point{X: left - vg.Points(2), Y: (y0 + y1) / 2}, rl)
			for j := range hm.cols {
				x0 := left + cellW*vg.Length(j)
				v := hm.vals[i][j]
				col := scaleColor(v, hm.lo, hm.hi)
				fillRect(c, vg.Rectangle{Min: vg.Point{X: x0, Y: y0}, Max: vg.Point{X: x0 + cellW, Y: y1}}, col)
				if math.IsNaN(v) {
					continue
				}
				s := hm.format(v)
				if csty.Width(s)+vg.Points(2) <= cellW && csty.FontExtents().Height <= cellH+vg.Points(1) {
					cs := csty
					cs.XAlign, cs.YAlign = draw.XCenter, draw.YCenter
					if luminance(col) < 0.35 {
						cs.Color = color.White
					}
					c.FillText(cs, vg.Point{X: x0 + cellW/2, Y: (y0 + y1) / 2}, s)
				}
			}
		}
		for j, cc := range hm.colColors {
			x0 := left + cellW*vg.Length(j)
			fillRect(c, vg.Rectangle{Min: vg.Point{X: x0 + vg.Points(0.5), Y: gridTop + vg.Points(0.8)}, Max: vg.Point{X: x0 + cellW - vg.Points(0.5), Y: gridTop + vg.Points(3.6)}}, cc)
		}
		// Thin white separators keep cells apart.
		for j := 1; j < len(hm.cols); j++ {
			x := left + cellW*vg.Length(j)
			c.StrokeLine2(draw.LineStyle{Color: color.White, Width: vg.Points(0.6)}, x, gridBottom, x, gridTop)
		}
		for j, cl := range hm.cols {
			x := left + cellW*(vg.Length(j)+0.5)
			if hm.rotateCols {
				cs := csty
				cs.Rotation = math.Pi / 2
				cs.XAlign, cs.YAlign = draw.XLeft, draw.YCenter
				c.FillText(cs, vg.Point{X: x, Y: gridTop + vg.Points(2) + vg.Length(min(len(hm.colColors), 1))*vg.Points(4)}, cl)
			} else {
				cs := tsty
				cs.XAlign, cs.YAlign = draw.XCenter, draw.YTop
				c.FillText(cs, vg.Point{X: x, Y: gridBottom - vg.Points(2)}, cl)
			}
		}
		if hm.xLabel != "" {
			xs := lsty
			xs.XAlign, xs.YAlign = draw.XCenter, draw.YTop
			c.FillText(xs, vg.Point{X: (left + right) / 2, Y: gridBottom - th - vg.Points(3)}, hm.xLabel)
		}
		if hm.yLabel != "" {
			ys := lsty
			ys.Rotation = math.Pi / 2
			ys.XAlign, ys.YAlign = draw.XCenter, draw.YTop
			c.FillText(ys, vg.Point{X: left - labelW - lh - vg.Points(6), Y: (gridTop + gridBottom) / 2}, hm.yLabel)
		}
		top = bottom
	}
}
