// Package results defines the record of one training run and stores it as
// one Apache Arrow IPC file per run.
//
// # File layout
//
// A run is written to <dir>/<ID>.arrow in the Arrow IPC file format (the
// "Feather v2" container), as a single record batch in long format: every
// piece of the run is one row, tagged by its section. Any Arrow
// implementation (pyarrow, arrow-js, arrow-rs, arrow-go) can read it.
//
// Schema (format version 1; schema metadata "gap.format" = "gap-run",
// "gap.format_version" = "1", "gap.run_id" = the run's ID):
//
//	column     type     nullable  meaning
//	run_id     utf8     no        Run.ID, repeated on every row
//	section    utf8     no        meta | setting | curve | final | layer | phase | mask_change
//	name       utf8     no        field, setting key, metric, layer or phase name ("" for mask_change)
//	epoch      int32    yes       curve: epoch; phase: StartEpoch
//	end_epoch  int32    yes       phase: EndEpoch (exclusive)
//	step       int64    yes       curve: optimizer step
//	round      int32    yes       mask_change: GaP round
//	partition  int32    yes       layer, phase, mask_change: partition index
//	value      float64  yes       numeric value (curve, final, mask_change, float meta)
//	text       utf8     yes       text value (setting, string meta, times as RFC 3339)
//	count      int64    yes       integer value (int meta; layer: nonzero weights)
//	total      int64    yes       layer: total weights (Params)
//
// Rows of section "meta" carry the scalar fields of Run, named by their
// snake_case name: text fields (id, table, row, suite, profile, method,
// model, dataset, distribution, metric, commit, machine, go_version,
// started, finished), float fields in value (sparsity, train_flops,
// dense_train_flops, infer_flops, dense_infer_flops, wall_seconds) and
// integer fields in count (seed, epochs). Times are RFC 3339 with
// nanoseconds in text and, when not the zero time, Unix nanoseconds in
// count. Curves, layers, phases and mask changes keep their order. Empty and
// nil collections are stored alike; Read returns nil for them.
package results

import (
	"fmt"
	"strconv"
	"time"
)

// FormatVersion is the version of the Arrow layout written by Write.
const FormatVersion = 1

// Run is everything recorded about one finished training run.
type Run struct {
	ID              string             // run identity (hash of resolved settings)
	Table           string             // e.g. "imagenet"
	Row             string             // table row key, e.g. "cgap/0.9/uniform" (see RowKey)
	Suite           string             // image, detection, pointcloud, translation
	Profile         string             // smoke, default, full
	Method          string             // method registry name, e.g. "cgap"
	Model           string             // model name
	Dataset         string             // data set name
	Distribution    string             // uniform, erk, global (non-uniform), dense
	Sparsity        float64            // target sparsity
	Seed            int64              // random seed
	Epochs          int                // total training epochs
	Settings        map[string]string  // every resolved setting, stringified
	Curves          []Point            // per-epoch/step metrics, long format
	Final           map[string]float64 // final metrics, e.g. "top1", "top5", "loss", "bleu", "map", "miou"
	Metric          string             // the table's headline metric, a key of Final
	Layers          []Layer            // per-layer sparsity of the final model
	Phases          []Phase            // method phases over epochs, for shading
	MaskChanges     []MaskChange       // GaP: per round and partition, share of mask entries changed
	TrainFLOPs      float64            // total training FLOPs
	DenseTrainFLOPs float64            // FLOPs of dense training on the same schedule
	InferFLOPs      float64            // inference FLOPs per example, final model
	DenseInferFLOPs float64            // inference FLOPs per example, dense model
	WallSeconds     float64            // wall-clock time of the run
	Commit          string             // source commit (see GitCommit)
	Machine         string             // machine description (see Machine)
	GoVersion       string             // runtime.Version()
	Build           string             // the engine build that computed it (engine.Build: "openblas", "gonum", "gonum+noasm"); "" in runs from before it was recorded
	Started         time.Time          // start of training
	Finished        time.Time          // end of training
}

// Point is one metric value on a training curve.
type Point struct {
	Epoch  int
	Step   int64
	Metric string // e.g. "train_loss", "test_top1"
	Value  float64
}

// Layer is the size and the number of nonzero weights of one prunable tensor.
type Layer struct {
	Name      string
	Partition int // GaP partition index, -1 when the layer is in none
	Params    int64
	Nonzero   int64
}

// Phase is a stretch of epochs [StartEpoch, EndEpoch) in which a method is
// in one phase, e.g. GaP growing a partition ("grow") or fine-tuning
// ("finetune").
type Phase struct {
	Name       string
	Partition  int
	StartEpoch int
	EndEpoch   int
}

// MaskChange is the share of a partition's mask entries that changed
// between two consecutive GaP rounds.
type MaskChange struct {
	Round     int
	Partition int
	Changed   float64 // in [0, 1]
}

// OverallSparsity is the share of zero weights over all Layers
// (1 - nonzero/params), or the target Sparsity when no layers are recorded.
// (It cannot be called Sparsity: that is a field.)
func (r *Run) OverallSparsity() float64 {
	var params, nonzero int64
	for _, l := range r.Layers {
		params += l.Params
		nonzero += l.Nonzero
	}
	if params == 0 {
		return r.Sparsity
	}
	return 1 - float64(nonzero)/float64(params)
}

// TrainCost is training FLOPs as a multiple of dense training, or 0 when
// the dense cost is unknown.
func (r *Run) TrainCost() float64 {
	if r.DenseTrainFLOPs <= 0 {
		return 0
	}
	return r.TrainFLOPs / r.DenseTrainFLOPs
}

// InferCost is inference FLOPs as a multiple of the dense model, or 0 when
// the dense cost is unknown.
func (r *Run) InferCost() float64 {
	if r.DenseInferFLOPs <= 0 {
		return 0
	}
	return r.InferFLOPs / r.DenseInferFLOPs
}

// RowKey is the canonical table row key "method/sparsity/distribution",
// e.g. RowKey("cgap", 0.9, "uniform") == "cgap/0.9/uniform". Sparsity is
// written in the shortest form that reads back exactly.
func RowKey(method string, sparsity float64, distribution string) string {
	return fmt.Sprintf("%s/%s/%s", method, strconv.FormatFloat(sparsity, 'g', -1, 64), distribution)
}
