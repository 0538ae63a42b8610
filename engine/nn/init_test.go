package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gap-harness/gap/engine"
)

// TestFans checks fan_in/fan_out for linear, conv and grouped-conv shapes, as
// torch.nn.init._calculate_fan_in_and_fan_out computes them.
func TestFans(t *testing.T) {
	for _, c := range []struct {
		shape   []int
		in, out int
	}{{[]int{300, 784}, 784, 300}, {[]int{64, 32, 3, 3}, 288, 576}, {[]int{16, 1, 5, 5}, 25, 400}, {[]int{7}, 7, 7}} {
		in, out, err := Fans(c.shape)
		if err != nil || in != c.in || out != c.out {
			t.Fatalf("Fans(%v) = %d, %d, %v; want %d, %d", c.shape, in, out, err, c.in, c.out)
		}
	}
	if _, _, err := Fans(nil); err == nil {
		t.Fatal("Fans of a scalar succeeded")
	}
}

func stats(d []float32) (mean, std, lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range d {
		mean += float64(v)
		lo, hi = math.Min(lo, float64(v)), math.Max(hi, float64(v))
	}
	mean /= float64(len(d))
	for _, v := range d {
		std += (float64(v) - mean) * (float64(v) - mean)
	}
	return mean, math.Sqrt(std / float64(len(d))), lo, hi
}

// TestInitStatistics checks the mean, standard deviation and range of each
// initialiser's samples against its formula (200x250 = 50,000 samples; the
// tolerances are several standard errors wide).
func TestInitStatistics(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	shape := []int{200, 50, 5} // fan_in 250, fan_out 1000
	fin, fout := 250.0, 1000.0
	uni := func(b float64) float64 { return b / math.Sqrt(3) }
	cases := []struct {
		name  string
		fill  func(*engine.Tensor[float32])
		std   float64
		bound float64 // 0: unbounded
	}{
		{"kaiming_normal fan_in", func(x *engine.Tensor[float32]) { KaimingNormal(x, FanIn, GainReLU, rng) }, math.Sqrt(2 / fin), 0},
		{"kaiming_normal fan_out", func(x *engine.Tensor[float32]) { KaimingNormal(x, FanOut, GainReLU, rng) }, math.Sqrt(2 / fout), 0},
		{"kaiming_uniform", func(x *engine.Tensor[float32]) { KaimingUniform(x, FanIn, GainReLU, rng) }, uni(math.Sqrt(6 / fin)), math.Sqrt(6 / fin)},
		{"xavier_normal", func(x *engine.Tensor[float32]) { XavierNormal(x, 1, rng) }, math.Sqrt(2 / (fin + fout)), 0},
		{"xavier_uniform", func(x *engine.Tensor[float32]) { XavierUniform(x, 1, rng) }, uni(math.Sqrt(6 / (fin + fout))), math.Sqrt(6 / (fin + fout))},
		{"default weight", func(x *engine.Tensor[float32]) { DefaultWeight(x, rng) }, uni(1 / math.Sqrt(fin)), 1 / math.Sqrt(fin)},
		{"default bias", func(x *engine.Tensor[float32]) { DefaultBias(x, 250, rng) }, uni(1 / math.Sqrt(fin)), 1 / math.Sqrt(fin)},
	}
	for _, c := range cases {
		x := engine.NewTensor[float32](shape...)
		c.fill(x)
		mean, std, lo, hi := stats(x.Data())
		if math.Abs(mean) > 0.03*c.std || math.Abs(std/c.std-1) > 0.02 {
			t.Errorf("%s: mean %.4g std %.4g, want 0 and %.4g", c.name, mean, std, c.std)
		}
		if c.bound > 0 && (lo < -c.bound || hi > c.bound || hi < 0.99*c.bound) {
			t.Errorf("%s: range [%.4g, %.4g], want within +-%.4g", c.name, lo, hi, c.bound)
		}
	}
	z := engine.NewTensor[float32](3)
	Ones(z)
	if z.Data()[2] != 1 {
		t.Fatal("Ones")
	}
	Zeros(z)
	if z.Data()[0] != 0 {
		t.Fatal("Zeros")
	}
}

// TestInitSeeded checks that the same seed gives the same weights.
func TestInitSeeded(t *testing.T) {
	a, b := engine.NewTensor[float32](4, 4), engine.NewTensor[float32](4, 4)
	KaimingNormal(a, FanIn, GainReLU, rand.New(rand.NewPCG(7, 7)))
	KaimingNormal(b, FanIn, GainReLU, rand.New(rand.NewPCG(7, 7)))
	for i := range a.Data() {
		if a.Data()[i] != b.Data()[i] {
			t.Fatal("same seed, different weights")
		}
	}
}
