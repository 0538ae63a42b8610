package reports

import (
	"math"
	"sort"

	"github.com/gap-harness/gap/results"
)

// meanStd returns the mean and the sample standard deviation (n-1) of xs;
// std is NaN when len(xs) < 2 and both are NaN for no values.
func meanStd(xs []float64) (mean, std float64) {
	n := float64(len(xs))
	if n == 0 {
		return math.NaN(), math.NaN()
	}
	for _, x := range xs {
		mean += x
	}
	mean /= n
	if n < 2 {
		return mean, math.NaN()
	}
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / (n - 1))
}

// values maps runs to f(run), skipping runs for which ok is false.
func values(runs []*results.Run, f func(*results.Run) (float64, bool)) []float64 {
	var xs []float64
	for _, r := range runs {
		if v, ok := f(r); ok {
			xs = append(xs, v)
		}
	}
	return xs
}

// metricOf returns a function reading the final metric m of a run.
func metricOf(m string) func(*results.Run) (float64, bool) {
	return func(r *results.Run) (float64, bool) {
		v, ok := r.Final[m]
		return v, ok
	}
}

func trainCost(r *results.Run) (float64, bool) { return r.TrainCost(), r.DenseTrainFLOPs > 0 }
func inferCost(r *results.Run) (float64, bool) { return r.InferCost(), r.DenseInferFLOPs > 0 }
func measured(r *results.Run) (float64, bool)  { return r.OverallSparsity(), len(r.Layers) > 0 }

// wholeModel is the sparsity of every conv and linear weight, dense layers
// included, as the runner records it (final metric "sparsity_model").
func wholeModel(r *results.Run) (float64, bool) {
	v, ok := r.Final["sparsity_model"]
	return v, ok
}

// byRow groups runs by Row, each group sorted by seed and ID.
func byRow(runs []*results.Run) map[string][]*results.Run {
	m := map[string][]*results.Run{}
	for _, r := range runs {
		m[r.Row] = append(m[r.Row], r)
	}
	for _, g := range m {
		sortRuns(g)
	}
	return m
}

func sortRuns(g []*results.Run) {
	sort.SliceStable(g, func(i, j int) bool {
		if g[i].Seed != g[j].Seed {
			return g[i].Seed < g[j].Seed
		}
		return g[i].ID < g[j].ID
	})
}

// uniq returns the sorted distinct non-empty values of f over runs.
func uniq(runs []*results.Run, f func(*results.Run) string) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range runs {
		v := f(r)
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}
