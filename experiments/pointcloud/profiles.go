package pointcloud

import (
	"fmt"
	"math"

	"github.com/gap-harness/gap/models/pointnet2"
)

// Optim is the PointNet++ recipe's optimiser: Adam (betas 0.9, 0.999, eps
// 1e-8) with L2 weight decay, the learning rate multiplied by Decay every
// StepEpochs epochs, never below MinLR.
type Optim struct {
	LR, WeightDecay, Decay, MinLR float64
	StepEpochs                    int
}

// LRAt is the learning rate of an epoch: max(LR * Decay^(epoch/StepEpochs), MinLR).
func (o Optim) LRAt(epoch int) float64 {
	return math.Max(o.LR*math.Pow(o.Decay, float64(epoch/o.StepEpochs)), o.MinLR)
}

// Profile is one proposed size of the shapenet table: the task, the
// dense training budget and the optimiser. Proxy profiles must be labelled
// as such in every output.
type Profile struct {
	Name string
	// Proxy is true when the data or model is a stand-in for ShapeNet part
	// and the full network.
	Proxy bool
	// Task is the model and data configuration.
	Task Config
	// Epochs is the dense training budget (the GaP rows spend theirs as the
	// runner's schedule says).
	Epochs int
	Optim  Optim
	// Note says what the profile is for.
	Note string
}

// recipe is PointNet++'s part-segmentation recipe (the common PyTorch
// implementation): Adam lr 1e-3, weight decay 1e-4, lr x0.5 every 20
// epochs down to 1e-5; batch-norm momentum 0.1 halved every 20 epochs
// down to 0.01 (Config.BNMomentum).
var recipe = Optim{LR: 1e-3, WeightDecay: 1e-4, Decay: 0.5, MinLR: 1e-5, StepEpochs: 20}

// Profiles proposes the shapenet table's profiles: smoke (<= 60 s),
// default (the "parts" data, a narrow PointNet++ on 512 points; a proxy),
// long (a wider proxy with more points) and full (ShapeNet part from the
// data path, 2,048 points, the full network, 250 epochs as PointNet++).
func Profiles() []Profile {
	proxy := func(points, n1, n2, k1, k2 int, width float64) pointnet2.Config {
		return pointnet2.Config{Width: width, NPoint1: n1, NPoint2: n2, K1: k1, K2: k2, Normals: true}
	}
	return []Profile{
		{Name: "smoke", Proxy: true, Epochs: 2, Optim: recipe,
			Task: Config{Data: "parts", NumPoints: 256, TrainShapes: 96, TestShapes: 48, Batch: 8, Augment: true,
				Model: proxy(256, 64, 16, 16, 32, 0.125)},
			Note: "plumbing check on synthetic parts: 256 points, PointNet++ at width 1/8, 96 shapes (smoke test, not a result)"},
		// default is sized so that the whole shapenet table (37 rows, about
		// 212 epochs of training in all, GaP schedules, P-GaP's branches
		// and warm-ups included) fits in 30 minutes for one seed on two
		// idle cores: 4 base epochs of 512 shapes. Measured (one thread,
		// nice, on the shared 2-core machine): 10.7 s of CPU per training
		// epoch + 1.8 s per evaluation, so about 2,650 core-s for the
		// table, 22 minutes with two runs at once (the 960-shape, 20-epoch
		// profile this replaces would take well over 2 hours). Dense
		// reaches about 0.55 instance mIoU after 4 epochs of 576 shapes
		// (0.93 after 20 epochs of 960), so the rows are not all at the
		// ceiling.
		{Name: "default", Proxy: true, Epochs: 4, Optim: Optim{LR: 1e-3, WeightDecay: 1e-4, Decay: 0.5, MinLR: 1e-5, StepEpochs: 8},
			Task: Config{Data: "parts", NumPoints: 512, TrainShapes: 512, TestShapes: 240, Batch: 16, Augment: true, BNDecayEpochs: 8,
				Model: proxy(512, 128, 32, 32, 64, 0.25)},
			Note: "proxy: synthetic parts (6 categories, 16 parts), 512 training shapes of 512 points, PointNet++ at width 1/4"},
		{Name: "long", Proxy: true, Epochs: 60, Optim: recipe,
			Task: Config{Data: "parts", NumPoints: 1024, TrainShapes: 2400, TestShapes: 600, Batch: 16, Augment: true,
				Model: proxy(1024, 256, 64, 32, 64, 0.5)},
			Note: "proxy: synthetic parts, 1,024 points, PointNet++ at width 1/2"},
		{Name: "full", Proxy: false, Epochs: 250, Optim: recipe,
			Task: Config{Data: "shapenet", NumPoints: 2048, Batch: 16, Augment: true,
				Model: pointnet2.Config{Normals: true}},
			Note: "ShapeNet part (DATA=path to shapenetcore_partanno_segmentation_benchmark_v0_normal), 2,048 points with normals, full PointNet++"},
	}
}

// ProfileNamed returns the named profile.
func ProfileNamed(name string) (Profile, error) {
	var names []string
	for _, p := range Profiles() {
		if p.Name == name {
			return p, nil
		}
		names = append(names, p.Name)
	}
	return Profile{}, fmt.Errorf("pointcloud: unknown profile %q (known: %v)", name, names)
}

// Rows lists the shapenet table's rows (as the imagenet table): each
// method at 80% and 90% sparsity, uniform and non-uniform, plus dense.
// The runner's method names.
var Rows = []string{"dense", "gmp", "rigl", "set", "static", "prune-from-pretrained", "c-gap", "p-gap"}

// Columns are the table's metric columns; "miou_instance" is the headline.
var Columns = []string{"miou_instance", "miou_class", "epochs", "train_flops", "inference_flops"}
