package imagedata

import (
	"fmt"
	"math/rand/v2"
)

// Augment is the training augmentation of an in-memory data set, applied
// by Batch only when it is given a non-nil rng.
type Augment struct {
	// Pad > 0 enables a random crop of the original size from the image
	// zero-padded (raw pixel value 0) by Pad pixels on every side, as
	// torchvision's RandomCrop(size, padding=Pad).
	Pad int
	// HFlip enables a horizontal flip with probability 1/2.
	HFlip bool
}

// CIFARAugment is the standard CIFAR training augmentation: random crop
// with 4 pixels of padding and a horizontal flip.
var CIFARAugment = Augment{Pad: 4, HFlip: true}

// Memory is an in-memory Classification of 8-bit images, CHW per
// example.
type Memory struct {
	pix     []uint8
	labels  []int32
	c, h, w int
	classes int
	norm    Norm
	aug     Augment
}

// NewMemory builds an in-memory data set from n = len(labels) images of
// c*h*w bytes each (CHW order) in pix. Every label must be in
// [0, classes) and norm must have c channels.
func NewMemory(pix []uint8, labels []int32, c, h, w, classes int, norm Norm, aug Augment) (*Memory, error) {
	if c <= 0 || h <= 0 || w <= 0 {
		return nil, fmt.Errorf("imagedata: bad shape %dx%dx%d", c, h, w)
	}
	if len(pix) != len(labels)*c*h*w {
		return nil, fmt.Errorf("imagedata: %d pixel bytes for %d examples of %dx%dx%d", len(pix), len(labels), c, h, w)
	}
	if len(norm.Mean) != c || len(norm.Std) != c {
		return nil, fmt.Errorf("imagedata: normalisation has %d/%d channels, images have %d", len(norm.Mean), len(norm.Std), c)
	}
	for i, l := range labels {
		if l < 0 || int(l) >= classes {
			return nil, fmt.Errorf("imagedata: example %d: label %d out of range [0,%d)", i, l, classes)
		}
	}
	if aug.Pad < 0 {
		return nil, fmt.Errorf("imagedata: negative crop padding %d", aug.Pad)
	}
	return &Memory{pix: pix, labels: labels, c: c, h: h, w: w, classes: classes, norm: norm, aug: aug}, nil
}

// Len returns the number of examples.
func (m *Memory) Len() int { return len(m.labels) }

// Shape returns the shape of one example.
func (m *Memory) Shape() (c, h, w int) { return m.c, m.h, m.w }

// NumClasses returns the number of classes.
func (m *Memory) NumClasses() int { return m.classes }

// Labels returns the labels (shared, do not modify).
func (m *Memory) Labels() []int32 { return m.labels }

// Pixels returns the raw bytes of example i, CHW (shared, do not modify).
func (m *Memory) Pixels(i int) []uint8 {
	n := m.c * m.h * m.w
	return m.pix[i*n : (i+1)*n]
}

// Norm returns the data set's normalisation.
func (m *Memory) Norm() Norm { return m.norm }

// WithAugment returns a view of m with a different training augmentation
// (the pixels are shared).
func (m *Memory) WithAugment(a Augment) *Memory {
	c := *m
	c.aug = a
	return &c
}

// Batch implements Classification. With a non-nil rng and an augmentation
// configured, each example in order draws its crop offsets (dy then dx,
// each rng.IntN(2*Pad+1)) and then its flip (rng.Float64() < 0.5).
func (m *Memory) Batch(idx []int, x []float32, y []int32, rng *rand.Rand) error {
	per := m.c * m.h * m.w
	if len(x) != len(idx)*per || len(y) != len(idx) {
		return fmt.Errorf("imagedata: batch of %d needs x of %d and y of %d, got %d and %d", len(idx), len(idx)*per, len(idx), len(x), len(y))
	}
	scale := make([]float32, m.c)
	shift := make([]float32, m.c)
	for k := range scale {
		scale[k] = 1 / (255 * m.norm.Std[k])
		shift[k] = -m.norm.Mean[k] / m.norm.Std[k]
	}
	for b, i := range idx {
		if i < 0 || i >= len(m.labels) {
			return fmt.Errorf("imagedata: example index %d out of range [0,%d)", i, len(m.labels))
		}
		y[b] = m.labels[i]
		src := m.pix[i*per : (i+1)*per]
		dst := x[b*per : (b+1)*per]
		dy, dx, flip := 0, 0, false
		if rng != nil {
			if p := m.aug.Pad; p > 0 {
				dy = rng.IntN(2*p+1) - p
				dx = rng.IntN(2*p+1) - p
			}
			if m.aug.HFlip {
				flip = rng.Float64() < 0.5
			}
		}
		if dy == 0 && dx == 0 && !flip {
			for k := 0; k < m.c; k++ {
				s, t := scale[k], shift[k]
				plane := src[k*m.h*m.w : (k+1)*m.h*m.w]
				out := dst[k*m.h*m.w : (k+1)*m.h*m.w]
				for j, v := range plane {
					out[j] = float32(v)*s + t
				}
			}
			continue
		}
		// Output pixel (r, q) reads source (r+dy, q'+dx) where q' is q or
		// its mirror; outside the image the raw value is 0.
		for k := 0; k < m.c; k++ {
			s, t := scale[k], shift[k]
			plane := src[k*m.h*m.w : (k+1)*m.h*m.w]
			out := dst[k*m.h*m.w : (k+1)*m.h*m.w]
			for r := 0; r < m.h; r++ {
				sr := r + dy
				for q := 0; q < m.w; q++ {
					sq := q + dx
					if flip {
						sq = m.w - 1 - q + dx
					}
					v := float32(0)
					if sr >= 0 && sr < m.h && sq >= 0 && sq < m.w {
						v = float32(plane[sr*m.w+sq])
					}
					out[r*m.w+q] = v*s + t
				}
			}
		}
	}
	return nil
}
