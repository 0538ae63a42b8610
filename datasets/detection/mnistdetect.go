package detection

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/gap-harness/gap/datasets/idx"
	imagedata "github.com/gap-harness/gap/datasets/image"
)

// MNISTDetectConfig configures the "mnist-detect" data set: MNIST digits
// pasted on a black square canvas, their tight boxes the ground truth.
type MNISTDetectConfig struct {
	// Images is the number of canvases (default 1000).
	Images int
	// Canvas is the side of the square canvas in pixels (default 64).
	Canvas int
	// MinDigits and MaxDigits bound the digits per canvas (defaults 1, 4).
	MinDigits, MaxDigits int
	// MinSize and MaxSize bound the side, in pixels, to which a 28x28
	// digit is resized (bilinear; defaults 14 and 36).
	MinSize, MaxSize int
	// MaxIoU is the largest IoU allowed between the tight boxes of two
	// digits of a canvas (default 0.1, negative for none); a digit that
	// cannot be placed in 50 tries is dropped (never the first).
	MaxIoU float64
	// Seed drives every random choice.
	Seed uint64
}

func (c *MNISTDetectConfig) defaults() {
	if c.Images <= 0 {
		c.Images = 1000
	}
	if c.Canvas <= 0 {
		c.Canvas = 64
	}
	if c.MinDigits <= 0 {
		c.MinDigits = 1
	}
	if c.MaxDigits <= 0 {
		c.MaxDigits = 4
	}
	if c.MinSize <= 0 {
		c.MinSize = 14
	}
	if c.MaxSize <= 0 {
		c.MaxSize = 36
	}
	if c.MaxIoU == 0 {
		c.MaxIoU = 0.1
	}
}

// MNISTDetect is a generated detection set of grayscale canvases.
type MNISTDetect struct {
	// Size is the canvas side.
	Size int
	// Pix holds len(GT.Images) canvases of Size*Size bytes.
	Pix []uint8
	// GT is the ground truth: image i has id i+1, digit d category id d
	// (name "0".."9"), annotation ids from 1, Area the box area.
	GT *Dataset
}

// Image returns canvas i's pixels.
func (m *MNISTDetect) Image(i int) []uint8 {
	n := m.Size * m.Size
	return m.Pix[i*n : (i+1)*n]
}

// LoadMNISTDetect builds mnist-detect from the MNIST train (train=true)
// or test split found in dir (empty: idx.FindMNIST).
func LoadMNISTDetect(dir string, train bool, cfg MNISTDetectConfig) (*MNISTDetect, error) {
	d, err := idx.FindMNIST(dir)
	if err != nil {
		return nil, err
	}
	s, err := idx.LoadSplit(d, train, 10)
	if err != nil {
		return nil, err
	}
	return NewMNISTDetect(s, cfg)
}

// NewMNISTDetect builds mnist-detect from the digits of src, which must
// hold 10-class images. The result depends only on src and cfg.
func NewMNISTDetect(src *idx.Split, cfg MNISTDetectConfig) (*MNISTDetect, error) {
	cfg.defaults()
	if src.N == 0 {
		return nil, fmt.Errorf("detection: mnist-detect: no source digits")
	}
	if cfg.MinSize > cfg.MaxSize || cfg.MaxSize > cfg.Canvas || cfg.MinDigits > cfg.MaxDigits {
		return nil, fmt.Errorf("detection: mnist-detect: inconsistent config %+v", cfg)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6d6e697374))
	S := cfg.Canvas
	out := &MNISTDetect{Size: S, Pix: make([]uint8, cfg.Images*S*S), GT: &Dataset{}}
	for d := 0; d < 10; d++ {
		out.GT.Categories = append(out.GT.Categories, Category{ID: int64(d), Name: strconv.Itoa(d)})
	}
	var annID int64
	digit := make([]uint8, 0, cfg.MaxSize*cfg.MaxSize)
	for i := 0; i < cfg.Images; i++ {
		id := int64(i + 1)
		out.GT.Images = append(out.GT.Images, ImageInfo{ID: id, FileName: fmt.Sprintf("%06d.png", id), Width: S, Height: S})
		canvas := out.Image(i)
		n := cfg.MinDigits + rng.IntN(cfg.MaxDigits-cfg.MinDigits+1)
		var boxes []Box
		for k := 0; k < n; k++ {
			j := rng.IntN(src.N)
			side := cfg.MinSize + rng.IntN(cfg.MaxSize-cfg.MinSize+1)
			digit = resizeBilinear(src.Pix[j*src.Rows*src.Cols:(j+1)*src.Rows*src.Cols], src.Rows, src.Cols, side, digit[:0])
			r0, c0, r1, c1, ok := tight(digit, side)
			if !ok {
				continue // blank digit: nothing to detect
			}
			placed := false
			for try := 0; try < 50 && !placed; try++ {
				y, x := rng.IntN(S-side+1), rng.IntN(S-side+1)
				b := Box{X: float64(x + c0), Y: float64(y + r0), W: float64(c1 - c0 + 1), H: float64(r1 - r0 + 1)}
				okPos := true
				for _, o := range boxes {
					if cfg.MaxIoU >= 0 && boxIoU(b, o, false) > cfg.MaxIoU {
						okPos = false
						break
					}
				}
				if !okPos {
					continue
				}
				placed = true
				boxes = append(boxes, b)
				for r := 0; r < side; r++ {
					for c := 0; c < side; c++ {
						p := &canvas[(y+r)*S+x+c]
						*p = max(*p, digit[r*side+c])
					}
				}
				annID++
				out.GT.Annotations = append(out.GT.Annotations, Annotation{ID: annID, ImageID: id, CategoryID: int64(src.Labels[j]), BBox: b, Area: b.Area()})
			}
		}
	}
	return out, nil
}

