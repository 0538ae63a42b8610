package cocoimg

import (
	"fmt"
	"image"
	"image/color"
	stddraw "image/draw"
	"math"
	"math/rand/v2"
	"sync"

	"golang.org/x/image/draw"
)

// Mean and Std are the ImageNet normalisation of the input channels (RGB,
// values in 0..1), as the ResNet-50 backbone was trained with.
var (
	Mean = [3]float32{0.485, 0.456, 0.406}
	Std  = [3]float32{0.229, 0.224, 0.225}
)

// Augment is SSD's training augmentation (Liu et al. 2016, as ssd.pytorch
// and NVIDIA's SSD300 apply it): expand, then crop, then flip, then (on the
// resized sample) colour jitter. The zero value is no augmentation (the
// whole image resized).
type Augment struct {
	// Expand places the image, with probability 1/2, at a random position
	// on a canvas MaxExpand times larger at most (ratio uniform in
	// [1, MaxExpand]; 0 means 4) filled with the mean colour ("zoom out").
	Expand    bool
	MaxExpand float64
	// Crop cuts a random patch: a mode is drawn from {whole image, minimum
	// IoU 0.1, 0.3, 0.5, 0.7, 0.9, any}; up to 50 patches of width and
	// height 0.3..1 of the canvas with aspect ratio 0.5..2 are tried until
	// every box overlaps the patch with IoU >= the mode's minimum and at
	// least one box centre lies inside it (another mode is drawn when all
	// fail; after 50 modes the whole image is kept). Boxes whose centres
	// fall outside the patch are dropped, the others clipped to it.
	Crop bool
	// Flip mirrors the sample horizontally with probability 1/2.
	Flip bool
	// Jitter is the colour jitter applied to the resized sample (NVIDIA's
	// order: geometry, resize, then ColorJitter); zero: none.
	Jitter Jitter
}

// cropModes are the crop's minimum IoUs; -1 keeps the whole image, 0 is
// "any patch" (an IoU is never negative).
var cropModes = []float64{-1, 0.1, 0.3, 0.5, 0.7, 0.9, 0}

// Geometry is one sample's transform, in pixels of the canvas: the
// original W x H image sits at (Left, Top) of a CanvasW x CanvasH canvas
// (larger only when expanded), Crop is the patch cut from the canvas (the
// whole canvas without crop), and Flip mirrors the patch.
type Geometry struct {
	W, H             int
	CanvasW, CanvasH int
	Left, Top        int
	Crop             image.Rectangle
	Flip             bool
	// Photo are the photometric transforms applied, in order, to the
	// resized sample (Jitter.Draw); they move no box.
	Photo []PhotoOp
}

// Identity is the geometry of an image taken whole.
func Identity(w, h int) Geometry {
	return Geometry{W: w, H: h, CanvasW: w, CanvasH: h, Crop: image.Rect(0, 0, w, h)}
}

// Draw draws a geometry for a w x h image with boxes objs (pixels).
func (a Augment) Draw(w, h int, objs []Object, rng *rand.Rand) Geometry {
	g := Identity(w, h)
	if a.Expand && rng.IntN(2) == 1 {
		m := a.MaxExpand
		if m <= 0 {
			m = 4
		}
		r := 1 + rng.Float64()*(m-1)
		g.CanvasW, g.CanvasH = int(math.Round(r*float64(w))), int(math.Round(r*float64(h)))
		g.Left, g.Top = rng.IntN(g.CanvasW-w+1), rng.IntN(g.CanvasH-h+1)
		g.Crop = image.Rect(0, 0, g.CanvasW, g.CanvasH)
	}
	if a.Crop && len(objs) > 0 {
		g.Crop = a.crop(g, objs, rng)
	}
	if a.Flip {
		g.Flip = rng.IntN(2) == 1
	}
	// Drawn last, so the geometric draws (and the boxes) are the same with
	// and without jitter for a seed.
	g.Photo = a.Jitter.Draw(rng)
	return g
}

