package experiments

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/nn"
)

// Task is one suite's training problem as the runner sees it: a model with
// named parameters, its data in a deterministic order, its loss and its
// evaluation. The runner does everything else (stages, methods, masks,
// optimiser, schedules, checkpoints, FLOPs, results). A Task is used by one
// goroutine at a time; the runner builds one per stage (P-GaP's branches each
// have their own), so it may keep scratch buffers.
type Task interface {
	// Params is the model's parameter set: prunable flags, FirstOrLast
	// flags (the first flagged tensor in registration order is the first
	// layer, the last one the last layer), the GaP partition of each
	// prunable weight (nn.Param.Partition) and its dense forward FLOPs.
	Params() *nn.ParamSet
	// NumPartitions is kappa for this model configuration.
	NumPartitions() int
	// PartitionOf gives the partition of any parameter or buffer name (-1:
	// none), e.g. a batch norm goes with its conv. The P-GaP merge uses it.
	PartitionOf(name string) int
	// DenseForwardFLOPs is the dense forward FLOPs of one training example
	// through the conv and linear layers (as RigL counts).
	DenseForwardFLOPs() float64
	// StepsPerEpoch is the number of optimiser steps in one epoch.
	StepsPerEpoch() int
	// ExamplesPerStep is the number of examples (images, sentences, shapes)
	// in a step.
	ExamplesPerStep() int
	// Loss records the training loss of step `step` of epoch `epoch` on the
	// tape and returns it (a scalar). The batch is a pure function of the
	// task's seed, epoch and step, so a resumed run sees the same batches.
	// rng is the run's augmentation/dropout generator for this epoch (nil:
	// no augmentation, as SNIP's saliency batch).
	Loss(tp *engine.Tape[float32], epoch, step int, rng *rand.Rand) (*engine.Var[float32], error)
	// Evaluate returns the validation metrics with the current (masked)
	// weights, by name; the table's Metric names the headline key ("top1",
	// "bleu", "miou_instance", "map"). The runner records each key k as the
	// curve "test_<k>" (a "test_" prefix is not doubled) and in the run's
	// final metrics as k.
	Evaluate(ctx context.Context, threads int) (map[string]float64, error)
}

// ArtifactWriter is a Task that leaves files of its final model beside the
// run's result (the data of a suite figure, detections in a standard
// format). The runner calls WriteArtifacts once, after the final
// evaluation, with an empty folder; the folder becomes
// <results>/<table>/artifacts/<run id>/ only when every file is written.
type ArtifactWriter interface {
	WriteArtifacts(ctx context.Context, dir string, threads int) error
}

// ArtifactDir is where a run's artifacts live (see ArtifactWriter).
func ArtifactDir(tableDir, id string) string { return filepath.Join(tableDir, "artifacts", id) }

// ModelPath is where a finished run's final model is saved when
// Env.SaveModels is set: <results>/<table>/models/<run id>.safetensors.
func ModelPath(tableDir, id string) string {
	return filepath.Join(tableDir, "models", id+".safetensors")
}

// writeArtifacts lets an ArtifactWriter task write the run's artifacts into
// a temporary folder, renamed into place when it is complete.
func writeArtifacts(ctx context.Context, env Env, id string, task Task, threads int) error {
	if env.SaveModels {
		path := ModelPath(env.Dir, id)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("final model: %w", err)
		}
		if err := task.Params().SaveSafetensors(path, nn.SafetensorsOptions{Masks: true, Meta: map[string]string{"run": id}}); err != nil {
			return fmt.Errorf("final model of %s: %w", id, err)
		}
	}
	aw, ok := task.(ArtifactWriter)
	if !ok {
		return nil
	}
	final := ArtifactDir(env.Dir, id)
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return fmt.Errorf("artifacts: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(final), "."+id+".tmp-*")
	if err != nil {
		return fmt.Errorf("artifacts: %w", err)
	}
	if err := aw.WriteArtifacts(ctx, tmp, threads); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("artifacts of %s: %w", id, err)
	}
	if err := os.RemoveAll(final); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("artifacts: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("artifacts: %w", err)
	}
	return nil
}

// TaskConfig is what a suite builds a Task from.
type TaskConfig struct {
	// Profile holds the model and data specs, the batch size and the
	// suite's own options (Profile.Options).
	Profile Profile
	// Seed seeds the model's initialisation and the data order.
	Seed int64
	// DataPath is the root of a real data set the user gave ("" = the
	// profile's default data).
	DataPath string
	// Threads is the kernels' thread count of the stage.
	Threads int
	// Data shares loaded data sets between the runs of a process.
	Data *DataCache
	// MethodParams are the row's method parameters, resolved (given or the
	// method's default), for a Task whose model depends on them: the
	// Transformer's partitions are built for the row's "kappa". Nil or
	// without a key: the profile's own setting.
	MethodParams map[string]string
}

// TaskBuilder makes a Task from a config.
type TaskBuilder func(TaskConfig) (Task, error)

// Suites maps a table's suite name (Table.Suite) to the builder of its Task.
type Suites map[string]TaskBuilder

// DefaultSuites returns the suites the harness knows (a fresh map: a caller
// may add its own).
func DefaultSuites() Suites {
	return Suites{"image": newImageTask, "translation": newTranslationTask, "pointcloud": newPointCloudTask, "detection": newDetectionTask}
}

// Build makes the Task of a suite, or an error listing the known suites.
func (s Suites) Build(suite string, c TaskConfig) (Task, error) {
	if suite == "" {
		suite = "image"
	}
	b, ok := s[suite]
	if !ok {
		names := make([]string, 0, len(s))
		for n := range s {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("unknown suite %q (known: %s)", suite, strings.Join(names, ", "))
	}
	t, err := b(c)
	if err != nil {
		return nil, fmt.Errorf("suite %s: %w", suite, err)
	}
	return t, nil
}

// denseSet names the prunable tensors a dense rule keeps dense, from the
// FirstOrLast flags: "none", "first" (the first layer, RigL's ImageNet
// choice) or "first-last".
func denseSet(ps *nn.ParamSet, rule string) (map[string]bool, error) {
	var fl []string
	var all []*nn.Param
	if ps != nil {
		all = ps.All()
	}
	for _, p := range all {
		if p.Prunable && p.FirstOrLast {
			fl = append(fl, p.Name)
		}
	}
	out := map[string]bool{}
	switch rule {
	case "none", "":
	case "first":
		if len(fl) > 0 {
			out[fl[0]] = true
		}
	case "first-last":
		for _, n := range fl {
			out[n] = true
		}
	default:
		return nil, fmt.Errorf("dense layers %q: expected none, first or first-last", rule)
	}
	return out, nil
}

// curveName is the curve under which an evaluation key is recorded.
func curveName(k string) string {
	if strings.HasPrefix(k, "test_") {
		return k
	}
	return "test_" + k
}
