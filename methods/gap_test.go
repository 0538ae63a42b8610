package methods

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestCGaPGrowsOnePartitionAtATime(t *testing.T) {
	for _, d := range dists {
		ctx := newCtx(12, fakeSpecs(), 0.9, d)
		ctx.StepsPerEpoch = 2
		m := mustNew(t, "cgap", map[string]string{"kappa": "3", "rounds": "2", "step_epochs": "2", "finetune_epochs": "1"})
		n := m.Epochs(40)
		if n != 2*(2*3+1)+1 {
			t.Fatalf("epochs %d", n)
		}
		ctx.TotalEpochs = n
		if err := m.Init(ctx); err != nil {
			t.Fatal(err)
		}
		c := m.(*CGaP)
		if !slices.Equal(c.Sequence(), []int{0, 1, 2, 0, 1, 2, 0}) {
			t.Fatalf("cyclic sequence %v", c.Sequence())
		}
		s, _ := ResolveTargets(ctx)
		check := func(where string, grown int) {
			for i, x := range ctx.Tensors {
				switch {
				case x.Dense || (grown >= 0 && x.Partition == grown):
					if CountOnes(x.M) != x.Size() {
						t.Fatalf("%s: %s should be dense", where, x.Name)
					}
				default:
					if CountOnes(x.M) != KeepCount(x.Size(), s[i]) {
						t.Fatalf("%s: %s keeps %d want %d", where, x.Name, CountOnes(x.M), KeepCount(x.Size(), s[i]))
					}
				}
			}
			checkMasked(t, ctx, where)
		}
		check("step 0", 0)
		if p := m.Phase(0); p.Name != "grow" || p.Partition != 0 {
			t.Fatalf("phase %v", p)
		}
		var before map[string][]float32
		runEpochs(t, m, ctx, 0, n, func(e int) {
			next := e + 1
			where := fmt.Sprintf("%s after epoch %d", d, e)
			if next >= 14 {
				check(where, -1)
				checkTargets(t, ctx, where)
				if p := m.Phase(min(next, n-1)); p.Name != "finetune" {
					t.Fatalf("phase %v", p)
				}
				return
			}
			j := next / 2
			grown := c.Sequence()[j]
			if p := m.Phase(next); p.Partition != grown || p.Step != j {
				t.Fatalf("phase(%d) %v, want partition %d", next, p, grown)
			}
			check(where, grown)
			if next%2 == 0 {
				// Grown weights start at 0: positions pruned before the
				// boundary are exactly 0 now.
				for _, x := range ctx.Tensors {
					if x.Partition != grown || x.Dense {
						continue
					}
					for i := range x.W {
						if before[x.Name][i] == 0 && x.W[i] != 0 {
							t.Fatalf("%s: grown weight %s[%d] is %v", where, x.Name, i, x.W[i])
						}
					}
				}
			}
			_, before = snapshot(ctx)
		})
	}
}

func TestCGaPPrunesByMagnitude(t *testing.T) {
	ctx := newCtx(13, fakeSpecs(), 0.8, Uniform)
	ctx.StepsPerEpoch = 1
	m := mustNew(t, "cgap", map[string]string{"kappa": "3", "rounds": "1", "step_epochs": "1", "finetune_epochs": "1"})
	ctx.TotalEpochs = m.Epochs(4)
	if err := m.Init(ctx); err != nil {
		t.Fatal(err)
	}
	train(ctx)
	w, _ := snapshot(ctx)
	ctx.Epoch = 0
	if err := m.EpochEnd(ctx); err != nil {
		t.Fatal(err)
	}
	for _, x := range ctx.Tensors {
		if x.Partition != 0 || x.Dense {
			continue
		}
		want := refTopK(absCopy(w[x.Name]), KeepCount(x.Size(), 0.8))
		if !slices.Equal(want, x.M) {
			t.Fatalf("%s: partition 0 not pruned to its top |w|", x.Name)
		}
	}
}