func (a Augment) crop(g Geometry, objs []Object, rng *rand.Rand) image.Rectangle {
	whole := image.Rect(0, 0, g.CanvasW, g.CanvasH)
	cw, ch := float64(g.CanvasW), float64(g.CanvasH)
	dx, dy := float64(g.Left), float64(g.Top)
	for range 50 {
		minIoU := cropModes[rng.IntN(len(cropModes))]
		if minIoU < 0 {
			return whole
		}
		for range 50 {
			w, h := 0.3+0.7*rng.Float64(), 0.3+0.7*rng.Float64()
			if w/h < 0.5 || w/h > 2 {
				continue
			}
			l, t := rng.Float64()*(1-w), rng.Float64()*(1-h)
			r := image.Rect(int(math.Round(l*cw)), int(math.Round(t*ch)), int(math.Round((l+w)*cw)), int(math.Round((t+h)*ch)))
			if r.Dx() < 1 || r.Dy() < 1 {
				continue
			}
			ok, centre := true, false
			for _, o := range objs {
				b := Object{X0: o.X0 + dx, Y0: o.Y0 + dy, X1: o.X1 + dx, Y1: o.Y1 + dy}
				if iou(b, r) < minIoU {
					ok = false
					break
				}
				cx, cy := (b.X0+b.X1)/2, (b.Y0+b.Y1)/2
				centre = centre || (cx > float64(r.Min.X) && cx < float64(r.Max.X) && cy > float64(r.Min.Y) && cy < float64(r.Max.Y))
			}
			if ok && centre {
				return r
			}
		}
	}
	return whole
}

// iou is the overlap of a box and a patch.
func iou(b Object, r image.Rectangle) float64 {
	x0, y0 := math.Max(b.X0, float64(r.Min.X)), math.Max(b.Y0, float64(r.Min.Y))
	x1, y1 := math.Min(b.X1, float64(r.Max.X)), math.Min(b.Y1, float64(r.Max.Y))
	if x1 <= x0 || y1 <= y0 {
		return 0
	}
	in := (x1 - x0) * (y1 - y0)
	return in / ((b.X1-b.X0)*(b.Y1-b.Y0) + float64(r.Dx()*r.Dy()) - in)
}

// Boxes moves objs (pixels of the original image) through g: onto the
// canvas, into the patch (a box whose centre is not strictly inside the
// patch is dropped, the others are clipped to it; when the patch is the
// whole canvas every box is kept), mirrored when g.Flip, and divided by the
// patch's size: corners relative to the sample, 0..1.
func (g Geometry) Boxes(objs []Object) []Object {
	c := g.Crop
	whole := c == image.Rect(0, 0, g.CanvasW, g.CanvasH)
	cx0, cy0, cw, ch := float64(c.Min.X), float64(c.Min.Y), float64(c.Dx()), float64(c.Dy())
	out := make([]Object, 0, len(objs))
	for _, o := range objs {
		b := Object{X0: o.X0 + float64(g.Left), Y0: o.Y0 + float64(g.Top), X1: o.X1 + float64(g.Left), Y1: o.Y1 + float64(g.Top), Label: o.Label}
		if !whole {
			mx, my := (b.X0+b.X1)/2, (b.Y0+b.Y1)/2
			if !(mx > cx0 && mx < cx0+cw && my > cy0 && my < cy0+ch) {
				continue
			}
		}
		b = Object{X0: clamp01((b.X0 - cx0) / cw), Y0: clamp01((b.Y0 - cy0) / ch), X1: clamp01((b.X1 - cx0) / cw), Y1: clamp01((b.Y1 - cy0) / ch), Label: b.Label}
		if g.Flip {
			b.X0, b.X1 = 1-b.X1, 1-b.X0
		}
		if b.X1 <= b.X0 || b.Y1 <= b.Y0 {
			continue
		}
		out = append(out, b)
	}
	return out
}

func clamp01(v float64) float64 { return min(1, max(0, v)) }

// meanColour is the fill of an expanded canvas: the normalisation's mean,
// so that it becomes (about) 0 in the input.
var meanColour = color.RGBA{R: uint8(math.Round(float64(Mean[0]) * 255)), G: uint8(math.Round(float64(Mean[1]) * 255)), B: uint8(math.Round(float64(Mean[2]) * 255)), A: 255}

