package detection

import (
	"math"
	"testing"
)

// Perfect detections give AP 1 for both interpolations.
func TestVOCPerfect(t *testing.T) {
	gt := ds(2, 2, ann(1, 1, 1, 0, 0, 10, 10), ann(2, 2, 2, 10, 10, 40, 50))
	dets := []Detection{det(1, 1, 0, 0, 10, 10, .9), det(2, 2, 10, 10, 40, 50, .8)}
	for _, u := range []bool{false, true} {
		r := EvaluateVOC(gt, dets, VOCOptions{Use07: u})
		if !near(r.MAP, 1) || !near(r.AP[0], 1) || !near(r.AP[1], 1) {
			t.Errorf("use07=%v: %+v", u, r)
		}
	}
}

// Sequence TP, FP, TP over 2 gts: recall .5 .5 1, precision 1 .5 2/3.
// All-point: envelope 1 on (0,.5], 2/3 on (.5,1] -> .5 + .5*2/3 = 5/6.
// 11-point: thresholds 0..0.5 (6) see max precision 1, 0.6..1 (5) see
// 2/3 -> (6 + 5*2/3)/11 = 28/33.
func TestVOCFalsePositive(t *testing.T) {
	gt := ds(1, 1, ann(1, 1, 1, 0, 0, 10, 10), ann(2, 1, 1, 100, 100, 10, 10))
	dets := []Detection{det(1, 1, 0, 0, 10, 10, .9), det(1, 1, 300, 300, 10, 10, .8), det(1, 1, 100, 100, 10, 10, .7)}
	if r := EvaluateVOC(gt, dets, VOCOptions{}); !near(r.MAP, 5.0/6) {
		t.Errorf("all-point %v, want 5/6", r.MAP)
	}
	if r := EvaluateVOC(gt, dets, VOCOptions{Use07: true}); !near(r.MAP, 28.0/33) {
		t.Errorf("11-point %v, want 28/33", r.MAP)
	}
}

// No detections: AP 0. A class without gt is NaN and left out of the
// mean. A detection on a difficult object is neither TP nor FP, and the
// difficult object is not counted in recall. A duplicate detection of
// the same object is a FP. IoU must exceed 0.5: exactly 0.5 is a FP.
func TestVOCRules(t *testing.T) {
	gt := ds(3, 1, ann(1, 1, 1, 0, 0, 10, 10), ann(2, 1, 2, 0, 0, 10, 10))
	r := EvaluateVOC(gt, nil, VOCOptions{})
	if r.AP[0] != 0 || r.AP[1] != 0 || !math.IsNaN(r.AP[2]) || r.MAP != 0 {
		t.Errorf("no detections: %+v", r)
	}
	d := ann(3, 1, 1, 50, 50, 10, 10)
	d.Difficult = true
	gt = ds(1, 1, ann(1, 1, 1, 0, 0, 10, 10), d)
	// difficult hit (ignored), TP, duplicate (FP): precision 1 then 1/2 at
	// recall 1 -> AP 1.
	dets := []Detection{det(1, 1, 50, 50, 10, 10, .99), det(1, 1, 0, 0, 10, 10, .9), det(1, 1, 0, 0, 10, 10, .8)}
	if r := EvaluateVOC(gt, dets, VOCOptions{}); !near(r.MAP, 1) || r.NumGT[0] != 1 {
		t.Errorf("difficult: %+v", r)
	}
	// A FP first via IoU exactly 0.5 (box [0,0,10,20] on [0,0,10,10]).
	dets = []Detection{det(1, 1, 0, 0, 10, 20, .99), det(1, 1, 0, 0, 10, 10, .9)}
	// FP, TP: precision 0, .5 at recall 0, 1 -> all-point AP .5.
	if r := EvaluateVOC(gt, dets, VOCOptions{}); !near(r.MAP, .5) {
		t.Errorf("IoU 0.5 boundary: %v, want .5", r.MAP)
	}
}

// The devkit's +1 convention: boxes [0,0,9,9] (inclusive 10x10 pixels)
// and [5,0,9,9] (W=H=9 here) overlap 5 of 10 columns: IoU 50/150 = 1/3
// with +1; as continuous boxes [0,9]x[0,9] and [5,14]x[0,9] they overlap
// 4x9 = 36 of 81+81-36 = 126.
func TestVOCPixelInclusive(t *testing.T) {
	a, b := Box{0, 0, 9, 9}, Box{5, 0, 9, 9}
	if got := vocIoU(a, b, true); !near(got, 1.0/3) {
		t.Errorf("+1 IoU %v", got)
	}
	if got := vocIoU(a, b, false); !near(got, 36.0/126) {
		t.Errorf("continuous IoU %v, want %v", got, 36.0/126)
	}
}
