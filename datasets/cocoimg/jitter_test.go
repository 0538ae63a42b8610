package cocoimg

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// planes splits RGB pixels into three planes.
func planes(px ...[3]float32) (r, g, b []float32) {
	for _, p := range px {
		r, g, b = append(r, p[0]), append(g, p[1]), append(b, p[2])
	}
	return r, g, b
}

func checkPixels(t *testing.T, name string, ops []PhotoOp, in, want [][3]float32, tol float64) {
	t.Helper()
	r, g, b := planes(in...)
	Apply(ops, r, g, b)
	for i, w := range want {
		got := [3]float32{r[i], g[i], b[i]}
		for k := range 3 {
			if math.Abs(float64(got[k]-w[k])) > tol {
				t.Errorf("%s: pixel %d = %v, want %v", name, i, got, w)
				break
			}
		}
	}
}

// TestJitterHandCases checks each transform on pixels worked out by hand
// from torchvision's formulas.
func TestJitterHandCases(t *testing.T) {
	op := func(k PhotoKind, v float64) []PhotoOp { return []PhotoOp{{k, v}} }
	px := [][3]float32{{0.8, 0.4, 0.2}, {0.1, 0.5, 0.9}}
	checkPixels(t, "brightness 0.5", op(Brightness, 0.5), px, [][3]float32{{0.4, 0.2, 0.1}, {0.05, 0.25, 0.45}}, 1e-7)
	checkPixels(t, "brightness 2 clips", op(Brightness, 2), px, [][3]float32{{1, 0.8, 0.4}, {0.2, 1, 1}}, 1e-7)
	// Contrast 0: every pixel becomes the mean grey of the image.
	red, blue := [3]float32{1, 0, 0}, [3]float32{0, 0, 1}
	m := float32((0.2989 + 0.114) / 2)
	checkPixels(t, "contrast 0", op(Contrast, 0), [][3]float32{red, blue}, [][3]float32{{m, m, m}, {m, m, m}}, 1e-7)
	// Contrast 1.5 moves away from the mean grey and clips.
	checkPixels(t, "contrast 1.5", op(Contrast, 1.5), [][3]float32{red, blue},
		[][3]float32{{1, 0, 0}, {0, 0, 1}}, 1e-7)
	mg := float32(0.2989*0.5 + 0.587*0.5 + 0.114*0.5)
	h := (0.5 + mg) / 2 // the grey weights add up to 0.9999, not 1
	checkPixels(t, "contrast 0.5 on one grey pixel", op(Contrast, 0.5), [][3]float32{{0.5, 0.5, 0.5}}, [][3]float32{{h, h, h}}, 1e-7)
	// Saturation 0: grey (0.2989 R + 0.587 G + 0.114 B) in every channel.
	y0 := float32(0.2989*0.8 + 0.587*0.4 + 0.114*0.2)
	y1 := float32(0.2989*0.1 + 0.587*0.5 + 0.114*0.9)
	checkPixels(t, "saturation 0", op(Saturation, 0), px, [][3]float32{{y0, y0, y0}, {y1, y1, y1}}, 1e-7)
	checkPixels(t, "saturation 2", op(Saturation, 2), px[:1], [][3]float32{{min(1, 1.6-y0), 0.8 - y0, max(0, 0.4-y0)}}, 1e-6)
	// Hue: pure colours turn around the circle; grey has no hue.
	checkPixels(t, "hue +1/3 of red", op(Hue, 1.0/3), [][3]float32{red}, [][3]float32{{0, 1, 0}}, 1e-6)
	checkPixels(t, "hue +1/6 of red", op(Hue, 1.0/6), [][3]float32{red}, [][3]float32{{1, 1, 0}}, 1e-6)
	checkPixels(t, "hue -1/3 of red", op(Hue, -1.0/3), [][3]float32{red}, [][3]float32{{0, 0, 1}}, 1e-6)
	checkPixels(t, "hue +1/2 of a dark blue", op(Hue, 0.5), [][3]float32{{0, 0, 0.5}}, [][3]float32{{0.5, 0.5, 0}}, 1e-6)
	checkPixels(t, "hue of grey", op(Hue, 0.3), [][3]float32{{0.4, 0.4, 0.4}}, [][3]float32{{0.4, 0.4, 0.4}}, 0)
	// HSV of (0.8, 0.4, 0.2): v 0.8, s 0.75; rc, gc, bc = 0, 2/3, 1, so
	// h = (bc-gc)/6 = 1/18. Shifting by 1/9 gives h = 1/6 (yellow at that
	// s, v): (0.8, 0.8, 0.2); by 1/12, h = 5/36: sector 0 with f = 5/6,
	// G = v(1 - s(1-f)) = 0.7.
	checkPixels(t, "hue +1/9 of an orange", op(Hue, 1.0/9), px[:1], [][3]float32{{0.8, 0.8, 0.2}}, 1e-6)
	checkPixels(t, "hue +1/12 of an orange", op(Hue, 1.0/12), px[:1], [][3]float32{{0.8, 0.7, 0.2}}, 1e-6)
	// The transforms do not commute, which is why the order is drawn.
	a, b := []PhotoOp{{Brightness, 1.5}, {Contrast, 0.5}}, []PhotoOp{{Contrast, 0.5}, {Brightness, 1.5}}
	r1, g1, b1 := planes(px...)
	r2, g2, b2 := planes(px...)
	Apply(a, r1, g1, b1)
	Apply(b, r2, g2, b2)
	if slices.Equal(r1, r2) && slices.Equal(g1, g2) && slices.Equal(b1, b2) {
		t.Error("brightness then contrast equals contrast then brightness on clipped pixels")
	}
}

