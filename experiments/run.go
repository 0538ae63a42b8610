package experiments

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/internal/atomicfile"
	"github.com/gap-harness/gap/methods"
	"github.com/gap-harness/gap/results"
)

// Env is what a run needs besides its spec: where results and checkpoints go,
// how many threads it may use, and where to report progress.
type Env struct {
	// Dir is the results folder of the table: <results>/<table>. Finished runs
	// are <Dir>/<id>.arrow; checkpoints live under <Dir>/ckpt/<id>/.
	Dir     string
	Threads int
	// Repo is the folder whose git commit is recorded ("" = working directory)
	// when Commit is empty.
	Repo string
	// Commit is the commit the running binary was built from, if known.
	Commit   string
	Log      *slog.Logger
	Registry *methods.Registry
	Data     *DataCache
	// Progress, when set, is called after every epoch.
	Progress func(p Progress)
	// Branches, when set, runs each P-GaP branch elsewhere (a separate
	// process, say) instead of in a goroutine of this one. It must train
	// branch b of round r of the run id whose spec is in the run's checkpoint
	// folder, as RunBranch does, and return once the branch checkpoint is written.
	Branches BranchRunner
	// Suites builds the Task of a table's suite (nil: DefaultSuites).
	Suites Suites
	// KeepCheckpoints keeps a finished run's checkpoint folder (by default it
	// is removed once the run's result is written).
	KeepCheckpoints bool
	// SaveModels writes each finished run's final model (parameters,
	// buffers and masks) to ModelPath(Dir, id), for `gap bench infer -run`.
	SaveModels bool
	// OnCheckpoint, when set, is called after every checkpoint file is
	// written (tests use it to stop a process at a stage boundary).
	OnCheckpoint func(path string)
}

// BranchRunner trains one P-GaP branch: see Env.Branches and RunBranch.
type BranchRunner func(ctx context.Context, dir, id string, round, branch, threads int) error

// Progress is one epoch's report.
type Progress struct {
	ID, Row string
	Seed    int64
	Stage   string
	Epoch   int // epochs finished
	Epochs  int
	// Loss is the epoch's mean training loss, NaN for an epoch that trained
	// nothing (a P-GaP merge); Metric is the headline metric, negative when
	// there is none.
	Loss, Metric float64
	Elapsed      time.Duration
}

func (e Env) log() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.Default()
}

// ResultPath is where a finished run's Arrow file lives.
func (e Env) ResultPath(id string) string { return filepath.Join(e.Dir, id+results.Ext) }

// saveCheckpoint writes a checkpoint and reports it to OnCheckpoint.
func (e Env) saveCheckpoint(path string, c *Checkpoint) error {
	if err := SaveCheckpoint(path, c); err != nil {
		return err
	}
	if e.OnCheckpoint != nil {
		e.OnCheckpoint(path)
	}
	return nil
}

func (e Env) ckptDir(id string) string { return filepath.Join(e.Dir, "ckpt", id) }

// Execute runs one table row for one seed, resuming from its checkpoint when
// one exists, and returns the finished run; a run already finished is read
// back, not run again.
func Execute(ctx context.Context, spec RunSpec, env Env) (*results.Run, error) {
	if spec.Threads == 0 {
		spec.Threads = max(1, env.Threads)
	}
	env.Threads = spec.Threads
	id := spec.ID()
	if _, err := os.Stat(env.ResultPath(id)); err == nil {
		return ReadFinished(env.ResultPath(id)) // finished: read back, not retrained
	}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if spec.Row.Pending != "" {
		return nil, fmt.Errorf("row %s is pending: %s", spec.Row.Key(), spec.Row.Pending)
	}
	reg := env.Registry
	if reg == nil {
		reg = methods.Default()
	}
	method, err := reg.New(spec.Row.Method, spec.MethodParams())
	if err != nil {
		return nil, fmt.Errorf("row %s: %w", spec.Row.Key(), err)
	}
	if env.Data == nil {
		env.Data = &DataCache{}
	}
	// Temporary files a killed process left half-written.
	if n, err := atomicfile.CleanStale(env.ckptDir(id)); err != nil {
		return nil, err
	} else if n > 0 {
		env.log().Info("removed temporary files of an interrupted write", "run", id, "files", n)
	}
	started := time.Now()
	var run *results.Run
	if pm, ok := method.(methods.Parallel); ok {
		run, err = executeParallel(ctx, spec, env, pm)
	} else {
		run, err = executeSerial(ctx, spec, env, method)
	}
	if err != nil {
		return nil, fmt.Errorf("run %s (%s, seed %d): %w", id, spec.Row.Key(), spec.Seed, err)
	}
	run.Started, run.Finished = started, time.Now()
	run.StampCommit(env.Commit, env.Repo)
	run.Build = engine.Build()
	if _, err := results.Write(env.Dir, run); err != nil {
		return nil, err
	}
	if !env.KeepCheckpoints {
		if err := os.RemoveAll(env.ckptDir(id)); err != nil {
			env.log().Warn("could not remove the finished run's checkpoints", "run", id, "err", err)
		}
	}
	return run, nil
}

