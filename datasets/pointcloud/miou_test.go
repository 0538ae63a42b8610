package pointcloud

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

func TestShapeIoUHand(t *testing.T) {
	// Category with parts {0,1,2}. gt: 0 0 1 1; pred: 0 1 1 1.
	// part 0: inter 1 (point 0), union 2 (points 0,1) -> 1/2
	// part 1: inter 2 (points 2,3), union 3 (points 1,2,3) -> 2/3
	// part 2: absent from both -> 1
	// shape IoU = (1/2 + 2/3 + 1)/3 = 13/18
	got, err := ShapeIoU([]int32{0, 1, 1, 1}, []int32{0, 0, 1, 1}, []int{0, 1, 2})
	if err != nil || !near(got, 13.0/18) {
		t.Errorf("got %v %v, want 13/18", got, err)
	}
	// Perfect prediction: 1; a prediction outside the category (label 7)
	// only lowers the IoU of the ground-truth part: part 0 = 1/2, part 1 = 1.
	if got, _ := ShapeIoU([]int32{0, 1}, []int32{0, 1}, []int{0, 1}); got != 1 {
		t.Errorf("perfect: %v", got)
	}
	if got, _ := ShapeIoU([]int32{0, 7, 1}, []int32{0, 0, 1}, []int{0, 1}); !near(got, 0.75) {
		t.Errorf("outside label: %v, want 0.75", got)
	}
	if _, err := ShapeIoU([]int32{0}, []int32{0, 1}, []int{0, 1}); err == nil {
		t.Error("length mismatch accepted")
	}
}

func TestMIoUAverages(t *testing.T) {
	// Two categories: cat 0 parts {0,1}, cat 1 parts {2,3}.
	m := NewMIoU([][]int{{0, 1}, {2, 3}})
	// cat 0 shape A: perfect -> 1. cat 0 shape B: gt 0 0, pred 1 1:
	// part 0 inter 0 union 2 -> 0, part 1 inter 0 union 2 -> 0 -> 0.
	// cat 1 shape C: gt 2 3, pred 2 2: part 2: 1/2, part 3: 0/1 -> 1/4.
	m.Add(0, []int32{0, 1}, []int32{0, 1})
	m.Add(0, []int32{1, 1}, []int32{0, 0})
	m.Add(1, []int32{2, 2}, []int32{2, 3})
	// instance = (1 + 0 + 1/4)/3 = 5/12; class = ((1+0)/2 + 1/4)/2 = 3/8
	if !near(m.Instance(), 5.0/12) || !near(m.Class(), 3.0/8) {
		t.Errorf("instance %v class %v", m.Instance(), m.Class())
	}
	if pc := m.PerCategory(); !near(pc[0], 0.5) || !near(pc[1], 0.25) {
		t.Errorf("per category %v", pc)
	}
	// A category without shapes is left out of the class mean.
	m2 := NewMIoU([][]int{{0, 1}, {2, 3}})
	m2.Add(1, []int32{2, 3}, []int32{2, 3})
	if m2.Class() != 1 || !math.IsNaN(m2.PerCategory()[0]) {
		t.Errorf("class %v per %v", m2.Class(), m2.PerCategory())
	}
	if !math.IsNaN(NewMIoU(nil).Instance()) {
		t.Error("empty instance not NaN")
	}
	if _, err := m.Add(5, nil, nil); err == nil {
		t.Error("bad category accepted")
	}
}

