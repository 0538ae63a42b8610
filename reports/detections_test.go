package reports

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeDetFigure writes a figure.json for run id under dir/artifacts.
func writeDetFigure(t *testing.T, dir, id string, pixels int) {
	t.Helper()
	type box struct {
		Box   [4]float64 `json:"box"`
		Label string     `json:"label"`
		Score float64    `json:"score,omitempty"`
	}
	type img struct {
		ID         int64  `json:"id"`
		Pixels     []byte `json:"pixels"`
		Truths     []box  `json:"truths"`
		Detections []box  `json:"detections"`
	}
	f := struct {
		Size   int   `json:"size"`
		Images []img `json:"images"`
	}{Size: 8}
	for i := 0; i < 4; i++ {
		px := make([]byte, pixels)
		for j := range px {
			px[j] = byte(j * 4)
		}
		f.Images = append(f.Images, img{ID: int64(i + 1), Pixels: px,
			Truths:     []box{{Box: [4]float64{0.1, 0.2, 0.5, 0.6}, Label: "3"}},
			Detections: []box{{Box: [4]float64{0.12, 0.2, 0.5, 0.62}, Label: "3", Score: 0.9}, {Box: [4]float64{0.6, 0.6, 0.9, 0.9}, Label: "7", Score: 0.1}}})
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	d := filepath.Join(dir, "artifacts", id)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "figure.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDetectionFigure draws the detection figure from the artifacts of the
// dense run and the 90% C-GaP run; without them it is reported missing,
// and a figure.json of the wrong size is an error naming the file.
func TestDetectionFigure(t *testing.T) {
	runs := fixtureRuns()
	dir := t.TempDir()
	spec := ImageNetSpec()
	spec.Extra = ExtraFigures("coco", dir)
	if len(spec.Extra) != 1 || ExtraFigures("imagenet", dir) != nil {
		t.Fatal("ExtraFigures: the coco table has one, imagenet none")
	}
	_, _, missing, err := Figures(runs, spec)
	if err != nil || !strings.Contains(strings.Join(missing, ","), "extra figure 0") {
		t.Fatalf("no artifacts: missing %v, err %v", missing, err)
	}
	writeDetFigure(t, dir, "dense-0-dense-s0", 64)
	writeDetFigure(t, dir, "cgap-0.9-uniform-s0", 64)
	files, captions, _, err := Figures(runs, spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(files["detections.png"]) == 0 || len(files["detections.svg"]) == 0 {
		t.Fatal("detections figure not drawn")
	}
	if c := captions[len(captions)-1]; c[0] != "detections" || !strings.Contains(c[1], "90% C-GaP") {
		t.Errorf("caption %v", c)
	}
	again, _, _, err := Figures(runs, spec)
	if err != nil || string(again["detections.svg"]) != string(files["detections.svg"]) {
		t.Errorf("same runs, different bytes (err %v)", err)
	}
	writeDetFigure(t, dir, "cgap-0.9-uniform-s0", 63)
	if _, _, _, err := Figures(runs, spec); err == nil || !strings.Contains(err.Error(), "figure.json") {
		t.Errorf("63 pixels for an 8x8 canvas: %v", err)
	}
}
