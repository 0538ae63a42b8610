package imagedata

import (
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // register the JPEG decoder
	_ "image/png"  // a few ILSVRC ".JPEG" files are PNG
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
)

// Batch implements Classification. With a nil rng each image gets the
// evaluation transform (resize the shorter side to EvalResize, centre
// crop Size x Size); with an rng it gets the training transform
// (RandomResizedCrop to Size x Size, then a horizontal flip with
// probability 1/2). Resampling is PIL's antialiased bilinear filter, as
// torchvision applies it to PIL images (see axisTaps).
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
	var ys, xs []taps
	if rng != nil {
		// RandomResizedCrop: crop (top, left, ch, cw), resize to Size.
		top, left, ch, cw := randomResizedCrop(rgb.h, rgb.w, o.Scale, o.Ratio, rng)
		ys = axisTaps(top, ch, o.Size, 0, o.Size)
		xs = axisTaps(left, cw, o.Size, 0, o.Size)
		if rng.Float64() < 0.5 {
			slices.Reverse(xs)
		}
	} else {
		// torchvision Resize(EvalResize): shorter side becomes EvalResize,
		// longer side int(EvalResize*long/short); then CenterCrop(Size)
		// with offset int(round((side-Size)/2)).
		nh, nw := o.EvalResize, o.EvalResize
		if rgb.h < rgb.w {
			nw = int(float64(o.EvalResize) * float64(rgb.w) / float64(rgb.h))
		} else {
			nh = int(float64(o.EvalResize) * float64(rgb.h) / float64(rgb.w))
		}
		top := int(math.RoundToEven(float64(nh-o.Size) / 2))
		left := int(math.RoundToEven(float64(nw-o.Size) / 2))
		ys = axisTaps(0, rgb.h, nh, top, o.Size)
		xs = axisTaps(0, rgb.w, nw, left, o.Size)
	}
	resample(rgb, ys, xs, o.Norm, dst)
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

// taps are the source indices and weights of one output coordinate.
type taps struct {
	idx []int
	w   []float64
}

// axisTaps returns, for output indices off..off+n-1 of a resize of the
// source span [in0, in0+inLen) to outLen pixels, the source taps of
// PIL's bilinear filter (Image.resize, which torchvision uses): a
// triangle filter stretched by the downscale factor (antialiasing), so
// plain bilinear interpolation with half-pixel centres when enlarging;
// weights are renormalised at the edges of the span.
func axisTaps(in0, inLen, outLen, off, n int) []taps {
	scale := float64(inLen) / float64(outLen)
	fs := math.Max(scale, 1)
	support := fs
	out := make([]taps, n)
	for j := range out {
		center := (float64(off+j) + 0.5) * scale
		lo := max(int(center-support+0.5), 0)
		hi := min(int(center+support+0.5), inLen)
		var t taps
		sum := 0.0
		for x := lo; x < hi; x++ {
			w := 1 - math.Abs((float64(x)-center+0.5)/fs)
			if w <= 0 {
				continue
			}
			t.idx = append(t.idx, in0+x)
			t.w = append(t.w, w)
			sum += w
		}
		if sum == 0 { // cannot happen for inLen >= 1; keep a tap anyway
			t.idx, t.w, sum = []int{in0 + min(max(int(center), 0), inLen-1)}, []float64{1}, 1
		}
		for i := range t.w {
			t.w[i] /= sum
		}
		out[j] = t
	}
	return out
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

// resample writes the separable filter of src through ys (rows) and xs
// (columns) into dst, CHW, normalised.
func resample(src *rgbImage, ys, xs []taps, norm Norm, dst []float32) {
	h, w := len(ys), len(xs)
	// Horizontal pass over the rows that ys needs, then vertical.
	rows := make([][]float64, src.h)
	for _, t := range ys {
		for _, y := range t.idx {
			if rows[y] != nil {
				continue
			}
			row := make([]float64, 3*w)
			base := src.pix[3*y*src.w:]
			for q, tx := range xs {
				var a, b, c float64
				for i, x := range tx.idx {
					wt := tx.w[i]
					a += wt * float64(base[3*x])
					b += wt * float64(base[3*x+1])
					c += wt * float64(base[3*x+2])
				}
				row[3*q], row[3*q+1], row[3*q+2] = a, b, c
			}
			rows[y] = row
		}
	}
	plane := h * w
	for r, ty := range ys {
		for q := 0; q < w; q++ {
			for k := 0; k < 3; k++ {
				v := 0.0
				for i, y := range ty.idx {
					v += ty.w[i] * rows[y][3*q+k]
				}
				dst[k*plane+r*w+q] = (float32(v/255) - norm.Mean[k]) / norm.Std[k]
			}
		}
	}
}
