package reports

import (
	"fmt"
	"image/color"
	"math"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gap-harness/gap/results"
)

// PointCloud is one point cloud to draw: N*3 coordinates (x, y up, z) and
// a part label per point.
type PointCloud struct {
	XYZ    []float32
	Labels []int32
}

// SegmentationLoader returns the test shapes a run saved: the ground truth
// and the run's predictions, shape by shape (nil, nil when the run saved
// none).
type SegmentationLoader func(run *results.Run) (truth, pred []PointCloud, err error)

// PartsFigure is a point-cloud table's extra figure ("parts"): a few test
// shapes drawn as point plots coloured by part, one row per shape, the
// ground truth beside the dense model's predictions and the 90% C-GaP
// model's (uniform, else non-uniform), each the row's run with the smallest
// seed. The shapes come from load; no figure when either run saved none.
func PartsFigure(load SegmentationLoader) FigureMaker {
	return func(runs []*results.Run, spec TableSpec) (*Figure, error) {
		pick := func(keys ...string) *results.Run {
			for _, k := range keys {
				var rs []*results.Run
				for _, r := range runs {
					if r.Row == k {
						rs = append(rs, r)
					}
				}
				if len(rs) == 0 {
					continue
				}
				sort.Slice(rs, func(i, j int) bool {
					if rs[i].Seed != rs[j].Seed {
						return rs[i].Seed < rs[j].Seed
					}
					return rs[i].ID < rs[j].ID
				})
				return rs[0]
			}
			return nil
		}
		dense := pick(results.RowKey("dense", 0, "dense"))
		gap := pick(results.RowKey("cgap", 0.9, "uniform"), results.RowKey("cgap", 0.9, "global"))
		if dense == nil || gap == nil {
			return nil, nil
		}
		truth, dp, err := load(dense)
		if err != nil {
			return nil, err
		}
		_, gp, err := load(gap)
		if err != nil {
			return nil, err
		}
		n := min(len(truth), len(dp), len(gp))
		if n == 0 {
			return nil, nil
		}
		maxLabel := int32(0)
		for _, set := range [][]PointCloud{truth[:n], dp[:n], gp[:n]} {
			for _, pc := range set {
				if len(pc.XYZ) != 3*len(pc.Labels) {
					return nil, fmt.Errorf("parts figure: %d coordinates for %d labels", len(pc.XYZ), len(pc.Labels))
				}
				for _, l := range pc.Labels {
					if l < 0 {
						return nil, fmt.Errorf("parts figure: negative part label %d", l)
					}
					maxLabel = max(maxLabel, l)
				}
			}
		}
		cols := CategoryColors(int(maxLabel) + 1)
		heads := []string{"truth", "dense", "C-GaP 90%"}
		// The column titles of the two models are in their methods'
		// colours, as every figure of the report draws them.
		pal := MethodPalette([]string{"dense", "cgap"})
		headColor := []color.NRGBA{inkColor, pal["dense"], pal["cgap"]}
		plots := make([][]*plot.Plot, n)
		for i := 0; i < n; i++ {
			for j, pc := range []PointCloud{truth[i], dp[i], gp[i]} {
				title := ""
				if i == 0 {
					title = heads[j]
				}
				p, err := cloudPanel(title, pc, cols)
				if err != nil {
					return nil, err
				}
				p.Title.TextStyle.Color = headColor[j]
				plots[i] = append(plots[i], p)
			}
		}
		side := FigureWidth / 3
		caption := fmt.Sprintf("%d test shapes drawn as points coloured by part (an oblique view): the ground truth, the dense model's predictions and the 90%% sparse C-GaP model's (%s), seed %d; predictions are restricted to the parts of the shape's category.",
			n, gap.Distribution, gap.Seed)
		return &Figure{Stem: "parts", Caption: caption, Height: side * vg.Length(n), Methods: []string{"dense", "cgap"},
			Draw: func(c draw.Canvas) { Tiled(c, plots, vg.Points(2), vg.Points(2)) }}, nil
	}
}

// cloudPanel draws one point cloud: the points projected with a fixed
// oblique view (35 degrees about the up axis, then 20 about x), one
// scatter per label so each part has one colour, on square axes.
func cloudPanel(title string, pc PointCloud, cols []color.NRGBA) (*plot.Plot, error) {
	p := NewPanel(title, "", "")
	p.HideAxes()
	byLabel := map[int32]plotter.XYs{}
	var order []int32
	a, b := 35*math.Pi/180, 20*math.Pi/180
	lim := 0.0
	for k, l := range pc.Labels {
		x, y, z := float64(pc.XYZ[3*k]), float64(pc.XYZ[3*k+1]), float64(pc.XYZ[3*k+2])
		x1, z1 := math.Cos(a)*x+math.Sin(a)*z, -math.Sin(a)*x+math.Cos(a)*z
		y2 := math.Cos(b)*y - math.Sin(b)*z1
		if _, ok := byLabel[l]; !ok {
			order = append(order, l)
		}
		byLabel[l] = append(byLabel[l], plotter.XY{X: x1, Y: y2})
		lim = math.Max(lim, math.Max(math.Abs(x1), math.Abs(y2)))
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	for _, l := range order {
		s, err := plotter.NewScatter(byLabel[l])
		if err != nil {
			return nil, fmt.Errorf("parts figure: %w", err)
		}
		s.GlyphStyle.Shape = draw.CircleGlyph{}
		s.GlyphStyle.Radius = vg.Points(0.6)
		s.GlyphStyle.Color = cols[l]
		p.Add(s)
	}
	if lim == 0 {
		lim = 1
	}
	lim *= 1.05
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = -lim, lim, -lim, lim
	return p, nil
}
