package imagedata

import (
	"fmt"
	"math/rand/v2"
	"sort"
)

// Interp is a resampling method.
type Interp int

const (
	// Nearest picks the nearest source pixel.
	Nearest Interp = iota
	// Bilinear interpolates between the four nearest source pixels
	// (half-pixel centres, as PIL and torchvision's antialias=False).
	Bilinear
)

// String returns the method's name.
func (i Interp) String() string {
	switch i {
	case Nearest:
		return "nearest"
	case Bilinear:
		return "bilinear"
	}
	return fmt.Sprintf("Interp(%d)", int(i))
}

// Resize returns a copy of m whose images are resized to h x w (the
// normalisation and augmentation are kept). Bilinear values are rounded
// to the nearest byte.
func (m *Memory) Resize(h, w int, method Interp) (*Memory, error) {
	if h <= 0 || w <= 0 {
		return nil, fmt.Errorf("imagedata: resize to %dx%d", h, w)
	}
	if method != Nearest && method != Bilinear {
		return nil, fmt.Errorf("imagedata: unknown resize method %v", method)
	}
	n := m.Len()
	out := make([]uint8, n*m.c*h*w)
	tmp := make([]float32, h*w)
	for i := 0; i < n; i++ {
		src := m.Pixels(i)
		for k := 0; k < m.c; k++ {
			ResizePlane(src[k*m.h*m.w:(k+1)*m.h*m.w], m.h, m.w, tmp, h, w, method)
			dst := out[(i*m.c+k)*h*w:]
			for j, v := range tmp {
				dst[j] = clampByte(v)
			}
		}
	}
	c := *m
	c.pix, c.h, c.w = out, h, w
	c.labels = append([]int32(nil), m.labels...)
	return &c, nil
}

func clampByte(v float32) uint8 {
	v += 0.5
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v)
}

// ResizePlane resamples one sh x sw plane of bytes into the dh x dw plane
// dst (float32, unrounded).
func ResizePlane(src []uint8, sh, sw int, dst []float32, dh, dw int, method Interp) {
	sy := float64(sh) / float64(dh)
	sx := float64(sw) / float64(dw)
	if method == Nearest {
		for r := 0; r < dh; r++ {
			y := min(int(float64(r)*sy), sh-1)
			for q := 0; q < dw; q++ {
				x := min(int(float64(q)*sx), sw-1)
				dst[r*dw+q] = float32(src[y*sw+x])
			}
		}
		return
	}
	for r := 0; r < dh; r++ {
		y0, y1, fy := bilinearCoord(r, sy, sh)
		for q := 0; q < dw; q++ {
			x0, x1, fx := bilinearCoord(q, sx, sw)
			a := float64(src[y0*sw+x0])*(1-fx) + float64(src[y0*sw+x1])*fx
			b := float64(src[y1*sw+x0])*(1-fx) + float64(src[y1*sw+x1])*fx
			dst[r*dw+q] = float32(a*(1-fy) + b*fy)
		}
	}
}

// bilinearCoord maps output index i to the two source indices and the
// weight of the second, with half-pixel centres and edge clamping.
func bilinearCoord(i int, scale float64, n int) (int, int, float64) {
	s := (float64(i)+0.5)*scale - 0.5
	if s < 0 {
		s = 0
	}
	i0 := int(s)
	if i0 >= n-1 {
		return n - 1, n - 1, 0
	}
	return i0, i0 + 1, s - float64(i0)
}

// FirstPerClass returns the indices of the examples that are among the
// first n of their class, in increasing order. Labels must be
// non-negative.
func FirstPerClass(labels []int32, n int) []int {
	count := map[int32]int{}
	var keep []int
	for i, l := range labels {
		if count[l] < n {
			count[l]++
			keep = append(keep, i)
		}
	}
	return keep
}

// RandomSubset returns n of the indices 0..total-1, drawn without
// replacement by a PCG generator seeded with seed, in increasing order.
// n >= total returns them all.
func RandomSubset(total, n int, seed uint64) []int {
	n = min(n, total)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	keep := rng.Perm(total)[:n]
	sort.Ints(keep)
	return keep
}

// SubsetFirstPerClass returns a copy of m with the examples that are
// among the first n of their class, in their original order.
func (m *Memory) SubsetFirstPerClass(n int) *Memory {
	return m.Subset(FirstPerClass(m.labels, n))
}

// SubsetRandom returns a copy of m with n examples drawn by
// RandomSubset(m.Len(), n, seed), in their original order.
func (m *Memory) SubsetRandom(n int, seed uint64) *Memory {
	return m.Subset(RandomSubset(m.Len(), n, seed))
}

// Subset returns a copy of m holding the examples idx, in that order.
// Indices must be in range.
func (m *Memory) Subset(idx []int) *Memory {
	per := m.c * m.h * m.w
	pix := make([]uint8, len(idx)*per)
	labels := make([]int32, len(idx))
	for j, i := range idx {
		copy(pix[j*per:], m.pix[i*per:(i+1)*per])
		labels[j] = m.labels[i]
	}
	c := *m
	c.pix, c.labels = pix, labels
	return &c
}
