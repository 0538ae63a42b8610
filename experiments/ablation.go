package experiments

import "fmt"

// PGaPAblation is a small ablation of P-GaP (issue 9.8): the accuracy of the
// merged model and the final accuracy against the step length T
// (step_epochs), the number of rounds, and batch-norm re-estimation after
// each merge (bn_batches forward batches; the reference has none), at 90%
// uniform sparsity on the imagenet table's proxy. Each run records the
// merged model's evaluation after every merge (curve test_top1 at the
// merge's epoch) and, with re-estimation, the evaluation before it
// (merge_raw_top1).
func PGaPAblation() *Table {
	base := ImageNet()
	def := base.Profiles["default"]
	def.Name = "default"
	def.Proxy = "ResNet-18/8 on 2,000 Fashion-MNIST images (a smaller slice of the imagenet default profile)"
	def.Data.TrainN, def.Data.TestN = 2000, 500
	smoke := base.Profiles["smoke"]
	var rows []Row
	for _, s := range []struct{ T, R int }{{1, 1}, {1, 2}, {2, 1}} {
		for _, bn := range []int{0, 50} {
			v := fmt.Sprintf("T%d-R%d", s.T, s.R)
			if bn > 0 {
				v += "-bn"
			}
			rows = append(rows, Row{Method: "pgap", Sparsity: 0.9, Distribution: "uniform", Variant: v,
				Params: map[string]string{"kappa": "4", "step_epochs": fmt.Sprint(s.T), "rounds": fmt.Sprint(s.R),
					"finetune_epochs": "1", "bn_batches": fmt.Sprint(bn)}})
		}
	}
	rows = append(rows, Row{Method: "cgap", Sparsity: 0.9, Distribution: "uniform", Variant: "reference", // C-GaP at the same step length
		Params: map[string]string{"kappa": "4", "step_epochs": "1", "rounds": "1", "finetune_epochs": "1"}})
	return &Table{
		Name:        "pgap-ablation",
		Title:       "P-GaP ablation: merge and final top-1 against step epochs, rounds and batch-norm re-estimation (90% uniform)",
		Suite:       "image",
		Metric:      "top1",
		MetricLabel: "top-1 (%)",
		Rows:        rows,
		DenseLayers: base.DenseLayers,
		Profiles:    map[string]Profile{"default": def, "smoke": smoke},
	}
}
