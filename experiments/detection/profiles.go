package detection

import (
	"github.com/gap-harness/gap/datasets/cocoimg"
	"github.com/gap-harness/gap/models/ssd"
)

// SSDAugment is the full profile's training augmentation: SSD's zoom-out
// (up to 4x), IoU-constrained random crop and horizontal flip
// (cocoimg.Augment). Colour jitter is not applied.
var SSDAugment = cocoimg.Augment{Expand: true, MaxExpand: 4, Crop: true, Flip: true}

// Profile is one proposed profile of the `coco` table, in this package's
// own terms (the lead turns it into an experiments.Table).
type Profile struct {
	// Name is smoke, default, long or full.
	Name string
	// Proxy says what the profile stands in for ("" for full).
	Proxy string
	// Spec is the task (model, data sizes, batch, augmentation).
	Spec Spec
	// Epochs is the dense budget; LR, Momentum, WeightDecay and WarmupEpochs
	// the SGD recipe (cosine decay after a linear warm-up on the proxy; the
	// NVIDIA recipe's multi-step decay at full).
	Epochs                    int
	LR, Momentum, WeightDecay float64
	WarmupEpochs              int
	// Data names the data set ("mnist-detect" or "coco2017").
	Data string
}

// Rows are the coco table's rows: each method at 80% and 90% sparsity,
// uniform and non-uniform (ERK), besides dense.
var Rows = []string{"dense", "gmp", "rigl", "set", "static", "prune-from-pretrained", "c-gap", "p-gap"}

// Sparsities of the table.
var Sparsities = []float64{0.8, 0.9}

// Profiles proposes the coco table's profiles. The default (1500
// canvases, 4 epochs of batch 16: 375 steps for the dense row) is sized
// for the whole 37-row table of one seed to train in about 30 minutes on
// the 2-core machine (experiments.COCO has the estimate); its dense row
// reaches mAP 0.211 (PyTorch after the same training 0.210,
// TestParitySSDDenseMAP); 4000 canvases x
// 8 epochs of 32 (1000 steps) reached dense mAP 0.459, AP50 0.723
// (TestDenseDefaultProfile, -tags long) but the table at that size takes
// about 5x as long.
// The proxy profiles shift by up to 4 px but do not flip: a mirrored digit
// is another glyph (Spec.Flip exists for data where flips are natural).
func Profiles() []Profile {
	proxy := "mnist-detect 64x64 SSD proxy (stands in for SSD300-ResNet50 on COCO 2017)"
	p := func(name string, train, val, batch, epochs int) Profile {
		return Profile{Name: name, Proxy: proxy, Data: "mnist-detect",
			Spec:   Spec{Model: ssd.Proxy(), Kappa: ssd.Kappa, TrainImages: train, ValImages: val, Batch: batch, EvalBatch: 64, Shift: 4},
			Epochs: epochs, LR: 0.02, Momentum: 0.9, WeightDecay: 5e-4, WarmupEpochs: min(1, epochs/4)}
	}
	full := Profile{Name: "full", Data: "coco2017",
		Spec: Spec{Model: ssd.Full(), Kappa: ssd.Kappa, Batch: 32, EvalBatch: 32, Augment: SSDAugment},
		// NVIDIA SSD300 v1.1: SGD lr 2.6e-3 x (batch/32), momentum 0.9,
		// wd 5e-4, warm-up, decay at epochs 43 and 54 of 65.
		Epochs: 65, LR: 2.6e-3, Momentum: 0.9, WeightDecay: 5e-4, WarmupEpochs: 1}
	return []Profile{
		p("smoke", 128, 64, 16, 1),
		p("default", 1500, 300, 16, 4),
		p("long", 20000, 2000, 32, 40),
		full,
	}
}
