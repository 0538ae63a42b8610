package experiments

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/gap-harness/gap/internal/atomicfile"
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
// Every stage is skipped when its checkpoint is complete, so any branch can be
// re-run on its own (delete its file) and an interrupted run resumes where it
// stopped. Branches of a round run concurrently, sharing the run's threads;
// nothing but the checkpoint files passes between them, so they could as well
// run on separate machines.

func roundID(r int) string     { return fmt.Sprintf("round-%d", r) }
func branchID(r, b int) string { return fmt.Sprintf("branch-%d-%d", r, b) }

// pgapPlan is a P-GaP run's resolved schedule.
// Epochs are the run's: the method's epoch e is the run's w+e after a
// warm-up of w epochs.
type pgapPlan struct {
	rounds, kappa, T int
	w, total         int // warm-up epochs; the run's epochs (w + the method's)
}

func (p pgapPlan) clock() clock { return clock{offset: p.w, total: p.total} }

func resolvePGaP(spec RunSpec, newMethod func() (methods.Parallel, error)) (pgapPlan, error) {
	pm, err := newMethod()
	if err != nil {
		return pgapPlan{}, err
	}
	n := pm.Epochs(spec.baseEpochs())
	w := warmupEpochs(spec, pm)
	return pgapPlan{rounds: pm.Rounds(), kappa: pm.Branches(), T: pm.BranchEpochs(), w: w, total: w + n}, nil
}

// executeParallel runs P-GaP's graph of stages: init, kappa branches per
// round, merge, fine-tune. Each stage is skipped when its checkpoint is
// complete.
func executeParallel(ctx context.Context, spec RunSpec, env Env, pm methods.Parallel) (*results.Run, error) {
	id := spec.ID()
	dir := env.ckptDir(id)
	newMethod := parallelFactory(env.Registry, spec)
	plan, err := resolvePGaP(spec, newMethod)
	if err != nil {
		return nil, err
	}
	if err := pgapInit(ctx, spec, env, pm, plan); err != nil {
		return nil, err
	}
	if env.Branches != nil {
		if err := writeSpec(dir, spec); err != nil {
			return nil, err
		}
	}
	for r := 0; r < plan.rounds; r++ {
		if c, err := LoadCheckpoint(env.stagePath(id, roundID(r+1))); err != nil {
			return nil, err
		} else if c != nil {
			continue
		}
		cur, err := LoadCheckpoint(env.stagePath(id, roundID(r)))
		if err != nil {
			return nil, err
		}
		if cur == nil {
			return nil, fmt.Errorf("p-gap: %s is missing", env.stagePath(id, roundID(r)))
		}
		k := plan.kappa
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
				errs[b] = runBranch(ctx, spec, env, newMethod, cur, plan, r, b, threads)
			}()
		}
		wg.Wait()
		for b, err := range errs {
			if err != nil {
				return nil, fmt.Errorf("p-gap round %d branch %d: %w", r, b, err)
			}
		}
		if err := mergeRound(ctx, spec, env, newMethod, cur, plan, r); err != nil {
			return nil, err
		}
	}
	last, err := LoadCheckpoint(env.stagePath(id, roundID(plan.rounds)))
	if err != nil {
		return nil, err
	}
	if last == nil {
		return nil, fmt.Errorf("p-gap: %s is missing", env.stagePath(id, roundID(plan.rounds)))
	}
	ft, err := newMethod()
	if err != nil {
		return nil, err
	}
	t, _, err := runStage(ctx, spec, env, stage{id: "finetune", from: last, method: ft, begin: plan.w + plan.rounds*plan.T, end: plan.total,
		eval: true, stream: 1 << 20, threads: env.Threads, label: "finetune", clock: plan.clock()}, true)
	if err != nil {
		return nil, err
	}
	if err := writeArtifacts(ctx, env, spec.ID(), t.task, env.Threads); err != nil {
		return nil, err
	}
	if err := writeKernelRecord(env, spec, t); err != nil {
		return nil, err
	}
	return t.result(ctx, spec, ft)
}

