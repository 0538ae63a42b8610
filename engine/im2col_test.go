package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// eachTap calls fn for every entry of im2col's col matrix, from its
// definition: the entry's index in col and the index of the input element it
// holds in x [cch,H,W] (-1 in the padding).
func eachTap(g *convGeom, cch int, fn func(ci, xi int)) {
	ohw := g.OH * g.OW
	for c := 0; c < cch; c++ {
		for kh := 0; kh < g.KH; kh++ {
			for kw := 0; kw < g.KW; kw++ {
				r := (c*g.KH+kh)*g.KW + kw
				for oh := 0; oh < g.OH; oh++ {
					for ow := 0; ow < g.OW; ow++ {
						ih, iw := oh*g.SH-g.PH+kh*g.DH, ow*g.SW-g.PW+kw*g.DW
						xi := -1
						if ih >= 0 && ih < g.H && iw >= 0 && iw < g.W {
							xi = (c*g.H+ih)*g.W + iw
						}
						fn(r*ohw+oh*g.OW+ow, xi)
					}
				}
			}
		}
	}
}

// naiveIm2col is im2col written from its definition, one element at a time.
func naiveIm2col(g *convGeom, x []float32, cch int, col []float32) {
	eachTap(g, cch, func(ci, xi int) {
		col[ci] = 0
		if xi >= 0 {
			col[ci] = x[xi]
		}
	})
}

// naiveCol2im is col2im written from its definition.
func naiveCol2im(g *convGeom, col []float32, cch int, x []float32) {
	eachTap(g, cch, func(ci, xi int) {
		if xi >= 0 {
			x[xi] += col[ci]
		}
	})
}

// im2colGeoms are the geometries the tests and benchmarks cover: the
// convolutions of the benchmark models (forward, and the transposed
// convolution of the input gradient) and odd strides, paddings and dilations.
func im2colGeoms() map[string]convGeom {
	mk := func(c, h, w, k, s, p, d int) convGeom {
		g := convGeom{N: 1, C: c, H: h, W: w, O: 1, KH: k, KW: k, SH: s, SW: s, PH: p, PW: p, DH: d, DW: d, G: 1}
		g.OH = (h+2*p-d*(k-1)-1)/s + 1
		g.OW = (w+2*p-d*(k-1)-1)/s + 1
		return g
	}
	gs := map[string]convGeom{
		"resnet20-3x3s1":      mk(16, 32, 32, 3, 1, 1, 1),
		"resnet20-3x3s2":      mk(16, 32, 32, 3, 2, 1, 1),
		"resnet20-3x3s2-8x8":  mk(32, 16, 16, 3, 2, 1, 1),
		"resnet20-1x1s2":      mk(16, 32, 32, 1, 2, 0, 1),
		"lenet5-conv1":        mk(1, 28, 28, 5, 1, 2, 1),
		"lenet5-conv2":        mk(6, 14, 14, 5, 1, 0, 1),
		"lenet5-conv2-dx":     mk(16, 10, 10, 5, 1, 4, 1),
		"stem-7x7s2":          mk(3, 56, 56, 7, 2, 3, 1),
		"resnet50-stem":       mk(3, 224, 224, 7, 2, 3, 1),
		"odd-5x5s3p1":         mk(3, 17, 13, 5, 3, 1, 1),
		"dilated-3x3d2":       mk(4, 11, 9, 3, 1, 2, 2),
		"dilated-3x3s2d2":     mk(4, 12, 10, 3, 2, 1, 2),
		"4x4s2p1":             mk(2, 9, 9, 4, 2, 1, 1),
		"2x2s2":               mk(2, 8, 7, 2, 2, 0, 1),
		"big-pad-3x3s2p2":     mk(2, 5, 6, 3, 2, 2, 1),
		"kernel-wider-than-x": mk(2, 3, 3, 5, 1, 2, 1),
		"3x3s2p1-odd":         mk(3, 7, 9, 3, 2, 1, 1),
		"1x1s2-odd":           mk(2, 7, 5, 1, 2, 0, 1),
		"5x5s2p2-odd":         mk(2, 9, 11, 5, 2, 2, 1),
		"3x3s2p1-1px":         mk(2, 1, 1, 3, 2, 1, 1),
		"5x5s2p3":             mk(2, 6, 6, 5, 2, 3, 1),
	}
	// Rectangular: the stride-2 path's rows and columns differ.
	r := mk(2, 9, 6, 3, 2, 1, 1)
	r.KW, r.PW = 1, 0
	r.OW = (r.W-1)/2 + 1
	gs["3x1s2-rect"] = r
	return gs
}

// TestIm2colMatchesDefinition checks im2col and col2im against their
// element-wise definitions on every geometry, with a col buffer full of NaN
// beforehand (every entry must be written) and a non-zero x for col2im (it
// accumulates).
func TestIm2colMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for name, g := range im2colGeoms() {
		t.Run(name, func(t *testing.T) {
			x := make([]float32, g.C*g.H*g.W)
			for i := range x {
				x[i] = rng.Float32()*2 - 1
			}
			n := g.C * g.KH * g.KW * g.OH * g.OW
			want, got := make([]float32, n), make([]float32, n)
			for i := range got {
				got[i] = float32(nan())
			}
			naiveIm2col(&g, x, g.C, want)
			im2col(&g, x, g.C, got)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("im2col: col[%d] = %v, want %v", i, got[i], want[i])
				}
			}
			wx, gx := make([]float32, len(x)), make([]float32, len(x))
			for i := range wx {
				wx[i] = float32(i % 7)
				gx[i] = wx[i]
			}
			naiveCol2im(&g, want, g.C, wx)
			col2im(&g, want, g.C, gx)
			for i := range wx {
				if gx[i] != wx[i] {
					t.Fatalf("col2im: x[%d] = %v, want %v", i, gx[i], wx[i])
				}
			}
		})
	}
}

func nan() float64 {
	var z float64
	return z / z
}

// BenchmarkIm2col times im2col on the benchmark models' geometries (one
// image); ns/op over the col size gives ns per element.
func BenchmarkIm2col(b *testing.B) {
	for _, name := range []string{"resnet20-3x3s1", "resnet20-3x3s2", "resnet20-1x1s2", "resnet50-stem", "lenet5-conv1", "lenet5-conv2", "lenet5-conv2-dx"} {
		g := im2colGeoms()[name]
		x := make([]float32, g.C*g.H*g.W)
		col := make([]float32, g.C*g.KH*g.KW*g.OH*g.OW)
		b.Run(fmt.Sprintf("%s-%delem", name, len(col)), func(b *testing.B) {
			b.SetBytes(int64(4 * len(col)))
			for b.Loop() {
				im2col(&g, x, g.C, col)
			}
		})
	}
}