func TestCGaPRandomOrder(t *testing.T) {
	seqOf := func(seed uint64) []int {
		ctx := newCtx(1, fakeSpecs(), 0.9, Uniform)
		ctx.RNG = rand.New(rand.NewPCG(seed, 1))
		m := mustNew(t, "cgap", map[string]string{"kappa": "3", "rounds": "6", "order": "random"})
		ctx.TotalEpochs = m.Epochs(4)
		if err := m.Init(ctx); err != nil {
			t.Fatal(err)
		}
		return m.(*CGaP).Sequence()
	}
	a, b := seqOf(1), seqOf(1)
	if !slices.Equal(a, b) {
		t.Fatal("same seed, different orders")
	}
	differs := false
	for seed := uint64(2); seed < 6; seed++ {
		differs = differs || !slices.Equal(a, seqOf(seed))
	}
	if !differs {
		t.Fatal("order does not depend on the seed")
	}
	if len(a) != 19 {
		t.Fatalf("sequence length %d", len(a))
	}
	cyclic := true
	for r := 0; r < 6; r++ {
		round := slices.Clone(a[1+3*r : 4+3*r])
		cyclic = cyclic && slices.Equal(round, []int{1, 2, 0})
		slices.Sort(round)
		if !slices.Equal(round, []int{0, 1, 2}) {
			t.Fatalf("round %d is not a permutation: %v", r, a[1+3*r:4+3*r])
		}
	}
	if cyclic {
		t.Fatal("random order equals the cyclic order")
	}
}

func TestCGaPBadPartitions(t *testing.T) {
	ctx := newCtx(1, fakeSpecs(), 0.9, Uniform)
	m := mustNew(t, "cgap", map[string]string{"kappa": "4"})
	ctx.TotalEpochs = m.Epochs(4)
	if err := m.Init(ctx); err == nil {
		t.Fatal("kappa 4 with 3 partitions must fail")
	}
}

func TestPGaPBranchInit(t *testing.T) {
	ctx := newCtx(14, fakeSpecs(), 0.9, ERK)
	m := mustNew(t, "pgap", map[string]string{"kappa": "3", "rounds": "2", "step_epochs": "3", "finetune_epochs": "5"})
	p := m.(Parallel)
	if ctx.TotalEpochs = m.Epochs(8); ctx.TotalEpochs != 11 || p.BranchEpochs() != 3 || p.FinetuneEpochs() != 5 || p.Branches() != 3 || p.Rounds() != 2 {
		t.Fatalf("schedule %d %d %d", ctx.TotalEpochs, p.BranchEpochs(), p.FinetuneEpochs())
	}
	if err := m.Init(ctx); err != nil {
		t.Fatal(err)
	}
	checkTargets(t, ctx, "pgap init")
	_, m0 := snapshot(ctx)
	if err := p.BranchInit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for _, x := range ctx.Tensors {
		if x.Partition == 1 {
			if CountOnes(x.M) != x.Size() {
				t.Fatalf("%s not grown", x.Name)
			}
		} else if !slices.Equal(x.M, m0[x.Name]) {
			t.Fatalf("%s changed", x.Name)
		}
	}
	if m.Phase(5).Name != "branch" || m.Phase(6).Name != "finetune" {
		t.Fatalf("phases %v %v", m.Phase(5), m.Phase(6))
	}
}

