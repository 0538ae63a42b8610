package cocoimg

import (
	"encoding/json"
	"image"
	"image/color"
	"image/draw"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLabelMap(t *testing.T) {
	if Classes != 81 {
		t.Fatalf("classes %d", Classes)
	}
	for i, id := range CategoryIDs {
		l, ok := LabelOf(id)
		if !ok || int(l) != i+1 || CategoryOf(int(l)) != id {
			t.Fatalf("id %d: label %d %v", id, l, ok)
		}
	}
	for _, id := range []int64{0, 12, 26, 29, 30, 45, 66, 68, 69, 71, 83, 91} {
		if _, ok := LabelOf(id); ok {
			t.Errorf("id %d mapped", id)
		}
	}
	if CategoryOf(0) != -1 || CategoryOf(81) != -1 {
		t.Error("CategoryOf out of range")
	}
}

// pixel returns the RGB of output pixel (x, y) of a rendered sample,
// undoing the normalisation.
func pixel(dst []float32, size, x, y int) [3]float64 {
	var p [3]float64
	for k := 0; k < 3; k++ {
		p[k] = (float64(dst[k*size*size+y*size+x])*float64(Std[k]) + float64(Mean[k])) * 255
	}
	return p
}

func near(p [3]float64, c color.RGBA, tol float64) bool {
	return math.Abs(p[0]-float64(c.R)) <= tol && math.Abs(p[1]-float64(c.G)) <= tol && math.Abs(p[2]-float64(c.B)) <= tol
}

// TestSyntheticSplit loads a generated data set: shapes, the label map, the
// boxes (relative to the whole image without augmentation) and that each
// box's centre has its category's colour in the rendered sample.
func TestSyntheticSplit(t *testing.T) {
	root := t.TempDir()
	gen, err := WriteSynthetic(root, SyntheticConfig{Train: 5, Val: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load(filepath.Join(root, "annotations", "instances_train2017.json"), filepath.Join(root, "train2017"), LoadOptions{Train: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 5 || len(s.GT.Images) != 5 {
		t.Fatalf("%d images", s.Len())
	}
	const size = 300
	x := make([]float32, 3*size*size)
	for i := 0; i < s.Len(); i++ {
		objs, err := s.Sample(i, size, nil, nil, x)
		if err != nil {
			t.Fatal(err)
		}
		want := gen["train2017"][i]
		if len(objs) != len(want) {
			t.Fatalf("image %d: %d boxes, want %d", i, len(objs), len(want))
		}
		for k, o := range objs {
			w := want[k]
			l, _ := LabelOf(w.Category)
			rel := Object{X0: float64(w.X) / 96, Y0: float64(w.Y) / 72, X1: float64(w.X+w.W) / 96, Y1: float64(w.Y+w.H) / 72, Label: l}
			if math.Abs(o.X0-rel.X0)+math.Abs(o.Y0-rel.Y0)+math.Abs(o.X1-rel.X1)+math.Abs(o.Y1-rel.Y1) > 1e-12 || o.Label != rel.Label {
				t.Errorf("image %d box %d: %+v, want %+v", i, k, o, rel)
			}
		}
		// The last drawn rectangle is on top: its centre has its colour.
		last := objs[len(objs)-1]
		cx, cy := int((last.X0+last.X1)/2*size), int((last.Y0+last.Y1)/2*size)
		if p := pixel(x, size, cx, cy); !near(p, SyntheticColour(want[len(want)-1].Category), 12) {
			t.Errorf("image %d: centre of its last box is %v, want %v", i, p, SyntheticColour(want[len(want)-1].Category))
		}
	}
	v, err := Load(filepath.Join(root, "annotations", "instances_val2017.json"), filepath.Join(root, "val2017"), LoadOptions{})
	if err != nil || v.Len() != 3 {
		t.Fatalf("val: %v", err)
	}
	sub, err := Load(filepath.Join(root, "annotations", "instances_train2017.json"), filepath.Join(root, "train2017"), LoadOptions{Train: true, Limit: 2, Seed: 3})
	if err != nil || sub.Len() != 2 || len(sub.GT.Images) != 2 {
		t.Fatalf("limit 2: %v", err)
	}
	for _, a := range sub.GT.Annotations {
		if a.ImageID != sub.Images[0].ID && a.ImageID != sub.Images[1].ID {
			t.Errorf("annotation of image %d outside the subset", a.ImageID)
		}
	}
}

func same(a, b Object) bool {
	return math.Abs(a.X0-b.X0) < 1e-12 && math.Abs(a.Y0-b.Y0) < 1e-12 && math.Abs(a.X1-b.X1) < 1e-12 && math.Abs(a.Y1-b.Y1) < 1e-12 && a.Label == b.Label
}

// TestGeometryBoxes moves boxes through expand, crop and flip by hand.
func TestGeometryBoxes(t *testing.T) {
	// Expand: a 100x50 image at (50, 25) of a 200x100 canvas, kept whole.
	g := Geometry{W: 100, H: 50, CanvasW: 200, CanvasH: 100, Left: 50, Top: 25, Crop: image.Rect(0, 0, 200, 100)}
	got := g.Boxes([]Object{{10, 10, 30, 20, 7}})
	if len(got) != 1 || !same(got[0], Object{0.3, 0.35, 0.4, 0.45, 7}) {
		t.Errorf("expand: %+v", got)
	}
	// Crop (20,20)-(70,80) of a 100x100 image.
	g = Geometry{W: 100, H: 100, CanvasW: 100, CanvasH: 100, Crop: image.Rect(20, 20, 70, 80)}
	in := []Object{
		{30, 30, 50, 50, 1}, // centre (40,40) inside: kept whole
		{0, 0, 30, 30, 2},   // centre (15,15) outside: dropped
		{50, 60, 90, 90, 3}, // centre (70,75) on the edge: dropped
		{50, 60, 86, 90, 4}, // centre (68,75) inside: clipped
	}
	want := []Object{{0.2, 10.0 / 60, 0.6, 0.5, 1}, {0.6, 40.0 / 60, 1, 1, 4}}
	got = g.Boxes(in)
	if len(got) != 2 || !same(got[0], want[0]) || !same(got[1], want[1]) {
		t.Errorf("crop: %+v, want %+v", got, want)
	}
	// The same with a flip: x -> 1 - x, corners swapped.
	g.Flip = true
	got = g.Boxes(in)
	wantF := []Object{{0.4, 10.0 / 60, 0.8, 0.5, 1}, {0, 40.0 / 60, 0.4, 1, 4}}
	if len(got) != 2 || !same(got[0], wantF[0]) || !same(got[1], wantF[1]) {
		t.Errorf("crop+flip: %+v, want %+v", got, wantF)
	}
	// Expand then crop: the canvas offset applies before the patch.
	g = Geometry{W: 100, H: 100, CanvasW: 300, CanvasH: 300, Left: 100, Top: 200, Crop: image.Rect(100, 150, 200, 300)}
	got = g.Boxes([]Object{{0, 0, 50, 50, 9}})
	if len(got) != 1 || !same(got[0], Object{0, 50.0 / 150, 0.5, 100.0 / 150, 9}) {
		t.Errorf("expand+crop: %+v", got)
	}
}

// halves is a 40x20 image, left half red and right half blue.
func halves() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 40, 20))
	draw.Draw(img, image.Rect(0, 0, 20, 20), image.NewUniform(color.RGBA{R: 255, A: 255}), image.Point{}, draw.Src)
	draw.Draw(img, image.Rect(20, 0, 40, 20), image.NewUniform(color.RGBA{B: 255, A: 255}), image.Point{}, draw.Src)
	return img
}

// TestRender checks pixels through flip, expand and crop by hand.
func TestRender(t *testing.T) {
	red, blue := color.RGBA{R: 255, A: 255}, color.RGBA{B: 255, A: 255}
	const size = 32
	x := make([]float32, 3*size*size)
	check := func(name string, g Geometry, cases map[[2]int]color.RGBA) {
		t.Helper()
		if err := Render(halves(), g, size, x); err != nil {
			t.Fatal(err)
		}
		for at, c := range cases {
			if p := pixel(x, size, at[0], at[1]); !near(p, c, 2) {
				t.Errorf("%s: pixel %v = %v, want %v", name, at, p, c)
			}
		}
	}
	g := Identity(40, 20)
	check("whole", g, map[[2]int]color.RGBA{{2, 16}: red, {29, 16}: blue})
	g.Flip = true
	check("flip", g, map[[2]int]color.RGBA{{2, 16}: blue, {29, 16}: red})
	// Expand: the image in the bottom-right quadrant of an 80x40 canvas.
	e := Geometry{W: 40, H: 20, CanvasW: 80, CanvasH: 40, Left: 40, Top: 20, Crop: image.Rect(0, 0, 80, 40)}
	check("expand", e, map[[2]int]color.RGBA{{4, 4}: meanColour, {28, 4}: meanColour, {4, 28}: meanColour, {18, 28}: red, {29, 28}: blue})
	// Crop the left half: all red.
	c := Geometry{W: 40, H: 20, CanvasW: 40, CanvasH: 20, Crop: image.Rect(0, 0, 20, 20)}
	check("crop", c, map[[2]int]color.RGBA{{0, 0}: red, {31, 31}: red, {16, 16}: red})
	if err := Render(halves(), Identity(41, 20), size, x); err == nil {
		t.Error("a geometry of another size was accepted")
	}
}

// TestAugmentedBoxesFollowPixels draws many random geometries of an image
// with one coloured rectangle: each kept box's centre must show the
// rectangle's colour in the rendered sample, every box lies in 0..1, and a
// crop keeps at least one box.
func TestAugmentedBoxesFollowPixels(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 120, 90))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{R: 128, G: 128, B: 128, A: 255}), image.Point{}, draw.Src)
	green := color.RGBA{G: 220, A: 255}
	draw.Draw(img, image.Rect(30, 20, 90, 70), image.NewUniform(green), image.Point{}, draw.Src)
	objs := []Object{{30, 20, 90, 70, 5}}
	const size = 64
	x := make([]float32, 3*size*size)
	aug := Augment{Expand: true, Crop: true, Flip: true}
	rng := rand.New(rand.NewPCG(9, 9))
	kinds := map[string]int{}
	for n := 0; n < 200; n++ {
		g := aug.Draw(120, 90, objs, rng)
		if g.Crop.Min.X < 0 || g.Crop.Min.Y < 0 || g.Crop.Max.X > g.CanvasW || g.Crop.Max.Y > g.CanvasH || g.Crop.Empty() {
			t.Fatalf("crop %v outside canvas %dx%d", g.Crop, g.CanvasW, g.CanvasH)
		}
		if g.CanvasW > 120 {
			kinds["expand"]++
		}
		if g.Crop != image.Rect(0, 0, g.CanvasW, g.CanvasH) {
			kinds["crop"]++
			if r := float64(g.Crop.Dx()) / float64(g.Crop.Dy()) * float64(g.CanvasH) / float64(g.CanvasW); r < 0.49 || r > 2.05 {
				t.Errorf("crop %v of %dx%d: relative aspect %.2f outside 0.5..2", g.Crop, g.CanvasW, g.CanvasH, r)
			}
		}
		if g.Flip {
			kinds["flip"]++
		}
		boxes := g.Boxes(objs)
		if len(boxes) != 1 {
			t.Fatalf("geometry %+v kept %d boxes", g, len(boxes))
		}
		b := boxes[0]
		if b.X0 < 0 || b.Y0 < 0 || b.X1 > 1 || b.Y1 > 1 || b.X1 <= b.X0 || b.Y1 <= b.Y0 || b.Label != 5 {
			t.Fatalf("box %+v", b)
		}
		if err := Render(img, g, size, x); err != nil {
			t.Fatal(err)
		}
		cx, cy := int((b.X0+b.X1)/2*size), int((b.Y0+b.Y1)/2*size)
		if p := pixel(x, size, cx, cy); !near(p, green, 12) {
			t.Fatalf("geometry %+v: box %+v centre (%d,%d) is %v, want green", g, b, cx, cy, p)
		}
	}
	for _, k := range []string{"expand", "crop", "flip"} {
		if kinds[k] < 20 {
			t.Errorf("%s drawn %d times in 200", k, kinds[k])
		}
	}
}

