package methods

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestUniformDoesNotCompensateDenseLayers(t *testing.T) {
	ctx := newCtx(1, fakeSpecs(), 0.8, Uniform)
	s, err := LayerSparsities(ctx.Tensors, 0.8, Uniform)
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range ctx.Tensors {
		want := 0.8
		if x.Dense {
			want = 0
		}
		if s[i] != want {
			t.Fatalf("%s: %v want %v", x.Name, s[i], want)
		}
	}
}

// Hand-checked: linear [10,20] and [100,200] at s=0.9.
// raw = 30/200 = 0.15 and 300/20000 = 0.015; kept at uniform = 20 + 2000;
// divisor = 0.15*200 + 0.015*20000 = 330; eps = 2020/330;
// density = 0.15*eps = 0.9181818..., 0.015*eps = 0.0918181...
func TestERKHandChecked(t *testing.T) {
	s, err := ERKSparsities([][]int{{10, 20}, {100, 200}}, []bool{false, false}, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	eps := 2020.0 / 330.0
	if !near(s[0], 1-0.15*eps) || !near(s[1], 1-0.015*eps) {
		t.Fatalf("got %v, want [%v %v]", s, 1-0.15*eps, 1-0.015*eps)
	}
	// The kept count equals the uniform kept count.
	if kept := (1-s[0])*200 + (1-s[1])*20000; !near(kept, 2020) {
		t.Fatalf("kept %v, want 2020", kept)
	}
}

// Hand-checked saturation: [4,4] (raw 0.5, N 16) and [100,1000] (raw 0.011,
// N 1e5) at s=0.9. First eps = (2+10000)/(8+1100) gives 0.5*eps > 1, so the
// small layer becomes dense; then rhs = 10000 - floor(14.4) = 9986,
// eps = 9986/1100, density of the big layer = 0.011*eps = 0.09986.
func TestERKSaturatesDenseLayers(t *testing.T) {
	s, err := ERKSparsities([][]int{{4, 4}, {100, 1000}}, []bool{false, false}, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	if s[0] != 0 || !near(s[1], 1-0.011*9986.0/1100.0) {
		t.Fatalf("got %v, want [0 %v]", s, 1-0.011*9986.0/1100.0)
	}
	// A table-Dense layer is left out entirely (RigL's custom map at 0).
	s2, err := ERKSparsities([][]int{{4, 4}, {10, 20}, {100, 200}}, []bool{true, false, false}, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	if s2[0] != 0 || !near(s2[1], 1-0.15*2020.0/330.0) || !near(s2[2], 1-0.015*2020.0/330.0) {
		t.Fatalf("dense layer changed the others: %v", s2)
	}
	// Conv kernels count all four dimensions: [8,4,3,3] raw = 18/288.
	s3, err := ERKSparsities([][]int{{8, 4, 3, 3}}, []bool{false}, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if !near(s3[0], 0.5) {
		t.Fatalf("single layer erk should equal the target: %v", s3)
	}
}

func TestGlobalRatiosReproduceGlobalThreshold(t *testing.T) {
	ctx := newCtx(2, fakeSpecs(), 0.85, Global)
	// Scale some layers so that the ratios differ a lot.
	for i, x := range ctx.Tensors {
		for j := range x.W {
			x.W[j] *= float32(1 + 0.25*float64(i%3))
		}
	}
	s, err := ResolveTargets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var scores, masks [][]float32
	total := 0
	for i, x := range ctx.Tensors {
		if x.Dense {
			if s[i] != 0 {
				t.Fatalf("dense tensor got ratio %v", s[i])
			}
			continue
		}
		scores = append(scores, absCopy(x.W))
		masks = append(masks, make([]float32, x.Size()))
		total += x.Size()
	}
	if err := GlobalTopK(scores, KeepCount(total, 0.85), masks); err != nil {
		t.Fatal(err)
	}
	j, distinct := 0, map[float64]bool{}
	for i, x := range ctx.Tensors {
		if x.Dense {
			continue
		}
		MagnitudeMask(x.W, s[i], x.M)
		for e := range x.M {
			if x.M[e] != masks[j][e] {
				t.Fatalf("%s: per-layer prune at the global ratio differs from the global threshold", x.Name)
			}
		}
		distinct[s[i]] = true
		j++
	}
	if len(distinct) < 2 {
		t.Fatalf("global ratios are all equal: %v", s)
	}
	checkTargets(t, ctx, "global")
	// Fixed once computed: changing weights does not change the targets.
	ctx.Tensors[1].W[0] = 100
	s2, _ := ResolveTargets(ctx)
	for i := range s {
		if s[i] != s2[i] {
			t.Fatal("targets changed after being resolved")
		}
	}
}

func TestUnknownDistribution(t *testing.T) {
	ctx := newCtx(1, fakeSpecs(), 0.8, "lognormal")
	if _, err := ResolveTargets(ctx); err == nil {
		t.Fatal("want an error for an unknown distribution")
	}
}

// TestGlobalRatiosHandThreshold checks the global ratios against a hand
// computation: one threshold over all weights, no cap (a tensor entirely
// below it is pruned whole, as the reference does), overall keep exact.
func TestGlobalRatiosHandThreshold(t *testing.T) {
	big := &Tensor{Name: "big", W: make([]float32, 1000)}
	small := &Tensor{Name: "small", W: make([]float32, 200)}
	for i := range big.W {
		big.W[i] = 1 + float32(i)
	}
	for i := range small.W {
		small.W[i] = 1e-3 * float32(i+1) // all below every weight of big
	}
	ts := []*Tensor{big, small}
	r, err := GlobalMagnitudeRatios(ts, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	// Keep 120 of 1200: the 120 largest are big's 881..1000.
	if r[0] != 0.88 || r[1] != 1 {
		t.Fatalf("ratios %v, want [0.88 1]", r)
	}
}
