package experiments

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gap-harness/gap/methods"
	"github.com/gap-harness/gap/results"
)

// P-GaP runs as stages that meet through checkpoints in the run's folder:
//
//	round-0.ckpt            the random-sparse initial model (all partitions at target)
//	branch-<r>-<b>.ckpt     branch b of round r: partition b grown, T epochs trained
//	round-<r+1>.ckpt        the merge of round r's branches, pruned to target
//	finetune.ckpt           the masked fine-tune, epoch by epoch
//
// Every stage is skipped when its checkpoint exists, so any branch can be
// re-run on its own (delete its file) and an interrupted run resumes where it
// stopped. Branches of a round run concurrently, sharing the run's threads;
// nothing but the checkpoint files passes between them, so they could as well
// run on separate machines.

func roundPath(dir string, r int) string { return filepath.Join(dir, fmt.Sprintf("round-%d.ckpt", r)) }
func branchPath(dir string, r, b int) string {
	return filepath.Join(dir, fmt.Sprintf("branch-%d-%d.ckpt", r, b))
}

func executeParallel(ctx context.Context, spec RunSpec, env Env, data *dataPair, pm methods.Parallel) (*results.Run, error) {
	id := spec.ID()
	dir := env.ckptDir(id)
	newMethod := parallelFactory(env.Registry, spec)
	// Resolve the schedule (T, fine-tune length) whichever stages run below.
	pm.Epochs(spec.Profile.Epochs)
	// The init stage, unless its checkpoint exists.
	if c, err := LoadCheckpoint(roundPath(dir, 0)); err != nil {
		return nil, err
	} else if c == nil {
		main, err := newTrainer(spec, data, env.Threads, pm)
		if err != nil {
			return nil, err
		}
		initRNG, err := main.rngSrc.MarshalBinary()
		if err != nil {
			return nil, err
		}
		if err := main.initMethod(initRNG); err != nil {
			return nil, err
		}
		c, err := main.checkpoint(id, "pgap/round/0", 0, initRNG)
		if err != nil {
			return nil, err
		}
		if err := env.saveCheckpoint(roundPath(dir, 0), c); err != nil {
			return nil, err
		}
	}
	if env.Branches != nil {
		if err := writeSpec(dir, spec); err != nil {
			return nil, err
		}
	}
	T := pm.BranchEpochs()
	for r := 0; r < pm.Rounds(); r++ {
		if c, err := LoadCheckpoint(roundPath(dir, r+1)); err != nil {
			return nil, err
		} else if c != nil {
			continue
		}
		cur, err := LoadCheckpoint(roundPath(dir, r))
		if err != nil {
			return nil, err
		}
		if cur == nil {
			return nil, fmt.Errorf("p-gap: %s is missing", roundPath(dir, r))
		}
		k := pm.Branches()
		threads := max(1, env.Threads/k)
		errs := make([]error, k)
		var wg sync.WaitGroup
		sem := make(chan struct{}, max(1, env.Threads))
		for b := 0; b < k; b++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				if env.Branches != nil {
					errs[b] = env.Branches(ctx, env.Dir, id, r, b, threads)
					return
				}
				errs[b] = runBranch(ctx, spec, env, data, newMethod, cur, r, b, T, threads)
			}()
		}
		wg.Wait()
		for b, err := range errs {
			if err != nil {
				return nil, fmt.Errorf("p-gap round %d branch %d: %w", r, b, err)
			}
		}
		if err := mergeRound(ctx, spec, env, data, newMethod, cur, r, k, T); err != nil {
			return nil, err
		}
	}
	// The fine-tune, resumable epoch by epoch.
	ft, err := newMethod()
	if err != nil {
		return nil, err
	}
	t, err := newTrainer(spec, data, env.Threads, ft)
	if err != nil {
		return nil, err
	}
	ftPath := filepath.Join(dir, "finetune.ckpt")
	ck, err := LoadCheckpoint(ftPath)
	if err != nil {
		return nil, err
	}
	withOpt := true
	if ck == nil {
		if ck, err = LoadCheckpoint(roundPath(dir, pm.Rounds())); err != nil {
			return nil, err
		}
		withOpt = false // a fresh optimiser for the fine-tune
	}
	if err := t.initMethod(ck.InitRNG); err != nil {
		return nil, err
	}
	if err := t.restore(ck, withOpt); err != nil {
		return nil, err
	}
	if !withOpt {
		// Progress so far (the merged rounds' curves) comes from the round checkpoint.
		t.curves = append(t.curves[:0], ck.Curves...)
		t.maskChanges = append(t.maskChanges[:0], ck.MaskChanges...)
		t.trainFLOPs = ck.TrainFLOPs
		t.wall = secondsToDuration(ck.WallSeconds)
		t.step = ck.Step
	}
	start := pm.Rounds() * T
	if withOpt {
		start = ck.Epoch
	}
	for epoch := start; epoch < t.totalEpochs; epoch++ {
		if err := t.trainAndEval(ctx, env, "finetune", 1<<20, epoch, epoch); err != nil {
			return nil, err
		}
		c, err := t.checkpoint(id, "pgap/finetune", epoch+1, ck.InitRNG)
		if err != nil {
			return nil, err
		}
		if err := env.saveCheckpoint(ftPath, c); err != nil {
			return nil, err
		}
	}
	return t.result(spec, ft)
}

