// Package reports turns run results into paper-style markdown tables,
// gonum/plot figures and benchstat files.
//
// Report (and Generate) read a table's runs from a results folder and
// write README.md — the table, a Reading paragraph per profile saying
// which rows share an epoch budget, the paper's claims tested across seeds
// (Claim, CheckClaim), the provenance of the numbers and the figures with
// captions — and five figures, each as PNG and SVG, drawn at a paper
// column's width (3.4 in) with one visual identity (style.go: a colour per
// method, a marker and line style per distribution, a shade per sparsity):
//
//   - metric_vs_sparsity: the headline metric at each target sparsity, one
//     panel per distribution class (uniform | non-uniform), one point per
//     row, offset per method, with a 95% Student-t interval over seeds
//     (min–max when n < 3); dense as a line with its interval as a band;
//   - curves: the test curve (TableSpec.CurveMetric) against epoch, one
//     panel per method with at most four rows each, mean line and min–max
//     band over seeds, the grow phases of the method's representative run
//     shaded by partition;
//   - metric_vs_flops: the headline metric against training FLOPs as a
//     multiple of dense training, the Pareto front drawn and its rows
//     labelled where a label covers no marker, bar or other label (with a
//     leader line when away from its point, short labels when the full
//     ones do not fit, a number listed under the plot as the last resort;
//     labels.go);
//   - mask_changes: per GaP method (its representative row), a heatmap of
//     the share of each partition's mask changed between rounds;
//   - layer_sparsity: a heatmap of per-layer sparsity, layers down and
//     methods across, each method's representative run.
//
// Metric names and labels come from the TableSpec, so the suites'
// tables (translation, detection, point clouds) reuse the same figures; a
// suite's own figures (parts of a point cloud, detections drawn) plug in
// through TableSpec.Extra and draw with the same helpers (NewPanel, Tiled,
// WithLegend, MethodPalette, CategoryColors), under the same checks.
// The representative row of a method is its most sparse row (ties: the
// smaller row key, so non-uniform before uniform); its representative run
// is the one with the smallest seed (ties: smaller ID). The same runs give
// the same bytes, markdown, PNG and SVG alike.
package reports

import (
	"strings"

	"github.com/gap-harness/gap/results"
)

// TableSpec describes one paper table: its rows, its metric and the
// paper's numbers to set beside ours.
type TableSpec struct {
	Table       string            // results table key, e.g. "imagenet"
	Title       string            // heading of the report
	Metric      string            // headline metric, a key of Run.Final
	MetricLabel string            // column label, e.g. "Top-1 (%)"
	CurveMetric string            // curve metric for the curves figure; default "test_"+Metric
	Digits      int               // decimals of our metric values; default 2
	Rows        []RowSpec         // rows in table order
	Proxies     map[string]string // profile -> what it stands in for, e.g. "default": "ResNet on Fashion-MNIST, a proxy for ResNet-50/ImageNet"
	Sources     map[string]string // tag -> where a paper number comes from
	Notes       []string          // extra lines printed under the table
	Claims      []Claim           // the paper's claims about rows of the table, checked in "Paper claims"
	Reading     map[string]string // profile -> sentences added to that profile's "Reading" paragraph
	Extra       []FigureMaker     // figures of this table beyond the five of every report
	// Speedups are the measured inference speed-ups of the table's runs
	// (Report reads them from the results folder's SpeedupsFile); when
	// non-nil the table has a column of them after the FLOPs columns.
	Speedups *InferSpeedups
}

// RowSpec is one row of a paper table.
type RowSpec struct {
	Key          string       // results.RowKey(method, sparsity, distribution), then "@<budget>" unless x1 ("rigl/0.9/erk@gap")
	Method       string       // label, e.g. "C-GaP (κ=4)"; default: the key's method
	Distribution string       // label, e.g. "non-uniform"; default: the key's distribution
	Sparsity     float64      // target sparsity
	Paper        *PaperNumber // the paper's number, nil when it has none
}

// PaperNumber is a number reported by the paper (or by a baseline's own
// paper) for one row.
type PaperNumber struct {
	Value  float64
	Epochs int    // training epochs behind the number, 0 when unknown
	Source string // tag, a key of TableSpec.Sources
}

func (s TableSpec) curveMetric() string {
	if s.CurveMetric != "" {
		return s.CurveMetric
	}
	return "test_" + s.Metric
}

func (s TableSpec) digits() int {
	if s.Digits > 0 {
		return s.Digits
	}
	return 2
}

func (s TableSpec) metricLabel() string {
	if s.MetricLabel != "" {
		return s.MetricLabel
	}
	return s.Metric
}

// splitKey splits a row key "method/sparsity/distribution[@budget][#variant]",
// leaving out the budget (see keyBudget). A variant (rows of one method
// that differ in a parameter, e.g. κ: "cgap/0.9/uniform#k6") belongs to
// the method: "cgap-k6", its own method in every figure and table, so
// that its colour (methodColors names the κ variants) and label differ.
func splitKey(key string) (method, sparsity, dist string) {
	key, variant, _ := strings.Cut(key, "#")
	key, _, _ = strings.Cut(key, "@")
	parts := strings.SplitN(key, "/", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	if variant != "" {
		parts[0] += "-" + variant
	}
	return parts[0], parts[1], parts[2]
}

// runMethod is the method of a run as the figures name it: its row's
// (with the row's variant, see splitKey), else the run's.
func runMethod(r *results.Run) string {
	if m, _, _ := splitKey(r.Row); m != "" {
		return m
	}
	return r.Method
}

// keyBudget is the budget of a row key: "" for the base budget (x1),
// else what follows "@" ("x5", "gap").
func keyBudget(key string) string {
	key, _, _ = strings.Cut(key, "#")
	_, b, _ := strings.Cut(key, "@")
	if b == "x1" {
		return ""
	}
	return b
}

// budgetLabel words a row budget for labels: "GaP budget", "5× budget";
// "" for the base budget.
func budgetLabel(b string) string {
	switch {
	case b == "":
		return ""
	case b == "gap":
		return "GaP budget"
	case strings.HasPrefix(b, "x"):
		return b[1:] + "× budget"
	}
	return b + " budget"
}

// budgetSuffix is " (GaP budget)" for a key with a budget whose label
// does not say it already.
func budgetSuffix(key, label string) string {
	b := budgetLabel(keyBudget(key))
	if b == "" || strings.Contains(label, "budget") || strings.Contains(label, "×") {
		return ""
	}
	return " (" + b + ")"
}

func (r RowSpec) methodLabel() string {
	l := r.Method
	if l == "" {
		l, _, _ = splitKey(r.Key)
	}
	return l + budgetSuffix(r.Key, l)
}

func (r RowSpec) distLabel() string {
	if r.Distribution != "" {
		return r.Distribution
	}
	_, _, d := splitKey(r.Key)
	return d
}
