package detection

import (
	"github.com/gap-harness/gap/datasets/cocoimg"
	"github.com/gap-harness/gap/models/ssd"
)

// SSDAugment is the full profile's training augmentation: SSD's zoom-out
// (up to 4x), IoU-constrained random crop and horizontal flip
// (cocoimg.Augment), then NVIDIA SSD300's colour jitter on the resized
// sample (NVIDIAJitter).
var SSDAugment = cocoimg.Augment{Expand: true, MaxExpand: 4, Crop: true, Flip: true, Jitter: NVIDIAJitter}

// NVIDIAJitter is NVIDIA SSD300 v1.1's photometric augmentation,
// torchvision's ColorJitter(brightness=0.125, contrast=0.5, saturation=0.5,
// hue=0.05): factors uniform in [0.875, 1.125], [0.5, 1.5], [0.5, 1.5] and a
// hue shift uniform in [-0.05, 0.05] of a turn, applied in a random order
// per image (cocoimg.Jitter).
var NVIDIAJitter = cocoimg.Jitter{Brightness: 0.125, Contrast: 0.5, Saturation: 0.5, Hue: 0.05}

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
	// (or WarmupSteps) the SGD recipe: cosine decay after a linear warm-up on
	// the proxy; at full, NVIDIA's multi-step decay, the rate times
	// DecayGamma at each epoch of DecayAt.
	Epochs                    int
	LR, Momentum, WeightDecay float64
	WarmupEpochs, WarmupSteps int
	DecayAt                   []int
	DecayGamma                float64
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
		// NVIDIA SSD300 v1.1 (DeepLearningExamples PyTorch/Detection/SSD,
		// main.py and examples/SSD300_FP32_1GPU.sh): SGD lr 2.6e-3 x
		// (batch/32), momentum 0.9, wd 5e-4, a linear warm-up from 0 over
		// 300 iterations (--warmup 300), x0.1 at epochs 43 and 54 of 65
		// (--multistep 43 54). Batch 32 is their one-GPU run, so nothing is
		// rescaled; a profile of E epochs would put the milestones at
		// round(43E/65) and round(54E/65) (the runner stretches them over
		// longer runs the same way: experiments.OptimSpec.StepAt).
		Epochs: 65, LR: 2.6e-3, Momentum: 0.9, WeightDecay: 5e-4, WarmupSteps: 300,
		DecayAt: []int{43, 54}, DecayGamma: 0.1}
	return []Profile{
		p("smoke", 128, 64, 16, 1),
		p("default", 1500, 300, 16, 4),
		p("long", 20000, 2000, 32, 40),
		full,
	}
}
