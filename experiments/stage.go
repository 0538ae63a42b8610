package experiments

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/gap-harness/gap/methods"
	"github.com/gap-harness/gap/results"
)

// A run is a small graph of stages (see DESIGN.md, "Runs as stages"):
//
//	serial method:   main                                  (one stage)
//	P-GaP:           round-0 -> branch-r-b (b < kappa) -> merge -> round-(r+1)
//	                 ... -> finetune
//
// A stage is one primitive: start from a checkpoint (another stage's, or a
// fresh model and Method.Init), train a range of epochs with a method,
// evaluate, and save the stage's checkpoint <id>.ckpt in the run's folder
// after every epoch. A stage whose checkpoint is complete is skipped, so
// stages are idempotent by their id: an interrupted run resumes where it
// stopped, any stage can be re-run by deleting its file, and a stage can run
// in another process (gap pgap-branch) or on another machine.

// stage is one stage of a run.
type stage struct {
	// id names the stage; its checkpoint is <run folder>/<id>.ckpt.
	id string
	// from is the checkpoint the stage starts from; nil starts a fresh model
	// and calls Method.Init.
	from *Checkpoint
	// method trains the stage (a fresh instance: Epochs is called on it).
	method methods.Method
	// begin and end are the run's epochs the stage trains: [begin, end).
	begin, end int
	// prepare runs once on a stage started from `from`, after loading it and
	// before training (P-GaP's BranchInit).
	prepare func(t *trainer) error
	// eval evaluates after every epoch (else progress reports the loss only).
	eval bool
	// evalLast evaluates after the stage's last epoch only (P-GaP's
	// branches, for the record).
	evalLast bool
	// stream separates the augmentation of stages that train the same epochs.
	stream uint64
	// threads is the stage's kernel thread count.
	threads int
	// label names the stage in progress reports.
	label string
	// clock places the method's epochs in the run (see clock).
	clock clock
	// initAfterLoad calls Method.Init on the weights loaded from `from`
	// (the warm-up's trained weights) instead of on a fresh model.
	initAfterLoad bool
}

func (e Env) stagePath(id, stageID string) string {
	return filepath.Join(e.ckptDir(id), stageID+".ckpt")
}

// runStage runs a stage to its end, resuming from its own checkpoint when one
// exists, and returns the trainer (at the stage's end) and its final
// checkpoint. With needTrainer false a stage already complete returns its
// checkpoint without building a trainer.
func runStage(ctx context.Context, spec RunSpec, env Env, st stage, needTrainer bool) (*trainer, *Checkpoint, error) {
	id := spec.ID()
	path := env.stagePath(id, st.id)
	own, err := LoadCheckpoint(path)
	if err != nil {
		return nil, nil, err
	}
	if own != nil && own.Stage != st.id {
		return nil, nil, fmt.Errorf("checkpoint %s holds stage %q, not %q (delete it to re-run the stage)", path, own.Stage, st.id)
	}
	if own != nil && own.Epoch >= st.end && !needTrainer {
		return nil, own, nil
	}
	t, err := newTrainer(spec, env, st.threads, st.method, st.clock)
	if err != nil {
		return nil, nil, err
	}
	if st.end > t.clock.total || st.begin > st.end {
		return nil, nil, fmt.Errorf("stage %s: epochs [%d, %d) outside the run's %d", st.id, st.begin, st.end, t.clock.total)
	}
	var initRNG []byte
	start := st.begin
	switch {
	case own != nil: // resume the stage
		initRNG = own.InitRNG
		// Init replays with the targets it fixed (they may have come from
		// weights the replay does not see).
		t.mctx.Targets = copyTargets(own.Targets)
		if err := t.initMethod(initRNG); err != nil {
			return nil, nil, err
		}
		if err := t.restore(own); err != nil {
			return nil, nil, fmt.Errorf("resume %s: %w", path, err)
		}
		start = own.Epoch
		if start > st.begin && start < st.end {
			env.log().Info("resuming", "run", id, "row", spec.Row.Key(), "seed", spec.Seed, "stage", st.id, "epoch", start)
		}
	case st.from != nil && st.initAfterLoad: // Init on the loaded (warmed-up) weights
		if err := t.restoreModel(st.from); err != nil {
			return nil, nil, err
		}
		if err := t.restoreProgress(st.from); err != nil {
			return nil, nil, err
		}
		t.mctx.Targets = nil // computed by Init from these weights
		if initRNG, err = t.rngSrc.MarshalBinary(); err != nil {
			return nil, nil, err
		}
		if err := t.initMethod(initRNG); err != nil {
			return nil, nil, err
		}
		if err := t.restartOptimizer(); err != nil {
			return nil, nil, err
		}
	case st.from != nil: // start from another stage's checkpoint, as a new process would
		initRNG = st.from.InitRNG
		t.mctx.Targets = copyTargets(st.from.Targets) // Init replays with the fixed targets
		if err := t.initMethod(initRNG); err != nil {
			return nil, nil, err
		}
		if err := t.restoreModel(st.from); err != nil {
			return nil, nil, err
		}
		if err := t.restoreProgress(st.from); err != nil {
			return nil, nil, err
		}
		if st.prepare != nil {
			if err := st.prepare(t); err != nil {
				return nil, nil, err
			}
		}
		if err := t.restartOptimizer(); err != nil {
			return nil, nil, err
		}
	default: // a fresh model
		if initRNG, err = t.rngSrc.MarshalBinary(); err != nil {
			return nil, nil, err
		}
		if err := t.initMethod(initRNG); err != nil {
			return nil, nil, err
		}
		if err := t.replayKernelChoices(env); err != nil {
			return nil, nil, err
		}
	}
	save := func(epoch int) (*Checkpoint, error) {
		c, err := t.checkpoint(id, st.id, epoch, initRNG)
		if err != nil {
			return nil, err
		}
		return c, env.saveCheckpoint(path, c)
	}
	last := own
	if own == nil && start == st.end { // a stage that trains nothing (P-GaP's init)
		if last, err = save(st.end); err != nil {
			return nil, nil, err
		}
	}
	for epoch := start; epoch < st.end; epoch++ {
		loss, err := t.runEpoch(ctx, epoch, st.stream)
		if err != nil {
			return nil, nil, err
		}
		t.afterEpoch(epoch - t.clock.offset)
		metric := -1.0
		if st.eval || (st.evalLast && epoch+1 == st.end) {
			m, err := t.evaluate(ctx)
			if err != nil {
				return nil, nil, err
			}
			t.curves = append(t.curves, results.Point{Epoch: epoch + 1, Step: t.step, Metric: "train_loss", Value: loss})
			t.recordEval(epoch+1, m)
			metric = t.headline(m)
		}
		if env.Progress != nil {
			env.Progress(Progress{ID: id, Row: spec.Row.Key(), Seed: spec.Seed, Stage: st.label,
				Epoch: epoch + 1, Epochs: t.clock.total, Loss: loss, Metric: metric, Elapsed: t.wall})
		}
		if last, err = save(epoch + 1); err != nil {
			return nil, nil, err
		}
	}
	return t, last, nil
}

