package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gap-harness/gap/results"
)

// detectionFigure is the layout of a detection run's figure.json
// (written by experiments/detection's Task.WriteArtifacts into
// <results>/<table>/artifacts/<run id>/): validation canvases with their
// ground truth and the final model's detections, boxes in relative
// corners.
type detectionFigure struct {
	Size   int `json:"size"`
	Images []struct {
		ID         int64    `json:"id"`
		Pixels     []byte   `json:"pixels"`
		Truths     []detBox `json:"truths"`
		Detections []detBox `json:"detections"`
	} `json:"images"`
}

type detBox struct {
	Box   [4]float64 `json:"box"`
	Label string     `json:"label"`
	Score float64    `json:"score"`
}

// detFigureImages is how many canvases the figure shows per model, and
// detFigureMinScore the weakest detection it draws.
const (
	detFigureImages   = 3
	detFigureMinScore = 0.3
)

// DetectionFigure is the detection table's extra figure: a few validation
// canvases with the boxes predicted by the dense model (top row) and by
// the 90% C-GaP model (bottom row; its most sparse row's representative
// run, non-uniform before uniform, smallest seed), ground truth dashed in
// grey, digits dark on white, the detections figure.json keeps (see
// experiments/detection's figureBoxes) in the method's colour with class
// and score, solid from 0.3, dotted below. It reads each run's figure.json from tableDir/artifacts/<id>/;
// without one for either model there is no data (nil figure).
func DetectionFigure(tableDir string) FigureMaker {
	return func(runs []*results.Run, spec TableSpec) (*Figure, error) {
		dense := pickRun(runs, func(r *results.Run) bool { return r.Method == "dense" })
		gap := pickRun(runs, func(r *results.Run) bool { return r.Method == "cgap" && r.Sparsity == 0.9 })
		if dense == nil || gap == nil {
			return nil, nil
		}
		var figs [2]*detectionFigure
		for i, r := range []*results.Run{dense, gap} {
			f, err := readDetectionFigure(filepath.Join(tableDir, "artifacts", r.ID, "figure.json"))
			if err != nil || f == nil {
				return nil, err
			}
			figs[i] = f
		}
		n := min(detFigureImages, len(figs[0].Images), len(figs[1].Images))
		if n == 0 || figs[0].Size != figs[1].Size {
			return nil, nil
		}
		for i := 0; i < n; i++ {
			if figs[0].Images[i].ID != figs[1].Images[i].ID {
				return nil, fmt.Errorf("detection figure: runs %s and %s show different canvases (seeds %d, %d)", dense.ID, gap.ID, dense.Seed, gap.Seed)
			}
		}
		var methods []string
		seen := map[string]bool{}
		for _, r := range runs {
			if !seen[r.Method] {
				seen[r.Method] = true
				methods = append(methods, r.Method)
			}
		}
		sort.Strings(methods)
		pal := MethodPalette(methods)
		titles := []string{"dense", "C-GaP 90%"}
		var grid [][]*plot.Plot
		for row, f := range figs {
			col := pal[[]string{"dense", "cgap"}[row]]
			var line []*plot.Plot
			for i := 0; i < n; i++ {
				title := ""
				if i == 0 {
					title = titles[row]
				}
				p, err := detectionPanel(title, f.Size, f.Images[i].Pixels, f.Images[i].Truths, f.Images[i].Detections, col)
				if err != nil {
					return nil, fmt.Errorf("detection figure: run %s: %w", []*results.Run{dense, gap}[row].ID, err)
				}
				line = append(line, p)
			}
			grid = append(grid, line)
		}
		legend := []LegendGroup{{Entries: []LegendEntry{
			{Label: "ground truth", Thumb: LineThumb(color.NRGBA{R: 150, G: 150, B: 150, A: 255}, []vg.Length{vg.Points(2), vg.Points(1.5)})},
			{Label: "dense", Thumb: LineThumb(pal["dense"], nil)},
			{Label: "C-GaP 90%", Thumb: LineThumb(pal["cgap"], nil)},
		}}}
		cap := fmt.Sprintf("Detections on %d validation canvases, profile %s, seed %d: the dense model (top) and the 90%% C-GaP model (bottom, %s), in the method's colour with their digit and score: every box scoring at least %.1f (solid) and, where those are fewer than the canvas's digits, the best-scoring others up to that count (dotted); ground truth dashed grey.",
			n, dense.Profile, dense.Seed, distClass(gap.Distribution), detFigureMinScore)
		return &Figure{Stem: "detections", Caption: cap, Height: 2.5*vg.Inch + LegendHeight(legend), Methods: []string{"dense", "cgap"},
			Draw: WithLegend(legend, func(c draw.Canvas) { Tiled(c, grid, vg.Points(3), vg.Points(3)) })}, nil
	}
}

