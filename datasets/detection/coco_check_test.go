package detection

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrepareForTraining(t *testing.T) {
	d := &Dataset{
		Images:     []ImageInfo{{ID: 1, FileName: "a.jpg", Width: 100, Height: 50}, {ID: 2, FileName: "b.jpg"}},
		Categories: []Category{{ID: 1, Name: "x"}},
		Annotations: []Annotation{
			{ID: 1, ImageID: 1, CategoryID: 1, BBox: Box{10, 10, 20, 20}},  // fine
			{ID: 2, ImageID: 1, CategoryID: 1, BBox: Box{10, 10, 0, 20}},   // zero area
			{ID: 3, ImageID: 1, CategoryID: 1, BBox: Box{200, 10, 20, 20}}, // outside
			{ID: 4, ImageID: 1, CategoryID: 1, BBox: Box{90, 40, 20, 20}},  // clipped to 10x10
			{ID: 5, ImageID: 2, CategoryID: 1, BBox: Box{-5, 0, 20, 20}},   // no image size: kept
		},
	}
	out, chk, err := PrepareForTraining("gt.json", d, "")
	if err != nil {
		t.Fatal(err)
	}
	if chk != (TrainingCheck{ZeroArea: 1, Outside: 1, Clipped: 1, NoSize: 1}) || len(out.Annotations) != 3 {
		t.Fatalf("check %+v, %d annotations", chk, len(out.Annotations))
	}
	if b := out.Annotations[1].BBox; b != (Box{90, 40, 10, 10}) {
		t.Errorf("clipped box %+v", b)
	}
	if d.Annotations[3].BBox.W != 20 {
		t.Error("input modified")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.jpg"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := PrepareForTraining("gt.json", d, dir); err == nil || !strings.Contains(err.Error(), "gt.json") || !strings.Contains(err.Error(), "b.jpg") {
		t.Errorf("missing image: %v", err)
	}
	if _, _, err := PrepareForTraining("gt.json", &Dataset{Images: d.Images}, ""); err == nil || !strings.Contains(err.Error(), "gt.json: annotations: empty") {
		t.Errorf("empty annotations: %v", err)
	}
}
