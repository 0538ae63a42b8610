package detection

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/models/ssd"
)

// FigureImages is how many validation canvases figure.json holds, and
// FigureMinScore the score from which it keeps every detection (see
// figureBoxes: below it, a canvas still shows its best guesses).
const (
	FigureImages   = 6
	FigureMinScore = 0.3
)

// FigureData is figure.json: the first FigureImages validation canvases
// with their ground truth and this model's detections, for a report figure
// drawn without the model (package reports reads the same layout).
type FigureData struct {
	// Size is the canvas side in pixels.
	Size   int           `json:"size"`
	Images []FigureImage `json:"images"`
}

// FigureImage is one canvas of figure.json.
type FigureImage struct {
	ID int64 `json:"id"`
	// Pixels are Size x Size grey levels, row-major (base64 in JSON).
	Pixels     []byte      `json:"pixels"`
	Truths     []FigureBox `json:"truths"`
	Detections []FigureBox `json:"detections"`
}

// FigureBox is a box in relative corners [x0, y0, x1, y1] (0..1, origin
// top-left) with its class name and, for a detection, its score.
type FigureBox struct {
	Box   [4]float64 `json:"box"`
	Label string     `json:"label"`
	Score float64    `json:"score,omitempty"`
}

// WriteArtifacts writes the final model's artifacts into dir (the runner's
// ArtifactWriter): gt.json and detections.json (COCO format: `gap score map
// -gt gt.json -pred detections.json` rescores them), figure.json
// (FigureData) and detections.png (ssd.WriteFigure of this model alone).
func (t *Task) WriteArtifacts(ctx context.Context, dir string, threads int) error {
	if err := t.WriteCOCO(ctx, dir, threads); err != nil {
		return err
	}
	x, truths, imgs, err := t.figureSamples(FigureImages)
	if err != nil {
		return err
	}
	n := len(imgs)
	gt := t.val.GT()
	tp := engine.NewTape[float32](max(threads, 1))
	tp.SetNoGrad(true)
	loc, conf := t.model.Forward(tp, tp.Const(x), false)
	dets := ssd.PostProcessBatch(loc.Value, conf.Value, t.model.Anchors(), ssd.DefaultPost, threads)
	size := t.spec.Model.Boxes.FigSize
	fd := FigureData{Size: size}
	name := t.val.Name
	for i := 0; i < n; i++ {
		im := FigureImage{ID: gt.Images[i].ID, Pixels: imgs[i], Truths: []FigureBox{}, Detections: []FigureBox{}}
		for _, tr := range truths[i] {
			im.Truths = append(im.Truths, FigureBox{Box: [4]float64{tr.Box.X0, tr.Box.Y0, tr.Box.X1, tr.Box.Y1}, Label: name(int(tr.Label))})
		}
		dets[i] = figureBoxes(dets[i], len(truths[i]))
		for _, d := range dets[i] {
			im.Detections = append(im.Detections, FigureBox{Box: [4]float64{d.Box.X0, d.Box.Y0, d.Box.X1, d.Box.Y1}, Label: name(d.Label), Score: d.Score})
		}
		fd.Images = append(fd.Images, im)
	}
	b, err := json.Marshal(fd)
	if err != nil {
		return fmt.Errorf("detection: figure.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "figure.json"), b, 0o644); err != nil {
		return fmt.Errorf("detection: %w", err)
	}
	return ssd.WriteFigure(filepath.Join(dir, "detections.png"), size, imgs, truths,
		[]ssd.FigureRow{{Detections: dets[:n]}}, ssd.FigureConfig{MinScore: math.SmallestNonzeroFloat64})
}

// figureBoxes are the detections a figure draws on a canvas with `truths`
// objects: every one scoring at least FigureMinScore and, if those are
// fewer than the canvas's objects, the best-scoring others up to that
// count, best first. A model trained briefly is under-confident (the
// default proxy's dense model scores its correct boxes 0.1-0.2 on
// many canvases), and a fixed threshold would draw nothing for it; the
// figure's labels carry the scores, so a weak guess reads as weak.
func figureBoxes(dets []ssd.Scored, truths int) []ssd.Scored {
	s := slices.Clone(dets)
	slices.SortStableFunc(s, func(a, b ssd.Scored) int { return cmp.Compare(b.Score, a.Score) })
	k := 0
	for k < len(s) && (s[k].Score >= FigureMinScore || k < truths) {
		k++
	}
	return s[:k]
}
