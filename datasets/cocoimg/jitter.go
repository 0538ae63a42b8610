package cocoimg

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Jitter is the photometric ("colour jitter") augmentation as
// torchvision.transforms.ColorJitter defines it, which NVIDIA's SSD300 v1.1
// applies with brightness 0.125, contrast 0.5, saturation 0.5 and hue 0.05.
// Brightness, Contrast and Saturation are strengths s: the factor is drawn
// uniformly from [max(0, 1-s), 1+s]; Hue is a strength h in [0, 0.5]: the
// shift is drawn uniformly from [-h, h] of a turn. A zero strength leaves
// that transform out (no draw), as ColorJitter does, so the zero Jitter
// changes nothing and draws nothing.
//
// Order: ColorJitter draws a random permutation of the four transforms for
// each image (torch.randperm(4) in get_params) and applies them in that
// order; so does Jitter (one permutation per image, from the image's own
// generator). The fixed-order alternative was not taken: the transforms do
// not commute (contrast after brightness pulls towards a different grey
// than before it), so only the random order is ColorJitter's distribution.
//
// Arithmetic: torchvision's tensor path (functional_tensor): values in
// [0, 1] as float32, each transform clamped to [0, 1]; grey is
// 0.2989 R + 0.587 G + 0.114 B; brightness blends with black, contrast with
// the mean grey of the whole sample, saturation with each pixel's grey;
// hue goes through HSV (_rgb2hsv/_hsv2rgb) and adds the shift modulo 1.
// NVIDIA applies ColorJitter to the resized PIL image, whose path rounds to
// 8 bits after each transform and uses PIL's integer grey (299, 587, 114
// per mille); the tensor path is the one without that rounding.
type Jitter struct {
	Brightness, Contrast, Saturation, Hue float64
}

// Zero reports whether the jitter does nothing.
func (j Jitter) Zero() bool { return j == Jitter{} }

// String is the jitter as ParseJitter reads it: "none" or the four
// strengths "brightness,contrast,saturation,hue".
func (j Jitter) String() string {
	if j.Zero() {
		return "none"
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	return f(j.Brightness) + "," + f(j.Contrast) + "," + f(j.Saturation) + "," + f(j.Hue)
}

// ParseJitter reads "none" or four strengths "b,c,s,h" (each >= 0, h at
// most 0.5).
func ParseJitter(v string) (Jitter, error) {
	if v == "none" {
		return Jitter{}, nil
	}
	parts := strings.Split(v, ",")
	if len(parts) != 4 {
		return Jitter{}, fmt.Errorf("%q: want none or four strengths brightness,contrast,saturation,hue", v)
	}
	var s [4]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || !(f >= 0) || math.IsInf(f, 0) || (i == 3 && f > 0.5) {
			return Jitter{}, fmt.Errorf("%q: %s strength %q: want a number >= 0 (hue at most 0.5)", v, [...]string{"brightness", "contrast", "saturation", "hue"}[i], p)
		}
		s[i] = f
	}
	return Jitter{Brightness: s[0], Contrast: s[1], Saturation: s[2], Hue: s[3]}, nil
}

// PhotoKind names a photometric transform.
type PhotoKind uint8

// The four transforms of Jitter, in ColorJitter's numbering (fn_idx).
const (
	Brightness PhotoKind = iota
	Contrast
	Saturation
	Hue
)

// PhotoOp is one drawn transform: a factor (brightness, contrast,
// saturation) or a shift in turns (hue).
type PhotoOp struct {
	Kind  PhotoKind
	Value float64
}

// Draw draws one image's transforms as ColorJitter.get_params does: the
// permutation, then the factors of brightness, contrast, saturation and
// hue (each only when its strength is not zero); it returns them in the
// order they apply. The zero Jitter draws nothing and returns nil.
func (j Jitter) Draw(rng *rand.Rand) []PhotoOp {
	if j.Zero() {
		return nil
	}
	perm := rng.Perm(4)
	var v [4]float64
	on := [4]bool{j.Brightness > 0, j.Contrast > 0, j.Saturation > 0, j.Hue > 0}
	for k, s := range []float64{j.Brightness, j.Contrast, j.Saturation} {
		if on[k] {
			lo := math.Max(0, 1-s)
			v[k] = lo + (1+s-lo)*rng.Float64()
		}
	}
	if on[Hue] {
		v[Hue] = -j.Hue + 2*j.Hue*rng.Float64()
	}
	ops := make([]PhotoOp, 0, 4)
	for _, k := range perm {
		if on[k] {
			ops = append(ops, PhotoOp{Kind: PhotoKind(k), Value: v[k]})
		}
	}
	return ops
}

// Apply applies ops in order to an RGB image of n pixels held as three
// planes r, g, b of values in [0, 1] (torchvision's tensor arithmetic, see
// Jitter).
func Apply(ops []PhotoOp, r, g, b []float32) {
	for _, op := range ops {
		f := float32(op.Value)
		switch op.Kind {
		case Brightness:
			for i := range r {
				r[i], g[i], b[i] = blend(r[i], 0, f), blend(g[i], 0, f), blend(b[i], 0, f)
			}
		case Contrast:
			var sum float64
			for i := range r {
				sum += float64(grey(r[i], g[i], b[i]))
			}
			m := float32(sum / float64(len(r)))
			for i := range r {
				r[i], g[i], b[i] = blend(r[i], m, f), blend(g[i], m, f), blend(b[i], m, f)
			}
		case Saturation:
			for i := range r {
				y := grey(r[i], g[i], b[i])
				r[i], g[i], b[i] = blend(r[i], y, f), blend(g[i], y, f), blend(b[i], y, f)
			}
		case Hue:
			for i := range r {
				h, s, v := rgbToHSV(r[i], g[i], b[i])
				h = h + f
				h -= float32(math.Floor(float64(h))) // modulo 1, in [0, 1)
				r[i], g[i], b[i] = hsvToRGB(h, s, v)
			}
		}
	}
}

// blend is torchvision's _blend: f*x + (1-f)*y clamped to [0, 1].
func blend(x, y, f float32) float32 { return min(1, max(0, f*x+(1-f)*y)) }

// grey is torchvision's rgb_to_grayscale for float images.
func grey(r, g, b float32) float32 { return 0.2989*r + 0.587*g + 0.114*b }

// rgbToHSV is torchvision's _rgb2hsv for one pixel (h in [0, 1)).
func rgbToHSV(r, g, b float32) (h, s, v float32) {
	maxc, minc := max(r, g, b), min(r, g, b)
	cr := maxc - minc
	if maxc == minc {
		return 0, 0, maxc
	}
	s = cr / maxc
	rc, gc, bc := (maxc-r)/cr, (maxc-g)/cr, (maxc-b)/cr
	switch {
	case maxc == r:
		h = bc - gc
	case maxc == g:
		h = 2 + rc - bc
	default:
		h = 4 + gc - rc
	}
	h = h/6 + 1
	h -= float32(math.Floor(float64(h)))
	return h, s, maxc
}

// hsvToRGB is torchvision's _hsv2rgb for one pixel.
func hsvToRGB(h, s, v float32) (r, g, b float32) {
	i := float32(math.Floor(float64(h * 6)))
	f := h*6 - i
	p := min(1, max(0, v*(1-s)))
	q := min(1, max(0, v*(1-s*f)))
	t := min(1, max(0, v*(1-s*(1-f))))
	switch int(i) % 6 {
	case 0:
		return v, t, p
	case 1:
		return q, v, p
	case 2:
		return p, v, t
	case 3:
		return p, q, v
	case 4:
		return t, p, v
	default:
		return v, p, q
	}
}
