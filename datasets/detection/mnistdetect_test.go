package detection

import (
	"bytes"
	"testing"

	"github.com/gap-harness/gap/datasets/idx"
)

// fakeDigits: 20 28x28 digits, digit k a filled square whose side depends
// on k, label k%10.
func fakeDigits() *idx.Split {
	s := &idx.Split{N: 20, Rows: 28, Cols: 28, Pix: make([]uint8, 20*784), Labels: make([]uint8, 20)}
	for k := 0; k < 20; k++ {
		s.Labels[k] = uint8(k % 10)
		for r := 4; r < 24; r++ {
			for c := 6; c < 6+10+k/2; c++ {
				s.Pix[k*784+r*28+c] = 200
			}
		}
	}
	return s
}

func TestMNISTDetectBoxesAndDeterminism(t *testing.T) {
	cfg := MNISTDetectConfig{Images: 50, Canvas: 64, Seed: 3}
	a, err := NewMNISTDetect(fakeDigits(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewMNISTDetect(fakeDigits(), cfg)
	if !bytes.Equal(a.Pix, b.Pix) || len(a.GT.Annotations) != len(b.GT.Annotations) {
		t.Fatal("same seed, different data")
	}
	c, _ := NewMNISTDetect(fakeDigits(), MNISTDetectConfig{Images: 50, Canvas: 64, Seed: 4})
	if bytes.Equal(a.Pix, c.Pix) {
		t.Error("different seeds, same data")
	}
	per := map[int64]int{}
	for _, an := range a.GT.Annotations {
		per[an.ImageID]++
		bx := an.BBox
		if bx.X < 0 || bx.Y < 0 || bx.X+bx.W > 64 || bx.Y+bx.H > 64 || an.CategoryID < 0 || an.CategoryID > 9 {
			t.Fatalf("bad annotation %+v", an)
		}
		// The box is tight: its border rows and columns hold ink.
		img := a.Image(int(an.ImageID - 1))
		ink := func(r, c int) bool { return img[r*64+c] != 0 }
		x0, y0, x1, y1 := int(bx.X), int(bx.Y), int(bx.X+bx.W)-1, int(bx.Y+bx.H)-1
		if !ink(y0, x0) || !ink(y1, x1) {
			t.Errorf("box %+v corners lack ink", bx)
		}
	}
	for i := 1; i <= 50; i++ {
		if per[int64(i)] < 1 || per[int64(i)] > 4 {
			t.Errorf("image %d has %d digits", i, per[int64(i)])
		}
	}
	// Perfect predictions score AP 1.
	var dets []Detection
	for _, an := range a.GT.Annotations {
		dets = append(dets, Detection{ImageID: an.ImageID, CategoryID: an.CategoryID, BBox: an.BBox, Score: 1})
	}
	r, err := EvaluateCOCO(a.GT, dets, DefaultCOCOParams())
	if err != nil || !near(r.Stats[0], 1) {
		t.Errorf("perfect AP %v %v", r.Stats[0], err)
	}
}

func TestMNISTDetectReal(t *testing.T) {
	d, err := LoadMNISTDetect("", false, MNISTDetectConfig{Images: 20, Canvas: 96, Seed: 1})
	if err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	if len(d.GT.Images) != 20 || len(d.Pix) != 20*96*96 || len(d.GT.Annotations) < 20 {
		t.Errorf("%d images, %d annotations", len(d.GT.Images), len(d.GT.Annotations))
	}
}

func TestMNISTDetectBatch(t *testing.T) {
	a, _ := NewMNISTDetect(fakeDigits(), MNISTDetectConfig{Images: 5, Canvas: 32, MaxSize: 28, Seed: 1})
	x := make([]float32, 2*32*32)
	objs, err := a.Batch([]int{4, 0}, x)
	if err != nil {
		t.Fatal(err)
	}
	for b, i := range []int{4, 0} {
		for _, o := range objs[b] {
			if o.ImageID != int64(i+1) {
				t.Errorf("batch %d holds object of image %d", b, o.ImageID)
			}
		}
	}
	if x[0] > -0.4 || x[0] < -0.43 { // background: -0.1307/0.3081
		t.Errorf("background %v", x[0])
	}
	if _, err := a.Batch([]int{5}, x[:1024]); err == nil {
		t.Error("index out of range accepted")
	}
}
