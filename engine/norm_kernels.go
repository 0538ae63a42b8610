package engine

// Reduction kernels for the normalisations. Each keeps four independent
// float64 accumulators so the additions do not wait on one another, and adds
// them in a fixed order (deterministic).

// normShiftedSums returns the sums of x-k and of (x-k)^2.
func normShiftedSumsGo[T Float](x []T, k float64) (sd, ss float64) {
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
func normGradSumsGo[T Float](dy, x []T, mu float64) (sdy, sdyx float64) {
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
func normAffineGo[T Float](dst, x []T, a, b T) {
	dst = dst[:len(x)]
	for j, e := range x {
		dst[j] = e*a + b
	}
}

// normGrad adds a*dy + b*x + c to g.
func normGradGo[T Float](g, dy, x []T, a, b, c T) {
	dy, x = dy[:len(g)], x[:len(g)]
	for j := range g {
		g[j] += a*dy[j] + b*x[j] + c
	}
}

// normAffineReLU sets dst = max(x*a + b, 0), the values of normAffine
// followed by ReLU.
func normAffineReLUGo[T Float](dst, x []T, a, b T) {
	dst = dst[:len(x)]
	for j, e := range x {
		dst[j] = max(e*a+b, 0)
	}
}

// normGradSet sets g to 0 + (a*dy + b*x + c): the value normGrad leaves in a
// cleared g, bit for bit (-0 becomes +0), without reading g.
func normGradSetGo[T Float](g, dy, x []T, a, b, c T) {
	dy, x = dy[:len(g)], x[:len(g)]
	for j := range g {
		g[j] = a*dy[j] + b*x[j] + c + 0
	}
}

// The kernels the batch norm calls: the AVX2 assembly on float32 where the
// CPU has it (same bits as the Go loops above, which run otherwise and on
// the tails).

func normShiftedSums[T Float](x []T, k float64) (sd, ss float64) {
	xs, ok := any(x).([]float32)
	if !ok || !haveAVX2 || len(xs) < 4 {
		return normShiftedSumsGo(x, k)
	}
	var acc [8]float64
	n4 := len(xs) &^ 3
	normSumsAVX2(&xs[0], n4, k, &acc)
	a0, a1, a2, a3 := acc[0], acc[1], acc[2], acc[3]
	b0, b1, b2, b3 := acc[4], acc[5], acc[6], acc[7]
	for _, v := range xs[n4:] {
		d := float64(v) - k
		a0 += d
		b0 += d * d
	}
	return (a0 + a1) + (a2 + a3), (b0 + b1) + (b2 + b3)
}

func normGradSums[T Float](dy, x []T, mu float64) (sdy, sdyx float64) {
	ds, ok := any(dy).([]float32)
	if !ok || !haveAVX2 || len(ds) < 4 {
		return normGradSumsGo(dy, x, mu)
	}
	xs := any(x).([]float32)[:len(ds)]
	var acc [8]float64
	n4 := len(ds) &^ 3
	normGradSumsAVX2(&ds[0], &xs[0], n4, mu, &acc)
	a0, a1, a2, a3 := acc[0], acc[1], acc[2], acc[3]
	b0, b1, b2, b3 := acc[4], acc[5], acc[6], acc[7]
	for i := n4; i < len(ds); i++ {
		d := float64(ds[i])
		a0 += d
		b0 += d * (float64(xs[i]) - mu)
	}
	return (a0 + a1) + (a2 + a3), (b0 + b1) + (b2 + b3)
}

// affine8 runs the AVX2 affine kernel over the first multiple of 8 elements
// and returns how many it did (0 where it does not apply).
func affine8[T Float](dst, x []T, a, b T, relu int) int {
	xs, ok := any(x).([]float32)
	if !ok || !haveAVX2 || len(xs) < 8 {
		return 0
	}
	ds := any(dst).([]float32)[:len(xs)]
	n8 := len(xs) &^ 7
	normAffineAVX2(&ds[0], &xs[0], n8, float32(a), float32(b), relu)
	return n8
}

func normAffine[T Float](dst, x []T, a, b T) {
	i := affine8(dst, x, a, b, 0)
	normAffineGo(dst[i:len(x)], x[i:], a, b)
}

func normAffineReLU[T Float](dst, x []T, a, b T) {
	i := affine8(dst, x, a, b, 1)
	normAffineReLUGo(dst[i:len(x)], x[i:], a, b)
}

// grad8 is affine8 for the gradient kernel.
func grad8[T Float](g, dy, x []T, a, b, c T, fresh int) int {
	gs, ok := any(g).([]float32)
	if !ok || !haveAVX2 || len(gs) < 8 {
		return 0
	}
	ds, xs := any(dy).([]float32)[:len(gs)], any(x).([]float32)[:len(gs)]
	n8 := len(gs) &^ 7
	normGradAVX2(&gs[0], &ds[0], &xs[0], n8, float32(a), float32(b), float32(c), fresh)
	return n8
}

func normGrad[T Float](g, dy, x []T, a, b, c T) {
	i := grad8(g, dy, x, a, b, c, 0)
	normGradGo(g[i:], dy[i:], x[i:], a, b, c)
}

func normGradSet[T Float](g, dy, x []T, a, b, c T) {
	i := grad8(g, dy, x, a, b, c, 1)
	normGradSetGo(g[i:], dy[i:], x[i:], a, b, c)
}
