package methods

import (
	"fmt"
	"sort"
)

// Parallel is a method whose training is split into branches that run as
// separate runs (possibly separate processes or machines) and meet through
// checkpoints. The runner orchestrates it:
//
//	init run:   m.Epochs(base); m.Init(ctx)           // all partitions sparse
//	            save checkpoint C0 (all parameters and buffers, masks, ctx.Targets)
//	for r := 0; r < m.Rounds(); r++ {
//	    for b := 0; b < m.Branches(); b++ {          // in parallel
//	        load C_r (weights, masks, ctx.Targets); m.BranchInit(ctx, b)
//	        train m.BranchEpochs() epochs: Update, optimiser step, ApplyMasks
//	        save branch checkpoint B_rb (all parameters and buffers)
//	    }
//	    weights, masks := Merge(B_r0..B_r(k-1), partitionOf, prunable, ctx.Targets)
//	    C_{r+1} = weights + masks
//	}
//	fine-tune:  load C_R with its masks; train m.FinetuneEpochs() epochs with
//	            the masks fixed (Update/EpochEnd are no-ops; ApplyMasks each step)
//
// A branch's training FLOPs count once per branch (kappa x in aggregate).
type Parallel interface {
	Method
	// Rounds is the number of branch-and-merge rounds.
	Rounds() int
	// Branches is the number of branches per round (kappa).
	Branches() int
	// BranchEpochs is the epochs each branch trains per round (T).
	BranchEpochs() int
	// FinetuneEpochs is the length of the final masked fine-tune.
	FinetuneEpochs() int
	// BranchInit grows the branch's partition to dense on a context loaded
	// from the merged checkpoint (other masks as loaded) and applies masks.
	BranchInit(ctx *Context, branch int) error
}

// PGaP is parallel grow-and-prune (Ma et al. 2022), following the reference
// parallel_gap_distributed_run_3_partition_no_finetune.py: a random-sparse
// model (all partitions at target) is copied to kappa branches; branch i
// grows partition i to dense and trains T epochs; Merge takes partition i
// from branch i, averages everything else, and prunes every layer to its
// target; after the rounds a masked fine-tune. Epochs (wall-clock epochs of
// one branch) = rounds*T + finetune. Defaults as CGaP: kappa 4, rounds 10,
// T = base/4, finetune = base.
type PGaP struct {
	base
	kappa, rounds int
	stepEp, ftEp  int // resolved by Epochs
	stepP, ftP    int // parameters (0 = derive from base)
	bnBatches     int // batch-norm re-estimation batches after a merge (0 = off)
}

var _ Parallel = (*PGaP)(nil)

// BNReestimator is implemented by parallel methods that re-estimate the
// merged model's batch-norm statistics before it is evaluated and trained
// on: the runner runs BNBatches training batches forward (no weight
// update) through the merged model.
type BNReestimator interface {
	BNBatches() int
}

// BNBatches is the number of forward batches that re-estimate batch-norm
// statistics after each merge (0: none, as the reference).
func (g *PGaP) BNBatches() int { return g.bnBatches }

func newPGaP(p map[string]string) (Method, error) {
	ps := newParams("pgap", p)
	g := &PGaP{}
	g.base = newBase("pgap", ps, g.plan)
	g.kappa = ps.Int("kappa", 4)
	g.rounds = ps.Int("rounds", 10)
	g.stepP = ps.Int("step_epochs", 0)
	g.ftP = ps.Int("finetune_epochs", 0)
	g.bnBatches = ps.Int("bn_batches", 0)
	ps.Check(inRange(g.bnBatches, 0), "bn_batches", "an integer in 0..2^20 (forward batches re-estimating batch-norm statistics after a merge; 0 = off, as the reference)")
	ps.Check(inRange(g.kappa, 1), "kappa", "an integer in 1..2^20")
	ps.Check(inRange(g.rounds, 1), "rounds", "an integer in 1..2^20")
	ps.Check(inRange(g.stepP, 0), "step_epochs", "an integer in 0..2^20 (0 = base/4)")
	ps.Check(inRange(g.ftP, 0), "finetune_epochs", "an integer in 0..2^20 (0 = base)")
	if err := ps.Err(); err != nil {
		return nil, err
	}
	return g, nil
}

// plan fixes T and the fine-tune length from the budget: the epochs of
// one branch's path, rounds of T (each round's branches start fresh
// optimisers), then the fine-tune.
func (g *PGaP) plan(budget int) Plan {
	g.stepEp = derive(g.stepP, max(1, budget/4))
	g.ftEp = derive(g.ftP, budget)
	p := Plan{Targets: TargetsInit}
	for r := 0; r < g.rounds; r++ {
		p = p.Then("branch", g.stepEp, -1, r, true)
	}
	return p.Then("finetune", g.ftEp, -1, g.rounds, true)
}