// TestJitterIdentity: factors 1 and a zero hue shift change nothing (the
// blends exactly, the HSV round trip within float32 rounding), and the
// zero Jitter draws nothing.
func TestJitterIdentity(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var px [][3]float32
	for range 500 {
		px = append(px, [3]float32{rng.Float32(), rng.Float32(), rng.Float32()})
	}
	px = append(px, [3]float32{1, 1, 1}, [3]float32{0, 0, 0}, [3]float32{1, 0, 0}, [3]float32{0.2, 0.2, 0.7})
	checkPixels(t, "factors 1", []PhotoOp{{Brightness, 1}, {Contrast, 1}, {Saturation, 1}}, px, px, 0)
	checkPixels(t, "hue 0", []PhotoOp{{Hue, 0}}, px, px, 1e-6)
	a, b := rand.New(rand.NewPCG(1, 2)), rand.New(rand.NewPCG(1, 2))
	if ops := (Jitter{}).Draw(a); ops != nil {
		t.Errorf("zero jitter drew %v", ops)
	}
	if a.Uint64() != b.Uint64() {
		t.Error("zero jitter consumed the generator")
	}
}

// TestJitterDraw checks the drawn factors' ranges and the order: every
// permutation of the four transforms occurs, a zero strength leaves its
// transform out, and a seed gives the same draw.
func TestJitterDraw(t *testing.T) {
	j := Jitter{Brightness: 0.125, Contrast: 0.5, Saturation: 0.5, Hue: 0.05}
	rng := rand.New(rand.NewPCG(7, 7))
	orders := map[[4]PhotoKind]int{}
	var sum [4]float64
	const n = 4000
	for range n {
		ops := j.Draw(rng)
		if len(ops) != 4 {
			t.Fatalf("%d ops, want 4", len(ops))
		}
		var o [4]PhotoKind
		for i, op := range ops {
			o[i] = op.Kind
			lo, hi := map[PhotoKind][2]float64{Brightness: {0.875, 1.125}, Contrast: {0.5, 1.5}, Saturation: {0.5, 1.5}, Hue: {-0.05, 0.05}}[op.Kind][0],
				map[PhotoKind][2]float64{Brightness: {0.875, 1.125}, Contrast: {0.5, 1.5}, Saturation: {0.5, 1.5}, Hue: {-0.05, 0.05}}[op.Kind][1]
			if op.Value < lo || op.Value > hi {
				t.Fatalf("%v: %g outside [%g, %g]", op.Kind, op.Value, lo, hi)
			}
			sum[op.Kind] += op.Value
		}
		orders[o]++
	}
	if len(orders) != 24 {
		t.Errorf("%d of the 24 orders drawn", len(orders))
	}
	for o, c := range orders {
		if c < n/24/2 {
			t.Errorf("order %v drawn %d times in %d", o, c, n)
		}
	}
	for k, want := range []float64{1, 1, 1, 0} {
		if m := sum[k] / n; math.Abs(m-want) > 0.03 {
			t.Errorf("transform %d: mean %g, want about %g", k, m, want)
		}
	}
	ops := Jitter{Contrast: 0.5, Hue: 0.1}.Draw(rng)
	if len(ops) != 2 || ops[0].Kind == ops[1].Kind || (ops[0].Kind != Contrast && ops[0].Kind != Hue) || (ops[1].Kind != Contrast && ops[1].Kind != Hue) {
		t.Errorf("contrast and hue only: drew %v", ops)
	}
	if a, b := j.Draw(rand.New(rand.NewPCG(5, 5))), j.Draw(rand.New(rand.NewPCG(5, 5))); !slices.Equal(a, b) {
		t.Errorf("one seed drew %v and %v", a, b)
	}
	if a, b := j.Draw(rand.New(rand.NewPCG(5, 5))), j.Draw(rand.New(rand.NewPCG(6, 5))); slices.Equal(a, b) {
		t.Errorf("two seeds drew %v", a)
	}
}

