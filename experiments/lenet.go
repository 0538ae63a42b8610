package experiments

// LeNet is a small, fast table: LeNet-5 on MNIST, dense against the sparse
// methods at 90% uniform sparsity (all five layers prunable, one GaP partition
// per layer). Its dense row is the harness's sanity check: >= 99.0% top-1 on
// the default profile (make test-long checks it).
func LeNet() *Table {
	rows := []Row{{Method: "dense", Distribution: "dense"}}
	for _, m := range []string{"gmp", "rigl", "set", "static", "snip", "pfp", "cgap", "pgap"} {
		rows = append(rows, Row{Method: m, Sparsity: 0.9, Distribution: "uniform"})
	}
	gap := map[string]string{"kappa": "5", "rounds": "1", "step_epochs": "2", "finetune_epochs": "2"}
	return &Table{
		Name:        "lenet",
		Title:       "LeNet-5 on MNIST: top-1 at 90% sparsity",
		Suite:       "image",
		Metric:      "top1",
		MetricLabel: "top-1 (%)",
		Rows:        rows,
		Profiles: map[string]Profile{
			"smoke": {
				Name: "smoke", Proxy: "LeNet-5 on 512 MNIST images (smoke test, not a result)",
				Model:  ModelSpec{Name: "lenet5", Width: 1, Classes: 10, InputSize: 28, InputC: 1},
				Data:   DataSpec{Name: "mnist", TrainN: 512, TestN: 256},
				Epochs: 2, Batch: 64, EvalBatch: 256,
				Optim:        OptimSpec{Name: "sgd", LR: 0.05, Momentum: 0.9, Nesterov: true, WeightDecay: 5e-4, Schedule: "cosine"},
				MethodParams: map[string]map[string]string{"cgap": {"kappa": "5", "rounds": "1", "step_epochs": "1", "finetune_epochs": "1"}, "pgap": {"kappa": "5", "rounds": "1", "step_epochs": "1", "finetune_epochs": "1"}, "gmp": {"freq": "2"}, "rigl": {"delta_t": "2"}, "set": {"delta_t": "2"}},
			},
			"default": {
				Name:   "default",
				Model:  ModelSpec{Name: "lenet5", Width: 1, Classes: 10, InputSize: 28, InputC: 1},
				Data:   DataSpec{Name: "mnist"},
				Epochs: 12, Batch: 128, EvalBatch: 1000,
				Optim:        OptimSpec{Name: "sgd", LR: 0.05, Momentum: 0.9, Nesterov: true, WeightDecay: 5e-4, Schedule: "cosine"},
				MethodParams: map[string]map[string]string{"cgap": gap, "pgap": gap},
			},
		},
	}
}
