package detection

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gap-harness/gap/datasets/cocoimg"
	data "github.com/gap-harness/gap/datasets/detection"
	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/optim"
	"github.com/gap-harness/gap/models/ssd"
)

// TestTaskTrainsAndEvaluates trains a tiny proxy a few steps: the loss
// falls, batches are a pure function of (seed, epoch, step), Evaluate
// returns the headline "map" in [0, 1], and the written COCO files score
// the same through the loaders `gap score map` uses.
func TestTaskTrainsAndEvaluates(t *testing.T) {
	task, err := New(Spec{Model: ssd.Proxy(), TrainImages: 32, ValImages: 16, Batch: 8, Shift: 2, Seed: 1, Threads: 2})
	if err != nil {
		t.Skip(err) // MNIST missing from the module cache
	}
	if a, b := task.BatchIndices(1, 2), task.BatchIndices(1, 2); a[0] != b[0] || a[7] != b[7] {
		t.Fatal("batch order is not a pure function of (epoch, step)")
	}
	opt, err := optim.NewSGD(task.Params().Vars(), optim.SGDConfig{LR: 0.01, Momentum: 0.9, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	tp := engine.NewTape[float32](2)
	rng := rand.New(rand.NewPCG(3, 4))
	var first, last float32
	for e := 0; e < 3; e++ {
		for s := 0; s < task.StepsPerEpoch(); s++ {
			tp.Reset()
			task.Params().ZeroGrad()
			l, err := task.Loss(tp, e, s, rng)
			if err != nil {
				t.Fatal(err)
			}
			if e == 0 && s == 0 {
				first = l.Value.Data()[0]
			}
			last = l.Value.Data()[0]
			if err := tp.Backward(l); err != nil {
				t.Fatal(err)
			}
			opt.Step()
		}
	}
	if !(last < first) {
		t.Errorf("loss %g -> %g did not fall", first, last)
	}
	m, err := task.Evaluate(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"map", "ap50", "ap75", "voc_map"} {
		if v, ok := m[k]; !ok || v < 0 || v > 1 {
			t.Errorf("metric %s = %v", k, v)
		}
	}
	dir := t.TempDir()
	if err := task.WriteCOCO(context.Background(), dir, 2); err != nil {
		t.Fatal(err)
	}
	gt, err := data.LoadCOCO(filepath.Join(dir, "gt.json"))
	if err != nil {
		t.Fatal(err)
	}
	dets, err := data.LoadDetections(filepath.Join(dir, "detections.json"), gt)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := ssd.Metrics(gt, dets)
	if err != nil {
		t.Fatal(err)
	}
	if d := m2["map"] - m["map"]; d > 1e-9 || d < -1e-9 {
		t.Errorf("mAP from the written files %g, in memory %g", m2["map"], m["map"])
	}
	if _, err := os.Stat(filepath.Join(dir, "detections.json")); err != nil {
		t.Fatal(err)
	}
	if task.PartitionOf("backbone.layer3.0.bn1.running_mean") != 2 || task.PartitionOf("conf.0.bias") != 3 {
		t.Error("partitions of a buffer / head")
	}
}

// TestAugmentMovesBoxes shifts by (+1, 0) and mirrors by hand.
func TestAugmentMovesBoxes(t *testing.T) {
	x := engine.NewTensor[float32](1, 1, 4, 4)
	x.Data()[1*4+1] = 1 // pixel (row 1, col 1), box [1/4, 1/4, 2/4, 2/4]
	tr := [][]ssd.Truth{{{Box: ssd.Rect{X0: 0.25, Y0: 0.25, X1: 0.5, Y1: 0.5}, Label: 1}}}
	// shift 1 with a fixed rng: find a seed giving dx=+1, dy=0, no flip.
	for seed := uint64(0); seed < 200; seed++ {
		r := rand.New(rand.NewPCG(seed, 0))
		dx, dy := r.IntN(3)-1, r.IntN(3)-1
		if r.IntN(2) == 1 && dx == 1 && dy == 0 {
			xx := engine.FromSlice(append([]float32(nil), x.Data()...), 1, 1, 4, 4)
			tt := [][]ssd.Truth{append([]ssd.Truth(nil), tr[0]...)}
			augment(xx, tt, 1, true, rand.New(rand.NewPCG(seed, 0)), 0)
			// mirror: col 1 -> col 2, then shift +1: col 3; box [3/4, 1]
			if xx.Data()[1*4+3] != 1 || tt[0][0].Box.X0 != 0.75 || tt[0][0].Box.X1 != 1 {
				t.Fatalf("image %v, box %+v", xx.Data(), tt[0][0].Box)
			}
			return
		}
	}
	t.Fatal("no seed gave the wanted draw")
}

// TestTaskOnCOCO runs the COCO path end to end on a generated COCO-layout
// data set with a small RGB SSD (the proxy's design at 3 channels and 81
// classes, so the 64x64 input keeps it cheap; the full profile's SSD300
// takes the same path at 300x300): JPEGs decoded and augmented (expand,
// crop, flip) into training batches that are a pure function of the run's
// generator, a few SGD steps, evaluation with COCO category ids, and the
// artifacts (gt.json with the original image sizes, detections.json,
// figure.json, detections.png).
func TestTaskOnCOCO(t *testing.T) {
	root := t.TempDir()
	if _, err := cocoimg.WriteSynthetic(root, cocoimg.SyntheticConfig{Train: 8, Val: 4, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	d, err := LoadCOCO2017(root, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ssd.Proxy()
	cfg.Name, cfg.InChannels, cfg.Classes = "ssd-proxy-rgb", 3, cocoimg.Classes
	if _, err := New(Spec{Model: ssd.Proxy(), COCO: d, Batch: 4}); err == nil {
		t.Error("a 1-channel, 11-class model was accepted for COCO")
	}
	task, err := New(Spec{Model: cfg, COCO: d, Augment: SSDAugment, Batch: 4, EvalBatch: 2, Seed: 1, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	if task.StepsPerEpoch() != 2 {
		t.Fatalf("%d steps an epoch", task.StepsPerEpoch())
	}
	// The same generator state gives the same augmented batch.
	a, ta, err := task.train.Batch([]int{0, 1}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	b, tb, err := task.train.Batch([]int{0, 1}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if s := a.Shape(); s[0] != 2 || s[1] != 3 || s[2] != 64 || s[3] != 64 || !slices.Equal(a.Data(), b.Data()) || len(ta[0]) != len(tb[0]) {
		t.Fatalf("batch %v not reproducible", a.Shape())
	}
	opt, err := optim.NewSGD(task.Params().Vars(), optim.SGDConfig{LR: 0.01, Momentum: 0.9, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	tp := engine.NewTape[float32](2)
	rng := rand.New(rand.NewPCG(5, 6))
	for s := 0; s < task.StepsPerEpoch(); s++ {
		tp.Reset()
		task.Params().ZeroGrad()
		l, err := task.Loss(tp, 0, s, rng)
		if err != nil {
			t.Fatal(err)
		}
		if err := tp.Backward(l); err != nil {
			t.Fatal(err)
		}
		opt.Step()
	}
	m, err := task.Evaluate(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := m["map"]; !ok || v < 0 || v > 1 {
		t.Errorf("map %v", m)
	}
	dir := t.TempDir()
	if err := task.WriteArtifacts(context.Background(), dir, 2); err != nil {
		t.Fatal(err)
	}
	gt, err := data.LoadCOCO(filepath.Join(dir, "gt.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(gt.Images) != 4 || gt.Images[0].Width != 96 || gt.Images[0].Height != 72 {
		t.Errorf("gt.json images %+v", gt.Images)
	}
	dets, err := data.LoadDetections(filepath.Join(dir, "detections.json"), gt)
	if err != nil {
		t.Fatal(err)
	}
	for _, det := range dets {
		if _, ok := cocoimg.LabelOf(det.CategoryID); !ok {
			t.Fatalf("detection of category %d, not a COCO id", det.CategoryID)
		}
	}
	for _, f := range []string{"figure.json", "detections.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}