// ExtraFigures are a table's own figures whose data live beside its runs
// in tableDir (<results>/<table>): the coco table's DetectionFigure.
func ExtraFigures(table, tableDir string) []FigureMaker {
	switch table {
	case "coco":
		return []FigureMaker{DetectionFigure(tableDir)}
	}
	return nil
}

// pickRun is the run among those matching keep with the smallest row key,
// then seed, then ID.
func pickRun(runs []*results.Run, keep func(*results.Run) bool) *results.Run {
	var best *results.Run
	for _, r := range runs {
		if !keep(r) {
			continue
		}
		if best == nil || r.Row < best.Row || (r.Row == best.Row && (r.Seed < best.Seed || (r.Seed == best.Seed && r.ID < best.ID))) {
			best = r
		}
	}
	return best
}

// readDetectionFigure reads a figure.json; a missing file is no data (nil,
// nil), a malformed one an error naming it.
func readDetectionFigure(path string) (*detectionFigure, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("detection figure: %w", err)
	}
	var f detectionFigure
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("detection figure: %s: %w", path, err)
	}
	if f.Size <= 0 {
		return nil, fmt.Errorf("detection figure: %s: size %d: expected the canvas side > 0", path, f.Size)
	}
	for i, im := range f.Images {
		if len(im.Pixels) != f.Size*f.Size {
			return nil, fmt.Errorf("detection figure: %s: image %d: %d pixels, expected %d", path, i, len(im.Pixels), f.Size*f.Size)
		}
	}
	return &f, nil
}

// detectionPanel draws one canvas (its y axis up, so boxes are flipped)
// with truths and detections.
func detectionPanel(title string, size int, pixels []byte, truths, dets []detBox, col color.NRGBA) (*plot.Plot, error) {
	p := NewPanel(title, "", "")
	p.HideAxes()
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	img := image.NewGray(image.Rect(0, 0, size, size))
	for i, v := range pixels {
		img.Pix[i] = 255 - v // dark digits on white, as print
	}
	p.Add(plotter.NewImage(img, 0, 0, 1, 1))
	box := func(b [4]float64, style draw.LineStyle) error {
		x0, y0, x1, y1 := b[0], 1-b[3], b[2], 1-b[1]
		l, err := plotter.NewLine(plotter.XYs{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}, {X: x0, Y: y0}})
		if err != nil {
			return err
		}
		l.LineStyle = style
		p.Add(l)
		return nil
	}
	if err := box([4]float64{0, 0, 1, 1}, draw.LineStyle{Color: color.NRGBA{R: 190, G: 190, B: 190, A: 255}, Width: vg.Points(0.5)}); err != nil {
		return nil, err
	}
	for _, t := range truths {
		if err := box(t.Box, draw.LineStyle{Color: color.NRGBA{R: 150, G: 150, B: 150, A: 255}, Width: vg.Points(0.6), Dashes: []vg.Length{vg.Points(2), vg.Points(1.5)}}); err != nil {
			return nil, err
		}
	}
	var xy plotter.XYs
	var labels []string
	for _, d := range dets {
		weak := d.Score < detFigureMinScore
		style := draw.LineStyle{Color: col, Width: vg.Points(0.9)}
		if weak {
			style.Width, style.Dashes = vg.Points(0.6), []vg.Length{vg.Points(1), vg.Points(1)}
		}
		if err := box(d.Box, style); err != nil {
			return nil, err
		}
		xy = append(xy, plotter.XY{X: min(max(d.Box[0], 0), 0.9), Y: min(max(1-d.Box[1], 0.1), 1)})
		labels = append(labels, fmt.Sprintf("%s %.2f", d.Label, d.Score))
	}
	if len(xy) > 0 {
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xy, Labels: labels})
		if err != nil {
			return nil, err
		}
		for i := range lb.TextStyle {
			lb.TextStyle[i].Color = col
			lb.TextStyle[i].Font = font.From(sans, vg.Points(6))
			lb.TextStyle[i].YAlign = -1
		}
		p.Add(lb)
	}
	return p, nil
}
