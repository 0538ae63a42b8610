package experiments

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/methods"
	"github.com/gap-harness/gap/results"
)

// initMethod replays the method's Init from a known generator state. On resume
// the checkpoint then overwrites weights, masks and the generator; Init's replay
// only restores what the method keeps inside itself (its partition order, say).
func (t *trainer) initMethod(initRNG []byte) error {
	if err := t.rngSrc.UnmarshalBinary(initRNG); err != nil {
		return fmt.Errorf("restore generator: %w", err)
	}
	t.mctx.TotalEpochs = t.totalEpochs
	if err := t.method.Init(t.mctx); err != nil {
		return fmt.Errorf("%s init: %w", t.method.Name(), err)
	}
	methods.ApplyMasks(t.mctx)
	for _, ts := range t.mctx.Tensors {
		if ts.Partition >= 0 {
			if _, ok := t.lastMasks[ts.Partition]; !ok {
				t.lastMasks[ts.Partition] = nil
			}
		}
	}
	t.snapshotAll()
	return nil
}

// partitionMask concatenates the masks of partition p's tensors.
func (t *trainer) partitionMask(p int) []float32 {
	var m []float32
	for _, ts := range t.mctx.Tensors {
		if ts.Partition == p {
			m = append(m, ts.M...)
		}
	}
	return m
}

// sortedKeys returns a map's integer keys in increasing order.
func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}

// snapshotAll records every partition's mask as the reference for the next change.
func (t *trainer) snapshotAll() {
	for _, p := range sortedKeys(t.lastMasks) {
		t.lastMasks[p] = t.partitionMask(p)
	}
}

// recordMaskChange compares partition p's mask with its last snapshot, appends
// the changed share as the partition's next round, and takes a new snapshot.
func (t *trainer) recordMaskChange(p int) {
	cur := t.partitionMask(p)
	prev := t.lastMasks[p]
	if len(prev) == len(cur) && len(cur) > 0 && methods.CountOnes(prev) < len(prev) {
		changed := 0
		for i := range cur {
			if (cur[i] != 0) != (prev[i] != 0) {
				changed++
			}
		}
		t.maskChanges = append(t.maskChanges, results.MaskChange{Round: t.roundOf[p], Partition: p, Changed: float64(changed) / float64(len(cur))})
		t.roundOf[p]++
	}
	t.lastMasks[p] = cur
}

// afterEpoch tracks GaP mask changes: when a partition that was grown in epoch
// e is pruned back (the phase changes), its new mask is compared with the one it
// had after its previous prune.
func (t *trainer) afterEpoch(epoch int) {
	cur := t.method.Phase(epoch)
	if cur.Name != "grow" || cur.Partition < 0 {
		return
	}
	if epoch+1 < t.totalEpochs {
		next := t.method.Phase(epoch + 1)
		if next.Name == "grow" && next.Partition == cur.Partition && next.Step == cur.Step {
			return
		}
	}
	t.recordMaskChange(cur.Partition)
}

// checkpoint captures the trainer's state after `epoch` finished epochs.
func (t *trainer) checkpoint(id, stage string, epoch int, initRNG []byte) (*Checkpoint, error) {
	rng, err := t.rngSrc.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("save generator: %w", err)
	}
	opt := map[string][]float32{}
	for _, p := range t.params.All() {
		for k, v := range t.opt.State(p.Name) {
			opt[p.Name+"/"+k] = append([]float32(nil), v...)
		}
	}
	masks := map[string][]float32{}
	for _, ts := range t.mctx.Tensors {
		masks[ts.Name] = append([]float32(nil), ts.M...)
	}
	return &Checkpoint{
		RunID: id, Stage: stage, Epoch: epoch, Step: t.step,
		State: t.params.StateDict(), Masks: masks, Opt: opt, OptSteps: t.opt.Steps(),
		RNG: rng, InitRNG: initRNG, Targets: copyTargets(t.mctx.Targets),
		Curves: append([]results.Point(nil), t.curves...), MaskChanges: append([]results.MaskChange(nil), t.maskChanges...),
		LastMasks:  copyMasks(t.lastMasks),
		TrainFLOPs: t.trainFLOPs, WallSeconds: t.wall.Seconds(), Threads: t.threads, Build: engine.Build(), PhaseStart: t.phaseStart,
		KernelChoices:       append([]KernelRecord(nil), t.kernels...),
		BranchKernelChoices: append([]KernelRecord(nil), t.branchKernels...),
	}, nil
}

