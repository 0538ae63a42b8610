package engine

// Reduction kernels for the normalisations. Each keeps four independent
// float64 accumulators so the additions do not wait on one another, and adds
// them in a fixed order (deterministic).

// normShiftedSums returns the sums of x-k and of (x-k)^2.
func normShiftedSums[T Float](x []T, k float64) (sd, ss float64) {
	var a0, a1, a2, a3, b0, b1, b2, b3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		d0, d1, d2, d3 := float64(v[0])-k, float64(v[1])-k, float64(v[2])-k, float64(v[3])-k
		a0 += d0
		a1 += d1
		a2 += d2
		a3 += d3
		b0 += d0 * d0
		b1 += d1 * d1
		b2 += d2 * d2
		b3 += d3 * d3
	}
	for ; i < len(x); i++ {
		d := float64(x[i]) - k
		a0 += d
		b0 += d * d
	}
	return (a0 + a1) + (a2 + a3), (b0 + b1) + (b2 + b3)
}

// normGradSums returns the sums of dy and of dy*(x-mu).
func normGradSums[T Float](dy, x []T, mu float64) (sdy, sdyx float64) {
	x = x[:len(dy)]
	var a0, a1, a2, a3, b0, b1, b2, b3 float64
	i := 0
	for ; i+4 <= len(dy); i += 4 {
		d := dy[i : i+4 : i+4]
		v := x[i : i+4 : i+4]
		d0, d1, d2, d3 := float64(d[0]), float64(d[1]), float64(d[2]), float64(d[3])
		a0 += d0
		a1 += d1
		a2 += d2
		a3 += d3
		b0 += d0 * (float64(v[0]) - mu)
		b1 += d1 * (float64(v[1]) - mu)
		b2 += d2 * (float64(v[2]) - mu)
		b3 += d3 * (float64(v[3]) - mu)
	}
	for ; i < len(dy); i++ {
		d := float64(dy[i])
		a0 += d
		b0 += d * (float64(x[i]) - mu)
	}
	return (a0 + a1) + (a2 + a3), (b0 + b1) + (b2 + b3)
}

// normAffine sets dst = x*a + b.
func normAffine[T Float](dst, x []T, a, b T) {
	dst = dst[:len(x)]
	for j, e := range x {
		dst[j] = e*a + b
	}
}

// normGrad adds a*dy + b*x + c to g.
func normGrad[T Float](g, dy, x []T, a, b, c T) {
	dy, x = dy[:len(g)], x[:len(g)]
	for j := range g {
		g[j] += a*dy[j] + b*x[j] + c
	}
}
