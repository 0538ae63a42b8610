package imagedata

import (
	"math"
	"testing"
)

func TestTopK(t *testing.T) {
	logits := []float32{
		0.1, 0.9, 0.0, 0.0, 0.0, 0.0, // label 1: top-1
		0.5, 0.4, 0.3, 0.2, 0.1, 0.0, // label 5: rank 6 -> wrong at top-5
		0.5, 0.4, 0.3, 0.2, 0.1, 0.0, // label 4: rank 5 -> top-5 only
		1, 1, 1, 1, 1, 1, // all tied, label 0: ranks first (lowest index)
		1, 1, 1, 1, 1, 1, // all tied, label 5: five lower indices above -> wrong at top-5
		float32(math.NaN()), 0, 0, 0, 0, 0, // NaN ranks last: label 1 ranks first among ties
	}
	labels := []int32{1, 5, 4, 0, 5, 1}
	c1, err := TopKCorrect(logits, labels, 6, 1)
	if err != nil || c1 != 3 {
		t.Errorf("top-1 %d %v, want 3 (examples 0, 3, 5)", c1, err)
	}
	c5, _ := TopKCorrect(logits, labels, 6, 5)
	if c5 != 4 {
		t.Errorf("top-5 %d, want 4 (examples 0, 2, 3, 5)", c5)
	}
	a1, a5, _ := Accuracy(logits, labels, 6)
	if a1 != 0.5 || math.Abs(a5-4.0/6) > 1e-12 {
		t.Errorf("accuracy %v %v", a1, a5)
	}
	if _, err := TopKCorrect(logits, []int32{6, 0, 0, 0, 0, 0}, 6, 1); err == nil {
		t.Error("label out of range accepted")
	}
	if _, err := TopKCorrect(logits[:5], labels, 6, 1); err == nil {
		t.Error("short logits accepted")
	}
}