// pgapInit is the stage round-0: the dense warm-up when the row needs one,
// then Method.Init on a fresh (or the warmed-up) model, saved as round-0.
func pgapInit(ctx context.Context, spec RunSpec, env Env, pm methods.Parallel, plan pgapPlan) error {
	id := spec.ID()
	init := stage{id: roundID(0), method: pm, threads: env.Threads, label: "init", clock: plan.clock()}
	if plan.w > 0 {
		if c, err := LoadCheckpoint(env.stagePath(id, roundID(0))); err != nil {
			return err
		} else if c == nil {
			from, err := runWarmup(ctx, spec, env, plan.w, plan.total)
			if err != nil {
				return err
			}
			init.from, init.initAfterLoad = from, true
		}
		init.begin, init.end = plan.w, plan.w
	}
	if _, _, err := runStage(ctx, spec, env, init, false); err != nil {
		return err
	}
	return nil
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
	return atomicfile.WriteBytes(specPath(dir), data)
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
	newMethod := parallelFactory(env.Registry, spec)
	plan, err := resolvePGaP(spec, newMethod)
	if err != nil {
		return err
	}
	if round < 0 || round >= plan.rounds || branch < 0 || branch >= plan.kappa {
		return fmt.Errorf("p-gap branch: round %d branch %d outside %d rounds of %d branches", round, branch, plan.rounds, plan.kappa)
	}
	env.Threads = threads
	cur, err := LoadCheckpoint(env.stagePath(id, roundID(round)))
	if err != nil {
		return err
	}
	if cur == nil {
		return fmt.Errorf("p-gap branch: %s is missing", env.stagePath(id, roundID(round)))
	}
	return runBranch(ctx, spec, env, newMethod, cur, plan, round, branch, threads)
}

// runBranch runs the stage of branch b of round r: from the merged
// checkpoint cur, partition b grown, T epochs.
func runBranch(ctx context.Context, spec RunSpec, env Env, newMethod func() (methods.Parallel, error), cur *Checkpoint, plan pgapPlan, r, b, threads int) error {
	m, err := newMethod()
	if err != nil {
		return err
	}
	_, _, err = runStage(ctx, spec, env, stage{id: branchID(r, b), from: cur, method: m,
		begin: plan.w + r*plan.T, end: plan.w + (r+1)*plan.T, stream: uint64(1+r)<<8 | uint64(b), threads: threads, clock: plan.clock(),
		evalLast: true,
		label:    fmt.Sprintf("round %d branch %d", r, b),
		prepare:  func(t *trainer) error { return m.BranchInit(t.mctx, b) }}, false)
	return err
}

