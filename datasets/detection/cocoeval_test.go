package detection

import (
	"math"
	"strings"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func ann(id, img, cat int64, x, y, w, h float64) Annotation {
	b := Box{x, y, w, h}
	return Annotation{ID: id, ImageID: img, CategoryID: cat, BBox: b, Area: b.Area()}
}

func det(img, cat int64, x, y, w, h, s float64) Detection {
	return Detection{ImageID: img, CategoryID: cat, BBox: Box{x, y, w, h}, Score: s}
}

func ds(cats int, imgs int, anns ...Annotation) *Dataset {
	d := &Dataset{Annotations: anns}
	for i := 1; i <= imgs; i++ {
		d.Images = append(d.Images, ImageInfo{ID: int64(i)})
	}
	for c := 1; c <= cats; c++ {
		d.Categories = append(d.Categories, Category{ID: int64(c), Name: string(rune('a' + c - 1))})
	}
	return d
}

func eval(t *testing.T, gt *Dataset, dets []Detection) [12]float64 {
	t.Helper()
	r, err := EvaluateCOCO(gt, dets, DefaultCOCOParams())
	if err != nil {
		t.Fatal(err)
	}
	return r.Stats
}

func checkStats(t *testing.T, got [12]float64, want [12]float64) {
	t.Helper()
	names := []string{"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"}
	for i := range got {
		if !near(got[i], want[i]) {
			t.Errorf("%s = %.6f, want %.6f", names[i], got[i], want[i])
		}
	}
}

// Perfect detections: every gt found exactly with no false positive, so
// precision is 1 at every recall point and recall is 1. gt areas 100
// (small) and 2000 (medium); no large gt, so APl and ARl are -1.
func TestCOCOPerfect(t *testing.T) {
	gt := ds(2, 2, ann(1, 1, 1, 0, 0, 10, 10), ann(2, 2, 2, 10, 10, 40, 50), ann(3, 2, 1, 50, 50, 10, 10))
	dets := []Detection{det(1, 1, 0, 0, 10, 10, .9), det(2, 2, 10, 10, 40, 50, .8), det(2, 1, 50, 50, 10, 10, .3)}
	checkStats(t, eval(t, gt, dets), [12]float64{1, 1, 1, 1, 1, -1, 1, 1, 1, 1, 1, -1})
}

// One image, one class, gts A and B, detections in score order A (TP),
// FP, B (TP): cumulative recall .5 .5 1, precision 1 .5 2/3, envelope
// 1 2/3 2/3. Recall points 0.00..0.50 (51 of them; 50*0.01 == 0.5 in
// float64) reach index 0 (precision 1), 0.51..1.00 (50) reach index 2
// (2/3): AP = (51 + 50*2/3)/101 at every IoU threshold. AR1 keeps only
// the top detection per image: recall 1/2.
func TestCOCOFalsePositiveInMiddle(t *testing.T) {
	gt := ds(1, 1, ann(1, 1, 1, 0, 0, 10, 10), ann(2, 1, 1, 100, 100, 10, 10))
	dets := []Detection{det(1, 1, 0, 0, 10, 10, .9), det(1, 1, 300, 300, 10, 10, .8), det(1, 1, 100, 100, 10, 10, .7)}
	ap := (51 + 50*2.0/3) / 101
	checkStats(t, eval(t, gt, dets), [12]float64{ap, ap, ap, ap, -1, -1, .5, 1, 1, 1, -1, -1})
}

// A false positive at the top score: precision 0 .5 2/3 at recall
// 0 .5 1; the envelope is 2/3 everywhere, so AP = 2/3.
func TestCOCOTopFalsePositive(t *testing.T) {
	gt := ds(1, 1, ann(1, 1, 1, 0, 0, 10, 10), ann(2, 1, 1, 100, 100, 10, 10))
	dets := []Detection{det(1, 1, 300, 300, 10, 10, .95), det(1, 1, 0, 0, 10, 10, .9), det(1, 1, 100, 100, 10, 10, .7)}
	st := eval(t, gt, dets)
	if !near(st[0], 2.0/3) || !near(st[6], 0) || !near(st[7], 1) {
		t.Errorf("AP %v AR1 %v AR10 %v, want 2/3, 0, 1", st[0], st[6], st[7])
	}
}

// No detections: every category with gt has precision 0 and recall 0.
// A category without gt (c) is skipped: it does not pull the means to -1.
func TestCOCONoDetectionsAndAbsentClass(t *testing.T) {
	gt := ds(3, 1, ann(1, 1, 1, 0, 0, 10, 10), ann(2, 1, 2, 0, 0, 10, 10))
	checkStats(t, eval(t, gt, nil), [12]float64{0, 0, 0, 0, -1, -1, 0, 0, 0, 0, -1, -1})
	// Perfect detections plus false positives of the gt-less class 3:
	// class 3 has npig = 0 and is skipped, so AP stays 1.
	dets := []Detection{det(1, 1, 0, 0, 10, 10, .5), det(1, 2, 0, 0, 10, 10, .5), det(1, 3, 0, 0, 10, 10, .99), det(1, 3, 50, 50, 10, 10, .98)}
	checkStats(t, eval(t, gt, dets), [12]float64{1, 1, 1, 1, -1, -1, 1, 1, 1, 1, -1, -1})
}

// Crowd: gt G [200,200,50,50] and crowd C [0,0,100,100]. D3 (score .95)
// at [90,90,20,20] overlaps C by 100 of its 400: crowd IoU .25 -> FP.
// D1 (.9) and D4 (.85) lie inside C: crowd IoU = inter/area(d) = 1, so
// both match C (a crowd may be matched many times) and are ignored (with
// the ordinary union, 400/10000 = .04, they would be FPs). D2 (.8)
// matches G. Counted sequence FP, TP with npig = 1: precision 0 .5,
// recall 0 1 -> envelope .5 -> AP .5 (it would be 1/4 with D1, D4 as FP).
func TestCOCOCrowd(t *testing.T) {
	c := ann(2, 1, 1, 0, 0, 100, 100)
	c.IsCrowd = true
	gt := ds(1, 1, ann(1, 1, 1, 200, 200, 50, 50), c)
	dets := []Detection{det(1, 1, 90, 90, 20, 20, .95), det(1, 1, 10, 10, 20, 20, .9), det(1, 1, 40, 40, 20, 20, .85), det(1, 1, 200, 200, 50, 50, .8)}
	st := eval(t, gt, dets)
	if !near(st[0], .5) || !near(st[8], 1) {
		t.Errorf("AP %v AR100 %v, want .5 and 1", st[0], st[8])
	}
	if got := boxIoU(Box{90, 90, 20, 20}, Box{0, 0, 100, 100}, true); !near(got, .25) {
		t.Errorf("crowd IoU %v, want .25", got)
	}
}

// Area ranges: S (area 100, small) and L (area 10000, large), an
// unmatched 5x5 FP (area 25) at the top score. all: FP, TP, TP -> 2/3.
// small: L and its detection are ignored; FP, TP -> .5. medium: no gt
// in range -> -1. large: S's detection matches an ignored gt, the small
// FP is unmatched and outside the range -> both ignored; TP -> 1. AR1
// sees only the top detection, the FP: 0.
func TestCOCOAreaRanges(t *testing.T) {
	gt := ds(1, 1, ann(1, 1, 1, 0, 0, 10, 10), ann(2, 1, 1, 200, 200, 100, 100))
	dets := []Detection{det(1, 1, 500, 500, 5, 5, .95), det(1, 1, 0, 0, 10, 10, .9), det(1, 1, 200, 200, 100, 100, .8)}
	checkStats(t, eval(t, gt, dets), [12]float64{2.0 / 3, 2.0 / 3, 2.0 / 3, .5, -1, 1, 0, 1, 1, 1, -1, 1})
}

// The area range uses the annotation's area field, not the box: a box
// of 10x10 declared with area 5000 is medium.
func TestCOCOAreaField(t *testing.T) {
	a := ann(1, 1, 1, 0, 0, 10, 10)
	a.Area = 5000
	st := eval(t, ds(1, 1, a), []Detection{det(1, 1, 0, 0, 10, 10, .9)})
	if st[3] != -1 || !near(st[4], 1) {
		t.Errorf("APs %v APm %v, want -1 and 1", st[3], st[4])
	}
}

// IoU thresholds: a detection [0,0,10,20] on gt [0,0,10,10] has IoU
// exactly .5: a match at .50 only. AP50 = 1, AP75 = 0, AP = 1/10.
func TestCOCOIoUThresholds(t *testing.T) {
	st := eval(t, ds(1, 1, ann(1, 1, 1, 0, 0, 10, 10)), []Detection{det(1, 1, 0, 0, 10, 20, .9)})
	checkStats(t, st, [12]float64{.1, 1, 0, .1, -1, -1, .1, .1, .1, .1, -1, -1})
}

// maxDets: 12 gts in one image, 12 exact detections: AR1 = 1/12,
// AR10 = 10/12, AR100 = 1.
func TestCOCOMaxDets(t *testing.T) {
	var anns []Annotation
	var dets []Detection
	for i := 0; i < 12; i++ {
		x := float64(20 * i)
		anns = append(anns, ann(int64(i+1), 1, 1, x, 0, 10, 10))
		dets = append(dets, det(1, 1, x, 0, 10, 10, 1-float64(i)/100))
	}
	st := eval(t, ds(1, 1, anns...), dets)
	if !near(st[6], 1.0/12) || !near(st[7], 10.0/12) || !near(st[8], 1) {
		t.Errorf("AR1 %v AR10 %v AR100 %v", st[6], st[7], st[8])
	}
}

func TestCOCOLinspace(t *testing.T) {
	p := DefaultCOCOParams()
	if len(p.IoUThrs) != 10 || p.IoUThrs[0] != .5 || p.IoUThrs[9] != .95 || !near(p.IoUThrs[5], .75) {
		t.Errorf("IoU thresholds %v", p.IoUThrs)
	}
	if len(p.RecThrs) != 101 || p.RecThrs[50] != .5 || p.RecThrs[100] != 1 {
		t.Errorf("recall thresholds")
	}
}

func TestCOCOSummaryFormat(t *testing.T) {
	r, _ := EvaluateCOCO(ds(1, 1, ann(1, 1, 1, 0, 0, 10, 10)), []Detection{det(1, 1, 0, 0, 10, 10, .9)}, DefaultCOCOParams())
	lines := r.Summary()
	want := []string{
		" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 1.000",
		" Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 1.000",
		" Average Precision  (AP) @[ IoU=0.75      | area=   all | maxDets=100 ] = 1.000",
		" Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | maxDets=100 ] = 1.000",
		" Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ] = -1.000",
		" Average Precision  (AP) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = -1.000",
		" Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = 1.000",
		" Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets= 10 ] = 1.000",
		" Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 1.000",
		" Average Recall     (AR) @[ IoU=0.50:0.95 | area= small | maxDets=100 ] = 1.000",
		" Average Recall     (AR) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ] = -1.000",
		" Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = -1.000",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("summary:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// An external reference: faster_coco_eval's torchmetrics test (which
// matches pycocotools) scores prediction [258,41,606,285] (xyxy) against
// gt [214,41,562,285]: IoU 304/392 = .776, a match at the six thresholds
// .50...75; area 348*244 is large. AP .6, AP50 1, AP75 1, APs/APm -1,
// APl .6, every AR .6 (-1 for small and medium).
func TestCOCOExternalReference(t *testing.T) {
	gt := ds(1, 1, ann(1, 1, 1, 214, 41, 562-214, 285-41))
	st := eval(t, gt, []Detection{det(1, 1, 258, 41, 606-258, 285-41, .536)})
	checkStats(t, st, [12]float64{.6, 1, 1, -1, -1, .6, .6, .6, .6, -1, -1, .6})
}