// resizeBilinear resizes an h x w plane to side x side (half-pixel
// centres), rounding to bytes, appending to dst.
func resizeBilinear(src []uint8, h, w, side int, dst []uint8) []uint8 {
	coord := func(i, n int) (int, int, float64) {
		s := (float64(i)+0.5)*float64(n)/float64(side) - 0.5
		if s < 0 {
			s = 0
		}
		i0 := int(s)
		if i0 >= n-1 {
			return n - 1, n - 1, 0
		}
		return i0, i0 + 1, s - float64(i0)
	}
	for r := 0; r < side; r++ {
		y0, y1, fy := coord(r, h)
		for c := 0; c < side; c++ {
			x0, x1, fx := coord(c, w)
			a := float64(src[y0*w+x0])*(1-fx) + float64(src[y0*w+x1])*fx
			b := float64(src[y1*w+x0])*(1-fx) + float64(src[y1*w+x1])*fx
			dst = append(dst, uint8(math.Min(255, a*(1-fy)+b*fy+0.5)))
		}
	}
	return dst
}

// tight returns the inclusive row/column bounds of the nonzero pixels.
func tight(p []uint8, side int) (r0, c0, r1, c1 int, ok bool) {
	r0, c0, r1, c1 = side, side, -1, -1
	for r := 0; r < side; r++ {
		for c := 0; c < side; c++ {
			if p[r*side+c] != 0 {
				r0, r1 = min(r0, r), max(r1, r)
				c0, c1 = min(c0, c), max(c1, c)
			}
		}
	}
	return r0, c0, r1, c1, r1 >= 0
}

// Batch fills x (len(idx)*Size*Size float32, N x 1 x Size x Size) with
// canvases idx normalised with imagedata.MNISTNorm and returns their
// ground-truth objects, image by image.
func (m *MNISTDetect) Batch(idx []int, x []float32) ([][]Annotation, error) {
	per := m.Size * m.Size
	if len(x) != len(idx)*per {
		return nil, fmt.Errorf("detection: batch of %d needs x of %d, got %d", len(idx), len(idx)*per, len(x))
	}
	byImg := m.byImage()
	mean, std := imagedata.MNISTNorm.Mean[0], imagedata.MNISTNorm.Std[0]
	out := make([][]Annotation, len(idx))
	for b, i := range idx {
		if i < 0 || i >= len(m.GT.Images) {
			return nil, fmt.Errorf("detection: image index %d out of range [0,%d)", i, len(m.GT.Images))
		}
		for j, p := range m.Image(i) {
			x[b*per+j] = (float32(p)/255 - mean) / std
		}
		out[b] = byImg[i]
	}
	return out, nil
}

func (m *MNISTDetect) byImage() [][]Annotation {
	res := make([][]Annotation, len(m.GT.Images))
	for _, a := range m.GT.Annotations {
		res[a.ImageID-1] = append(res[a.ImageID-1], a)
	}
	return res
}