// ReadFinished reads back a finished run for reuse. A run computed by
// another engine build (another BLAS, or without the assembly kernels) is
// refused: its numbers differ from what this binary would compute for the
// same id in the last bits, and a table that mixed the two could not be
// reproduced by either build. Runs from before the build was recorded are
// read as they are.
func ReadFinished(path string) (*results.Run, error) {
	r, err := results.Read(path)
	if err != nil {
		return nil, err
	}
	if err := sameBuild(path, "finished run "+r.ID, r.Build); err != nil {
		return nil, err
	}
	return r, nil
}

// sameBuild checks that build (recorded in the file at path, "" when not
// recorded) is this binary's engine build.
func sameBuild(path, what, build string) error {
	if build == "" || build == engine.Build() {
		return nil
	}
	return fmt.Errorf("%s: %s was computed by the %q engine build and this binary is the %q build; their float32 results differ, so a table must not mix them: use another results folder (-results), or the binary of that build (make BLAS=openblas|gonum; go build -tags noasm for +noasm)", path, what, build, engine.Build())
}

// result assembles the finished run's record.
func (t *trainer) result(ctx context.Context, spec RunSpec, method methods.Method) (*results.Run, error) {
	if t.last == nil {
		if _, err := t.evaluate(ctx); err != nil {
			return nil, fmt.Errorf("final evaluation: %w", err)
		}
	}
	final := make(map[string]float64, len(t.last)+2)
	for k, v := range t.last {
		final[k] = v
	}
	// Sparsity of the prunable layers (those not kept dense) and of the
	// whole model's conv and linear weights (dense layers included).
	final["sparsity"] = methods.OverallSparsity(t.mctx.Tensors)
	final["sparsity_model"] = methods.ModelSparsity(t.mctx.Tensors)
	var layers []results.Layer
	for _, ts := range t.mctx.Tensors {
		layers = append(layers, results.Layer{Name: ts.Name, Partition: ts.Partition,
			Params: int64(len(ts.M)), Nonzero: int64(methods.CountOnes(ts.M))})
	}
	var phases []results.Phase
	off := t.clock.offset
	if off > 0 {
		phases = append(phases, results.Phase{Name: "warmup", Partition: -1, StartEpoch: 0, EndEpoch: off})
	}
	for e := 0; e < t.totalEpochs; e++ {
		ph := method.Phase(e)
		if n := len(phases); n > 0 && phases[n-1].Name == ph.Name && phases[n-1].Partition == ph.Partition && phases[n-1].EndEpoch == off+e {
			phases[n-1].EndEpoch = off + e + 1
			continue
		}
		phases = append(phases, results.Phase{Name: ph.Name, Partition: ph.Partition, StartEpoch: off + e, EndEpoch: off + e + 1})
	}
	var denseFwd float64
	for _, ts := range t.mctx.Tensors {
		denseFwd += ts.FwdFLOPs
	}
	p := spec.Profile
	return &results.Run{
		ID: spec.ID(), Table: spec.Table, Row: spec.Row.Key(), Suite: spec.Suite, Profile: p.Name,
		Method: spec.Row.Method, Model: p.Model.Name, Dataset: p.Data.Name, Distribution: spec.Row.Distribution,
		Sparsity: spec.Row.Sparsity, Seed: spec.Seed, Epochs: off + t.totalEpochs, Settings: spec.Settings(),
		Curves: t.curves, Final: final, Metric: spec.Metric, Layers: layers, Phases: phases,
		MaskChanges: t.maskChanges, TrainFLOPs: t.trainFLOPs, DenseTrainFLOPs: t.denseTrainFLOPs(),
		InferFLOPs:      methods.InferenceFLOPs(t.mctx.Tensors, t.otherFwd),
		DenseInferFLOPs: denseFwd + t.otherFwd,
		WallSeconds:     t.wall.Seconds(),
	}, nil
}

func secondsToDuration(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
