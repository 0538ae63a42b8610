package pointcloud

import (
	"fmt"
	"math"
)

// ShapeIoU is the part IoU of one shape as PointNet++ computes it. A shape
// without points, or a ground-truth label that is not one of parts, is an
// error. For each
// part label in parts (the parts of the shape's category), IoU =
// |pred∩gt| / |pred∪gt|, where a part absent from both prediction and
// ground truth counts as 1; the result is the mean over parts. Predicted
// labels outside parts count as wrong for the ground-truth part but are
// not scored themselves: restricting predictions to the category's parts
// (argmax over those logits only, as PointNet++ evaluates) is the caller's
// choice.
func ShapeIoU(pred, gt []int32, parts []int) (float64, error) {
	if len(pred) != len(gt) {
		return 0, fmt.Errorf("shape iou: %d predicted labels, %d ground-truth labels", len(pred), len(gt))
	}
	if len(parts) == 0 {
		return 0, fmt.Errorf("shape iou: category has no parts")
	}
	if len(gt) == 0 {
		return 0, fmt.Errorf("shape iou: shape has no points")
	}
	in := make(map[int]bool, len(parts))
	for _, p := range parts {
		in[p] = true
	}
	for i, g := range gt {
		if !in[int(g)] {
			return 0, fmt.Errorf("shape iou: ground-truth label %d of point %d is not one of the category's parts %v", g, i+1, parts)
		}
	}
	sum := 0.0
	for _, p := range parts {
		inter, union := 0, 0
		for i := range gt {
			a, b := int(pred[i]) == p, int(gt[i]) == p
			if a && b {
				inter++
			}
			if a || b {
				union++
			}
		}
		if union == 0 {
			sum++
		} else {
			sum += float64(inter) / float64(union)
		}
	}
	return sum / float64(len(parts)), nil
}

// MIoU accumulates part-segmentation IoU over shapes. Instance mIoU is the
// mean shape IoU over all shapes; class mIoU is the mean, over categories
// with at least one shape, of the mean shape IoU of that category.
type MIoU struct {
	catParts [][]int
	sum      []float64
	count    []int
}

// NewMIoU returns an accumulator for categories whose part labels are
// catParts[cat].
func NewMIoU(catParts [][]int) *MIoU {
	return &MIoU{catParts: catParts, sum: make([]float64, len(catParts)), count: make([]int, len(catParts))}
}

// Add scores one shape of category cat and returns its shape IoU.
func (m *MIoU) Add(cat int, pred, gt []int32) (float64, error) {
	if cat < 0 || cat >= len(m.catParts) {
		return 0, fmt.Errorf("miou: category %d out of range [0,%d)", cat, len(m.catParts))
	}
	iou, err := ShapeIoU(pred, gt, m.catParts[cat])
	if err != nil {
		return 0, fmt.Errorf("miou: %w", err)
	}
	m.sum[cat] += iou
	m.count[cat]++
	return iou, nil
}

// Shapes is the number of shapes added.
func (m *MIoU) Shapes() int {
	n := 0
	for _, c := range m.count {
		n += c
	}
	return n
}

// Instance is the instance mIoU (NaN before any shape).
func (m *MIoU) Instance() float64 {
	s, n := 0.0, 0
	for c := range m.sum {
		s += m.sum[c]
		n += m.count[c]
	}
	if n == 0 {
		return math.NaN()
	}
	return s / float64(n)
}

// PerCategory returns the mean shape IoU of each category (NaN where a
// category has no shape).
func (m *MIoU) PerCategory() []float64 {
	out := make([]float64, len(m.sum))
	for c := range out {
		out[c] = math.NaN()
		if m.count[c] > 0 {
			out[c] = m.sum[c] / float64(m.count[c])
		}
	}
	return out
}

// Class is the class mIoU over categories with shapes (NaN before any shape).
func (m *MIoU) Class() float64 {
	s, n := 0.0, 0
	for _, v := range m.PerCategory() {
		if !math.IsNaN(v) {
			s += v
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return s / float64(n)
}
