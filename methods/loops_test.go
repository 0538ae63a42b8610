package methods

import (
	"math"
	"testing"
)

// refAmong keeps the k largest scores among the eligible positions by a
// full sort (ineligible positions score -Inf, below every real score).
func refAmong(scores []float32, eligible []bool, k int) []float32 {
	s := make([]float32, len(scores))
	for i := range s {
		s[i] = float32(math.Inf(-1))
		if eligible[i] {
			s[i] = scores[i]
		}
	}
	return refTopK(s, k)
}

// TestDropGrowTakesAnyGrowScore plugs a grow score that no method of the
// package uses (SNIP's |g*w|) into the drop-and-grow loop and checks the
// loop's defining properties against a sort: each layer keeps its count,
// drops its smallest active |w|, regrows the top |g*w| among the positions
// not kept, and regrown weights start at 0 with zeroed optimiser state.
func TestDropGrowTakesAnyGrowScore(t *testing.T) {
	ctx := newCtx(5, fakeSpecs(), 0.8, Uniform)
	if err := randomMasks(ctx); err != nil {
		t.Fatal(err)
	}
	// Nonzero values at pruned positions: a regrown one must be zeroed.
	for _, x := range ctx.Tensors {
		for i := range x.W {
			if x.M[i] == 0 {
				x.W[i] = 3
			}
		}
	}
	w0, m0 := snapshot(ctx)
	grow := func(t *Tensor) []float32 {
		s := make([]float32, t.Size())
		for i := range s {
			s[i] = float32(math.Abs(float64(t.G[i]) * float64(w0[t.Name][i])))
		}
		return s
	}
	const f = 0.4
	if err := (DropGrow{Drop: Magnitude, Grow: grow}).Apply(ctx, f); err != nil {
		t.Fatal(err)
	}
	for _, x := range ctx.Tensors {
		if x.Dense {
			continue
		}
		n := x.Size()
		active := make([]bool, n)
		na := 0
		for i := range active {
			active[i] = m0[x.Name][i] != 0
			if active[i] {
				na++
			}
		}
		nDrop := int(f * float64(na))
		kept := refAmong(absCopy(w0[x.Name]), active, na-nDrop)
		cand := make([]bool, n)
		for i := range cand {
			cand[i] = kept[i] == 0
		}
		grown := refAmong(grow(&Tensor{Name: x.Name, W: w0[x.Name], G: x.G}), cand, nDrop)
		if got := CountOnes(x.M); got != na {
			t.Fatalf("%s: %d active after the update, want %d", x.Name, got, na)
		}
		for i := range x.M {
			want := float32(0)
			if kept[i] != 0 || grown[i] != 0 {
				want = 1
			}
			if x.M[i] != want {
				t.Fatalf("%s[%d]: mask %v, want %v (kept %v, grown %v)", x.Name, i, x.M[i], want, kept[i], grown[i])
			}
			if grown[i] != 0 && !active[i] && (x.W[i] != 0 || ctx.Opt.(*fakeOpt).state[x.Name][i] != 0) {
				t.Fatalf("%s[%d]: regrown at w=%v, state %v; want 0, 0", x.Name, i, x.W[i], ctx.Opt.(*fakeOpt).state[x.Name][i])
			}
		}
	}
}

// TestPruneLoopsMatchReferences checks the prune-to-keeps loop with the
// random rule against RandomMask drawn from the same generator (static's
// and RigL's initial masks), and the loop among active elements against a
// sort, leaving a tensor with too few active elements as it is.
func TestPruneLoopsMatchReferences(t *testing.T) {
	ctx := newCtx(6, fakeSpecs(), 0.7, ERK)
	ref := newCtx(6, fakeSpecs(), 0.7, ERK)
	keeps, err := TargetKeeps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ResolveTargets(ref)
	if err != nil {
		t.Fatal(err)
	}
	PruneToKeepsBy(ctx, keeps, RandomKeep, nil)
	for i, x := range ref.Tensors {
		if !x.Dense {
			RandomMask(ref.RNG, s[i], x.M)
		}
		for j := range x.M {
			if x.M[j] != ctx.Tensors[i].M[j] {
				t.Fatalf("%s[%d]: random keep differs from RandomMask", x.Name, j)
			}
		}
	}
	m0 := map[string][]float32{}
	w0 := map[string][]float32{}
	for i, x := range ctx.Tensors {
		m0[x.Name] = append([]float32(nil), x.M...)
		w0[x.Name] = append([]float32(nil), x.W...)
		keeps[i] = CountOnes(x.M) / 2
	}
	keeps[1] = CountOnes(ctx.Tensors[1].M) + 5 // more than active: unchanged
	PruneActiveBy(ctx, keeps, Magnitude, func(t *Tensor) bool { return t.Partition != 2 })
	for i, x := range ctx.Tensors {
		want := m0[x.Name]
		if !x.Dense && x.Partition != 2 && i != 1 {
			active := make([]bool, len(want))
			for j := range active {
				active[j] = want[j] != 0
			}
			want = refAmong(absCopy(w0[x.Name]), active, keeps[i])
		}
		for j := range want {
			if x.M[j] != want[j] {
				t.Fatalf("%s[%d]: mask %v, want %v", x.Name, j, x.M[j], want[j])
			}
		}
	}
}
