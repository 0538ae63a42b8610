package methods

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// refTopK keeps the k largest by (score desc, index asc) using a full sort.
func refTopK(scores []float32, k int) []float32 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return key(scores[idx[a]]) > key(scores[idx[b]]) })
	m := make([]float32, len(scores))
	for _, i := range idx[:k] {
		m[i] = 1
	}
	return m
}

func TestKeepCount(t *testing.T) {
	cases := []struct {
		n    int
		s    float64
		want int
	}{{100, 0.9, 10}, {10, 0.85, 2}, {7, 0.5, 4}, {5, 0, 5}, {5, 1, 0}, {0, 0.5, 0}}
	for _, c := range cases {
		if got := KeepCount(c.n, c.s); got != c.want {
			t.Errorf("KeepCount(%d, %v) = %d, want %d", c.n, c.s, got, c.want)
		}
	}
}

func TestTopKMaskMatchesSortWithTies(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 5, 33, 1000, 4099} {
		scores := make([]float32, n)
		for i := range scores {
			scores[i] = float32(rng.IntN(7)) // many ties
			if rng.IntN(50) == 0 {
				scores[i] = float32(math.NaN())
			}
		}
		for _, k := range []int{0, 1, n / 3, n / 2, n - 1, n} {
			got := make([]float32, n)
			TopKMask(scores, k, got)
			want := refTopK(scores, k)
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("n=%d k=%d: mask[%d]=%v want %v", n, k, i, got[i], want[i])
				}
			}
		}
	}
}

func TestMagnitudeMaskKeepsLargest(t *testing.T) {
	w := []float32{0.5, -3, 0.1, 2, -0.5, 0}
	m := make([]float32, len(w))
	MagnitudeMask(w, 0.5, m) // keep 3: -3, 2, then tie 0.5/-0.5 -> index 0
	want := []float32{1, 1, 0, 1, 0, 0}
	for i := range m {
		if m[i] != want[i] {
			t.Fatalf("mask %v, want %v", m, want)
		}
	}
}

func TestRandomMaskExactAndSeeded(t *testing.T) {
	for _, s := range []float64{0, 0.3, 0.8, 0.97, 1} {
		a, b, c := make([]float32, 1001), make([]float32, 1001), make([]float32, 1001)
		RandomMask(rand.New(rand.NewPCG(5, 5)), s, a)
		RandomMask(rand.New(rand.NewPCG(5, 5)), s, b)
		RandomMask(rand.New(rand.NewPCG(6, 5)), s, c)
		if CountOnes(a) != KeepCount(1001, s) {
			t.Fatalf("s=%v: %d ones, want %d", s, CountOnes(a), KeepCount(1001, s))
		}
		same := true
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("s=%v: same seed gave different masks", s)
			}
			same = same && a[i] == c[i]
		}
		if same && s > 0 && s < 1 {
			t.Fatalf("s=%v: different seeds gave the same mask", s)
		}
	}
}

func TestGlobalTopKMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	sizes := []int{10, 300, 57, 1}
	var scores, masks [][]float32
	var all []float32
	for _, n := range sizes {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.IntN(20))
		}
		scores = append(scores, s)
		masks = append(masks, make([]float32, n))
		all = append(all, s...)
	}
	for _, k := range []int{0, 1, 100, 200, len(all)} {
		if err := GlobalTopK(scores, k, masks); err != nil {
			t.Fatal(err)
		}
		want := refTopK(all, k)
		off := 0
		for j, m := range masks {
			for i := range m {
				if m[i] != want[off+i] {
					t.Fatalf("k=%d slice %d elem %d: %v want %v", k, j, i, m[i], want[off+i])
				}
			}
			off += len(m)
		}
	}
}

func TestApplyMasksZeroesWeightsAndState(t *testing.T) {
	ctx := newCtx(1, fakeSpecs(), 0.9, Uniform)
	if err := (&Static{base{name: "static"}}).Init(ctx); err != nil {
		t.Fatal(err)
	}
	checkMasked(t, ctx, "after static init")
	checkTargets(t, ctx, "after static init")
}

func BenchmarkTopKMask1M(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	s := make([]float32, 1<<20)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	m := make([]float32, len(s))
	for b.Loop() {
		TopKMask(s, len(s)/10, m)
	}
}
