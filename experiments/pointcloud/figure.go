package pointcloud

import (
	"bytes"
	"context"
	"fmt"
	"image/color"
	"math"

	"github.com/gap-harness/gap/internal/atomicfile"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// ShapePanel is one point cloud to draw: coordinates (N*3, x y z) and one
// part label per point.
type ShapePanel struct {
	Title  string
	XYZ    []float32
	Labels []int32
}

// partColours is a fixed 20-colour qualitative palette (labels wrap).
var partColours = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
	{188, 189, 34, 255}, {23, 190, 207, 255}, {174, 199, 232, 255}, {255, 187, 120, 255},
	{152, 223, 138, 255}, {255, 152, 150, 255}, {197, 176, 213, 255}, {196, 156, 148, 255},
	{247, 182, 210, 255}, {199, 199, 199, 255}, {219, 219, 141, 255}, {158, 218, 229, 255},
}

// project maps a point to the page with a fixed oblique view: a rotation
// of 35 degrees about the up (y) axis, then 20 degrees about x; it returns
// the horizontal and vertical page coordinates.
func project(x, y, z float64) (float64, float64) {
	a, b := 35*math.Pi/180, 20*math.Pi/180
	x1, z1 := math.Cos(a)*x+math.Sin(a)*z, -math.Sin(a)*x+math.Cos(a)*z
	y2 := math.Cos(b)*y - math.Sin(b)*z1
	return x1, y2
}

// WriteSegmentationFigure draws the panels as point plots coloured by part
// label, cols panels per row, and writes a PNG to path (atomically: a
// temporary file renamed).
func WriteSegmentationFigure(path string, panels []ShapePanel, cols int) error {
	if len(panels) == 0 || cols < 1 {
		return fmt.Errorf("pointcloud: figure: %d panels, %d columns", len(panels), cols)
	}
	rows := (len(panels) + cols - 1) / cols
	plots := make([][]*plot.Plot, rows)
	for r := range plots {
		plots[r] = make([]*plot.Plot, cols)
	}
	for i, sp := range panels {
		if len(sp.XYZ) != 3*len(sp.Labels) {
			return fmt.Errorf("pointcloud: figure: panel %d has %d coordinates for %d labels", i, len(sp.XYZ), len(sp.Labels))
		}
		p := plot.New()
		p.Title.Text = sp.Title
		p.HideAxes()
		// One scatter per label so each gets one colour.
		byLabel := map[int32]plotter.XYs{}
		var order []int32
		for k, l := range sp.Labels {
			x, y := project(float64(sp.XYZ[3*k]), float64(sp.XYZ[3*k+1]), float64(sp.XYZ[3*k+2]))
			if _, ok := byLabel[l]; !ok {
				order = append(order, l)
			}
			byLabel[l] = append(byLabel[l], plotter.XY{X: x, Y: y})
		}
		for _, l := range order {
			s, err := plotter.NewScatter(byLabel[l])
			if err != nil {
				return fmt.Errorf("pointcloud: figure: %w", err)
			}
			s.GlyphStyle.Shape = draw.CircleGlyph{}
			s.GlyphStyle.Radius = vg.Points(1.2)
			s.GlyphStyle.Color = partColours[int(l)%len(partColours)]
			p.Add(s)
		}
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = -1.1, 1.1, -1.1, 1.1
		plots[i/cols][i%cols] = p
	}
	const side = 3 * vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(side*vg.Length(cols), side*vg.Length(rows)), vgimg.UseDPI(100))
	dc := draw.New(img)
	t := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter, PadY: vg.Millimeter}
	canvases := plot.Align(plots, t, dc)
	for r := range plots {
		for c, p := range plots[r] {
			if p != nil {
				p.Draw(canvases[r][c])
			}
		}
	}
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return fmt.Errorf("pointcloud: figure: %w", err)
	}
	if err := atomicfile.WriteBytes(path, buf.Bytes()); err != nil {
		return fmt.Errorf("pointcloud: figure: %w", err)
	}
	return nil
}

// PredictTest returns panels of test shapes idx with the current weights'
// predictions (restricted to each shape's category), titled
// "<prefix> shape <i>", for WriteSegmentationFigure; ground truth is
// panels with truth true.
func (t *Task) PredictTest(ctx context.Context, idx []int, prefix string, truth bool) ([]ShapePanel, error) {
	catParts := make([][]int, t.test.NumCategories())
	for c := range catParts {
		catParts[c] = t.test.CategoryParts(c)
	}
	in, _, exs, err := t.batch(true, idx, false, nil)
	if err != nil {
		return nil, err
	}
	var preds []int32
	if !truth {
		tp := newEvalTape()
		logits, err := t.model.Forward(tp, in, false, nil)
		if err != nil {
			return nil, err
		}
		preds = Predict(logits.Value, in.Category, catParts)
	}
	n := t.cfg.NumPoints
	out := make([]ShapePanel, len(idx))
	for k, e := range exs {
		l := e.parts
		if !truth {
			l = preds[k*n : (k+1)*n]
		}
		out[k] = ShapePanel{Title: fmt.Sprintf("%s shape %d", prefix, idx[k]), XYZ: e.pts, Labels: l}
	}
	return out, ctx.Err()
}
