package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gap-harness/gap/engine"
)

// FanMode picks which fan an initialiser scales by.
type FanMode int

const (
	// FanIn scales by the number of inputs per output (preserves forward variance).
	FanIn FanMode = iota
	// FanOut scales by the number of outputs per input (preserves backward variance).
	FanOut
)

// GainReLU is torch.nn.init.calculate_gain("relu") = sqrt(2).
const GainReLU = math.Sqrt2

// GainLeakyReLU is calculate_gain("leaky_relu", a) = sqrt(2/(1+a^2)).
func GainLeakyReLU(a float64) float64 { return math.Sqrt(2 / (1 + a*a)) }

// Fans returns PyTorch's fan_in and fan_out of a weight shape: for [out, in,
// k...] fan_in = in*prod(k) and fan_out = out*prod(k). A 1-D shape has fan_in =
// fan_out = its length (PyTorch refuses 1-D; this is a convenience).
func Fans(shape []int) (fanIn, fanOut int, err error) {
	switch len(shape) {
	case 0:
		return 0, 0, fmt.Errorf("nn: fans of a scalar")
	case 1:
		return shape[0], shape[0], nil
	}
	rf := 1
	for _, d := range shape[2:] {
		rf *= d
	}
	return shape[1] * rf, shape[0] * rf, nil
}

func fan(shape []int, mode FanMode) float64 {
	in, out, err := Fans(shape)
	if err != nil {
		panic(err)
	}
	if mode == FanOut {
		return float64(out)
	}
	return float64(in)
}

// Uniform fills t with samples from U(lo, hi).
func Uniform(t *engine.Tensor[float32], lo, hi float64, rng *rand.Rand) {
	d := t.Data()
	for i := range d {
		d[i] = float32(lo + (hi-lo)*rng.Float64())
	}
}

// Normal fills t with samples from N(mean, std^2).
func Normal(t *engine.Tensor[float32], mean, std float64, rng *rand.Rand) {
	d := t.Data()
	for i := range d {
		d[i] = float32(mean + std*rng.NormFloat64())
	}
}

// KaimingNormal is torch.nn.init.kaiming_normal_: N(0, (gain/sqrt(fan))^2),
// gain GainReLU for ReLU networks. t must have rank >= 2.
func KaimingNormal(t *engine.Tensor[float32], mode FanMode, gain float64, rng *rand.Rand) {
	Normal(t, 0, gain/math.Sqrt(fan(t.Shape(), mode)), rng)
}

// KaimingUniform is torch.nn.init.kaiming_uniform_: U(-b, b) with b =
// gain*sqrt(3/fan).
func KaimingUniform(t *engine.Tensor[float32], mode FanMode, gain float64, rng *rand.Rand) {
	b := gain * math.Sqrt(3/fan(t.Shape(), mode))
	Uniform(t, -b, b, rng)
}

// XavierNormal is torch.nn.init.xavier_normal_: N(0, gain^2*2/(fan_in+fan_out)).
func XavierNormal(t *engine.Tensor[float32], gain float64, rng *rand.Rand) {
	in, out := fan(t.Shape(), FanIn), fan(t.Shape(), FanOut)
	Normal(t, 0, gain*math.Sqrt(2/(in+out)), rng)
}

// XavierUniform is torch.nn.init.xavier_uniform_: U(-b, b) with b =
// gain*sqrt(6/(fan_in+fan_out)).
func XavierUniform(t *engine.Tensor[float32], gain float64, rng *rand.Rand) {
	in, out := fan(t.Shape(), FanIn), fan(t.Shape(), FanOut)
	b := gain * math.Sqrt(6/(in+out))
	Uniform(t, -b, b, rng)
}

// DefaultWeight is PyTorch's default nn.Linear / nn.Conv2d weight init,
// kaiming_uniform_(a=sqrt(5)), which is U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
func DefaultWeight(t *engine.Tensor[float32], rng *rand.Rand) {
	KaimingUniform(t, FanIn, GainLeakyReLU(math.Sqrt(5)), rng)
}

// DefaultBias is PyTorch's default nn.Linear / nn.Conv2d bias init,
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with the fan_in of the layer's weight.
func DefaultBias(t *engine.Tensor[float32], fanIn int, rng *rand.Rand) {
	b := 0.0
	if fanIn > 0 {
		b = 1 / math.Sqrt(float64(fanIn))
	}
	Uniform(t, -b, b, rng)
}

// Zeros sets every element of t to 0.
func Zeros(t *engine.Tensor[float32]) { t.Zero() }

// Ones sets every element of t to 1.
func Ones(t *engine.Tensor[float32]) { t.Fill(1) }
