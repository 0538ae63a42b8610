package experiments

import (
	"fmt"
	"strconv"

	"github.com/gap-harness/gap/experiments/pointcloud"
)

// shapenetRows are the rows of the paper's PointNet++/ShapeNet part table,
// laid out as the imagenet table: dense, the baselines and GaP at 80% and
// 90%, uniform and non-uniform ("global" magnitude ratios for the
// magnitude-based methods, ERK for the sparse-from-scratch ones). RigL and
// SET also train the C-GaP row's budget ("gap"), the budget-matched
// comparison.
func shapenetRows() []Row {
	return comparisonRows([]string{"gmp", "rigl", "set", "static", "pfp"})
}

// shapenetKappa is the GaP partition count of the table: the model's four
// partitions (sa1+sa2, sa3, fp3+fp2, fp1+head; see models/pointnet2).
const shapenetKappa = 4

// ShapeNet is the paper's PointNet++ part-segmentation table (ShapeNet
// part, instance mIoU the headline, class mIoU beside it). The model, data
// and augmentation of each profile are experiments/pointcloud.Profiles
// (named by Options "pointcloud_profile"); the optimiser is the PointNet++
// recipe's: Adam with L2 weight decay 1e-4 and the step decay of the
// profile (x0.5 every 20 epochs down to 1e-5 in the recipe), counted over
// the run's epochs, so a GaP step's fresh optimiser keeps the decayed
// rate; the batch-norm momentum decay is the Task's own.
//
// Profiles: smoke (seconds, plumbing), default (synthetic "parts" shapes,
// a narrow PointNet++: a proxy), long (a wider proxy), full (ShapeNet part
// from DATA, 2,048 points with normals, the full network, 250 epochs).
func ShapeNet() *Table {
	gap := func(rounds, t, ft int) map[string]string {
		return map[string]string{"kappa": strconv.Itoa(shapenetKappa), "rounds": strconv.Itoa(rounds),
			"step_epochs": strconv.Itoa(t), "finetune_epochs": strconv.Itoa(ft)}
	}
	prof := func(name string, evalBatch, warmup int, mp map[string]map[string]string) Profile {
		pp, err := pointcloud.ProfileNamed(name)
		if err != nil {
			panic(err) // the suite's own profile names: a programming error
		}
		p := Profile{
			Name:   name,
			Model:  ModelSpec{Name: "pointnet2", Width: pp.Task.Model.Width, Classes: 0, InputSize: pp.Task.NumPoints},
			Data:   DataSpec{Name: "parts", TrainN: pp.Task.TrainShapes, TestN: pp.Task.TestShapes},
			Epochs: pp.Epochs, Batch: pp.Task.Batch, EvalBatch: evalBatch, GlobalWarmupEpochs: warmup,
			Optim: OptimSpec{Name: "adam", LR: pp.Optim.LR, WeightDecay: pp.Optim.WeightDecay,
				Schedule: "step", StepEpochs: pp.Optim.StepEpochs, StepGamma: pp.Optim.Decay, MinLR: pp.Optim.MinLR},
			MethodParams: mp,
			Options: map[string]string{
				"pointcloud_profile": name,
				"kappa":              strconv.Itoa(shapenetKappa),
				// The whole task configuration, so that a changed suite
				// profile is a new run identity.
				"task": fmt.Sprintf("%+v", pp.Task),
			},
		}
		if pp.Proxy {
			p.Proxy = pp.Note
		} else {
			p.Data = DataSpec{Name: "shapenet-part"}
		}
		return p
	}
	return &Table{
		Name:        "shapenet",
		Title:       "PointNet++ on ShapeNet part: instance mIoU at 80% and 90% sparsity",
		Suite:       "pointcloud",
		Metric:      "miou_instance",
		MetricLabel: "instance mIoU",
		Rows:        shapenetRows(),
		DenseLayers: "none", // every shared MLP and the head are pruned (issue 11)
		Profiles: map[string]Profile{
			"smoke": prof("smoke", 8, 1, map[string]map[string]string{
				"cgap": gap(1, 1, 1), "pgap": gap(1, 1, 1), "gmp": {"freq": "4"},
				"rigl": {"delta_t": "4"}, "set": {"delta_t": "4"},
			}),
			"default": prof("default", 16, 1, map[string]map[string]string{
				"cgap": gap(1, 1, 2), "pgap": gap(2, 1, 2), "pfp": {"dense_frac": "0.5"},
				"gmp": {"freq": "12"}, "rigl": {"delta_t": "12"}, "set": {"delta_t": "12"},
			}),
			"long": prof("long", 16, 2, map[string]map[string]string{
				"cgap": gap(2, 4, 12), "pgap": gap(2, 4, 12),
			}),
			"full": prof("full", 16, 5, map[string]map[string]string{
				"cgap": gap(2, 25, 100), "pgap": gap(2, 25, 100),
			}),
		},
	}
}

// newPointCloudTask builds the point-cloud suite's Task from a shapenet
// profile: the task configuration of the named experiments/pointcloud
// profile, the Options' kappa, the run's seed and DATA (ShapeNet part for
// the full profile).
func newPointCloudTask(c TaskConfig) (Task, error) {
	name := c.Profile.Options["pointcloud_profile"]
	if name == "" {
		name = c.Profile.Name
	}
	pp, err := pointcloud.ProfileNamed(name)
	if err != nil {
		return nil, err
	}
	kappa, err := strconv.Atoi(c.Profile.Options["kappa"])
	if err != nil || (kappa != 1 && kappa != 2 && kappa != 4) {
		return nil, fmt.Errorf("pointcloud: profile %s: options.kappa %q: want 1, 2 or 4", c.Profile.Name, c.Profile.Options["kappa"])
	}
	cfg := pp.Task
	cfg.Model.Partitions = kappa
	cfg.Seed = uint64(c.Seed)
	if cfg.Data == "shapenet" {
		cfg.DataPath = c.DataPath
	}
	return pointcloud.New(cfg)
}
