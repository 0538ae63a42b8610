package ssd

import (
	"fmt"
	"math"
	"sort"
)

// Rect is a box in relative corner form (x0, y0, x1, y1), coordinates in
// [0, 1] of the image width and height.
type Rect struct{ X0, Y0, X1, Y1 float64 }

// Area is the rectangle's area (0 when empty).
func (r Rect) Area() float64 { return math.Max(0, r.X1-r.X0) * math.Max(0, r.Y1-r.Y0) }

// IoU is the intersection over union of two rectangles (0 when they do
// not overlap).
func IoU(a, b Rect) float64 { return iouArea(a, b, a.Area(), b.Area()) }

// iouArea is IoU with both areas given (plain comparisons: no NaN handling
// is needed for finite boxes, and math.Min/Max are slow).
func iouArea(a, b Rect, areaA, areaB float64) float64 {
	x0, x1 := a.X0, a.X1
	if b.X0 > x0 {
		x0 = b.X0
	}
	if b.X1 < x1 {
		x1 = b.X1
	}
	if x1 <= x0 {
		return 0
	}
	y0, y1 := a.Y0, a.Y1
	if b.Y0 > y0 {
		y0 = b.Y0
	}
	if b.Y1 < y1 {
		y1 = b.Y1
	}
	if y1 <= y0 {
		return 0
	}
	inter := (x1 - x0) * (y1 - y0)
	u := areaA + areaB - inter
	if u <= 0 {
		return 0
	}
	return inter / u
}

// Anchor is a default box in centre form, relative coordinates.
type Anchor struct{ CX, CY, W, H float64 }

// Rect converts the anchor to corner form.
func (a Anchor) Rect() Rect {
	return Rect{a.CX - a.W/2, a.CY - a.H/2, a.CX + a.W/2, a.CY + a.H/2}
}

// BoxSpec describes the default boxes of an SSD: one square map per entry of
// FeatSizes, as NVIDIA's SSD300 v1.1 DefaultBoxes defines them.
type BoxSpec struct {
	// FigSize is the input side in pixels (300 for SSD300).
	FigSize int
	// FeatSizes are the sides of the feature maps (38, 19, 10, 5, 3, 1).
	FeatSizes []int
	// Steps are the maps' strides in pixels (8, 16, 32, 64, 100, 300).
	Steps []int
	// Scales are len(FeatSizes)+1 box sizes in pixels: map k's square boxes
	// have sides Scales[k] and sqrt(Scales[k]*Scales[k+1]).
	Scales []float64
	// AspectRatios per map: each ratio r adds boxes (s*sqrt(r), s/sqrt(r))
	// and (s/sqrt(r), s*sqrt(r)) with s = Scales[k]/FigSize.
	AspectRatios [][]float64
}

// BoxesPerCell returns the number of default boxes per location of map k:
// 2 + 2*len(AspectRatios[k]).
func (s BoxSpec) BoxesPerCell(k int) int { return 2 + 2*len(s.AspectRatios[k]) }

// Validate checks that the spec's slices agree.
func (s BoxSpec) Validate() error {
	n := len(s.FeatSizes)
	if n == 0 || len(s.Steps) != n || len(s.Scales) != n+1 || len(s.AspectRatios) != n || s.FigSize <= 0 {
		return fmt.Errorf("ssd: box spec: %d maps, %d steps, %d scales (want maps+1), %d aspect-ratio lists, fig size %d",
			n, len(s.Steps), len(s.Scales), len(s.AspectRatios), s.FigSize)
	}
	return nil
}

// DefaultBoxes generates the default boxes in NVIDIA's order: map by map;
// within a map, size by size (the two squares, then each aspect ratio's
// wide and tall box); within a size, row-major locations. Centres are
// ((j+0.5)/fk, (i+0.5)/fk) with fk = FigSize/Steps[k]; boxes are clipped to
// [0, 1] in centre form as the reference does (cx, cy, w, h each clamped).
// This order is the one the model's heads produce by a plain reshape.
func DefaultBoxes(s BoxSpec) ([]Anchor, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	fig := float64(s.FigSize)
	var out []Anchor
	for k, f := range s.FeatSizes {
		fk := fig / float64(s.Steps[k])
		sk1 := s.Scales[k] / fig
		sk2 := s.Scales[k+1] / fig
		sk3 := math.Sqrt(sk1 * sk2)
		sizes := [][2]float64{{sk1, sk1}, {sk3, sk3}}
		for _, r := range s.AspectRatios[k] {
			w, h := sk1*math.Sqrt(r), sk1/math.Sqrt(r)
			sizes = append(sizes, [2]float64{w, h}, [2]float64{h, w})
		}
		for _, wh := range sizes {
			for i := 0; i < f; i++ {
				for j := 0; j < f; j++ {
					a := Anchor{CX: (float64(j) + 0.5) / fk, CY: (float64(i) + 0.5) / fk, W: wh[0], H: wh[1]}
					a.CX, a.CY, a.W, a.H = clamp01(a.CX), clamp01(a.CY), clamp01(a.W), clamp01(a.H)
					out = append(out, a)
				}
			}
		}
	}
	return out, nil
}

