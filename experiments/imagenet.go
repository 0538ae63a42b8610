package experiments

// imagenetRows are the rows of the paper's ResNet-50/ImageNet table: dense, the
// baselines and GaP at 80% and 90%, uniform and non-uniform. "Non-uniform" is
// the GaP reference code's global-magnitude ratios for the magnitude-based
// methods (GMP, prune-from-pretrained, C-GaP, P-GaP) and ERK for the
// sparse-from-scratch baselines (RigL, SET, static, SNIP), as in their
// papers. Every baseline trains the base budget (x1); RigL and SET also
// train the C-GaP row's budget ("gap": the paper's "RigL 5x" comparison,
// budget-matched); C-GaP and P-GaP follow their own schedule.
func imagenetRows() []Row {
	return comparisonRows([]string{"gmp", "rigl", "set", "static", "snip", "pfp"})
}

// comparisonRows is the row layout the imagenet, shapenet and coco tables
// share: dense; each baseline at the base budget at 80% and 90%, uniform and
// non-uniform ("global" magnitude ratios for the magnitude-based methods,
// ERK for the sparse-from-scratch ones); RigL and SET also at the C-GaP
// row's budget ("gap", the budget-matched comparison); then C-GaP and P-GaP.
func comparisonRows(baselines []string) []Row {
	rows := []Row{{Method: "dense", Distribution: "dense"}}
	nonUniform := map[string]string{
		"gmp": "global", "rigl": "erk", "set": "erk", "static": "erk", "snip": "erk",
		"pfp": "global", "cgap": "global", "pgap": "global",
	}
	add := func(m, budget string) {
		for _, s := range []float64{0.8, 0.9} {
			rows = append(rows,
				Row{Method: m, Sparsity: s, Distribution: "uniform", Budget: budget},
				Row{Method: m, Sparsity: s, Distribution: nonUniform[m], Budget: budget})
		}
	}
	for _, m := range baselines {
		add(m, "")
	}
	add("rigl", "gap")
	add("set", "gap")
	add("cgap", "")
	add("pgap", "")
	return rows
}

// ImageNet is the paper's ResNet-50/ImageNet table.
//
// Profiles:
//   - full: ResNet-50 on an ImageNet folder (DATA), the RigL/GaP authors' recipe
//     family (SGD, momentum 0.9, weight decay 1e-4, cosine, label smoothing
//     0.1). GaP's own ImageNet epochs are not published; the C-GaP/P-GaP
//     schedule here (kappa 4, T 10, 2 rounds, 30 epochs fine-tune) is ours.
//   - default: a ResNet-18-style network (4 residual stages, so 4 GaP
//     partitions like ResNet-50's) at 1/8 width on Fashion-MNIST, a proxy.
//   - smoke: the same at 1/16 width on a few hundred images: seconds.
func ImageNet() *Table {
	sgd := OptimSpec{Name: "sgd", LR: 0.1, Momentum: 0.9, Nesterov: true, WeightDecay: 5e-4, Schedule: "cosine", LabelSmoothing: 0.1}
	// At the default budget: C-GaP grows each of the 4 partitions once (1 epoch
	// each) after a first step and fine-tunes 1 epoch (6 epochs); P-GaP runs 2
	// rounds of 1-epoch branches and fine-tunes 1 (3 epochs per branch path, as
	// the baselines' 3).
	cgapSmall := map[string]string{"kappa": "4", "rounds": "1", "step_epochs": "1", "finetune_epochs": "1"}
	pgapSmall := map[string]string{"kappa": "4", "rounds": "2", "step_epochs": "1", "finetune_epochs": "1"}
	return &Table{
		Name:        "imagenet",
		Title:       "ResNet-50 on ImageNet: top-1 at 80% and 90% sparsity",
		Suite:       "image",
		Metric:      "top1",
		MetricLabel: "top-1 (%)",
		Rows:        imagenetRows(),
		DenseLayers: "first", // RigL's ImageNet choice: the first conv only
		Profiles: map[string]Profile{
			"smoke": {
				Name:   "smoke",
				Proxy:  "ResNet-18/16 on 256 Fashion-MNIST images (smoke test, not a result)",
				Model:  ModelSpec{Name: "resnet18", Width: 1.0 / 16, Classes: 10, InputSize: 16, InputC: 1, SmallStem: true},
				Data:   DataSpec{Name: "fashion-mnist", TrainN: 256, TestN: 128, Size: 16},
				Epochs: 2, Batch: 32, EvalBatch: 128, GlobalWarmupEpochs: 1,
				Optim: sgd,
				MethodParams: map[string]map[string]string{
					"cgap": {"kappa": "4", "rounds": "1", "step_epochs": "1", "finetune_epochs": "1"},
					"pgap": {"kappa": "4", "rounds": "1", "step_epochs": "1", "finetune_epochs": "1"},
					"gmp":  {"freq": "4"},
					"rigl": {"delta_t": "4"},
					"set":  {"delta_t": "4"},
				},
			},
			"default": {
				Name:   "default",
				Proxy:  "ResNet-18/8 (4 stages) on Fashion-MNIST 28x28, a reduced-budget proxy for ResNet-50 on ImageNet",
				Model:  ModelSpec{Name: "resnet18", Width: 1.0 / 8, Classes: 10, InputSize: 28, InputC: 1, SmallStem: true},
				Data:   DataSpec{Name: "fashion-mnist", TrainN: 5000, TestN: 2000},
				Epochs: 3, Batch: 64, EvalBatch: 250, GlobalWarmupEpochs: 1,
				Optim: sgd,
				MethodParams: map[string]map[string]string{
					"cgap": cgapSmall,
					"pgap": pgapSmall,
					"pfp":  {"dense_frac": "0.67"},
					"gmp":  {"freq": "20"},
					"rigl": {"delta_t": "20"},
					"set":  {"delta_t": "20"},
				},
			},
			"long": {
				Name:   "long",
				Proxy:  "ResNet-18/4 (4 stages) on the full Fashion-MNIST with crop and flip, a longer proxy for ResNet-50 on ImageNet (its dense row is the harness's >= 92% sanity check)",
				Model:  ModelSpec{Name: "resnet18", Width: 1.0 / 4, Classes: 10, InputSize: 28, InputC: 1, SmallStem: true},
				Data:   DataSpec{Name: "fashion-mnist", Pad: 2, HFlip: true},
				Epochs: 12, Batch: 128, EvalBatch: 1000, GlobalWarmupEpochs: 1,
				Optim: sgd,
				MethodParams: map[string]map[string]string{
					"cgap": {"kappa": "4", "rounds": "2", "step_epochs": "2", "finetune_epochs": "4"},
					"pgap": {"kappa": "4", "rounds": "2", "step_epochs": "2", "finetune_epochs": "4"},
				},
			},
			"full": {
				Name:   "full",
				Model:  ModelSpec{Name: "resnet50", Width: 1, Classes: 1000, InputSize: 224, InputC: 3},
				Data:   DataSpec{Name: "imagenet"},
				Epochs: 100, Batch: 256, EvalBatch: 250, GlobalWarmupEpochs: 5,
				Optim: OptimSpec{Name: "sgd", LR: 0.1, Momentum: 0.9, WeightDecay: 1e-4, Schedule: "cosine", WarmupEpochs: 5, LabelSmoothing: 0.1},
				MethodParams: map[string]map[string]string{
					"cgap": {"kappa": "4", "rounds": "2", "step_epochs": "10", "finetune_epochs": "30"},
					"pgap": {"kappa": "4", "rounds": "2", "step_epochs": "10", "finetune_epochs": "30"},
				},
			},
		},
	}
}
