package imagedata

import (
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var testColors = []color.RGBA{{200, 30, 30, 255}, {30, 200, 30, 255}, {30, 30, 200, 255}}

func writeJPEG(t *testing.T, path string, w, h int, c color.RGBA) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetRGBA(x, y, c)
		}
	}
	os.MkdirAll(filepath.Dir(path), 0o755)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(f, img, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// fixture writes train/<wnid>/*.JPEG (2 images per class, solid colour of
// the class), val/ as class folders in root1 and flat with labels files in
// root2 and root3.
func fixture(t *testing.T) (root1, root2, root3 string) {
	wnids := []string{"n01", "n02", "n03"}
	root1, root2, root3 = t.TempDir(), t.TempDir(), t.TempDir()
	for _, r := range []string{root1, root2, root3} {
		for k, w := range wnids {
			for i := 0; i < 2; i++ {
				writeJPEG(t, filepath.Join(r, "train", w, w+"_"+string(rune('a'+i))+".JPEG"), 40+8*i, 30, testColors[k])
			}
		}
	}
	for k, w := range wnids {
		writeJPEG(t, filepath.Join(root1, "val", w, "v.JPEG"), 50, 36, testColors[k])
		name := "ILSVRC2012_val_0000000" + string(rune('1'+k))
		writeJPEG(t, filepath.Join(root2, "val", name+".JPEG"), 50, 36, testColors[k])
		writeJPEG(t, filepath.Join(root3, "val", name+".JPEG"), 50, 36, testColors[k])
	}
	os.WriteFile(filepath.Join(root2, "LOC_val_solution.csv"), []byte("ImageId,PredictionString\n"+
		"ILSVRC2012_val_00000003,n03 1 2 3 4 n03 5 6 7 8\nILSVRC2012_val_00000001,n01 1 2 3 4\nILSVRC2012_val_00000002,n02 0 0 9 9\n"), 0o644)
	os.WriteFile(filepath.Join(root3, "val_labels.txt"), []byte("# file label\nILSVRC2012_val_00000001.JPEG n01\nILSVRC2012_val_00000002.JPEG 1\n\nILSVRC2012_val_00000003.JPEG 2\n"), 0o644)
	return
}

func TestImageNetFolders(t *testing.T) {
	r1, r2, r3 := fixture(t)
	opts := ImageNetOptions{Size: 16, Workers: 3}
	tr, err := OpenImageNet(r1, "train", opts)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Len() != 6 || tr.NumClasses() != 3 || tr.Classes()[2] != "n03" {
		t.Fatalf("train: %d images, classes %v", tr.Len(), tr.Classes())
	}
	for _, r := range []string{r1, r2, r3} {
		v, err := OpenImageNet(r, "val", opts)
		if err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		if v.Len() != 3 {
			t.Fatalf("%s: val has %d images", r, v.Len())
		}
		x := make([]float32, 3*3*16*16)
		y := make([]int32, 3)
		if err := v.Batch([]int{0, 1, 2}, x, y, nil); err != nil {
			t.Fatal(err)
		}
		for b := 0; b < 3; b++ {
			// The label matches the colour: solid images stay solid
			// under resize and crop, so every pixel of channel k is
			// (colour_k/255 - mean_k)/std_k up to JPEG error.
			c := testColors[y[b]]
			for k, cv := range []uint8{c.R, c.G, c.B} {
				want := (float32(cv)/255 - ImageNetNorm.Mean[k]) / ImageNetNorm.Std[k]
				got := x[b*768+k*256+100]
				if math.Abs(float64(got-want)) > 0.1 {
					t.Errorf("%s: example %d (label %d) channel %d = %.3f, want %.3f", r, b, y[b], k, got, want)
				}
			}
		}
	}
}

func TestImageNetDeterministicAugmentation(t *testing.T) {
	r1, _, _ := fixture(t)
	d, err := OpenImageNet(r1, "train", ImageNetOptions{Size: 8, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	idx := []int{5, 0, 3, 1}
	batch := func(seed uint64, workers int) []float32 {
		d.opts.Workers = workers
		x := make([]float32, 4*3*64)
		y := make([]int32, 4)
		if err := d.Batch(idx, x, y, rand.New(rand.NewPCG(seed, 1))); err != nil {
			t.Fatal(err)
		}
		if y[0] != 2 || y[1] != 0 {
			t.Errorf("labels %v", y)
		}
		return x
	}
	a, b := batch(3, 1), batch(3, 4)
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("same seed, different workers: different output")
		}
	}
}

func TestRandomResizedCrop(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1000; i++ {
		h, w := 10+r.IntN(300), 10+r.IntN(300)
		top, left, ch, cw := randomResizedCrop(h, w, [2]float64{0.08, 1}, [2]float64{3.0 / 4, 4.0 / 3}, r)
		if top < 0 || left < 0 || ch <= 0 || cw <= 0 || top+ch > h || left+cw > w {
			t.Fatalf("%dx%d: crop %d %d %d %d", h, w, top, left, ch, cw)
		}
	}
	// A 1x100 strip never fits a ratio in [3/4,4/3] with area >= 8%:
	// fallback is the centre crop of height 1 and width round(1*4/3)=1.
	top, left, ch, cw := randomResizedCrop(1, 100, [2]float64{0.5, 1}, [2]float64{3.0 / 4, 4.0 / 3}, r)
	if top != 0 || ch != 1 || cw != 1 || left != 49 {
		t.Errorf("fallback crop %d %d %d %d", top, left, ch, cw)
	}
}

func TestImageNetErrors(t *testing.T) {
	r1, r2, _ := fixture(t)
	os.WriteFile(filepath.Join(r2, "LOC_val_solution.csv"), []byte("ImageId,PredictionString\nILSVRC2012_val_00000001,n99 1 2 3 4\n"), 0o644)
	if _, err := OpenImageNet(r2, "val", ImageNetOptions{}); err == nil || !strings.Contains(err.Error(), "LOC_val_solution.csv:2: label \"n99\"") {
		t.Errorf("unknown wnid: %v", err)
	}
	os.WriteFile(filepath.Join(r1, "train", "n01", "bad.JPEG"), []byte("not a jpeg"), 0o644)
	d, err := OpenImageNet(r1, "train", ImageNetOptions{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	err = d.Batch([]int{2}, make([]float32, 192), make([]int32, 1), nil) // files sorted: bad.JPEG is index 0
	err0 := d.Batch([]int{0}, make([]float32, 192), make([]int32, 1), nil)
	if err != nil || err0 == nil || !strings.Contains(err0.Error(), "bad.JPEG") {
		t.Errorf("corrupt JPEG: %v / %v", err, err0)
	}
}

// The evaluation transform's geometry: a 40x30 horizontal ramp
// (value 6x at column x) with Size 16 and EvalResize 18 is resized to
// 24x18 (shorter side 18, longer int(18*40/30) = 24) and centre-cropped
// at top round(2/2) = 1, left round(8/2) = 4. Output column q samples
// source x = (4+q+0.5)*40/24 - 0.5, where the ramp is linear, so the
// value is 6x up to JPEG error.
func TestImageNetEvalGeometry(t *testing.T) {
	root := t.TempDir()
	img := image.NewGray(image.Rect(0, 0, 40, 30))
	for y := 0; y < 30; y++ {
		for x := 0; x < 40; x++ {
			img.Pix[y*img.Stride+x] = uint8(6 * x)
		}
	}
	p := filepath.Join(root, "val", "n01", "a.JPEG")
	os.MkdirAll(filepath.Dir(p), 0o755)
	f, _ := os.Create(p)
	jpeg.Encode(f, img, &jpeg.Options{Quality: 100})
	f.Close()
	d, err := OpenImageNet(root, "val", ImageNetOptions{Size: 16, EvalResize: 18})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 3*256)
	if err := d.Batch([]int{0}, x, make([]int32, 1), nil); err != nil {
		t.Fatal(err)
	}
	for q := 0; q < 16; q++ {
		sx := (4+float64(q)+0.5)*40/24 - 0.5
		want := 6 * sx
		got := (float64(x[256+8*16+q])*float64(ImageNetNorm.Std[1]) + float64(ImageNetNorm.Mean[1])) * 255
		if math.Abs(got-want) > 3 {
			t.Errorf("column %d: %.1f, want %.1f", q, got, want)
		}
	}
	if s := d.Subset([]int{0, 0}); s.Len() != 2 || s.Labels()[1] != 0 {
		t.Errorf("subset %d", s.Len())
	}
}

// PIL's bilinear taps: halving gives the stretched triangle
// (1/8, 3/8, 3/8, 1/8) around each output centre; enlarging gives plain
// half-pixel bilinear weights.
func TestAxisTaps(t *testing.T) {
	tp := axisTaps(0, 8, 4, 0, 4)
	if got := tp[1]; len(got.idx) != 4 || got.idx[0] != 1 || !near4(got.w, []float64{.125, .375, .375, .125}) {
		t.Errorf("downscale taps %+v", got)
	}
	// Edge: output 0 has centre 1; its taps x = 0, 1, 2 have raw weights
	// .75, .75, .25 (x = -1 is outside), renormalised to 3/7, 3/7, 1/7.
	if got := tp[0]; len(got.idx) != 3 || !near4(got.w, []float64{3.0 / 7, 3.0 / 7, 1.0 / 7}) {
		t.Errorf("edge taps %+v", got)
	}
	up := axisTaps(10, 2, 4, 0, 4) // span [10,12) to 4: centres .25 .75 1.25 1.75
	if got := up[1]; len(got.idx) != 2 || got.idx[0] != 10 || !near4(got.w, []float64{.75, .25}) {
		t.Errorf("upscale taps %+v", got)
	}
	if got := up[0]; len(got.idx) != 1 || got.idx[0] != 10 || got.w[0] != 1 {
		t.Errorf("upscale edge taps %+v", got)
	}
}

func near4(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-12 {
			return false
		}
	}
	return true
}

func TestOpenByName(t *testing.T) {
	if _, err := Open("svhn", "", true); err == nil {
		t.Error("unknown name accepted")
	}
	r1, _, _ := fixture(t)
	d, err := Open("imagenet", r1, true)
	if err != nil || d.Len() != 6 {
		t.Errorf("imagenet: %v", err)
	}
}

// BenchmarkImageNetBatch decodes and augments 500x375 JPEGs (the typical
// ILSVRC size) to 224x224, batch 16; items/s is reported.
func BenchmarkImageNetBatch(b *testing.B) {
	root := b.TempDir()
	img := image.NewRGBA(image.Rect(0, 0, 500, 375))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7 % 251)
	}
	for i := 0; i < 16; i++ {
		p := filepath.Join(root, "train", "n01", string(rune('a'+i))+".JPEG")
		os.MkdirAll(filepath.Dir(p), 0o755)
		f, _ := os.Create(p)
		jpeg.Encode(f, img, &jpeg.Options{Quality: 90})
		f.Close()
	}
	d, err := OpenImageNet(root, "train", ImageNetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	idx := make([]int, 16)
	for i := range idx {
		idx[i] = i
	}
	x := make([]float32, 16*3*224*224)
	y := make([]int32, 16)
	rng := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		if err := d.Batch(idx, x, y, rng); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*16)/b.Elapsed().Seconds(), "items/s")
}
