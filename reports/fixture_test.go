package reports

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/gap-harness/gap/results"
)

// fixtureRuns builds a small, deterministic imagenet result set: several
// seeds for some rows, one seed for another, a row outside the spec and
// rows of the spec without runs.
func fixtureRuns() []*results.Run {
	type rowDef struct {
		method, dist string
		sparsity     float64
		seeds        int
		base         float64
		budget       string
	}
	defs := []rowDef{
		{"dense", "dense", 0, 2, 91.0, ""},
		{"cgap", "uniform", 0.9, 3, 89.5, ""},
		{"cgap", "global", 0.8, 2, 90.2, ""},
		{"pgap", "uniform", 0.9, 2, 89.1, ""},
		{"rigl", "erk", 0.9, 1, 88.4, ""},
		{"cgap", "uniform", 0.95, 1, 87.0, ""},
		{"rigl", "erk", 0.9, 2, 88.9, "gap"},
	}
	layers := []string{"conv1", "layer1.0.conv1", "layer2.0.conv1", "layer3.0.conv1", "fc"}
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	var runs []*results.Run
	for di, d := range defs {
		for s := 0; s < d.seeds; s++ {
			epochs := 14
			row := results.RowKey(d.method, d.sparsity, d.dist)
			if d.budget != "" {
				row += "@" + d.budget
				epochs = 20
			}
			r := &results.Run{
				ID:    fmt.Sprintf("%s-%g-%s%s-s%d", d.method, d.sparsity, d.dist, d.budget, s),
				Table: "imagenet", Row: row,
				Suite: "image", Profile: "default", Method: d.method, Model: "resnet20", Dataset: "fashion-mnist",
				Distribution: d.dist, Sparsity: d.sparsity, Seed: int64(s), Epochs: epochs,
				Settings: map[string]string{"lr": "0.1", "batch": "128"},
				Metric:   "top1",
				Final: map[string]float64{
					"top1": d.base + 0.3*float64(s) - 0.1*float64(s*s),
					"top5": 99 - 0.1*float64(s), "loss": 0.3 + 0.01*float64(s),
				},
				TrainFLOPs: 1e15 * (1 - 0.6*d.sparsity) * (1 + 0.01*float64(s)), DenseTrainFLOPs: 1e15,
				InferFLOPs: 4e7 * (1 - d.sparsity), DenseInferFLOPs: 4e7,
				WallSeconds: 100 + float64(10*di+s),
				Commit:      "0123456789abcdef", Machine: "Test CPU, 2 cores, linux/amd64", GoVersion: "go1.26.8", Build: "openblas",
				Started: t0.Add(time.Duration(di) * time.Hour), Finished: t0.Add(time.Duration(di)*time.Hour + 100*time.Second),
			}
			for e := 0; e < epochs; e++ {
				acc := d.base - 20*math.Exp(-float64(e)/3) + 0.2*float64(s)
				r.Curves = append(r.Curves,
					results.Point{Epoch: e, Step: int64(100 * (e + 1)), Metric: "test_top1", Value: acc},
					results.Point{Epoch: e, Step: int64(100 * (e + 1)), Metric: "train_loss", Value: 2 * math.Exp(-float64(e)/4)})
			}
			for li, name := range layers {
				params := int64(1000 * (li + 1))
				sp := d.sparsity
				if d.dist == "global" {
					sp = math.Min(0.99, d.sparsity*(0.8+0.1*float64(li)))
				}
				if li == 0 && d.method != "cgap" {
					sp = 0
				}
				r.Layers = append(r.Layers, results.Layer{Name: name, Partition: li % 4, Params: params, Nonzero: int64(math.Round(float64(params) * (1 - sp)))})
			}
			if d.method == "cgap" || d.method == "pgap" {
				for round := 0; round < 3; round++ {
					for p := 0; p < 4; p++ {
						start, end := round*4+p, round*4+p+1 // C-GaP: one partition after another
						if d.method == "pgap" {
							start, end = round*4, round*4+4 // P-GaP: all branches at once
						}
						r.Phases = append(r.Phases, results.Phase{Name: "grow", Partition: p, StartEpoch: start, EndEpoch: end})
						if round > 0 {
							r.MaskChanges = append(r.MaskChanges, results.MaskChange{Round: round, Partition: p, Changed: (0.05*float64(p+1) + 0.01*float64(s)) / float64(round)})
						}
					}
				}
				r.Phases = append(r.Phases, results.Phase{Name: "finetune", Partition: -1, StartEpoch: 12, EndEpoch: 14})
			}
			if di == 0 && s == 1 {
				r.Build = "" // a run from before the build was recorded
			}
			runs = append(runs, r)
		}
	}
	return runs
}

// writeFixture writes the fixture runs into a new folder and returns it.
func writeFixture(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "runs")
	for _, r := range fixtureRuns() {
		if _, err := results.Write(dir, r); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