// parallelFactory builds fresh instances of a run's P-GaP-style method (one per
// branch, merge and fine-tune trainer) from the registry (nil: the default).
func parallelFactory(reg *methods.Registry, spec RunSpec) func() (methods.Parallel, error) {
	if reg == nil {
		reg = methods.Default()
	}
	return func() (methods.Parallel, error) {
		m, err := reg.New(spec.Row.Method, spec.MethodParams())
		if err != nil {
			return nil, err
		}
		pm, ok := m.(methods.Parallel)
		if !ok {
			return nil, fmt.Errorf("method %s has no branches", spec.Row.Method)
		}
		return pm, nil
	}
}

// specPath is where a P-GaP run's spec is written for branch processes.
func specPath(dir string) string { return filepath.Join(dir, "spec.json") }

// writeSpec saves the run's spec for branch processes, atomically.
func writeSpec(dir string, spec RunSpec) error {
	data, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return fmt.Errorf("p-gap spec: %w", err)
	}
	return writeAtomic(specPath(dir), func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// RunBranch trains branch b of round r of the P-GaP run id whose results
// folder is dir (<results>/<table>), reading the run's spec and the round's
// merged checkpoint from <dir>/ckpt/<id>/ and writing the branch checkpoint
// there. It is what a branch process runs (gap pgap-branch); a finished branch
// is left as it is.
func RunBranch(ctx context.Context, dir, id string, round, branch, threads int, env Env) error {
	ck := filepath.Join(dir, "ckpt", id)
	raw, err := os.ReadFile(specPath(ck))
	if err != nil {
		return fmt.Errorf("p-gap branch: %w", err)
	}
	var spec RunSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return fmt.Errorf("p-gap branch: %s: %w", specPath(ck), err)
	}
	if got := spec.ID(); got != id {
		return fmt.Errorf("p-gap branch: %s holds run %s, not %s", specPath(ck), got, id)
	}
	env.Dir = dir
	if env.Registry == nil {
		env.Registry = methods.Default()
	}
	if env.Data == nil {
		env.Data = &DataCache{}
	}
	data, err := env.Data.Load(spec.Profile.Data, spec.Profile.Model, spec.DataPath)
	if err != nil {
		return err
	}
	newMethod := parallelFactory(env.Registry, spec)
	pm, err := newMethod()
	if err != nil {
		return err
	}
	pm.Epochs(spec.Profile.Epochs)
	if round < 0 || round >= pm.Rounds() || branch < 0 || branch >= pm.Branches() {
		return fmt.Errorf("p-gap branch: round %d branch %d outside %d rounds of %d branches", round, branch, pm.Rounds(), pm.Branches())
	}
	cur, err := LoadCheckpoint(roundPath(ck, round))
	if err != nil {
		return err
	}
	if cur == nil {
		return fmt.Errorf("p-gap branch: %s is missing", roundPath(ck, round))
	}
	return runBranch(ctx, spec, env, data, newMethod, cur, round, branch, pm.BranchEpochs(), threads)
}

// runBranch trains branch b of round r from the merged checkpoint cur.
func runBranch(ctx context.Context, spec RunSpec, env Env, data *dataPair, newMethod func() (methods.Parallel, error), cur *Checkpoint, r, b, T, threads int) error {
	dir := env.ckptDir(spec.ID())
	if c, err := LoadCheckpoint(branchPath(dir, r, b)); err != nil || c != nil {
		return err
	}
	m, err := newMethod()
	if err != nil {
		return err
	}
	t, err := newTrainer(spec, data, threads, m)
	if err != nil {
		return err
	}
	if err := t.initMethod(cur.InitRNG); err != nil {
		return err
	}
	if err := t.restore(cur, false); err != nil {
		return err
	}
	if err := m.BranchInit(t.mctx, b); err != nil {
		return err
	}
	// Count on from the merged model's totals; mergeRound adds each branch's share.
	t.trainFLOPs, t.wall = cur.TrainFLOPs, secondsToDuration(cur.WallSeconds)
	t.step = int64(r*T) * int64(t.stepsPerEpoch)
	stage := uint64(1+r)<<8 | uint64(b)
	for e := 0; e < T; e++ {
		epoch := r*T + e
		loss, err := t.runEpoch(ctx, epoch, stage)
		if err != nil {
			return err
		}
		if env.Progress != nil {
			env.Progress(Progress{ID: spec.ID(), Row: spec.Row.Key(), Seed: spec.Seed, Stage: fmt.Sprintf("round %d branch %d", r, b),
				Epoch: epoch + 1, Epochs: t.totalEpochs, Loss: loss, Metric: -1, Elapsed: t.wall})
		}
	}
	c, err := t.checkpoint(spec.ID(), fmt.Sprintf("pgap/branch/%d/%d", r, b), (r+1)*T, cur.InitRNG)
	if err != nil {
		return err
	}
	return env.saveCheckpoint(branchPath(dir, r, b), c)
}

