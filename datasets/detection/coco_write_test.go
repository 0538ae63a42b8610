package detection

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestWriteCOCORoundTrip writes a ground truth and detections and reads them
// back with the loaders `gap score map` uses.
func TestWriteCOCORoundTrip(t *testing.T) {
	dir := t.TempDir()
	gt := &Dataset{
		Images:      []ImageInfo{{ID: 1, FileName: "a.png", Width: 64, Height: 64}},
		Categories:  []Category{{ID: 0, Name: "0"}, {ID: 3, Name: "3"}},
		Annotations: []Annotation{{ID: 1, ImageID: 1, CategoryID: 3, BBox: Box{1, 2, 10, 20}, Area: 200}},
	}
	dets := []Detection{{ImageID: 1, CategoryID: 3, BBox: Box{1.5, 2, 9, 19.25}, Score: 0.75}}
	gp, dp := filepath.Join(dir, "gt.json"), filepath.Join(dir, "dets.json")
	if err := WriteCOCO(gp, gt); err != nil {
		t.Fatal(err)
	}
	if err := WriteDetections(dp, dets); err != nil {
		t.Fatal(err)
	}
	g2, err := LoadCOCO(gp)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(gt, g2); d != "" {
		t.Errorf("ground truth round trip (-want +got):\n%s", d)
	}
	d2, err := LoadDetections(dp, g2)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(dets, d2); d != "" {
		t.Errorf("detections round trip (-want +got):\n%s", d)
	}
}