// TestBatchDeterministic: the same seeds give the same batch whatever the
// goroutine count; other seeds give another.
func TestBatchDeterministic(t *testing.T) {
	s := syntheticTrain6(t)
	const size = 48
	idx := []int{5, 0, 3, 2}
	aug := &Augment{Expand: true, Crop: true, Flip: true}
	run := func(seeds []uint64, threads int) ([]float32, [][]Object) {
		x := make([]float32, len(idx)*3*size*size)
		o, err := s.Batch(idx, size, aug, seeds, threads, x)
		if err != nil {
			t.Fatal(err)
		}
		return x, o
	}
	x1, o1 := run([]uint64{1, 2, 3, 4}, 1)
	x2, o2 := run([]uint64{1, 2, 3, 4}, 3)
	if !slices.Equal(x1, x2) {
		t.Error("pixels depend on the goroutine count")
	}
	for k := range o1 {
		if !slices.Equal(o1[k], o2[k]) {
			t.Errorf("image %d: boxes %v and %v", k, o1[k], o2[k])
		}
	}
	x3, _ := run([]uint64{5, 6, 7, 8}, 2)
	if slices.Equal(x1, x3) {
		t.Error("other seeds gave the same batch")
	}
}

// writeCOCO writes an instances file from doc into dir.
func writeCOCO(t *testing.T, dir string, doc map[string]any) string {
	t.Helper()
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "instances.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBadInput covers the bad-input cases: a missing image file,
// a zero-area box, a box outside its image, an unknown category id, an
// empty annotation list, plus a category that is not COCO's, an image of
// another size than the file says and a file that is not an image.
func TestBadInput(t *testing.T) {
	root := t.TempDir()
	if _, err := WriteSynthetic(root, SyntheticConfig{Train: 2, Seed: 4}); err != nil {
		t.Fatal(err)
	}
	imgDir := filepath.Join(root, "train2017")
	images := []any{
		map[string]any{"id": 1, "file_name": "000000000001.jpg", "width": 96, "height": 72},
		map[string]any{"id": 2, "file_name": "000000000002.jpg", "width": 96, "height": 72},
	}
	cats := []any{map[string]any{"id": 1, "name": "person"}, map[string]any{"id": 3, "name": "car"}}
	ann := func(id, img, cat int, box ...float64) map[string]any {
		return map[string]any{"id": id, "image_id": img, "category_id": cat, "bbox": box}
	}
	load := func(doc map[string]any) (*Split, string, error) {
		p := writeCOCO(t, t.TempDir(), doc)
		s, err := Load(p, imgDir, LoadOptions{Train: true})
		return s, p, err
	}
	good := []any{ann(1, 1, 1, 10, 10, 20, 20), ann(2, 2, 3, 5, 5, 30, 30)}

	// Skips, counted: a zero-area box, a box wholly outside, a box partly outside.
	s, p, err := load(map[string]any{"images": images, "categories": cats, "annotations": append(slices.Clone(good),
		ann(3, 1, 1, 40, 40, 0, 10), ann(4, 1, 3, 200, 10, 10, 10), ann(5, 2, 1, 90, 60, 20, 20))})
	if err != nil {
		t.Fatal(err)
	}
	if s.Check.ZeroArea != 1 || s.Check.Outside != 1 || s.Check.Clipped != 1 || len(s.Objects[0]) != 1 || len(s.Objects[1]) != 2 {
		t.Errorf("%s: check %+v, objects %v", p, s.Check, s.Objects)
	}
	if c := s.Objects[1][1]; c.X1 != 96 || c.Y1 != 72 {
		t.Errorf("clipped box %+v, want its far corner at (96, 72)", c)
	}
	// An image whose only box is unusable is left out, counted.
	s, _, err = load(map[string]any{"images": images, "categories": cats, "annotations": []any{good[0], ann(3, 2, 1, 0, 0, 0, 5)}})
	if err != nil || s.Len() != 1 || s.NoBoxes != 1 {
		t.Errorf("image without a usable box: %v, %+v", err, s)
	}

	for _, c := range []struct {
		name string
		doc  map[string]any
		want []string
	}{
		{"missing image", map[string]any{"images": append(slices.Clone(images), map[string]any{"id": 3, "file_name": "gone.jpg", "width": 96, "height": 72}),
			"categories": cats, "annotations": good}, []string{"instances.json", "1 of 3 images missing", "gone.jpg"}},
		{"unknown category id", map[string]any{"images": images, "categories": cats, "annotations": append(slices.Clone(good), ann(3, 1, 7, 1, 1, 5, 5))},
			[]string{"instances.json", "annotations[2].category_id", "category 7 not in categories"}},
		{"not a COCO category", map[string]any{"images": images, "categories": append(slices.Clone(cats), map[string]any{"id": 12, "name": "street sign"}), "annotations": good},
			[]string{"instances.json", "categories[2].id", "12", "not one of COCO 2017's 80"}},
		{"empty annotation list", map[string]any{"images": images, "categories": cats, "annotations": []any{}},
			[]string{"instances.json", "annotations: empty list"}},
		{"only unusable boxes", map[string]any{"images": images, "categories": cats, "annotations": []any{ann(1, 1, 1, 0, 0, 0, 0)}},
			[]string{"instances.json", "no usable box", "1 zero-area"}},
	} {
		_, _, err := load(c.doc)
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", c.name, err, w)
			}
		}
	}

	// Decoding: another size than the file says, and a file that is not an image.
	s, _, err = load(map[string]any{"images": []any{map[string]any{"id": 1, "file_name": "000000000001.jpg", "width": 90, "height": 72}},
		"categories": cats, "annotations": []any{good[0]}})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 3*8*8)
	if _, err := s.Sample(0, 8, nil, nil, x); err == nil || !strings.Contains(err.Error(), "000000000001.jpg: decoded size 96x72") {
		t.Errorf("size mismatch: %v", err)
	}
	if err := os.WriteFile(filepath.Join(imgDir, "000000000002.jpg"), []byte("not a jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, _, err = load(map[string]any{"images": images, "categories": cats, "annotations": good})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Batch([]int{0, 1}, 8, nil, nil, 2, make([]float32, 2*3*8*8)); err == nil || !strings.Contains(err.Error(), "000000000002.jpg") {
		t.Errorf("corrupt image: %v", err)
	}
}

// syntheticTrain6 is the training split of a 6-image synthetic COCO
// layout (WriteSynthetic, seed 2) in a temporary folder.
func syntheticTrain6(t *testing.T) *Split {
	t.Helper()
	root := t.TempDir()
	if _, err := WriteSynthetic(root, SyntheticConfig{Train: 6, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	s, err := Load(filepath.Join(root, "annotations", "instances_train2017.json"), filepath.Join(root, "train2017"), LoadOptions{Train: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
