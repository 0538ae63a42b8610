//go:build parity

package ssd

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/gap-harness/gap/datasets/detection"
	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/nn"
	"github.com/gap-harness/gap/engine/optim"
	"github.com/gap-harness/gap/internal/paritytest"
)

// writeParityFiles writes the model's weights and steps batches of
// mnist-detect (x [steps, batch, 1, 64, 64] and gt [steps, batch, T, 5]:
// x0, y0, x1, y1 relative, label; label -1 pads) and returns the batches.
func writeParityFiles(t *testing.T, m *Model, dir string, steps, batch int) (string, string, []*engine.Tensor[float32], [][][]Truth) {
	t.Helper()
	d, err := detection.LoadMNISTDetect("", true, detection.MNISTDetectConfig{Images: steps * batch, Seed: 11})
	if err != nil {
		t.Skipf("mnist-detect unavailable: %v", err)
	}
	wpath, bpath := filepath.Join(dir, "w.safetensors"), filepath.Join(dir, "b.safetensors")
	if err := m.Params().SaveSafetensors(wpath, nn.SafetensorsOptions{}); err != nil {
		t.Fatal(err)
	}
	var xs []*engine.Tensor[float32]
	var ts [][][]Truth
	maxT := 0
	for s := 0; s < steps; s++ {
		idx := make([]int, batch)
		for i := range idx {
			idx[i] = s*batch + i
		}
		x, tr, err := MNISTBatch(d, idx)
		if err != nil {
			t.Fatal(err)
		}
		xs, ts = append(xs, x), append(ts, tr)
		for _, l := range tr {
			maxT = max(maxT, len(l))
		}
	}
	xall := make([]float32, 0, steps*batch*64*64)
	gt := make([]float32, steps*batch*maxT*5)
	for s := range xs {
		xall = append(xall, xs[s].Data()...)
		for i, l := range ts[s] {
			for k := 0; k < maxT; k++ {
				row := gt[((s*batch+i)*maxT+k)*5:][:5]
				if k >= len(l) {
					row[4] = -1
					continue
				}
				b := l[k].Box
				// The relative coordinates are exact in float32 (pixels / 64).
				row[0], row[1], row[2], row[3], row[4] = float32(b.X0), float32(b.Y0), float32(b.X1), float32(b.Y1), float32(l[k].Label)
			}
		}
	}
	paritytest.WriteTensors(t, bpath, map[string]nn.STensor{
		"x":  {Shape: []int{steps, batch, 1, 64, 64}, Data: xall},
		"gt": {Shape: []int{steps, batch, maxT, 5}, Data: gt},
	})
	return wpath, bpath, xs, ts
}

