package imagedata

import (
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // register the JPEG decoder
	"math"
	"math/rand/v2"
	"os"
	"sync"
)

// Batch implements Classification. With a nil rng each image gets the
// evaluation transform (resize the shorter side to EvalResize, centre
// crop Size x Size); with an rng it gets the training transform
// (RandomResizedCrop to Size x Size, then a horizontal flip with
// probability 1/2). Resampling is bilinear without antialiasing.
//
// Determinism: before decoding, Batch draws two uint64 per example from
// rng, in idx order, and each example's augmentation uses its own PCG
// generator seeded with them, so the output does not depend on Workers
// or on scheduling.
func (d *ImageNet) Batch(idx []int, x []float32, y []int32, rng *rand.Rand) error {
	s := d.opts.Size
	per := 3 * s * s
	if len(x) != len(idx)*per || len(y) != len(idx) {
		return fmt.Errorf("imagedata: batch of %d needs x of %d and y of %d, got %d and %d", len(idx), len(idx)*per, len(idx), len(x), len(y))
	}
	seeds := make([][2]uint64, len(idx))
	for b, i := range idx {
		if i < 0 || i >= len(d.files) {
			return fmt.Errorf("imagedata: example index %d out of range [0,%d)", i, len(d.files))
		}
		if rng != nil {
			seeds[b] = [2]uint64{rng.Uint64(), rng.Uint64()}
		}
		y[b] = d.labels[i]
	}
	errs := make([]error, len(idx))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(d.opts.Workers, len(idx)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range jobs {
				var r *rand.Rand
				if rng != nil {
					r = rand.New(rand.NewPCG(seeds[b][0], seeds[b][1]))
				}
				errs[b] = d.one(d.files[idx[b]], x[b*per:(b+1)*per], r)
			}
		}()
	}
	for b := range idx {
		jobs <- b
	}
	close(jobs)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *ImageNet) one(path string, dst []float32, rng *rand.Rand) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("imagedata: %w", err)
	}
	img, _, err := image.Decode(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("imagedata: %s: %w", path, err)
	}
	rgb := toRGB(img)
	d.transform(rgb, dst, rng)
	return nil
}

// transform writes the (train if rng != nil, else eval) transform of rgb
// into dst (CHW, normalised).
func (d *ImageNet) transform(rgb *rgbImage, dst []float32, rng *rand.Rand) {
	o := &d.opts
	H, W := float64(rgb.h), float64(rgb.w)
	var g geometry
	if rng != nil {
		top, left, ch, cw := randomResizedCrop(rgb.h, rgb.w, o.Scale, o.Ratio, rng)
		g = geometry{y0: float64(top), x0: float64(left), sy: float64(ch) / float64(o.Size), sx: float64(cw) / float64(o.Size),
			ylo: top, yhi: top + ch - 1, xlo: left, xhi: left + cw - 1, flip: rng.Float64() < 0.5}
	} else {
		// torchvision Resize(EvalResize): shorter side becomes EvalResize,
		// longer side int(EvalResize*long/short); then CenterCrop(Size)
		// with offset int(round((side-Size)/2)).
		nh, nw := o.EvalResize, o.EvalResize
		if rgb.h < rgb.w {
			nw = int(float64(o.EvalResize) * W / H)
		} else {
			nh = int(float64(o.EvalResize) * H / W)
		}
		top := math.RoundToEven(float64(nh-o.Size) / 2)
		left := math.RoundToEven(float64(nw-o.Size) / 2)
		sy, sx := H/float64(nh), W/float64(nw)
		g = geometry{y0: top * sy, x0: left * sx, sy: sy, sx: sx, ylo: 0, yhi: rgb.h - 1, xlo: 0, xhi: rgb.w - 1}
	}
	resample(rgb, g, o.Size, o.Norm, dst)
}