// Render draws src through g into dst, size x size x 3 floats (channels
// first: R plane, G plane, B plane), normalised with Mean and Std. The
// patch is composed at its own resolution (the image over the mean colour)
// and resized with the bilinear kernel.
func Render(src image.Image, g Geometry, size int, dst []float32) error {
	if len(dst) != 3*size*size {
		return fmt.Errorf("cocoimg: render: %d floats for a %dx%d RGB sample", len(dst), size, size)
	}
	b := src.Bounds()
	if b.Dx() != g.W || b.Dy() != g.H {
		return fmt.Errorf("cocoimg: render: image %dx%d, geometry for %dx%d", b.Dx(), b.Dy(), g.W, g.H)
	}
	c := g.Crop
	patch := image.NewRGBA(image.Rect(0, 0, c.Dx(), c.Dy()))
	place := image.Rect(g.Left-c.Min.X, g.Top-c.Min.Y, g.Left-c.Min.X+g.W, g.Top-c.Min.Y+g.H)
	if !patch.Bounds().In(place) { // some of the patch is canvas
		stddraw.Draw(patch, patch.Bounds(), image.NewUniform(meanColour), image.Point{}, stddraw.Src)
	}
	stddraw.Draw(patch, place, src, b.Min, stddraw.Src)
	out := image.NewRGBA(image.Rect(0, 0, size, size))
	draw.BiLinear.Scale(out, out.Bounds(), patch, patch.Bounds(), draw.Src, nil)
	// Pixels to [0, 1] planes (flipped as drawn), the photometric jitter if
	// any, then the normalisation: one path with and without jitter, so
	// that a zero jitter gives the unjittered sample bit for bit.
	plane := size * size
	r, gr, bl := dst[:plane], dst[plane:2*plane], dst[2*plane:]
	for y := 0; y < size; y++ {
		row := out.Pix[y*out.Stride:]
		for x := 0; x < size; x++ {
			sx := x
			if g.Flip {
				sx = size - 1 - x
			}
			p := row[4*sx:]
			o := y*size + x
			r[o], gr[o], bl[o] = float32(p[0])/255, float32(p[1])/255, float32(p[2])/255
		}
	}
	if len(g.Photo) > 0 {
		Apply(g.Photo, r, gr, bl)
	}
	for k := 0; k < 3; k++ {
		ch := dst[k*plane : (k+1)*plane]
		for o, v := range ch {
			ch[o] = (v - Mean[k]) / Std[k]
		}
	}
	return nil
}

// Sample renders image i of the split into dst (3 x size x size,
// normalised) and returns its boxes relative to the sample: augmented with
// a geometry drawn from rng when aug is not nil, else the whole image.
func (s *Split) Sample(i, size int, aug *Augment, rng *rand.Rand, dst []float32) ([]Object, error) {
	img, err := s.Decode(i)
	if err != nil {
		return nil, err
	}
	im := s.Images[i]
	g := Identity(im.Width, im.Height)
	if aug != nil {
		g = aug.Draw(im.Width, im.Height, s.Objects[i], rng)
	}
	if err := Render(img, g, size, dst); err != nil {
		return nil, fmt.Errorf("%s: %w", s.Path(i), err)
	}
	return g.Boxes(s.Objects[i]), nil
}

// Batch renders images idx into x (len(idx) x 3 x size x size) with
// `threads` goroutines and returns their boxes. With aug, image k is
// augmented with a generator seeded by seeds[k], so the batch does not
// depend on the number of goroutines.
func (s *Split) Batch(idx []int, size int, aug *Augment, seeds []uint64, threads int, x []float32) ([][]Object, error) {
	per := 3 * size * size
	if len(x) != len(idx)*per {
		return nil, fmt.Errorf("cocoimg: batch of %d images of %dx%d into %d floats", len(idx), size, size, len(x))
	}
	if aug != nil && len(seeds) != len(idx) {
		return nil, fmt.Errorf("cocoimg: %d seeds for %d images", len(seeds), len(idx))
	}
	objs := make([][]Object, len(idx))
	errs := make([]error, len(idx))
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(1, min(threads, len(idx))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				var rng *rand.Rand
				if aug != nil {
					rng = rand.New(rand.NewPCG(seeds[k], uint64(idx[k])))
				}
				objs[k], errs[k] = s.Sample(idx[k], size, aug, rng, x[k*per:(k+1)*per])
			}
		}()
	}
	for k := range idx {
		next <- k
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return objs, nil
}

// Grey renders image i whole at size x size as grey levels (for figures).
func (s *Split) Grey(i, size int) ([]uint8, error) {
	img, err := s.Decode(i)
	if err != nil {
		return nil, err
	}
	out := image.NewGray(image.Rect(0, 0, size, size))
	draw.BiLinear.Scale(out, out.Bounds(), img, img.Bounds(), draw.Src, nil)
	return out.Pix, nil
}