// TestParitySSD trains the proxy SSD for 30 SGD steps (lr 0.001, momentum
// 0.5, batch 32) on mnist-detect batches, augmentation off, beside
// scripts/torch/parity_ssd.py (its own network, matching, mining and loss,
// from the same initial weights and batches) in float32 and in float64.
// Then both post-process the same batch with the Go side's trained weights
// (eval mode): the same detections (label, box to 1e-4, score to 1e-4;
// measured: 6400 detections, 3.3e-7).
//
// The criterion is the one PyTorch float32 itself meets, as the PointNet++
// parity test's: (1) the first step's loss (same weights, same batch: the
// network, matching, mining and loss) within 1e-5 of PyTorch float32 and
// steps 0-2 within 1e-3; (2) over the 30 steps, Go's largest relative
// deviation from PyTorch float64 at most 1.5x PyTorch float32's own. A
// flat 1e-3 over all 30 steps is not a property of the implementation but
// of the float32 summation order: hard-negative mining switches which
// negatives carry gradient when a score moves in its last bits, and batch
// norm on the 1x1 and 2x2 maps normalises over only N or 4N values.
// Measured (2026-11-29, same weights and batches; the loss falls from
// 19.44 to 12.86): the Go curve is 4.87e-4 from PyTorch float32 with the
// pure-Go BLAS (gonum) and 1.05e-3 with OpenBLAS (the same code; only the
// GEMM's summation order differs), while PyTorch float32 is itself 6.3e-4
// from PyTorch float64, Go 6.8e-4 (gonum) and 5.3e-4 (OpenBLAS): both
// within 1.5x (9.5e-4). All three float32 curves agree in their 6 printed
// digits (< 3e-6) for the first 3 steps. PyTorch against itself,
// every weight perturbed by 1e-6 relative, drifts by 1.7e-2 within 30
// steps at batch 8, lr 0.001, momentum 0.9; batch 32 and momentum 0.5 keep
// the drift small enough for the curves to stay comparable.
func TestParitySSD(t *testing.T) {
	paritytest.RequireTorch(t)
	const steps, batch, lr, mom = 30, 32, 0.001, 0.5
	cfg := Proxy()
	cfg.Seed = 5
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if keep := os.Getenv("GAP_PARITY_KEEP"); keep != "" {
		dir = keep
	}
	wpath, bpath, xs, ts := writeParityFiles(t, m, dir, steps, batch)
	opt, err := optim.NewSGD(m.Params().Vars(), optim.SGDConfig{LR: lr, Momentum: mom, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	tp := engine.NewTape[float32](2)
	var goLoss []float64
	for s := 0; s < steps; s++ {
		tp.Reset()
		m.Params().ZeroGrad()
		l, _, err := m.Loss(tp, xs[s], ts[s], true)
		if err != nil {
			t.Fatal(err)
		}
		goLoss = append(goLoss, float64(l.Value.Data()[0]))
		if err := tp.Backward(l); err != nil {
			t.Fatal(err)
		}
		opt.Step()
	}
	trained := filepath.Join(dir, "trained.safetensors")
	if err := m.Params().SaveSafetensors(trained, nn.SafetensorsOptions{}); err != nil {
		t.Fatal(err)
	}
	const evalBatch = 0
	out := paritytest.Run(t, "parity_ssd.py", wpath, bpath, "--lr", fmt.Sprint(lr), "--momentum", fmt.Sprint(mom),
		"--trained", trained, "--eval-batch", fmt.Sprint(evalBatch))
	pyLoss := paritytest.Column(out["LOSS"], 1)
	py64 := paritytest.Column(paritytest.Run(t, "parity_ssd.py", wpath, bpath, "--lr", fmt.Sprint(lr), "--momentum", fmt.Sprint(mom), "--double")["LOSS"], 1)
	if len(pyLoss) != steps || len(py64) != steps {
		t.Fatalf("torch printed %d float32 and %d float64 losses, want %d", len(pyLoss), len(py64), steps)
	}
	d, err := paritytest.MaxRelDiff(goLoss, pyLoss)
	if err != nil {
		t.Fatal(err)
	}
	go64, _ := paritytest.MaxRelDiff(goLoss, py64)
	t3264, _ := paritytest.MaxRelDiff(pyLoss, py64)
	t.Logf("ssd parity: %d steps, max relative loss difference go-torch32 %.3g, go-torch64 %.3g, torch32-torch64 %.3g\ngo      %.6g\ntorch32 %.6g\ntorch64 %.6g",
		steps, d, go64, t3264, goLoss, pyLoss, py64)
	for s := 0; s < 3; s++ {
		rel := math.Abs(goLoss[s]-pyLoss[s]) / math.Abs(pyLoss[s])
		if (s == 0 && rel > 1e-5) || rel > 1e-3 {
			t.Errorf("step %d: loss %.7g, PyTorch float32 %.7g: relative difference %.2e (want <= 1e-5 at step 0, 1e-3 at steps 1-2)", s, goLoss[s], pyLoss[s], rel)
		}
	}
	if go64 > 1.5*t3264 {
		t.Errorf("Go drifts from PyTorch float64 by %.3g, more than 1.5x PyTorch float32's %.3g", go64, t3264)
	}

	// Post-processing from the same (trained) weights.
	tp.Reset()
	tp.SetNoGrad(true)
	loc, conf := m.Forward(tp, tp.Const(xs[evalBatch]), false)
	dets := PostProcessBatch(loc.Value, conf.Value, m.Anchors(), DefaultPost, 2)
	type det struct {
		img, label     int
		score          float64
		x0, y0, x1, y1 float64
	}
	var got, want []det
	for i, ds := range dets {
		for _, d := range ds {
			got = append(got, det{i, d.Label, d.Score, d.Box.X0, d.Box.Y0, d.Box.X1, d.Box.Y1})
		}
	}
	for _, r := range out["DET"] {
		want = append(want, det{int(r[0]), int(r[1]), r[2], r[3], r[4], r[5], r[6]})
	}
	key := func(v []det) {
		sort.SliceStable(v, func(i, j int) bool {
			if v[i].img != v[j].img {
				return v[i].img < v[j].img
			}
			if v[i].label != v[j].label {
				return v[i].label < v[j].label
			}
			return v[i].score > v[j].score
		})
	}
	key(got)
	key(want)
	t.Logf("detections after NMS: go %d, torch %d", len(got), len(want))
	if len(got) != len(want) || len(got) == 0 {
		t.Fatalf("go gave %d detections, torch %d", len(got), len(want))
	}
	worst := 0.0
	for i := range got {
		g, w := got[i], want[i]
		diff := math.Max(math.Abs(g.score-w.score), math.Max(math.Max(math.Abs(g.x0-w.x0), math.Abs(g.y0-w.y0)), math.Max(math.Abs(g.x1-w.x1), math.Abs(g.y1-w.y1))))
		worst = math.Max(worst, diff)
		if g.img != w.img || g.label != w.label || diff > 1e-4 {
			t.Fatalf("detection %d: go %+v, torch %+v", i, g, w)
		}
	}
	t.Logf("largest box/score difference %.3g", worst)
}

// TestParitySSDGrads compares the first step's gradient of every parameter
// with PyTorch's (matching, mining, loss and backward of one batch of 8),
// to 1e-3 of each tensor's largest entry.
func TestParitySSDGrads(t *testing.T) {
	paritytest.RequireTorch(t)
	cfg := Proxy()
	cfg.Seed = 5
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	wpath, bpath, xs, ts := writeParityFiles(t, m, dir, 1, 8)
	tp := engine.NewTape[float32](2)
	l, _, err := m.Loss(tp, xs[0], ts[0], true)
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Backward(l); err != nil {
		t.Fatal(err)
	}
	gpath := filepath.Join(dir, "g.safetensors")
	out := paritytest.Run(t, "parity_ssd.py", wpath, bpath, "--grads", gpath)
	if d, _ := paritytest.MaxRelDiff([]float64{float64(l.Value.Data()[0])}, paritytest.Column(out["LOSS"], 1)); d > 1e-5 {
		t.Errorf("loss %g, torch %v", l.Value.Data()[0], out["LOSS"])
	}
	g := paritytest.ReadTensors(t, gpath)
	worst := 0.0
	for _, p := range m.Params().All() {
		want, got := g[p.Name].Data, p.V.Grad.Data()
		scale, diff := 1e-30, 0.0
		for i := range want {
			scale = math.Max(scale, math.Abs(float64(want[i])))
			diff = math.Max(diff, math.Abs(float64(got[i]-want[i])))
		}
		worst = math.Max(worst, diff/scale)
		if diff/scale > 1e-3 {
			t.Errorf("%s: gradient differs by %.3g of its largest entry", p.Name, diff/scale)
		}
	}
	t.Logf("worst gradient difference %.3g of the tensor's largest entry", worst)
}