// randomResizedCrop samples a crop as torchvision's
// RandomResizedCrop.get_params: ten tries of a uniform area fraction in
// scale and a log-uniform aspect ratio in ratio, else a centre crop with
// the ratio clamped.
func randomResizedCrop(h, w int, scale, ratio [2]float64, rng *rand.Rand) (top, left, ch, cw int) {
	area := float64(h * w)
	lr0, lr1 := math.Log(ratio[0]), math.Log(ratio[1])
	for try := 0; try < 10; try++ {
		target := area * (scale[0] + rng.Float64()*(scale[1]-scale[0]))
		ar := math.Exp(lr0 + rng.Float64()*(lr1-lr0))
		cw = int(math.RoundToEven(math.Sqrt(target * ar)))
		ch = int(math.RoundToEven(math.Sqrt(target / ar)))
		if cw > 0 && cw <= w && ch > 0 && ch <= h {
			return rng.IntN(h - ch + 1), rng.IntN(w - cw + 1), ch, cw
		}
	}
	in := float64(w) / float64(h)
	switch {
	case in < ratio[0]:
		cw, ch = w, int(math.RoundToEven(float64(w)/ratio[0]))
	case in > ratio[1]:
		ch, cw = h, int(math.RoundToEven(float64(h)*ratio[1]))
	default:
		cw, ch = w, h
	}
	return (h - ch) / 2, (w - cw) / 2, ch, cw
}

// geometry maps output pixel (r, q) to source coordinates
// y = y0 + (r+0.5)*sy - 0.5 (likewise x, mirrored when flip), clamped
// to [ylo, yhi] x [xlo, xhi].
type geometry struct {
	y0, x0, sy, sx     float64
	ylo, yhi, xlo, xhi int
	flip               bool
}

type rgbImage struct {
	h, w int
	pix  []uint8 // interleaved RGB, row-major
}

func toRGB(img image.Image) *rgbImage {
	b := img.Bounds()
	out := &rgbImage{h: b.Dy(), w: b.Dx(), pix: make([]uint8, 3*b.Dx()*b.Dy())}
	p := out.pix
	switch m := img.(type) {
	case *image.YCbCr:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				yi, ci := m.YOffset(x, y), m.COffset(x, y)
				p[0], p[1], p[2] = color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				p = p[3:]
			}
		}
	case *image.Gray:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				v := m.Pix[m.PixOffset(x, y)]
				p[0], p[1], p[2] = v, v, v
				p = p[3:]
			}
		}
	default:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bb, _ := img.At(x, y).RGBA()
				p[0], p[1], p[2] = uint8(r>>8), uint8(g>>8), uint8(bb>>8)
				p = p[3:]
			}
		}
	}
	return out
}

func coord(i int, o, s float64, lo, hi int) (int, int, float64) {
	v := o + (float64(i)+0.5)*s - 0.5
	if v < float64(lo) {
		v = float64(lo)
	}
	if v >= float64(hi) {
		return hi, hi, 0
	}
	i0 := int(v)
	return i0, i0 + 1, v - float64(i0)
}

func resample(src *rgbImage, g geometry, size int, norm Norm, dst []float32) {
	plane := size * size
	for r := 0; r < size; r++ {
		y0, y1, fy := coord(r, g.y0, g.sy, g.ylo, g.yhi)
		for q := 0; q < size; q++ {
			qq := q
			if g.flip {
				qq = size - 1 - q
			}
			x0, x1, fx := coord(qq, g.x0, g.sx, g.xlo, g.xhi)
			for k := 0; k < 3; k++ {
				a := float64(src.pix[3*(y0*src.w+x0)+k])*(1-fx) + float64(src.pix[3*(y0*src.w+x1)+k])*fx
				b := float64(src.pix[3*(y1*src.w+x0)+k])*(1-fx) + float64(src.pix[3*(y1*src.w+x1)+k])*fx
				v := float32((a*(1-fy) + b*fy) / 255)
				dst[k*plane+r*size+q] = (v - norm.Mean[k]) / norm.Std[k]
			}
		}
	}
}
