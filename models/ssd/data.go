package ssd

import (
	"fmt"

	"github.com/gap-harness/gap/datasets/detection"
	"github.com/gap-harness/gap/engine"
)

// DigitLabel maps an mnist-detect category id (digit 0..9) to the model's
// label 1..10 (0 is the background).
func DigitLabel(cat int64) int32 { return int32(cat) + 1 }

// DigitCategory inverts DigitLabel.
func DigitCategory(label int) int64 { return int64(label - 1) }

// MNISTBatch returns canvases idx of d as a [len(idx), 1, S, S] tensor
// (normalised as MNIST) and their truths in relative coordinates.
func MNISTBatch(d *detection.MNISTDetect, idx []int) (*engine.Tensor[float32], [][]Truth, error) {
	x := engine.NewTensor[float32](len(idx), 1, d.Size, d.Size)
	anns, err := d.Batch(idx, x.Data())
	if err != nil {
		return nil, nil, fmt.Errorf("ssd: %w", err)
	}
	truths := make([][]Truth, len(idx))
	for i, a := range anns {
		truths[i], _ = TruthsOf(a, d.Size, d.Size, DigitLabel)
	}
	return x, truths, nil
}