func clamp01(v float64) float64 { return math.Min(1, math.Max(0, v)) }

// Variances of the box encoding (SSD's 0.1 for the centre, 0.2 for the size).
const (
	VarXY = 0.1
	VarWH = 0.2
)

// Encode returns the regression target of box b against anchor a:
// ((cx-acx)/(0.1*aw), (cy-acy)/(0.1*ah), log(w/aw)/0.2, log(h/ah)/0.2).
func Encode(b Rect, a Anchor) [4]float64 {
	cx, cy := (b.X0+b.X1)/2, (b.Y0+b.Y1)/2
	w, h := b.X1-b.X0, b.Y1-b.Y0
	return [4]float64{
		(cx - a.CX) / (VarXY * a.W), (cy - a.CY) / (VarXY * a.H),
		math.Log(w/a.W) / VarWH, math.Log(h/a.H) / VarWH,
	}
}

// Decode inverts Encode: the box that offsets t predict from anchor a.
func Decode(t [4]float64, a Anchor) Rect {
	cx, cy := a.CX+t[0]*VarXY*a.W, a.CY+t[1]*VarXY*a.H
	w, h := a.W*math.Exp(t[2]*VarWH), a.H*math.Exp(t[3]*VarWH)
	return Rect{cx - w/2, cy - h/2, cx + w/2, cy + h/2}
}

// Truth is one ground-truth object of an image: its box (relative corners)
// and its label (1..classes-1; 0 is the background).
type Truth struct {
	Box   Rect
	Label int32
}

// Matcher assigns ground truth to default boxes.
type Matcher struct {
	// Anchors are the default boxes; Threshold the IoU at and above which a
	// default box is positive (0.5).
	Anchors   []Anchor
	Threshold float64
	rects     []Rect
	areas     []float64
}

// NewMatcher prepares matching against anchors at IoU threshold thr.
func NewMatcher(anchors []Anchor, thr float64) *Matcher {
	m := &Matcher{Anchors: anchors, Threshold: thr, rects: make([]Rect, len(anchors)), areas: make([]float64, len(anchors))}
	for i, a := range anchors {
		m.rects[i] = a.Rect()
		m.areas[i] = m.rects[i].Area()
	}
	return m
}

// Match assigns the truths of one image to the default boxes as SSD does:
// every truth first takes its best default box (highest IoU, first on ties;
// a later truth wins a box two truths both pick), then every other default
// box whose best IoU with any truth is >= Threshold takes that truth (first
// truth on ties). It writes labels[a] (0: background) and, for positives,
// the encoded offsets loc[4a:4a+4]; it returns the number of positives. iou
// is scratch of len(truths)*len(anchors) (nil: allocated).
func (m *Matcher) Match(truths []Truth, labels []int32, loc []float32, iou []float64) int {
	na := len(m.rects)
	for i := range labels[:na] {
		labels[i] = 0
	}
	if len(truths) == 0 {
		return 0
	}
	if len(iou) < len(truths)*na {
		iou = make([]float64, len(truths)*na)
	}
	bestA := make([]int, len(truths))
	for t, tr := range truths {
		row := iou[t*na : (t+1)*na]
		best := -1.0
		at := tr.Box.Area()
		for a, r := range m.rects {
			v := iouArea(tr.Box, r, at, m.areas[a])
			row[a] = v
			if v > best {
				best, bestA[t] = v, a
			}
		}
	}
	pos := 0
	assign := make([]int, na)
	for a := 0; a < na; a++ {
		bt, bv := -1, -1.0
		for t := range truths {
			if v := iou[t*na+a]; v > bv {
				bv, bt = v, t
			}
		}
		if bv >= m.Threshold {
			assign[a] = bt
		} else {
			assign[a] = -1
		}
	}
	for t, a := range bestA {
		assign[a] = t
	}
	for a, t := range assign {
		if t < 0 {
			continue
		}
		pos++
		labels[a] = truths[t].Label
		e := Encode(truths[t].Box, m.Anchors[a])
		for k := range 4 {
			loc[4*a+k] = float32(e[k])
		}
	}
	return pos
}