// warmupEpochs is the run's dense warm-up: the profile's GlobalWarmupEpochs
// for a "global" row of a method that fixes its targets at Init, so that the
// ratios come from trained weights; else 0.
func warmupEpochs(spec RunSpec, method methods.Method) int {
	if spec.Row.Distribution != methods.Global || spec.Profile.GlobalWarmupEpochs <= 0 {
		return 0
	}
	if m, ok := method.(methods.TargetsAtInit); ok && m.TargetsAtInit() {
		return spec.Profile.GlobalWarmupEpochs
	}
	return 0
}

// runWarmup trains the dense warm-up stage [0, w) of a run of `total` epochs
// and returns its checkpoint.
func runWarmup(ctx context.Context, spec RunSpec, env Env, w, total int) (*Checkpoint, error) {
	reg := env.Registry
	if reg == nil {
		reg = methods.Default()
	}
	dense, err := reg.New("dense", nil)
	if err != nil {
		return nil, err
	}
	_, ck, err := runStage(ctx, spec, env, stage{id: "warmup", method: dense, begin: 0, end: w, eval: true,
		threads: env.Threads, label: "warm-up", clock: clock{offset: 0, total: total}}, false)
	return ck, err
}

// phaseBounds splits a method's epochs [0, n) where it restarts its
// optimiser (methods.Restarter: each C-GaP step, prune-from-pretrained's
// fine-tune), unless the profile keeps the optimiser: each piece is a stage,
// as each is a separate process in the reference code.
func phaseBounds(spec RunSpec, method methods.Method, n int) []int {
	b := []int{0}
	if r, ok := method.(methods.Restarter); ok && !spec.Profile.Optim.KeepStateAcrossPhases {
		for e := 1; e < n; e++ {
			if r.RestartsOptimizerAt(e) {
				b = append(b, e)
			}
		}
	}
	return append(b, n)
}

// executeSerial runs a one-process method as a chain of stages: a dense
// warm-up when the row's "global" ratios need trained weights, then one stage
// per optimiser phase of the method ("main" when it has one phase; else
// "phase-0", "phase-1", ...: prune-from-pretrained's dense+prune and
// fine-tune, C-GaP's steps), each starting from the previous one's
// checkpoint with a fresh optimiser.
func executeSerial(ctx context.Context, spec RunSpec, env Env, method methods.Method) (*results.Run, error) {
	n := method.Epochs(spec.baseEpochs())
	w := warmupEpochs(spec, method)
	clk := clock{offset: w, total: w + n}
	var from *Checkpoint
	if w > 0 {
		var err error
		if from, err = runWarmup(ctx, spec, env, w, w+n); err != nil {
			return nil, err
		}
	}
	bounds := phaseBounds(spec, method, n)
	var t *trainer
	for j := 0; j+1 < len(bounds); j++ {
		id := "main"
		if len(bounds) > 2 {
			id = fmt.Sprintf("phase-%d", j)
		}
		st := stage{id: id, method: method, begin: w + bounds[j], end: w + bounds[j+1], eval: true, threads: env.Threads,
			label: id, clock: clk, from: from, initAfterLoad: j == 0 && from != nil}
		last := j+2 == len(bounds)
		var err error
		if t, from, err = runStage(ctx, spec, env, st, last); err != nil {
			return nil, err
		}
	}
	if err := writeArtifacts(ctx, env, spec.ID(), t.task, env.Threads); err != nil {
		return nil, err
	}
	if err := writeKernelRecord(env, spec, t); err != nil {
		return nil, err
	}
	return t.result(ctx, spec, method)
}
