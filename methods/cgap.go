package methods

import (
	"fmt"
	"math/rand/v2"
)

// CGaP is cyclic grow-and-prune (Ma et al. 2022, "S-GaP" in the reference
// code), following the reference schedule (scripts/multi_round_gap,
// sequential_gap_distributed_run_3_partition.py):
//
//	step 0:      partition seq[0] dense; every other partition random-sparse
//	             at its target; train T epochs
//	step j>=1:   magnitude-prune seq[j-1] (the partition that was dense) to
//	             its layers' targets; grow seq[j] to dense (its pruned
//	             weights are already 0, so grown weights start at 0);
//	             train T epochs            (j = 1 .. rounds*kappa)
//	final:       prune seq[last]; fine-tune finetune_epochs with all masked
//
// With order=cyclic seq[j] = j mod kappa (step 0 grows partition 0, each
// round grows 1, 2, ..., kappa-1, 0 as in the reference). With order=random
// seq[0] is drawn at random and each round is a fresh random permutation of
// the partitions, drawn from ctx.RNG at Init (so Phase knows the partition
// only after Init). Tensors in no partition (Partition -1) and not Dense
// stay random-sparse at their targets throughout; Dense tensors stay dense.
// Epochs = T*(rounds*kappa + 1) + finetune. Defaults from the reference's
// Transformer run, relative to the dense budget base (40 epochs there):
// T = base/4 (min 1), rounds = 10, finetune = base. kappa must match the
// model's partitions (default 4, the ResNet-50 setting).
type CGaP struct {
	base
	kappa, rounds  int
	stepEp, ftEp   int // resolved by Epochs
	stepP, ftP     int // parameters (0 = derive from base)
	order          string
	seq            []int // partition grown at each step, len rounds*kappa+1
	keeps          []int
	resolvedEpochs bool
}

func newCGaP(p map[string]string) (Method, error) {
	ps := newParams("cgap", p)
	c := &CGaP{}
	c.base = newBase("cgap", ps, c.plan)
	c.kappa = ps.Int("kappa", 4)
	c.rounds = ps.Int("rounds", 10)
	c.stepP = ps.Int("step_epochs", 0)
	c.ftP = ps.Int("finetune_epochs", 0)
	c.order = ps.Enum("order", "cyclic", "random")
	ps.Check(inRange(c.kappa, 1), "kappa", "an integer in 1..2^20")
	ps.Check(inRange(c.rounds, 0), "rounds", "an integer in 0..2^20")
	ps.Check(inRange(c.stepP, 0), "step_epochs", "an integer in 0..2^20 (0 = base/4)")
	ps.Check(inRange(c.ftP, 0), "finetune_epochs", "an integer in 0..2^20 (0 = base)")
	if err := ps.Err(); err != nil {
		return nil, err
	}
	if c.order == "cyclic" {
		c.seq = cyclicSeq(c.kappa, c.rounds)
	}
	return c, nil
}

func cyclicSeq(kappa, rounds int) []int {
	seq := make([]int, rounds*kappa+1)
	for j := range seq {
		seq[j] = j % kappa
	}
	return seq
}

func randomSeq(rng *rand.Rand, kappa, rounds int) []int {
	seq := []int{rng.IntN(kappa)}
	for r := 0; r < rounds; r++ {
		seq = append(seq, rng.Perm(kappa)...)
	}
	return seq
}

// plan fixes T and the fine-tune length from the budget: step j grows
// partition seq[j] for T epochs, each step with a fresh optimiser, then the
// fine-tune (the partitions are known before Init only for order=cyclic).
func (c *CGaP) plan(budget int) Plan {
	c.stepEp = derive(c.stepP, max(1, budget/4))
	c.ftEp = derive(c.ftP, budget)
	c.resolvedEpochs = true
	p := Plan{Targets: TargetsInit}
	for j := 0; j < c.Steps(); j++ {
		part := -1
		if c.seq != nil {
			part = c.seq[j]
		}
		p = p.Then("grow", c.stepEp, part, j, true)
	}
	return p.Then("finetune", c.ftEp, -1, c.Steps(), true)
}

// Steps is the number of grow steps, rounds*kappa + 1.
func (c *CGaP) Steps() int { return c.rounds*c.kappa + 1 }

// Sequence is the partition grown at each step (nil before Init for
// order=random).
func (c *CGaP) Sequence() []int { return c.seq }

// Init checks the partitions, sets the step-0 masks and applies them.
func (c *CGaP) Init(ctx *Context) error {
	if !c.resolvedEpochs {
		return c.errorf("init: Epochs(base) must be called first")
	}
	if err := checkPartitions(ctx, c.kappa); err != nil {
		return c.errorf("init: %w", err)
	}
	if ctx.RNG == nil {
		return c.errorf("init: ctx.RNG is nil")
	}
	if c.order == "random" {
		c.seq = randomSeq(ctx.RNG, c.kappa, c.rounds)
		c.replan() // the plan now names the grown partitions
	}
	keeps, err := targetKeeps(ctx)
	if err != nil {
		return c.errorf("init: %w", err)
	}
	c.keeps = keeps
	s, _ := ResolveTargets(ctx)
	for i, t := range ctx.Tensors {
		switch {
		case t.Dense || t.Partition == c.seq[0]:
			setOnes(t.M)
		default:
			RandomMask(ctx.RNG, s[i], t.M)
		}
	}
	ApplyMasks(ctx)
	return nil
}

// checkPartitions verifies that every partition 0..kappa-1 has at least one
// non-Dense tensor and that no index is out of range.
func checkPartitions(ctx *Context, kappa int) error {
	count := make([]int, kappa)
	for _, t := range ctx.Tensors {
		if t.Partition < -1 || t.Partition >= kappa {
			return fmt.Errorf("tensor %s: partition %d outside -1..%d", t.Name, t.Partition, kappa-1)
		}
		if t.Partition >= 0 && !t.Dense {
			count[t.Partition]++
		}
	}
	for p, n := range count {
		if n == 0 {
			return fmt.Errorf("partition %d of %d has no prunable tensor (check the kappa parameter)", p, kappa)
		}
	}
	return nil
}

// prunePartition magnitude-prunes partition p's non-Dense tensors to their
// targets.
func prunePartition(ctx *Context, keeps []int, p int) {
	PruneToKeeps(ctx, keeps, func(t *Tensor) bool { return t.Partition == p })
}

// growPartition sets partition p's masks to 1 (its pruned weights are 0).
func growPartition(ctx *Context, p int) {
	for _, t := range ctx.Tensors {
		if t.Partition == p {
			setOnes(t.M)
		}
	}
}

// EpochEnd moves to the next step at a step boundary, or to the final
// prune after the last step.
func (c *CGaP) EpochEnd(ctx *Context) error {
	next := ctx.Epoch + 1
	if next%c.stepEp != 0 {
		return nil
	}
	j := next / c.stepEp // the step that starts now
	if j < 1 || j > c.Steps() {
		return nil
	}
	prunePartition(ctx, c.keeps, c.seq[j-1])
	// Zero the pruned weights now: when the next partition is the same one
	// (kappa 1, or a random order repeating across a round boundary) it is
	// regrown at once, and its regrown weights must start at 0, as the
	// reference's prune-then-unmask does.
	ApplyMasks(ctx)
	if j < c.Steps() {
		growPartition(ctx, c.seq[j])
	}
	ApplyMasks(ctx)
	return nil
}

// MasksFixedDuring is true: C-GaP grows and prunes partitions only at epoch
// ends, so every mask is fixed within an epoch (the grown partition's is
// all ones).
func (*CGaP) MasksFixedDuring(int) bool { return true }