func TestScoreMIoU(t *testing.T) {
	dir := t.TempDir()
	gt := filepath.Join(dir, "gt.txt")
	pred := filepath.Join(dir, "pred.txt")
	// Airplane parts 0-3, Bag 4-5. Airplane: gt 0 0 1 1, pred 0 1 1 1:
	// parts 0: 1/2, 1: 2/3, 2 and 3 absent: 1, 1 -> (1/2+2/3+2)/4 = 19/24.
	// Bag (index 1): perfect -> 1. instance = (19/24+1)/2 = 43/48 = 89.58%,
	// class = the same with one shape per category.
	os.WriteFile(gt, []byte("# shapes\nAirplane 0 0 1 1\n1 4 5\n"), 0o644)
	os.WriteFile(pred, []byte("airplane 0 1 1 1\nBag 4 5\n"), 0o644)
	var out bytes.Buffer
	if err := ScoreMIoU([]string{"-gt", gt, "-pred", pred}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "shapes = 2 instance mIoU = 89.58 class mIoU = 89.58\n") ||
		!strings.Contains(out.String(), "Airplane      79.17 (1 shapes)") {
		t.Errorf("output:\n%s", out.String())
	}
	os.WriteFile(pred, []byte("airplane 0 1 1\nBag 4 5\n"), 0o644)
	if err := ScoreMIoU([]string{"-gt", gt, "-pred", pred}, &out); err == nil || !strings.Contains(err.Error(), "pred.txt:1") {
		t.Errorf("length mismatch: %v", err)
	}
	os.WriteFile(pred, []byte("Plane 0 1 1 1\n"), 0o644)
	if err := ScoreMIoU([]string{"-gt", gt, "-pred", pred}, &out); err == nil || !strings.Contains(err.Error(), "pred.txt:1: category \"Plane\"") {
		t.Errorf("bad category: %v", err)
	}
	os.WriteFile(gt, []byte("mug 5 6\n"), 0o644)
	os.WriteFile(pred, []byte("mug 5 5\n"), 0o644)
	out.Reset()
	if err := ScoreMIoU([]string{"-gt", gt, "-pred", pred, "-set", "parts"}, &out); err != nil || !strings.Contains(out.String(), "instance mIoU = 25.00") {
		t.Errorf("parts set: %v %s", err, out.String())
	}
}

// TestScoreMIoUChecksGroundTruth: ground-truth labels outside the shape's
// category (another category's part, out of range, negative) and shapes
// without points are refused with the file and line, not scored.
func TestScoreMIoUChecksGroundTruth(t *testing.T) {
	dir := t.TempDir()
	gt := filepath.Join(dir, "gt.txt")
	pred := filepath.Join(dir, "pred.txt")
	for _, c := range []struct{ gt, pred, want string }{
		{"Airplane 0 0 99\n", "Airplane 0 0 1\n", "gt.txt:1: miou: shape iou: ground-truth label 99 of point 3 is not one of the category's parts [0 1 2 3]"},
		{"Airplane 0 -1 1\n", "Airplane 0 0 1\n", "gt.txt:1: miou: shape iou: ground-truth label -1 of point 2"},
		{"Bag 4 4\nAirplane 0 4\n", "Bag 4 4\nAirplane 0 0\n", "gt.txt:2: miou: shape iou: ground-truth label 4 of point 2"},
		{"Airplane\n", "Airplane\n", "gt.txt:1: miou: shape iou: shape has no points"},
	} {
		os.WriteFile(gt, []byte(c.gt), 0o644)
		os.WriteFile(pred, []byte(c.pred), 0o644)
		var out bytes.Buffer
		err := ScoreMIoU([]string{"-gt", gt, "-pred", pred}, &out)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("gt %q: %v (output %q), want %q", c.gt, err, out.String(), c.want)
		}
	}
	if _, err := ShapeIoU(nil, nil, []int{0, 1}); err == nil {
		t.Error("shape with no points scored")
	}
}

func FuzzParseLabelLines(f *testing.F) {
	f.Add("Airplane 0 1 2\n# c\n3 1 1\n")
	f.Add("x\n")
	names := []string{"Airplane", "Bag", "Cap", "Car"}
	f.Fuzz(func(t *testing.T, s string) {
		ls, err := parseLabelLines(strings.NewReader(s), "fuzz", names)
		if err != nil {
			return
		}
		catParts := [][]int{{0, 1}, {2, 3}, {4}, {5, 6, 7}}
		m := NewMIoU(catParts)
		for _, l := range ls {
			_, err := m.Add(l.cat, l.labels, l.labels)
			valid := len(l.labels) > 0
			for _, v := range l.labels {
				ok := false
				for _, p := range catParts[l.cat] {
					ok = ok || int(v) == p
				}
				valid = valid && ok
			}
			if valid != (err == nil) {
				t.Fatalf("labels %v of category %d: error %v", l.labels, l.cat, err)
			}
		}
	})
}
