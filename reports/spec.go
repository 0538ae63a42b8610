// Package reports turns run results into paper-style markdown tables,
// gonum/plot figures and benchstat files.
//
// Generate reads a table's runs from a results folder and writes
// README.md (the table and the provenance of the numbers) and five
// figures, each as PNG and SVG:
//
//   - metric_vs_sparsity: the headline metric against target sparsity, one
//     line per method and distribution, mean with ± one sample standard
//     deviation over seeds;
//   - curves: the test curve (TableSpec.CurveMetric) against epoch, the
//     mean over seeds per row, with the grow phases of the representative
//     run shaded by partition;
//   - metric_vs_flops: the headline metric against training FLOPs as a
//     multiple of dense training, per row, with error bars;
//   - mask_changes: per partition, the share of mask entries changed
//     between consecutive GaP rounds, mean over the representative row's
//     seeds;
//   - layer_sparsity: per-layer sparsity of the final model, one bar group
//     per layer and one bar per method, taken from each method's
//     representative run.
//
// The representative row of a method is its most sparse row (ties: the
// smaller row key); its representative run is the one with the smallest
// seed (ties: smaller ID). The representative row for the curves and mask
// figures is that of the first method among cgap, pgap and then any with
// phases or mask changes.
package reports

import (
	"strings"
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
}

// RowSpec is one row of a paper table.
type RowSpec struct {
	Key          string       // results.RowKey(method, sparsity, distribution)
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

// splitKey splits a row key "method/sparsity/distribution".
func splitKey(key string) (method, sparsity, dist string) {
	parts := strings.SplitN(key, "/", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	return parts[0], parts[1], parts[2]
}

func (r RowSpec) methodLabel() string {
	if r.Method != "" {
		return r.Method
	}
	m, _, _ := splitKey(r.Key)
	return m
}

func (r RowSpec) distLabel() string {
	if r.Distribution != "" {
		return r.Distribution
	}
	_, _, d := splitKey(r.Key)
	return d
}
