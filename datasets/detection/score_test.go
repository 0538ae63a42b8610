package detection

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestScoreMAP(t *testing.T) {
	dir := t.TempDir()
	gt := filepath.Join(dir, "gt.json")
	pred := filepath.Join(dir, "pred.json")
	os.WriteFile(gt, []byte(`{"images": [{"id": 1}], "categories": [{"id": 1, "name": "digit"}, {"id": 2, "name": "none"}],
		"annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100},
		                {"id": 2, "image_id": 1, "category_id": 1, "bbox": [100, 100, 10, 10], "area": 100}]}`), 0o644)
	// TP, FP, TP: COCO AP (51 + 50*2/3)/101 = 0.835, VOC all-point 5/6.
	os.WriteFile(pred, []byte(`[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},
		{"image_id": 1, "category_id": 1, "bbox": [300, 300, 10, 10], "score": 0.8},
		{"image_id": 1, "category_id": 1, "bbox": [100, 100, 10, 10], "score": 0.7}]`), 0o644)
	var out bytes.Buffer
	if err := ScoreMAP([]string{"-gt", gt, "-pred", pred}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != 12 || lines[0] != " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.835" {
		t.Errorf("coco output:\n%s", out.String())
	}
	out.Reset()
	if err := ScoreMAP([]string{"-gt", gt, "-pred", pred, "-iou", "voc"}, &out); err != nil {
		t.Fatal(err)
	}
	if want := "AP digit: 0.8333\nAP none: n/a (no ground truth)\nmAP: 0.8333\n"; out.String() != want {
		t.Errorf("voc output %q, want %q", out.String(), want)
	}
	out.Reset()
	if err := ScoreMAP([]string{"-gt", gt, "-pred", pred, "-iou", "voc", "-voc07"}, &out); err != nil || !strings.Contains(out.String(), "mAP: 0.8485") {
		t.Errorf("voc07 output %q %v", out.String(), err)
	}
	for _, args := range [][]string{{"-gt", gt}, {"-gt", gt, "-pred", pred, "-iou", "x"}, {"-gt", gt, "-pred", filepath.Join(dir, "missing.json")}, {"-bogus"}} {
		if err := ScoreMAP(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// TestScoreMAPEmptyGroundTruth: a ground truth without images or boxes is
// refused by name instead of scored.
func TestScoreMAPEmptyGroundTruth(t *testing.T) {
	dir := t.TempDir()
	gt := filepath.Join(dir, "gt.json")
	pred := filepath.Join(dir, "pred.json")
	os.WriteFile(pred, []byte("[]"), 0o644)
	for _, doc := range []string{
		`{"images": [], "categories": [{"id": 1}], "annotations": []}`,
		`{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": []}`,
	} {
		os.WriteFile(gt, []byte(doc), 0o644)
		if err := ScoreMAP([]string{"-gt", gt, "-pred", pred}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), gt+": ") || !strings.Contains(err.Error(), "nothing to score") {
			t.Errorf("%s: %v", doc, err)
		}
	}
	var help bytes.Buffer
	if err := ScoreMAP([]string{"-h"}, &help); !strings.Contains(help.String(), "-iou") {
		t.Errorf("-h: %v, printed %q", err, help.String())
	}
}
