package imagedata

import (
	"math"
	"math/rand/v2"
	"testing"
)

// tiny builds a 1-channel data set of n 3x3 images whose pixel j of
// example i is 10*i+j+1, label i%classes, normalised so that x = raw/255
// (mean 0, std 1).
func tiny(t testing.TB, n, classes int, aug Augment) *Memory {
	pix := make([]uint8, n*9)
	labels := make([]int32, n)
	for i := 0; i < n; i++ {
		for j := 0; j < 9; j++ {
			pix[i*9+j] = uint8(10*i + j + 1)
		}
		labels[i] = int32(i % classes)
	}
	m, err := NewMemory(pix, labels, 1, 3, 3, classes, Norm{Mean: []float32{0}, Std: []float32{1}}, aug)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func raw(x []float32) []int {
	out := make([]int, len(x))
	for i, v := range x {
		out[i] = int(math.Round(float64(v * 255)))
	}
	return out
}

func eqInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestMemoryBatchNormalises(t *testing.T) {
	m, err := NewMemory([]uint8{0, 255}, []int32{1, 0}, 1, 1, 1, 2, MNISTNorm, Augment{})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 2)
	y := make([]int32, 2)
	if err := m.Batch([]int{1, 0}, x, y, rand.New(rand.NewPCG(1, 2))); err != nil {
		t.Fatal(err)
	}
	want := []float32{(1 - 0.1307) / 0.3081, -0.1307 / 0.3081}
	for i := range x {
		if math.Abs(float64(x[i]-want[i])) > 1e-5 {
			t.Errorf("x[%d] = %v, want %v", i, x[i], want[i])
		}
	}
	if y[0] != 0 || y[1] != 1 {
		t.Errorf("y = %v", y)
	}
}

