package engine

import "math"

// Constants of Exp32: log2(e), and ln(2) split in two (Cody-Waite) so that
// n*ln2Hi is exact for the |n| <= 150 Exp32 meets.
const (
	expfLog2e = 1.44269504088896341
	expfLn2Hi = 0.693359375
	expfLn2Lo = -2.12194440e-4
	// expfRound is 1.5*2^23: adding and subtracting it rounds a float32 of
	// magnitude < 2^22 to the nearest integer.
	expfRound = 12582912
	// expfMax is the largest float32 whose exp is finite; expfMin the
	// value below which exp rounds to 0 (e^x < 2^-150).
	expfMax = 88.72283935546875
	expfMin = -103.97208404541015625
)

// Exp32 returns e^x in float32 arithmetic: x = n*ln2 + r with |r| <= ln2/2,
// e^r by Cephes' degree-7 polynomial and 2^n put into the exponent bits.
// Over every finite input the result is within 2 ulp of the correctly
// rounded e^x (measured: TestExpfAccuracy), subnormal results included;
// x > 88.7228 gives +Inf, x < -103.972 (and -Inf) gives 0, NaN gives NaN.
// It is the translation path's exponential (CEOpts.Float32 and the
// attention softmax), about twice as fast as math.Exp with its float64
// conversions.
func Exp32(x float32) float32 {
	if !(x > expfMin) { // also NaN
		if x != x {
			return x
		}
		return 0
	}
	if x > expfMax {
		return float32(math.Inf(1))
	}
	fn := float32(x*expfLog2e) + expfRound
	fn -= expfRound
	r := x - fn*expfLn2Hi
	r -= fn * expfLn2Lo
	z := r * r
	p := ((((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+
		1.6666665459e-1)*r+5.0000001201e-1)*z + r) + 1
	n := int32(fn)
	if n >= -126 && n <= 127 {
		return p * math.Float32frombits(uint32(n+127)<<23)
	}
	// A result near the overflow threshold, or subnormal: scale in two
	// normal steps (the last multiplication rounds once).
	n1 := n / 2
	return p * math.Float32frombits(uint32(n1+127)<<23) * math.Float32frombits(uint32(n-n1+127)<<23)
}
