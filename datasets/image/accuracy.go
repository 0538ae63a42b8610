package imagedata

import (
	"fmt"
	"math"
)

// TopKCorrect counts the examples whose label is among the k highest
// logits. logits is [n, classes] row-major with n = len(labels).
//
// Ties are broken deterministically by class index: class j ranks above
// class i if logit j > logit i, or if they are equal and j < i (the
// order of a stable descending sort). NaN ranks below every number. So
// the label is correct iff fewer than k classes rank above it.
func TopKCorrect(logits []float32, labels []int32, classes, k int) (int, error) {
	if classes <= 0 || len(logits) != len(labels)*classes {
		return 0, fmt.Errorf("imagedata: top-%d: %d logits for %d labels of %d classes", k, len(logits), len(labels), classes)
	}
	correct := 0
	for i, l := range labels {
		if l < 0 || int(l) >= classes {
			return 0, fmt.Errorf("imagedata: top-%d: label %d of example %d out of range [0,%d)", k, l, i, classes)
		}
		row := logits[i*classes : (i+1)*classes]
		v := row[l]
		above := 0
		for j, u := range row {
			if j == int(l) {
				continue
			}
			if ranksAbove(u, v, j < int(l)) {
				above++
				if above >= k {
					break
				}
			}
		}
		if above < k {
			correct++
		}
	}
	return correct, nil
}

func ranksAbove(u, v float32, lowerIndex bool) bool {
	un, vn := math.IsNaN(float64(u)), math.IsNaN(float64(v))
	switch {
	case un && vn:
		return lowerIndex
	case un:
		return false
	case vn:
		return true
	}
	return u > v || (u == v && lowerIndex)
}

// Accuracy returns the top-1 and top-5 accuracy (fractions in [0,1]) of
// logits [n, classes] against labels; with fewer than 5 classes top-5 is
// 1. With n = 0 both are 0.
func Accuracy(logits []float32, labels []int32, classes int) (top1, top5 float64, err error) {
	c1, err := TopKCorrect(logits, labels, classes, 1)
	if err != nil {
		return 0, 0, err
	}
	c5, err := TopKCorrect(logits, labels, classes, 5)
	if err != nil {
		return 0, 0, err
	}
	if len(labels) == 0 {
		return 0, 0, nil
	}
	n := float64(len(labels))
	return float64(c1) / n, float64(c5) / n, nil
}