func TestMergeTakesPartitionFromItsBranch(t *testing.T) {
	// p0 in partition 0, p1 in partition 1, shared (prunable, no partition),
	// bias and bn.running_mean (not prunable).
	br := make([]map[string][]float32, 2)
	for b := range br {
		v := float32(b + 1)
		br[b] = map[string][]float32{
			"p0":              {10 * v, 1 * v, 3 * v, -4 * v},
			"p1":              {-2 * v, 20 * v, 0.5 * v, 7 * v},
			"shared":          {v, 0, 2 * v, 0},
			"bias":            {v, -v},
			"bn.running_mean": {3 * v},
		}
	}
	part := map[string]int{"p0": 0, "p1": 1}
	partitionOf := func(n string) int {
		if p, ok := part[n]; ok {
			return p
		}
		return -1
	}
	prunable := map[string]bool{"p0": true, "p1": true, "shared": true}
	sp := map[string]float64{"p0": 0.5, "p1": 0.5, "shared": 0.5}
	w, masks, err := Merge(br, partitionOf, prunable, sp)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]float32{
		"p0":              {10, 0, 0, -4}, // branch 0, top-2 |w|
		"p1":              {0, 40, 0, 14}, // branch 1, top-2 |w|
		"shared":          {1.5, 0, 3, 0}, // mean, already at 50%
		"bias":            {1.5, -1.5},    // mean
		"bn.running_mean": {4.5},          // mean
	}
	for n, v := range want {
		if !slices.Equal(w[n], v) {
			t.Fatalf("%s = %v, want %v", n, w[n], v)
		}
	}
	if len(masks) != 3 || !slices.Equal(masks["p1"], []float32{0, 1, 0, 1}) {
		t.Fatalf("masks %v", masks)
	}
	if _, _, err := Merge(br, partitionOf, prunable, map[string]float64{"p0": 0.5}); err == nil {
		t.Fatal("missing target sparsity accepted")
	}
	br[1]["extra"] = []float32{1}
	if _, _, err := Merge(br, partitionOf, prunable, sp); err == nil {
		t.Fatal("mismatched branches accepted")
	}
}

// TestCGaPRegrowSamePartitionStartsAtZero: with kappa = 1 the partition pruned
// at a step boundary is regrown at once; its pruned weights must be zeroed
// first, so the regrown ones start at 0 (the reference prunes, then unmasks).
func TestCGaPRegrowSamePartitionStartsAtZero(t *testing.T) {
	ctx := newCtx(3, []spec{{[]int{8, 8}, 0, false}}, 0.75, Uniform)
	m := mustNew(t, "cgap", map[string]string{"kappa": "1", "rounds": "2", "step_epochs": "1", "finetune_epochs": "1"})
	ctx.TotalEpochs = m.Epochs(4)
	if err := m.Init(ctx); err != nil {
		t.Fatal(err)
	}
	x := ctx.Tensors[0]
	for i := range x.W {
		x.W[i] = float32(i + 1)
	}
	ctx.Epoch = 0
	if err := m.EpochEnd(ctx); err != nil {
		t.Fatal(err)
	}
	nonzero := 0
	for i := range x.W {
		if x.W[i] != 0 {
			nonzero++
		}
		if x.M[i] != 1 {
			t.Fatalf("partition not regrown: mask[%d] = %v", i, x.M[i])
		}
	}
	if want := KeepCount(64, 0.75); nonzero != want {
		t.Fatalf("%d nonzero weights after prune and regrow, want %d (regrown weights must start at 0)", nonzero, want)
	}
}

// TestRigLReplacesOptimizerStep: the optimiser step is skipped exactly at the
// mask-update steps; SET updates after the step instead.
func TestRigLReplacesOptimizerStep(t *testing.T) {
	r := mustNew(t, "rigl", map[string]string{"delta_t": "10"})
	ctx := newCtx(5, []spec{{[]int{4, 4}, -1, false}}, 0.5, Uniform)
	ctx.TotalEpochs = r.Epochs(10)
	if err := r.Init(ctx); err != nil {
		t.Fatal(err)
	}
	sk, ok := r.(StepSkipper)
	if !ok {
		t.Fatal("rigl does not skip optimiser steps")
	}
	d := r.(RigL)
	for s := int64(0); s < ctx.TotalSteps(); s++ {
		if sk.SkipsOptimizerStep(s) != d.IsUpdateStep(s) {
			t.Fatalf("step %d: skips %v, updates %v", s, sk.SkipsOptimizerStep(s), d.IsUpdateStep(s))
		}
	}
	set := mustNew(t, "set", nil)
	if _, ok := set.(AfterStepper); !ok {
		t.Fatal("set does not update after the optimiser step")
	}
	if _, ok := set.(StepSkipper); ok {
		t.Fatal("set must not skip optimiser steps")
	}
}