func TestMemoryAugmentation(t *testing.T) {
	m := tiny(t, 4, 2, Augment{Pad: 1, HFlip: true})
	x := make([]float32, 4*9)
	y := make([]int32, 4)
	// nil rng: no augmentation.
	if err := m.Batch([]int{0}, x[:9], y[:1], nil); err != nil {
		t.Fatal(err)
	}
	if got := raw(x[:9]); !eqInts(got, []int{1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Errorf("eval: %v", got)
	}
	// Same seed, same output; the output is the crop of the padded image
	// predicted from the same draws.
	idx := []int{0, 1, 2, 3}
	x2 := make([]float32, 4*9)
	m.Batch(idx, x, y, rand.New(rand.NewPCG(7, 7)))
	m.Batch(idx, x2, y, rand.New(rand.NewPCG(7, 7)))
	if !eqInts(raw(x), raw(x2)) {
		t.Fatal("same seed gave different batches")
	}
	r := rand.New(rand.NewPCG(7, 7))
	for b, i := range idx {
		dy, dx := r.IntN(3)-1, r.IntN(3)-1
		flip := r.Float64() < 0.5
		for row := 0; row < 3; row++ {
			for q := 0; q < 3; q++ {
				sq := q
				if flip {
					sq = 2 - q
				}
				sr, sc := row+dy, sq+dx
				want := 0
				if sr >= 0 && sr < 3 && sc >= 0 && sc < 3 {
					want = 10*i + sr*3 + sc + 1
				}
				if got := raw(x[b*9+row*3+q : b*9+row*3+q+1])[0]; got != want {
					t.Errorf("example %d (dy %d dx %d flip %v) pixel (%d,%d) = %d, want %d", i, dy, dx, flip, row, q, got, want)
				}
			}
		}
	}
}

func TestMemoryBatchErrors(t *testing.T) {
	m := tiny(t, 2, 2, Augment{})
	if err := m.Batch([]int{2}, make([]float32, 9), make([]int32, 1), nil); err == nil {
		t.Error("out-of-range index accepted")
	}
	if err := m.Batch([]int{0}, make([]float32, 8), make([]int32, 1), nil); err == nil {
		t.Error("short x accepted")
	}
	if _, err := NewMemory([]uint8{1}, []int32{3}, 1, 1, 1, 3, MNISTNorm, Augment{}); err == nil {
		t.Error("label 3 of 3 classes accepted")
	}
}

func TestResize(t *testing.T) {
	m, _ := NewMemory([]uint8{0, 100, 200, 250}, []int32{0}, 1, 2, 2, 1, MNISTNorm, Augment{})
	n, err := m.Resize(4, 4, Nearest)
	if err != nil {
		t.Fatal(err)
	}
	want := []uint8{0, 0, 100, 100, 0, 0, 100, 100, 200, 200, 250, 250, 200, 200, 250, 250}
	for i, v := range n.Pixels(0) {
		if v != want[i] {
			t.Fatalf("nearest %v, want %v", n.Pixels(0), want)
		}
	}
	// Bilinear 2x2 -> 4x4 with half-pixel centres: output i maps to
	// source (i+0.5)/2-0.5 = -0.25, 0.25, 0.75, 1.25, clamped to
	// [0,1]: weights 0, .25, .75, 1. Row 0: 0, 25, 75, 100.
	b, _ := m.Resize(4, 4, Bilinear)
	p := b.Pixels(0)
	if p[0] != 0 || p[1] != 25 || p[2] != 75 || p[3] != 100 || p[15] != 250 {
		t.Errorf("bilinear row 0 %v, corner %d", p[:4], p[15])
	}
	// Middle pixel (1,1): rows .25 between 0-row and 1-row:
	// top 25, bottom 200+.25*50=212.5 -> 25*.75+212.5*.25 = 71.875 -> 72.
	if p[5] != 72 {
		t.Errorf("bilinear (1,1) = %d, want 72", p[5])
	}
	if c, h, w := b.Shape(); c != 1 || h != 4 || w != 4 {
		t.Errorf("shape %d %d %d", c, h, w)
	}
}

func TestSubsets(t *testing.T) {
	m := tiny(t, 10, 3, Augment{}) // labels 0,1,2,0,1,2,0,1,2,0
	s := m.SubsetFirstPerClass(2)
	if s.Len() != 6 {
		t.Fatalf("len %d", s.Len())
	}
	if s.Pixels(5)[0] != 51 || s.Labels()[5] != 2 {
		t.Errorf("last kept example should be #5: %d %d", s.Pixels(5)[0], s.Labels()[5])
	}
	a, b := m.SubsetRandom(4, 9), m.SubsetRandom(4, 9)
	if a.Len() != 4 || !eqInts(raw32(a.Labels()), raw32(b.Labels())) || a.Pixels(3)[0] != b.Pixels(3)[0] {
		t.Error("seeded subsample not deterministic")
	}
	for i := 1; i < 4; i++ {
		if a.Pixels(i)[0] <= a.Pixels(i - 1)[0] {
			t.Error("subsample not in original order")
		}
	}
}

func raw32(v []int32) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

func TestRealMNISTAndFashionProxy(t *testing.T) {
	tr, err := LoadMNIST("", true)
	if err != nil {
		t.Skipf("MNIST not found: %v", err)
	}
	if tr.Len() != 60000 || tr.NumClasses() != 10 {
		t.Fatalf("MNIST train %d examples", tr.Len())
	}
	// The normalised training set has mean ~0 and std ~1.
	x := make([]float32, 1000*784)
	y := make([]int32, 1000)
	idx := make([]int, 1000)
	for i := range idx {
		idx[i] = i * 60
	}
	if err := tr.Batch(idx, x, y, nil); err != nil {
		t.Fatal(err)
	}
	var s, ss float64
	for _, v := range x {
		s += float64(v)
		ss += float64(v) * float64(v)
	}
	mean := s / float64(len(x))
	std := math.Sqrt(ss/float64(len(x)) - mean*mean)
	if math.Abs(mean) > 0.05 || math.Abs(std-1) > 0.05 {
		t.Errorf("normalised mean %.3f std %.3f", mean, std)
	}
	f, err := LoadFashionMNIST("", false)
	if err != nil {
		t.Skipf("Fashion-MNIST not found: %v", err)
	}
	p, err := f.SubsetFirstPerClass(10).Resize(32, 32, Bilinear)
	if err != nil {
		t.Fatal(err)
	}
	if c, h, w := p.Shape(); p.Len() != 100 || c != 1 || h != 32 || w != 32 {
		t.Errorf("proxy %d x %dx%dx%d", p.Len(), c, h, w)
	}
}

// BenchmarkMNISTBatch measures one pass over the MNIST training set in
// batches of 128 (no augmentation); items/s is reported.
func BenchmarkMNISTBatch(b *testing.B) {
	tr, err := LoadMNIST("", true)
	if err != nil {
		b.Skipf("MNIST not found: %v", err)
	}
	const bs = 128
	x := make([]float32, bs*784)
	y := make([]int32, bs)
	idx := make([]int, bs)
	perm := rand.New(rand.NewPCG(1, 1)).Perm(tr.Len())
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		for s := 0; s+bs <= len(perm); s += bs {
			copy(idx, perm[s:s+bs])
			if err := tr.Batch(idx, x, y, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*(len(perm)/bs*bs))/b.Elapsed().Seconds(), "items/s")
}