// mergeRound is the merge stage of round r: it merges the round's branches
// (partition i from branch i, by the model's partition map; the mean
// elsewhere), prunes to the targets, evaluates, and saves round r+1.
func mergeRound(ctx context.Context, spec RunSpec, env Env, newMethod func() (methods.Parallel, error), cur *Checkpoint, plan pgapPlan, r int) error {
	id := spec.ID()
	states := make([]map[string][]float32, plan.kappa)
	var branchEval []results.Point // each branch's final evaluation and epoch timings, for the record
	var branchKernels []KernelRecord
	var flops, wall float64
	for b := 0; b < plan.kappa; b++ {
		path := env.stagePath(id, branchID(r, b))
		c, err := LoadCheckpoint(path)
		if err != nil {
			return err
		}
		if c == nil || c.Epoch < plan.w+(r+1)*plan.T {
			return fmt.Errorf("p-gap: %s is missing or unfinished", path)
		}
		states[b] = c.State
		branchKernels = append(branchKernels, newKernelChoices(cur.KernelChoices, c.KernelChoices, branchID(r, b))...)
		for _, pt := range c.Curves {
			switch {
			case pt.Epoch == c.Epoch && strings.HasPrefix(pt.Metric, "test_"):
				pt.Metric = fmt.Sprintf("branch%d_%s", b, pt.Metric[5:])
				branchEval = append(branchEval, pt)
			case pt.Epoch > cur.Epoch && sparseKernelCurve(pt.Metric):
				// The branch's own epochs' times (sparse-kernel training).
				pt.Metric = fmt.Sprintf("branch%d_%s", b, pt.Metric)
				branchEval = append(branchEval, pt)
			}
		}
		// Every branch's training counts: kappa x the compute in aggregate.
		flops += c.TrainFLOPs - cur.TrainFLOPs
		wall = max(wall, c.WallSeconds-cur.WallSeconds)
	}
	m, err := newMethod()
	if err != nil {
		return err
	}
	t, err := newTrainer(spec, env, env.Threads, m, plan.clock())
	if err != nil {
		return err
	}
	if err := t.initMethod(cur.InitRNG); err != nil {
		return err
	}
	if err := t.restore(cur); err != nil {
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
	// For the record: the merged model before its prune (every partition
	// as its branch left it), evaluated below.
	unpruned, _, err := methods.Merge(states, t.task.PartitionOf, nil, nil)
	if err != nil {
		return fmt.Errorf("p-gap merge round %d: %w", r, err)
	}
	weights, masks, err := methods.Merge(states, t.task.PartitionOf, prunable, targets)
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
	ge := plan.w + (r+1)*plan.T
	t.step = int64(ge) * int64(t.stepsPerEpoch)
	t.curves = append(t.curves, branchEval...)
	t.branchKernels = append(t.branchKernels, branchKernels...)
	if err := t.recordUnpruned(ctx, unpruned, weights, ge); err != nil {
		return fmt.Errorf("p-gap merge round %d: %w", r, err)
	}
	if bn, ok := m.(methods.BNReestimator); ok && bn.BNBatches() > 0 {
		// The merged model as merged, for the record, then its batch-norm
		// statistics re-estimated on training batches of the next epoch.
		raw, err := t.evaluate(ctx)
		if err != nil {
			return err
		}
		for _, k := range sortedStrings(raw) {
			t.curves = append(t.curves, results.Point{Epoch: ge, Step: t.step, Metric: "merge_raw_" + k, Value: raw[k]})
		}
		if err := t.reestimateBN(ctx, ge, bn.BNBatches()); err != nil {
			return fmt.Errorf("p-gap merge round %d: %w", r, err)
		}
	}
	ev, err := t.evaluate(ctx)
	if err != nil {
		return err
	}
	t.recordEval(ge, ev)
	if env.Progress != nil {
		env.Progress(Progress{ID: id, Row: spec.Row.Key(), Seed: spec.Seed, Stage: fmt.Sprintf("merge %d", r),
			Epoch: ge, Epochs: plan.total, Loss: math.NaN(), Metric: t.headline(ev), Elapsed: t.wall})
	}
	c, err := t.checkpoint(id, roundID(r+1), ge, cur.InitRNG)
	if err != nil {
		return err
	}
	return env.saveCheckpoint(env.stagePath(id, roundID(r+1)), c)
}

// reestimateBN runs n training batches of epoch `epoch` forward, without
// gradients or weight updates, so that every batch norm's running statistics
// follow the current weights (momentum averaging over the batches). Their
// forward FLOPs are charged to training.
func (t *trainer) reestimateBN(ctx context.Context, epoch, n int) error {
	t.tape.SetNoGrad(true)
	defer t.tape.SetNoGrad(false)
	fwd := methods.InferenceFLOPs(t.mctx.Tensors, t.otherFwd)
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		t.tape.Reset()
		if _, err := t.task.Loss(t.tape, epoch, i%t.stepsPerEpoch, nil); err != nil {
			return fmt.Errorf("batch-norm re-estimation: %w", err)
		}
		t.trainFLOPs += float64(t.batch) * fwd
	}
	t.tape.Reset()
	return nil
}

func sortedStrings[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// recordUnpruned evaluates the merged model before its prune (dense masks)
// and records it as merge_unpruned_*, then loads the pruned merge back.
func (t *trainer) recordUnpruned(ctx context.Context, unpruned, pruned map[string][]float32, epoch int) error {
	saved := make([][]float32, len(t.mctx.Tensors))
	for i, ts := range t.mctx.Tensors {
		saved[i] = append([]float32(nil), ts.M...)
		for j := range ts.M {
			ts.M[j] = 1
		}
	}
	if err := t.params.LoadStateDict(unpruned); err != nil {
		return err
	}
	ev, err := t.task.Evaluate(ctx, t.threads)
	if err != nil {
		return err
	}
	for _, k := range sortedStrings(ev) {
		t.curves = append(t.curves, results.Point{Epoch: epoch, Step: t.step, Metric: "merge_unpruned_" + k, Value: ev[k]})
	}
	// The state dicts hold masks too: load the pruned merge, then its masks.
	if err := t.params.LoadStateDict(pruned); err != nil {
		return err
	}
	for i, ts := range t.mctx.Tensors {
		copy(ts.M, saved[i])
	}
	methods.ApplyMasks(t.mctx)
	return nil
}
