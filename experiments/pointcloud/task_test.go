package pointcloud

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/optim"
)

func tinyTask(t *testing.T) *Task { return tinyTaskWith(t, nil) }

// tinyTaskWith is tinyTask with edit applied to its configuration.
func tinyTaskWith(t *testing.T, edit func(*Config)) *Task {
	t.Helper()
	p, err := ProfileNamed("smoke")
	if err != nil {
		t.Fatal(err)
	}
	cfg := p.Task
	cfg.TrainShapes, cfg.TestShapes, cfg.NumPoints = 48, 12, 128
	cfg.Model.NPoint1, cfg.Model.NPoint2, cfg.Model.K1, cfg.Model.K2 = 32, 8, 16, 16
	cfg.Model.Dropout = -1
	cfg.Seed = 3
	if edit != nil {
		edit(&cfg)
	}
	task, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

// TestTrainingLowersLossAndEvaluates trains a tiny configuration for two
// epochs and checks that the loss falls and Evaluate returns the metrics.
func TestTrainingLowersLossAndEvaluates(t *testing.T) {
	task := tinyTask(t)
	opt, err := optim.NewAdam(task.Params().Vars(), optim.AdamConfig{LR: 1e-2, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	tp := engine.NewTape[float32](2)
	rng := rand.New(rand.NewPCG(1, 1))
	var losses []float64
	for epoch := 0; epoch < 6; epoch++ {
		for step := 0; step < task.StepsPerEpoch(); step++ {
			tp.Reset()
			task.Params().ZeroGrad()
			l, err := task.Loss(tp, epoch, step, rng)
			if err != nil {
				t.Fatal(err)
			}
			losses = append(losses, float64(l.Value.Data()[0]))
			if err := tp.Backward(l); err != nil {
				t.Fatal(err)
			}
			opt.Step()
		}
	}
	k := task.StepsPerEpoch()
	first, last := mean(losses[:k]), mean(losses[len(losses)-k:])
	if !(last < 0.8*first) {
		t.Fatalf("mean loss of the first epoch %.4f, of the last %.4f", first, last)
	}
	m, err := task.Evaluate(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"miou_instance", "miou_class", "accuracy"} {
		if v, ok := m[key]; !ok || math.IsNaN(v) || v < 0 || v > 1 {
			t.Fatalf("%s = %v (%v)", key, v, m)
		}
	}
	t.Logf("loss %.3f -> %.3f, metrics %v", first, last, m)
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// TestBatchesDeterministic checks that a step's batch depends only on
// (seed, epoch, step) and that epochs differ.
func TestBatchesDeterministic(t *testing.T) {
	task := tinyTask(t)
	a, b := task.order(1), task.order(1)
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("order of an epoch not reproducible")
		}
	}
	c := task.order(2)
	same := true
	for i := range a {
		same = same && a[i] == c[i]
	}
	if same {
		t.Fatal("epochs 1 and 2 have the same order")
	}
	tp := engine.NewTape[float32](1)
	if _, err := task.Loss(tp, 0, 0, nil); err != nil {
		t.Fatalf("nil rng: %v", err)
	}
	if task.BNMomentum(0) != 0.1 || task.BNMomentum(task.cfg.BNDecayEpochs) != 0.05 || task.BNMomentum(1000) != 0.01 {
		t.Fatal("batch-norm momentum decay")
	}
}

// TestPredictRestrictsToCategory checks that predictions only take the
// parts of the shape's category, even when another logit is larger.
func TestPredictRestrictsToCategory(t *testing.T) {
	// 1 shape, 4 parts, 2 points; category 1 owns parts 2 and 3.
	logits := engine.FromSlice([]float32{
		9, 9, // part 0 (other category) is largest everywhere
		0, 0,
		1, -1,
		0, 2,
	}, 1, 4, 2)
	got := Predict(logits, []int{1}, [][]int{{0, 1}, {2, 3}})
	if got[0] != 2 || got[1] != 3 {
		t.Fatalf("predictions %v, want [2 3]", got)
	}
}

// TestSegmentationFigure draws ground truth beside predictions of two test
// shapes and checks a PNG is written.
func TestSegmentationFigure(t *testing.T) {
	task := tinyTask(t)
	gt, err := task.PredictTest(context.Background(), []int{0, 1}, "truth", true)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := task.PredictTest(context.Background(), []int{0, 1}, "dense", false)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "shapes.png")
	if err := WriteSegmentationFigure(path, append(gt, pr...), 2); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 1000 || string(b[1:4]) != "PNG" {
		t.Fatalf("figure: %d bytes, %v", len(b), err)
	}
	if err := WriteSegmentationFigure(path, []ShapePanel{{XYZ: []float32{1, 2}, Labels: []int32{0}}}, 1); err == nil {
		t.Fatal("bad panel accepted")
	}
}

// TestTraceLeavesStepUnchanged runs the same training step with and without
// a trace (dropout on) and checks the loss and the generator's state after
// it are the same bits, that the trace holds the augmented batch Loss used,
// and that the recorded draws give the dropout mask's element count with
// about the dropout probability dropped.
func TestTraceLeavesStepUnchanged(t *testing.T) {
	step := func(trace bool) (float32, uint64, *StepTrace) {
		task := tinyTaskWith(t, func(c *Config) { c.Model.Dropout = 0.5 })
		var got *StepTrace
		if trace {
			task.SetTrace(func(s StepTrace) { got = &s })
		}
		rng := rand.New(rand.NewPCG(5, 6))
		l, err := task.Loss(engine.NewTape[float32](1), 1, 2, rng)
		if err != nil {
			t.Fatal(err)
		}
		return l.Value.Data()[0], rng.Uint64(), got
	}
	l0, next0, _ := step(false)
	l1, next1, tr := step(true)
	if math.Float32bits(l0) != math.Float32bits(l1) || next0 != next1 {
		t.Fatalf("traced step: loss %g, next draw %d; untraced: %g, %d", l1, next1, l0, next0)
	}
	if tr == nil || tr.Epoch != 1 || tr.Step != 2 {
		t.Fatalf("trace %+v", tr)
	}
	task := tinyTask(t)
	b := task.cfg.Batch
	if s := tr.Batch.XYZ.Shape(); s[0] != b || len(tr.Labels) != b*task.cfg.NumPoints {
		t.Fatalf("traced batch %v with %d labels", s, len(tr.Labels))
	}
	idx := task.order(1)[2*b : 3*b]
	if e, _ := task.example(false, idx[0]); e.pts[0] == tr.Batch.XYZ.Data()[0] {
		t.Error("traced batch is not augmented")
	}
	width := task.model.Config().Width
	ch := int(math.Round(128 * width))
	if got, want := len(tr.DropoutDraws), b*ch*task.cfg.NumPoints; got != want {
		t.Fatalf("%d dropout draws, want %d (batch x head channels x points)", got, want)
	}
	kept := 0
	for _, d := range tr.DropoutDraws {
		if float64(d<<11>>11)/(1<<53) >= 0.5 {
			kept++
		}
	}
	if f := float64(kept) / float64(len(tr.DropoutDraws)); f < 0.45 || f > 0.55 {
		t.Errorf("kept fraction %.3f, want about 0.5", f)
	}
}