// Scored is one post-processed detection: a box in relative corners, its
// label (1..classes-1) and score.
type Scored struct {
	Box   Rect
	Label int
	Score float64
}

// PostConfig configures post-processing (NVIDIA's decode_batch defaults:
// score threshold 0.05, NMS IoU 0.5, 200 candidates per class, 200 boxes
// per image).
type PostConfig struct {
	ScoreThreshold float64
	NMSThreshold   float64
	PerClass       int
	MaxPerImage    int
}

// DefaultPost is the reference post-processing.
var DefaultPost = PostConfig{ScoreThreshold: 0.05, NMSThreshold: 0.5, PerClass: 200, MaxPerImage: 200}

// PostProcess turns one image's outputs into detections: the softmax of the
// class logits conf[c*na+a] (class-major, as the model's [C, A] output),
// boxes decoded from loc[k*na+a] (coordinate-major, [4, A]); per class c >= 1
// the boxes scoring above the threshold, best PerClass of them, greedy NMS
// dropping a box whose IoU with a kept one is above NMSThreshold; then the
// MaxPerImage best over all classes, sorted by descending score (ties: lower
// class, then lower anchor first).
func PostProcess(conf, loc []float32, anchors []Anchor, classes int, cfg PostConfig) []Scored {
	na := len(anchors)
	prob := make([]float64, classes*na)
	for a := 0; a < na; a++ {
		mx := math.Inf(-1)
		for c := 0; c < classes; c++ {
			mx = math.Max(mx, float64(conf[c*na+a]))
		}
		s := 0.0
		for c := 0; c < classes; c++ {
			e := math.Exp(float64(conf[c*na+a]) - mx)
			prob[c*na+a] = e
			s += e
		}
		for c := 0; c < classes; c++ {
			prob[c*na+a] /= s
		}
	}
	boxes := make([]Rect, na)
	decoded := make([]bool, na)
	var out []Scored
	var cand []int
	for c := 1; c < classes; c++ {
		cand = cand[:0]
		p := prob[c*na : (c+1)*na]
		for a, v := range p {
			if v > cfg.ScoreThreshold {
				cand = append(cand, a)
			}
		}
		sort.Slice(cand, func(i, j int) bool {
			if p[cand[i]] != p[cand[j]] {
				return p[cand[i]] > p[cand[j]]
			}
			return cand[i] < cand[j]
		})
		if cfg.PerClass > 0 && len(cand) > cfg.PerClass {
			cand = cand[:cfg.PerClass]
		}
		for _, a := range cand {
			if !decoded[a] {
				boxes[a] = Decode([4]float64{float64(loc[a]), float64(loc[na+a]), float64(loc[2*na+a]), float64(loc[3*na+a])}, anchors[a])
				decoded[a] = true
			}
		}
		for _, a := range NMS(boxes, cand, cfg.NMSThreshold) {
			out = append(out, Scored{Box: boxes[a], Label: c, Score: p[a]})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score }) // stable: class order on ties
	if cfg.MaxPerImage > 0 && len(out) > cfg.MaxPerImage {
		out = out[:cfg.MaxPerImage]
	}
	return out
}

// NMS is greedy non-maximum suppression over boxes[order[i]] visited in the
// given order (descending score): a box is kept unless its IoU with an
// already kept box exceeds thr. It returns the kept indices in order.
func NMS(boxes []Rect, order []int, thr float64) []int {
	keep := make([]int, 0, len(order))
	kept := make([]Rect, 0, len(order))
	areas := make([]float64, 0, len(order))
	for _, i := range order {
		b := boxes[i]
		ab := b.Area()
		ok := true
		for k, kb := range kept {
			if iouArea(b, kb, ab, areas[k]) > thr {
				ok = false
				break
			}
		}
		if ok {
			keep, kept, areas = append(keep, i), append(kept, b), append(areas, ab)
		}
	}
	return keep
}
