package ssd

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestDefaultBoxesHand checks a one-map spec by hand: fig 4, one 2x2 map of
// stride 2, scales 2 and 4 px, aspect ratio 2.
func TestDefaultBoxesHand(t *testing.T) {
	a, err := DefaultBoxes(BoxSpec{FigSize: 4, FeatSizes: []int{2}, Steps: []int{2}, Scales: []float64{2, 4}, AspectRatios: [][]float64{{2}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 16 {
		t.Fatalf("%d boxes, want 16", len(a))
	}
	r2 := math.Sqrt2
	want := map[int]Anchor{
		0:  {0.25, 0.25, 0.5, 0.5},                       // size 1 (s_k), cell (0,0)
		1:  {0.75, 0.25, 0.5, 0.5},                       // cell (0,1): x moves first
		2:  {0.25, 0.75, 0.5, 0.5},                       // cell (1,0)
		4:  {0.25, 0.25, math.Sqrt(0.5), math.Sqrt(0.5)}, // sqrt(s_k s_k+1)
		8:  {0.25, 0.25, 0.5 * r2, 0.5 / r2},             // ratio 2, wide
		12: {0.25, 0.25, 0.5 / r2, 0.5 * r2},             // ratio 2, tall
	}
	for i, w := range want {
		g := a[i]
		if !near(g.CX, w.CX) || !near(g.CY, w.CY) || !near(g.W, w.W) || !near(g.H, w.H) {
			t.Errorf("box %d = %+v, want %+v", i, g, w)
		}
	}
}

// TestDefaultBoxesSSD300 checks the reference count, 8732, and the proxy's.
func TestDefaultBoxesSSD300(t *testing.T) {
	for _, c := range []struct {
		s BoxSpec
		n int
	}{{SSD300Boxes, 8732}, {ProxyBoxes, 380}} {
		a, err := DefaultBoxes(c.s)
		if err != nil {
			t.Fatal(err)
		}
		if len(a) != c.n {
			t.Errorf("%d default boxes, want %d", len(a), c.n)
		}
		for _, b := range a {
			if b.W <= 0 || b.W > 1 || b.H <= 0 || b.H > 1 || b.CX < 0 || b.CX > 1 {
				t.Fatalf("box %+v outside [0,1]", b)
			}
		}
	}
	if _, err := DefaultBoxes(BoxSpec{FigSize: 4, FeatSizes: []int{2}, Steps: []int{2}, Scales: []float64{2}}); err == nil {
		t.Error("inconsistent spec accepted")
	}
}

func TestIoUHand(t *testing.T) {
	a := Rect{0, 0, 2, 2}
	for _, c := range []struct {
		b    Rect
		want float64
	}{{Rect{1, 1, 3, 3}, 1.0 / 7}, {Rect{0, 0, 2, 2}, 1}, {Rect{2, 0, 4, 2}, 0}, {Rect{0, 0, 1, 2}, 0.5}} {
		if g := IoU(a, c.b); !near(g, c.want) {
			t.Errorf("IoU(%v, %v) = %g, want %g", a, c.b, g, c.want)
		}
	}
}

// TestEncodeDecodeHand checks the encoding with variances 0.1 and 0.2 on a
// hand case and that Decode inverts it.
func TestEncodeDecodeHand(t *testing.T) {
	a := Anchor{0.5, 0.5, 0.2, 0.4}
	b := Rect{0.45, 0.4, 0.65, 1.0} // centre (0.55, 0.7), size 0.2 x 0.6
	e := Encode(b, a)
	want := [4]float64{0.05 / 0.02, 0.2 / 0.04, 0, math.Log(1.5) / 0.2}
	for k := range 4 {
		if !near(e[k], want[k]) {
			t.Fatalf("Encode = %v, want %v", e, want)
		}
	}
	d := Decode(e, a)
	if !near(d.X0, b.X0) || !near(d.Y0, b.Y0) || !near(d.X1, b.X1) || !near(d.Y1, b.Y1) {
		t.Errorf("Decode(Encode(b)) = %+v, want %+v", d, b)
	}
}

// TestMatchHand: truth 1 overlaps anchor 0 exactly and anchor 1 at IoU 0.5
// (positive by threshold) and anchor 2 at 1/3 (negative); truth 2 overlaps
// nothing above 0.5, so it takes its best anchor (3) by the forced match.
func TestMatchHand(t *testing.T) {
	anchors := []Anchor{
		{0.25, 0.25, 0.5, 0.5},   // [0,0,.5,.5]
		{0.25, 0.375, 0.5, 0.25}, // [0,.25,.5,.5]: IoU .5 with truth 1
		{0.5, 0.25, 0.5, 0.5},    // [.25,0,.75,.5]: IoU 1/3 with truth 1
		{0.8, 0.8, 0.4, 0.4},     // [.6,.6,1,1]
		{0.1, 0.9, 0.2, 0.2},     // far from both
	}
	truths := []Truth{{Rect{0, 0, 0.5, 0.5}, 3}, {Rect{0.7, 0.7, 0.9, 0.95}, 7}}
	m := NewMatcher(anchors, 0.5)
	labels := make([]int32, len(anchors))
	loc := make([]float32, 4*len(anchors))
	n := m.Match(truths, labels, loc, nil)
	if want := []int32{3, 3, 0, 7, 0}; n != 3 || !equal(labels, want) {
		t.Fatalf("Match: %d positives, labels %v; want 3, %v", n, labels, want)
	}
	e := Encode(truths[1].Box, anchors[3])
	for k := range 4 {
		if math.Abs(float64(loc[12+k])-e[k]) > 1e-6 {
			t.Errorf("loc of anchor 3 = %v, want %v", loc[12:16], e)
		}
	}
	// Two truths whose best box is the same: the later one wins it.
	truths = []Truth{{Rect{0, 0, 0.5, 0.5}, 1}, {Rect{0, 0, 0.5, 0.45}, 2}}
	m.Match(truths, labels, loc, nil)
	if labels[0] != 2 {
		t.Errorf("shared best box labelled %d, want the later truth's 2", labels[0])
	}
	if n := m.Match(nil, labels, loc, nil); n != 0 || !equal(labels, make([]int32, 5)) {
		t.Errorf("no truths: %d positives, labels %v", n, labels)
	}
}

func equal(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestNMSHand: box 1 overlaps box 0 at IoU 0.6 (suppressed), box 2 at 1/3
// (kept), box 3 overlaps the suppressed box 1 only (kept).
func TestNMSHand(t *testing.T) {
	boxes := []Rect{{0, 0, 1, 1}, {0, 0, 1, 0.6}, {0.5, 0, 1.5, 1}, {0, 0.55, 1, 1.55}}
	if IoU(boxes[0], boxes[1]) != 0.6 {
		t.Fatal("fixture")
	}
	got := NMS(boxes, []int{0, 1, 2, 3}, 0.5)
	if len(got) != 3 || got[0] != 0 || got[1] != 2 || got[2] != 3 {
		t.Errorf("NMS = %v, want [0 2 3]", got)
	}
}

// TestPostProcessHand: two anchors, three classes. Anchor 0 scores class 1
// high, anchor 1 class 2 high and class 1 below the threshold; both boxes
// overlap, but NMS is per class so both stay; the top-1 cap keeps the best.
func TestPostProcessHand(t *testing.T) {
	anchors := []Anchor{{0.5, 0.5, 0.4, 0.4}, {0.5, 0.5, 0.4, 0.4}}
	// conf[c*na+a]: logits.
	conf := []float32{0, 0, 4, -4, -4, 2}
	loc := make([]float32, 8)
	cfg := PostConfig{ScoreThreshold: 0.05, NMSThreshold: 0.5, PerClass: 200, MaxPerImage: 200}
	d := PostProcess(conf, loc, anchors, 3, cfg)
	if len(d) != 2 || d[0].Label != 1 || d[1].Label != 2 {
		t.Fatalf("detections %+v", d)
	}
	p := math.Exp(4) / (1 + math.Exp(4) + math.Exp(-4))
	if !near(d[0].Score, p) || !near(d[0].Box.X0, 0.3) || !near(d[0].Box.X1, 0.7) {
		t.Errorf("first detection %+v, want score %g box [.3,.3,.7,.7]", d[0], p)
	}
	cfg.MaxPerImage = 1
	if d := PostProcess(conf, loc, anchors, 3, cfg); len(d) != 1 || d[0].Label != 1 {
		t.Errorf("top-1: %+v", d)
	}
	cfg.ScoreThreshold = 0.99
	if d := PostProcess(conf, loc, anchors, 3, cfg); len(d) != 0 {
		t.Errorf("threshold 0.99 kept %+v", d)
	}
}

// TestWriteFigure draws one image in two rows and checks the PNG's size and
// that the ground truth's corner is green and the detection's red.
func TestWriteFigure(t *testing.T) {
	px := make([]uint8, 16*16)
	tr := [][]Truth{{{Box: Rect{0, 0, 0.5, 0.5}, Label: 3}}}
	rows := []FigureRow{
		{Detections: [][]Scored{{{Box: Rect{0.5, 0.5, 1, 1}, Label: 8, Score: 0.9}}}},
		{Detections: [][]Scored{nil}},
	}
	path := filepath.Join(t.TempDir(), "fig.png")
	if err := WriteFigure(path, 16, [][]uint8{px}, tr, rows, FigureConfig{Scale: 2}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 4+36 || b.Dy() != 4+2*36 {
		t.Fatalf("figure %v", b)
	}
	if r, g, _, _ := img.At(4, 4).RGBA(); g>>8 != 200 || r != 0 {
		t.Errorf("truth corner %v", img.At(4, 4))
	}
	if r, g, _, _ := img.At(4+31, 4+31).RGBA(); r>>8 != 230 || g>>8 != 30 {
		t.Errorf("detection corner %v", img.At(35, 35))
	}
	if err := WriteFigure(path, 16, [][]uint8{px}, tr, []FigureRow{{}}, FigureConfig{}); err == nil {
		t.Error("row without detections accepted")
	}
}