// mergeRound merges round r's branches into round r+1's checkpoint and
// evaluates the merged model.
func mergeRound(ctx context.Context, spec RunSpec, env Env, data *dataPair, newMethod func() (methods.Parallel, error), cur *Checkpoint, r, k, T int) error {
	dir := env.ckptDir(spec.ID())
	states := make([]map[string][]float32, k)
	var flops, wall float64
	for b := 0; b < k; b++ {
		c, err := LoadCheckpoint(branchPath(dir, r, b))
		if err != nil {
			return err
		}
		if c == nil {
			return fmt.Errorf("p-gap: %s is missing", branchPath(dir, r, b))
		}
		states[b] = c.State
		// Every branch's training counts: kappa x the compute in aggregate.
		flops += c.TrainFLOPs - cur.TrainFLOPs
		wall = max(wall, c.WallSeconds-cur.WallSeconds)
	}
	m, err := newMethod()
	if err != nil {
		return err
	}
	t, err := newTrainer(spec, data, env.Threads, m)
	if err != nil {
		return err
	}
	if err := t.initMethod(cur.InitRNG); err != nil {
		return err
	}
	if err := t.restore(cur, true); err != nil {
		return err
	}
	prunable := map[string]bool{}
	targets := map[string]float64{}
	for _, ts := range t.mctx.Tensors {
		if !ts.Dense {
			prunable[ts.Name] = true
			targets[ts.Name] = t.mctx.Targets[ts.Name]
		}
	}
	partOf := partitionFunc(t.mctx.Tensors)
	weights, masks, err := methods.Merge(states, partOf, prunable, targets)
	if err != nil {
		return fmt.Errorf("p-gap merge round %d: %w", r, err)
	}
	if err := t.params.LoadStateDict(weights); err != nil {
		return fmt.Errorf("p-gap merge round %d: %w", r, err)
	}
	for _, ts := range t.mctx.Tensors {
		if mk, ok := masks[ts.Name]; ok {
			copy(ts.M, mk)
		}
	}
	methods.ApplyMasks(t.mctx)
	for _, p := range sortedKeys(t.lastMasks) {
		t.recordMaskChange(p)
	}
	t.trainFLOPs = cur.TrainFLOPs + flops
	t.wall = secondsToDuration(cur.WallSeconds + wall)
	t.step = int64((r+1)*T) * int64(t.stepsPerEpoch)
	tl, top1, top5, err := t.evaluate()
	if err != nil {
		return err
	}
	ge := (r + 1) * T
	t.curves = append(t.curves,
		results.Point{Epoch: ge, Step: t.step, Metric: "test_loss", Value: tl},
		results.Point{Epoch: ge, Step: t.step, Metric: "test_top1", Value: top1},
		results.Point{Epoch: ge, Step: t.step, Metric: "test_top5", Value: top5},
		results.Point{Epoch: ge, Step: t.step, Metric: "sparsity", Value: methods.OverallSparsity(t.mctx.Tensors)},
	)
	if env.Progress != nil {
		env.Progress(Progress{ID: spec.ID(), Row: spec.Row.Key(), Seed: spec.Seed, Stage: fmt.Sprintf("merge %d", r),
			Epoch: ge, Epochs: t.totalEpochs, Loss: tl, Metric: top1, Elapsed: t.wall})
	}
	c, err := t.checkpoint(spec.ID(), fmt.Sprintf("pgap/round/%d", r+1), ge, cur.InitRNG)
	if err != nil {
		return err
	}
	return env.saveCheckpoint(roundPath(dir, r+1), c)
}

// partitionFunc assigns every parameter and buffer name to a partition: a
// prunable tensor has its own; any other tensor takes the partition of the
// prunable tensor with which it shares the longest dotted name prefix (the BN
// after a conv, a layer's bias), and -1 (averaged over branches) when it shares
// no prefix with any (e.g. a stem BN named apart from the stem conv).
func partitionFunc(ts []*methods.Tensor) func(string) int {
	own := map[string]int{}
	for _, t := range ts {
		own[t.Name] = t.Partition
	}
	return func(name string) int {
		if p, ok := own[name]; ok {
			return p
		}
		parts := strings.Split(name, ".")
		best, bestP := 0, -1
		for _, t := range ts {
			tp := strings.Split(t.Name, ".")
			n := 0
			for n < len(tp)-1 && n < len(parts)-1 && tp[n] == parts[n] {
				n++
			}
			if n > best {
				best, bestP = n, t.Partition
			}
		}
		return bestP
	}
}