func copyTargets(m map[string]float64) map[string]float64 {
	if m == nil {
		return nil
	}
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// restore loads everything from the stage's own checkpoint (a resume):
// weights, buffers, masks, targets, progress, generator and optimiser.
func (t *trainer) restore(c *Checkpoint) error {
	if c.Threads != 0 && c.Threads != t.threads {
		return fmt.Errorf("checkpoint of run %s was written with %d threads, this process uses %d: results are bit-identical only for the same thread count (run with the same -jobs on the same machine, or delete the checkpoint)", c.RunID, c.Threads, t.threads)
	}
	if err := t.restoreModel(c); err != nil {
		return err
	}
	if err := t.restoreProgress(c); err != nil {
		return err
	}
	byParam := map[string]map[string][]float32{}
	for k, v := range c.Opt {
		i := strings.LastIndex(k, "/")
		name, key := k[:i], k[i+1:]
		if byParam[name] == nil {
			byParam[name] = map[string][]float32{}
		}
		byParam[name][key] = v
	}
	names := make([]string, 0, len(byParam))
	for n := range byParam {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := t.opt.SetState(n, byParam[n]); err != nil {
			return fmt.Errorf("restore optimiser: %w", err)
		}
	}
	t.opt.SetSteps(c.OptSteps)
	t.phaseStart = c.PhaseStart
	return nil
}

// restoreModel loads weights, buffers, masks and the per-tensor targets.
func (t *trainer) restoreModel(c *Checkpoint) error {
	if err := t.params.LoadStateDict(c.State); err != nil {
		return fmt.Errorf("restore weights: %w", err)
	}
	for _, ts := range t.mctx.Tensors {
		m, ok := c.Masks[ts.Name]
		if !ok || len(m) != len(ts.M) {
			return fmt.Errorf("restore masks: tensor %s missing or of the wrong size", ts.Name)
		}
		copy(ts.M, m)
	}
	if c.Targets != nil {
		t.mctx.Targets = copyTargets(c.Targets)
	}
	methods.ApplyMasks(t.mctx)
	return nil
}

// restoreProgress loads the run's progress (step, curves, FLOPs, wall time,
// mask-change records) and the method's generator: a stage that starts from
// another stage's checkpoint counts on from there.
func (t *trainer) restoreProgress(c *Checkpoint) error {
	if err := t.rngSrc.UnmarshalBinary(c.RNG); err != nil {
		return fmt.Errorf("restore generator: %w", err)
	}
	t.step = c.Step
	t.curves = append([]results.Point(nil), c.Curves...)
	t.maskChanges = append([]results.MaskChange(nil), c.MaskChanges...)
	t.trainFLOPs = c.TrainFLOPs
	t.wall = secondsToDuration(c.WallSeconds)
	t.kernels = append([]KernelRecord(nil), c.KernelChoices...)
	t.branchKernels = append([]KernelRecord(nil), c.BranchKernelChoices...)
	t.roundOf = map[int]int{}
	for _, mc := range c.MaskChanges {
		if mc.Round+1 > t.roundOf[mc.Partition] {
			t.roundOf[mc.Partition] = mc.Round + 1
		}
	}
	if c.LastMasks != nil {
		t.lastMasks = copyMasks(c.LastMasks)
	} else {
		t.snapshotAll()
	}
	return nil
}

func copyMasks(m map[int][]float32) map[int][]float32 {
	out := make(map[int][]float32, len(m))
	for k, v := range m {
		out[k] = append([]float32(nil), v...)
	}
	return out
}
