package methods

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// KeepCount is the number of elements kept when n elements are pruned to the
// given sparsity: round((1-s)*n), clamped to [0, n].
func KeepCount(n int, sparsity float64) int {
	k := int(math.Round((1 - sparsity) * float64(n)))
	return min(max(k, 0), n)
}

// key maps a score to a totally ordered value: NaN ranks below everything.
func key(x float32) float32 {
	if x != x {
		return float32(math.Inf(-1))
	}
	return x
}

// kthLargest returns the k-th largest value (k is 1-based) of buf, which it
// reorders. Quickselect with a three-way partition: O(n) on average, and
// many equal values (e.g. pruned zeros) cost nothing extra.
func kthLargest(buf []float32, k int) float32 {
	lo, hi := 0, len(buf)-1
	target := k - 1 // index in descending order
	var state uint64 = 0x9e3779b97f4a7c15
	for lo < hi {
		// Deterministic pseudo-random pivot (xorshift): the result never
		// depends on the pivot choice, only the running time does.
		state ^= state << 13
		state ^= state >> 7
		state ^= state << 17
		p := buf[lo+int(state%uint64(hi-lo+1))]
		// Partition descending: [lo,lt) > p, [lt,gt] == p, (gt,hi] < p.
		lt, i, gt := lo, lo, hi
		for i <= gt {
			switch v := buf[i]; {
			case v > p:
				buf[lt], buf[i] = buf[i], buf[lt]
				lt++
				i++
			case v < p:
				buf[gt], buf[i] = buf[i], buf[gt]
				gt--
			default:
				i++
			}
		}
		switch {
		case target < lt:
			hi = lt - 1
		case target > gt:
			lo = gt + 1
		default:
			return p
		}
	}
	return buf[lo]
}

// TopKMask writes into mask a 1 for each of the k largest scores and 0
// elsewhere. Ties at the threshold are broken deterministically by index:
// the lower index is kept. NaN scores rank lowest. It runs in O(n) average
// time (selection, no sort) and allocates one copy of scores.
func TopKMask(scores []float32, k int, mask []float32) {
	topKAmong(scores, nil, k, mask)
}

// topKAmong is TopKMask restricted to the elements with eligible[i] true
// (all when eligible is nil); ineligible elements get mask 0. k is clamped
// to the number of eligible elements.
func topKAmong(scores []float32, eligible []bool, k int, mask []float32) {
	n := len(scores)
	buf := make([]float32, 0, n)
	for i, s := range scores {
		if eligible == nil || eligible[i] {
			buf = append(buf, key(s))
		}
	}
	k = min(max(k, 0), len(buf))
	if k == 0 {
		clear(mask[:n])
		return
	}
	v := kthLargest(buf, k)
	greater := 0
	for i, s := range scores {
		if (eligible == nil || eligible[i]) && key(s) > v {
			greater++
		}
	}
	ties := k - greater
	for i, s := range scores {
		mask[i] = 0
		if eligible != nil && !eligible[i] {
			continue
		}
		switch ks := key(s); {
		case ks > v:
			mask[i] = 1
		case ks == v && ties > 0:
			mask[i] = 1
			ties--
		}
	}
}

// MagnitudeMask sets mask to keep the KeepCount(len(w), sparsity) largest
// |w| (ties by index, see TopKMask).
func MagnitudeMask(w []float32, sparsity float64, mask []float32) {
	TopKMask(absCopy(w), KeepCount(len(w), sparsity), mask)
}

func absCopy(w []float32) []float32 {
	a := make([]float32, len(w))
	for i, x := range w {
		a[i] = float32(math.Abs(float64(x)))
	}
	return a
}

// RandomMask sets mask to exactly KeepCount(len(mask), sparsity) ones at
// uniformly random positions drawn from rng (partial Fisher-Yates).
func RandomMask(rng *rand.Rand, sparsity float64, mask []float32) {
	randomKeep(rng, KeepCount(len(mask), sparsity), mask)
}

// GlobalTopK keeps the k largest scores across all the given score slices
// (one threshold for all), writing masks[i] for scores[i]. Ties at the
// threshold go to the earlier slice, then the lower index.
func GlobalTopK(scores [][]float32, k int, masks [][]float32) error {
	if len(scores) != len(masks) {
		return fmt.Errorf("global top-k: %d score slices but %d masks", len(scores), len(masks))
	}
	total := 0
	for i, s := range scores {
		if len(masks[i]) != len(s) {
			return fmt.Errorf("global top-k: slice %d: %d scores but mask of %d", i, len(s), len(masks[i]))
		}
		total += len(s)
	}
	k = min(max(k, 0), total)
	if k == 0 {
		for _, m := range masks {
			clear(m)
		}
		return nil
	}
	buf := make([]float32, 0, total)
	for _, s := range scores {
		for _, x := range s {
			buf = append(buf, key(x))
		}
	}
	v := kthLargest(buf, k)
	greater := 0
	for _, s := range scores {
		for _, x := range s {
			if key(x) > v {
				greater++
			}
		}
	}
	ties := k - greater
	for i, s := range scores {
		m := masks[i]
		for j, x := range s {
			m[j] = 0
			switch kx := key(x); {
			case kx > v:
				m[j] = 1
			case kx == v && ties > 0:
				m[j] = 1
				ties--
			}
		}
	}
	return nil
}

// ApplyMasks does what the runner does after every optimiser step: W *= M
// for every tensor and zeroes the optimiser state where M == 0.
func ApplyMasks(ctx *Context) {
	for _, t := range ctx.Tensors {
		for i, m := range t.M {
			if m == 0 {
				t.W[i] = 0
			}
		}
		if ctx.Opt != nil {
			ctx.Opt.ZeroPruned(t.Name, t.M)
		}
	}
}

// CountOnes is the number of nonzero mask entries.
func CountOnes(mask []float32) int {
	n := 0
	for _, m := range mask {
		if m != 0 {
			n++
		}
	}
	return n
}

// MaskSparsity is the fraction of zero entries in a mask.
func MaskSparsity(mask []float32) float64 {
	if len(mask) == 0 {
		return 0
	}
	return 1 - float64(CountOnes(mask))/float64(len(mask))
}

// OverallSparsity is the fraction of pruned entries over all tensors that
// are not Dense.
func OverallSparsity(ts []*Tensor) float64 {
	n, ones := 0, 0
	for _, t := range ts {
		if t.Dense {
			continue
		}
		n += len(t.M)
		ones += CountOnes(t.M)
	}
	if n == 0 {
		return 0
	}
	return 1 - float64(ones)/float64(n)
}

// ModelSparsity is the fraction of pruned entries over all tensors, the
// ones kept dense included: the whole model's sparsity of its conv and
// linear weights, as RigL reports it.
func ModelSparsity(ts []*Tensor) float64 {
	n, ones := 0, 0
	for _, t := range ts {
		n += len(t.M)
		ones += CountOnes(t.M)
	}
	if n == 0 {
		return 0
	}
	return 1 - float64(ones)/float64(n)
}

// setOnes sets every mask entry to 1.
func setOnes(m []float32) {
	for i := range m {
		m[i] = 1
	}
}