// Rounds is the number of rounds.
func (g *PGaP) Rounds() int { return g.rounds }

// Branches is kappa.
func (g *PGaP) Branches() int { return g.kappa }

// BranchEpochs is T (valid after Epochs).
func (g *PGaP) BranchEpochs() int { return g.stepEp }

// FinetuneEpochs is the fine-tune length (valid after Epochs).
func (g *PGaP) FinetuneEpochs() int { return g.ftEp }

// Init (the init run) sets every non-Dense tensor random-sparse at its
// target and fills ctx.Targets, which the runner saves with C0.
func (g *PGaP) Init(ctx *Context) error {
	if g.stepEp == 0 {
		return g.errorf("init: Epochs(base) must be called first")
	}
	if err := checkPartitions(ctx, g.kappa); err != nil {
		return g.errorf("init: %w", err)
	}
	if err := randomMasks(ctx); err != nil {
		return g.errorf("init: %w", err)
	}
	return nil
}

// BranchInit grows partition branch to dense.
func (g *PGaP) BranchInit(ctx *Context, branch int) error {
	if branch < 0 || branch >= g.kappa {
		return g.errorf("branch %d outside 0..%d", branch, g.kappa-1)
	}
	if err := checkPartitions(ctx, g.kappa); err != nil {
		return g.errorf("branch %d: %w", branch, err)
	}
	growPartition(ctx, branch)
	ApplyMasks(ctx)
	return nil
}

// Merge combines P-GaP branches. branches[i] maps every parameter and
// buffer name to its values in branch i (all branches must hold the same
// names and sizes). A tensor with partitionOf(name) = p >= 0 is copied from
// branch p. Every other tensor (no partition, non-prunable parameters,
// biases, BN weights and running statistics) is the elementwise mean over
// the branches, summed in float64 in branch order 0..n-1 (the reference
// code left these at their random init: a bug we do not copy). Then every
// prunable tensor is magnitude-pruned to sparsity[name] (ties by index) and
// multiplied by its mask. It returns the merged values and the masks of the
// prunable tensors.
func Merge(branches []map[string][]float32, partitionOf func(name string) int,
	prunable map[string]bool, sparsity map[string]float64) (map[string][]float32, map[string][]float32, error) {
	if len(branches) == 0 {
		return nil, nil, fmt.Errorf("merge: no branches")
	}
	names := make([]string, 0, len(branches[0]))
	for n := range branches[0] {
		names = append(names, n)
	}
	sort.Strings(names)
	for b, br := range branches {
		if len(br) != len(names) {
			return nil, nil, fmt.Errorf("merge: branch %d has %d tensors, branch 0 has %d", b, len(br), len(names))
		}
		for _, n := range names {
			v, ok := br[n]
			if !ok {
				return nil, nil, fmt.Errorf("merge: branch %d lacks tensor %q", b, n)
			}
			if len(v) != len(branches[0][n]) {
				return nil, nil, fmt.Errorf("merge: tensor %q has %d elements in branch %d, %d in branch 0", n, len(v), b, len(branches[0][n]))
			}
		}
	}
	for n := range prunable {
		if _, ok := branches[0][n]; !ok && prunable[n] {
			return nil, nil, fmt.Errorf("merge: prunable tensor %q is in no branch", n)
		}
	}
	weights := make(map[string][]float32, len(names))
	masks := map[string][]float32{}
	for _, n := range names {
		p := partitionOf(n)
		out := make([]float32, len(branches[0][n]))
		if p >= 0 {
			if p >= len(branches) {
				return nil, nil, fmt.Errorf("merge: tensor %q in partition %d but only %d branches", n, p, len(branches))
			}
			copy(out, branches[p][n])
		} else {
			inv := 1 / float64(len(branches))
			for i := range out {
				sum := 0.0
				for _, br := range branches {
					sum += float64(br[n][i])
				}
				out[i] = float32(sum * inv)
			}
		}
		if prunable[n] {
			s, ok := sparsity[n]
			if !ok {
				return nil, nil, fmt.Errorf("merge: no target sparsity for prunable tensor %q", n)
			}
			m := make([]float32, len(out))
			MagnitudeMask(out, s, m)
			for i := range out {
				if m[i] == 0 {
					out[i] = 0
				}
			}
			masks[n] = m
		}
		weights[n] = out
	}
	return weights, masks, nil
}

// MasksFixedDuring is true: a P-GaP branch grows its partition in
// BranchInit and the merge prunes between stages, so masks are fixed
// within every epoch (the branch's grown partition's is all ones).
func (*PGaP) MasksFixedDuring(int) bool { return true }
