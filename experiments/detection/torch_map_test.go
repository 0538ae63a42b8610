//go:build long && parity

package detection

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gap-harness/gap/datasets/detection"
	"github.com/gap-harness/gap/engine/nn"
	"github.com/gap-harness/gap/internal/paritytest"
	"github.com/gap-harness/gap/models/ssd"
)

// TestParitySSDDenseMAP trains the default profile's dense proxy here and in
// PyTorch (scripts/torch/train_ssd.py) from the same initial weights on the
// same canvases in the same order with the same learning rates,
// augmentation off, then scores both models' validation detections with
// the same COCO scorer: the mAPs must agree within 1 point (the issue's
// target for the dense default row). Run with -tags "long parity".
// Measured at the current default (1500 canvases x 4 epochs of 16),
// 2026-11-29 19:23-19:25 UTC, load 6-9, 91 s: ours mAP 0.2113, AP50
// 0.3852, AP75 0.2070, VOC 0.3838; PyTorch mAP 0.2101, AP50 0.3930, AP75
// 0.2099, VOC 0.3921 (0.1 points apart). At the earlier 4000 x 8 of 32:
// 0.4164 against 0.4124.
func TestParitySSDDenseMAP(t *testing.T) {
	paritytest.RequireTorch(t)
	var p Profile
	for _, q := range Profiles() {
		if q.Name == "default" {
			p = q
		}
	}
	p.Spec.Seed, p.Spec.Threads, p.Spec.Shift, p.Spec.Flip = 1, 2, 0, false
	task, err := New(p.Spec)
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	if keep := os.Getenv("GAP_PARITY_KEEP"); keep != "" {
		dir = keep
	}
	wpath, dpath := filepath.Join(dir, "w.safetensors"), filepath.Join(dir, "d.safetensors")
	if err := task.Params().SaveSafetensors(wpath, nn.SafetensorsOptions{}); err != nil {
		t.Fatal(err)
	}
	// The data: every training canvas, its truths, the step order and rates.
	all := make([]int, p.Spec.TrainImages)
	for i := range all {
		all[i] = i
	}
	x, truths, err := ssd.MNISTBatch(task.mtrain, all)
	if err != nil {
		t.Fatal(err)
	}
	maxT := 0
	for _, l := range truths {
		maxT = max(maxT, len(l))
	}
	gt := make([]float32, len(all)*maxT*5)
	for i, l := range truths {
		for k := 0; k < maxT; k++ {
			row := gt[(i*maxT+k)*5:][:5]
			if k >= len(l) {
				row[4] = -1
				continue
			}
			b := l[k].Box
			row[0], row[1], row[2], row[3], row[4] = float32(b.X0), float32(b.Y0), float32(b.X1), float32(b.Y1), float32(l[k].Label)
		}
	}
	spe := task.StepsPerEpoch()
	total, warm := p.Epochs*spe, p.WarmupEpochs*spe
	order := make([]float32, 0, total*p.Spec.Batch)
	lrs := make([]float32, total)
	for e := 0; e < p.Epochs; e++ {
		for s := 0; s < spe; s++ {
			for _, i := range task.BatchIndices(e, s) {
				order = append(order, float32(i))
			}
			lrs[e*spe+s] = float32(learningRate(p, e*spe+s, total, warm))
		}
	}
	val := make([]int, p.Spec.ValImages)
	for i := range val {
		val[i] = i
	}
	xv, _, err := ssd.MNISTBatch(task.mval, val)
	if err != nil {
		t.Fatal(err)
	}
	paritytest.WriteTensors(t, dpath, map[string]nn.STensor{
		"x":               {Shape: []int{len(all), 1, 64, 64}, Data: x.Data()},
		"gt":              {Shape: []int{len(all), maxT, 5}, Data: gt},
		"order":           {Shape: []int{total, p.Spec.Batch}, Data: order},
		"lr":              {Shape: []int{total}, Data: lrs},
		"steps_per_epoch": {Shape: []int{1}, Data: []float32{float32(spe)}},
		"xval":            {Shape: []int{len(val), 1, 64, 64}, Data: xv.Data()},
	})
	// PyTorch trains beside the Go side (both are deterministic).
	torchOut := make(chan map[string][][]float64, 1)
	go func() {
		defer close(torchOut)
		out, err := paritytest.RunE("train_ssd.py", wpath, dpath, "--momentum", fmt.Sprint(p.Momentum), "--wd", fmt.Sprint(p.WeightDecay))
		if err != nil {
			t.Error(err)
			return
		}
		torchOut <- out
	}()
	trainDense(t, task, p)
	goM, err := task.Evaluate(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ours: mAP %.4f AP50 %.4f AP75 %.4f VOC %.4f", goM["map"], goM["ap50"], goM["ap75"], goM["voc_map"])
	out, ok := <-torchOut
	if !ok {
		t.FailNow()
	}
	for _, l := range out["LOSS"] {
		t.Logf("torch epoch %d: mean loss %.4f", int(l[0]), l[1])
	}
	var dets []detection.Detection
	for _, r := range out["DET"] {
		im := task.mval.GT.Images[int(r[0])]
		s := ssd.Scored{Label: int(r[1]), Score: r[2], Box: ssd.Rect{X0: r[3], Y0: r[4], X1: r[5], Y1: r[6]}}
		dets = append(dets, ssd.ToDetections(im.ID, im.Width, im.Height, []ssd.Scored{s}, ssd.DigitCategory)...)
	}
	pyM, err := ssd.Metrics(task.mval.GT, dets)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dense default, augmentation off: ours mAP %.4f AP50 %.4f AP75 %.4f VOC %.4f; PyTorch mAP %.4f AP50 %.4f AP75 %.4f VOC %.4f",
		goM["map"], goM["ap50"], goM["ap75"], goM["voc_map"], pyM["map"], pyM["ap50"], pyM["ap75"], pyM["voc_map"])
	if d := math.Abs(goM["map"] - pyM["map"]); d > 0.01 {
		t.Errorf("mAP differs by %.4f (> 1 point)", d)
	}
}
