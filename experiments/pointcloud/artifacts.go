package pointcloud

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// SegmentationFile is the name of the artifact WriteArtifacts writes.
const SegmentationFile = "segmentation.json"

// FigureShapes is the number of test shapes saved for the suite's figure.
const FigureShapes = 4

// SegmentationShape is one test shape with its true and predicted part
// labels, as saved in SegmentationFile.
type SegmentationShape struct {
	Index    int       `json:"index"`    // test-split index
	Category int       `json:"category"` // object category
	XYZ      []float32 `json:"xyz"`      // N*3 coordinates
	Truth    []int32   `json:"truth"`    // N part labels
	Pred     []int32   `json:"pred"`     // N predicted labels (restricted to the category's parts)
}

// Segmentation is the content of SegmentationFile.
type Segmentation struct {
	NumParts int                 `json:"num_parts"`
	Shapes   []SegmentationShape `json:"shapes"`
}

// FigureIndices are the test shapes the figure shows: the first test shape
// of each category, in category order, at most FigureShapes of them (so
// every run of a table saves the same shapes).
func (t *Task) FigureIndices() ([]int, error) {
	seen := map[int]bool{}
	var idx []int
	for i := 0; i < t.test.Len() && len(idx) < FigureShapes; i++ {
		e, err := t.example(true, i)
		if err != nil {
			return nil, err
		}
		if !seen[e.cat] {
			seen[e.cat] = true
			idx = append(idx, i)
		}
	}
	return idx, nil
}

// WriteArtifacts writes SegmentationFile into dir: the figure's test
// shapes (FigureIndices) with their true parts and the current weights'
// predictions. The file is written to a temporary name and renamed.
// It implements the runner's ArtifactWriter.
func (t *Task) WriteArtifacts(ctx context.Context, dir string, threads int) error {
	idx, err := t.FigureIndices()
	if err != nil {
		return err
	}
	truth, err := t.PredictTest(ctx, idx, "truth", true)
	if err != nil {
		return err
	}
	pred, err := t.PredictTest(ctx, idx, "pred", false)
	if err != nil {
		return err
	}
	out := Segmentation{NumParts: t.train.NumParts()}
	for k, i := range idx {
		e, err := t.example(true, i)
		if err != nil {
			return err
		}
		out.Shapes = append(out.Shapes, SegmentationShape{Index: i, Category: e.cat, XYZ: truth[k].XYZ, Truth: truth[k].Labels, Pred: pred[k].Labels})
	}
	b, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("pointcloud: %w", err)
	}
	path := filepath.Join(dir, SegmentationFile)
	tmp, err := os.CreateTemp(dir, "."+SegmentationFile+".*.tmp")
	if err != nil {
		return fmt.Errorf("pointcloud: %w", err)
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("pointcloud: write %s: %w", path, err)
	}
	return nil
}

// ReadSegmentation reads a SegmentationFile, checking that each shape's
// labels match its points.
func ReadSegmentation(path string) (*Segmentation, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pointcloud: %w", err)
	}
	var s Segmentation
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("pointcloud: %s: %w", path, err)
	}
	for i, sh := range s.Shapes {
		if len(sh.XYZ) != 3*len(sh.Truth) || len(sh.Pred) != len(sh.Truth) {
			return nil, fmt.Errorf("pointcloud: %s: shape %d: %d coordinates, %d true and %d predicted labels", path, i, len(sh.XYZ), len(sh.Truth), len(sh.Pred))
		}
	}
	return &s, nil
}