// TestJitterBatch: with jitter the batch is the same for a seed whatever
// the goroutine count, the boxes are those of the same geometry without
// jitter, the pixels differ from the unjittered ones, and a zero-strength
// jitter gives the unjittered batch bit for bit.
func TestJitterBatch(t *testing.T) {
	s := syntheticTrain6(t)
	const size = 48
	idx := []int{5, 0, 3, 2}
	seeds := []uint64{11, 12, 13, 14}
	run := func(aug Augment, seeds []uint64, threads int) ([]float32, [][]Object) {
		x := make([]float32, len(idx)*3*size*size)
		o, err := s.Batch(idx, size, &aug, seeds, threads, x)
		if err != nil {
			t.Fatal(err)
		}
		return x, o
	}
	geo := Augment{Expand: true, Crop: true, Flip: true}
	jit := geo
	jit.Jitter = Jitter{Brightness: 0.125, Contrast: 0.5, Saturation: 0.5, Hue: 0.05}
	x1, o1 := run(jit, seeds, 1)
	x2, o2 := run(jit, seeds, 3)
	if !slices.Equal(x1, x2) {
		t.Error("jittered pixels depend on the goroutine count")
	}
	x0, o0 := run(geo, seeds, 2)
	for k := range o1 {
		if !slices.Equal(o1[k], o2[k]) || !slices.Equal(o1[k], o0[k]) {
			t.Errorf("image %d: boxes %v (1 goroutine), %v (3), %v (no jitter)", k, o1[k], o2[k], o0[k])
		}
	}
	per := 3 * size * size
	for k := range idx {
		if slices.Equal(x1[k*per:(k+1)*per], x0[k*per:(k+1)*per]) {
			t.Errorf("image %d: jitter changed no pixel", k)
		}
	}
	if x3, _ := run(jit, []uint64{21, 22, 23, 24}, 2); slices.Equal(x1, x3) {
		t.Error("other seeds gave the same jittered batch")
	}
	zero := geo
	zero.Jitter = Jitter{}
	if xz, _ := run(zero, seeds, 2); !slices.Equal(xz, x0) {
		t.Error("zero-strength jitter changed the batch")
	}
}

// TestJitterRenderMatchesApply: Render with photometric ops equals the
// unjittered render, unnormalised, jittered by Apply and normalised again
// (the jitter acts on the resized sample's 0..1 values), flip included.
func TestJitterRenderMatchesApply(t *testing.T) {
	const size = 16
	g := Identity(40, 20)
	g.Flip = true
	plain := make([]float32, 3*size*size)
	if err := Render(halves(), g, size, plain); err != nil {
		t.Fatal(err)
	}
	g.Photo = []PhotoOp{{Saturation, 0.3}, {Hue, 0.2}, {Brightness, 0.9}, {Contrast, 1.4}}
	got := make([]float32, 3*size*size)
	if err := Render(halves(), g, size, got); err != nil {
		t.Fatal(err)
	}
	p := size * size
	want := slices.Clone(plain)
	for k := range 3 {
		for o := range p {
			want[k*p+o] = want[k*p+o]*Std[k] + Mean[k]
		}
	}
	Apply(g.Photo, want[:p], want[p:2*p], want[2*p:])
	for k := range 3 {
		for o := range p {
			want[k*p+o] = (want[k*p+o] - Mean[k]) / Std[k]
		}
	}
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > 1e-5 {
			t.Fatalf("value %d: %g, want %g", i, got[i], want[i])
		}
	}
}

func TestParseJitter(t *testing.T) {
	for _, j := range []Jitter{{}, {0.125, 0.5, 0.5, 0.05}, {0, 0.3, 0, 0}} {
		got, err := ParseJitter(j.String())
		if err != nil || got != j {
			t.Errorf("%v: read back %v, %v", j, got, err)
		}
	}
	for _, bad := range []string{"", "1,2,3", "a,0,0,0", "-1,0,0,0", "0,0,0,0.6", "0,0,NaN,0"} {
		if _, err := ParseJitter(bad); err == nil || !strings.Contains(err.Error(), "want") {
			t.Errorf("%q: error %v", bad, err)
		}
	}
}
