package methods

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// The two loops every pruning method of the package is made of, written
// once. A method plugs in what differs: a Score (magnitude, |grad|, SNIP
// saliency) or a Keeper (top scores, random), and for dynamic sparse
// training a drop score and a grow score.
//
//   - Prune to keeps (PruneToKeepsBy, PruneActiveBy): each non-Dense tensor
//     keeps a given number of elements chosen by the rule. C-GaP's and
//     P-GaP's prune, prune-from-pretrained, SNIP, static (random rule),
//     GMP and the iterative prune (among the active elements).
//   - Drop and grow (DropGrow): RigL and SET.

// Score gives each element of a tensor a score; the loops keep the highest
// (NaN ranks lowest, ties keep the lower index).
type Score func(t *Tensor) []float32

// Magnitude scores by |w|.
func Magnitude(t *Tensor) []float32 { return absCopy(t.W) }

// GradMagnitude scores by |g|, the dense gradient's magnitude (RigL's grow
// score).
func GradMagnitude(t *Tensor) []float32 { return absCopy(t.G) }

// Saliency scores by |g*w| (SNIP's connection sensitivity), the product
// taken in float64.
func Saliency(t *Tensor) []float32 {
	sc := make([]float32, t.Size())
	for j := range sc {
		sc[j] = float32(math.Abs(float64(t.G[j]) * float64(t.W[j])))
	}
	return sc
}

// Keeper sets mask to keep exactly k of t's elements (1 kept, 0 pruned).
type Keeper func(ctx *Context, t *Tensor, k int, mask []float32)

// TopScores keeps the k elements of highest score (TopKMask).
func TopScores(s Score) Keeper {
	return func(_ *Context, t *Tensor, k int, mask []float32) { TopKMask(s(t), k, mask) }
}

// RandomKeep keeps k elements at uniformly random positions drawn from
// ctx.RNG (RandomMask's draw).
func RandomKeep(ctx *Context, t *Tensor, k int, mask []float32) { randomKeep(ctx.RNG, k, mask) }

// randomKeep sets exactly k ones at uniformly random positions drawn from
// rng (partial Fisher-Yates over the smaller side).
func randomKeep(rng *rand.Rand, k int, mask []float32) {
	n := len(mask)
	pick, fill, other := k, float32(1), float32(0)
	if n-k < k {
		pick, fill, other = n-k, 0, 1
	}
	for i := range mask {
		mask[i] = other
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	for i := 0; i < pick; i++ {
		j := i + rng.IntN(n-i)
		idx[i], idx[j] = idx[j], idx[i]
		mask[idx[i]] = fill
	}
}

// PruneToKeepsBy is the shared prune loop: every non-Dense tensor for which
// sel is true (nil: all), in ctx order, keeps keeps[i] elements chosen by
// keep; a selected Dense tensor's mask is set to 1. Masks are then applied.
func PruneToKeepsBy(ctx *Context, keeps []int, keep Keeper, sel func(*Tensor) bool) {
	for i, t := range ctx.Tensors {
		switch {
		case sel != nil && !sel(t):
		case t.Dense:
			setOnes(t.M)
		default:
			keep(ctx, t, keeps[i], t.M)
		}
	}
	ApplyMasks(ctx)
}

// PruneToKeeps is PruneToKeepsBy with the largest |w| kept.
func PruneToKeeps(ctx *Context, keeps []int, sel func(*Tensor) bool) {
	PruneToKeepsBy(ctx, keeps, TopScores(Magnitude), sel)
}

// PruneActiveBy is the prune loop among the active elements, for pruning
// that only removes (GMP, the iterative prune): every non-Dense tensor for
// which sel is true (nil: all) keeps its keeps[i] active elements of
// highest score; pruned elements stay pruned, and a tensor with no more
// than keeps[i] active elements is left as it is. Masks are then applied.
func PruneActiveBy(ctx *Context, keeps []int, score Score, sel func(*Tensor) bool) {
	for i, t := range ctx.Tensors {
		if t.Dense || (sel != nil && !sel(t)) {
			continue
		}
		active := make([]bool, len(t.M))
		na := 0
		for j, m := range t.M {
			active[j] = m != 0
			if active[j] {
				na++
			}
		}
		if keeps[i] < na {
			topKAmong(score(t), active, keeps[i], t.M)
		}
	}
	ApplyMasks(ctx)
}

// DropGrow is the drop-and-grow loop of dynamic sparse training (rigl's
// generic mask update): each non-Dense tensor drops the floor(f*active)
// active elements of lowest Drop score and regrows as many among the
// positions not kept, those of highest Grow score, or uniformly at random
// from ctx.RNG when Grow is nil. A just-dropped position is a candidate for
// regrowth (it keeps its value and optimiser state if regrown); a newly
// activated position starts at W=0 with zeroed optimiser state. Per-layer
// counts never change.
type DropGrow struct {
	Drop, Grow Score
}

// Apply runs one drop-and-grow update at drop fraction f over every
// non-Dense tensor and applies the masks.
func (r DropGrow) Apply(ctx *Context, f float64) error {
	for _, t := range ctx.Tensors {
		if t.Dense {
			continue
		}
		if err := r.tensor(ctx, t, f); err != nil {
			return err
		}
	}
	ApplyMasks(ctx)
	return nil
}

func (r DropGrow) tensor(ctx *Context, t *Tensor, f float64) error {
	n := t.Size()
	if len(t.G) != n {
		return fmt.Errorf("tensor %s: gradient has %d elements, want %d", t.Name, len(t.G), n)
	}
	active := make([]bool, n)
	nActive := 0
	for i, m := range t.M {
		if m != 0 {
			active[i] = true
			nActive++
		}
	}
	nDrop := int(f * float64(nActive))
	if nDrop == 0 {
		return nil
	}
	kept := make([]float32, n)
	topKAmong(r.Drop(t), active, nActive-nDrop, kept)
	cand := make([]bool, n)
	for i := range cand {
		cand[i] = kept[i] == 0
	}
	grown := make([]float32, n)
	if r.Grow == nil {
		if ctx.RNG == nil {
			return fmt.Errorf("tensor %s: random regrowth needs ctx.RNG", t.Name)
		}
		idx := make([]int, 0, n-nActive+nDrop)
		for i, c := range cand {
			if c {
				idx = append(idx, i)
			}
		}
		for i := 0; i < nDrop; i++ {
			j := i + ctx.RNG.IntN(len(idx)-i)
			idx[i], idx[j] = idx[j], idx[i]
			grown[idx[i]] = 1
		}
	} else {
		topKAmong(r.Grow(t), cand, nDrop, grown)
	}
	var fresh []int
	for i := range t.M {
		if grown[i] != 0 && !active[i] {
			fresh = append(fresh, i)
			t.W[i] = 0
		}
		if kept[i] != 0 || grown[i] != 0 {
			t.M[i] = 1
		} else {
			t.M[i] = 0
		}
	}
	if ctx.Opt != nil && len(fresh) > 0 {
		ctx.Opt.ZeroIndices(t.Name, fresh)
	}
	return nil
}
