//go:build long

package detection

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/optim"
)

// TestDenseDefaultProfile trains the dense proxy at the default profile
// (SGD, linear warm-up then cosine decay) and reports the validation
// metrics; it requires a detector that learned (AP50 > 0.35; measured
// 2026-11-29 19:27 UTC at the default's 372 steps of 16, 2.4 min at load
// ~6: mAP 0.241, AP50 0.437, AP75 0.250, VOC mAP 0.437; at the earlier
// 1000 steps of 32: mAP 0.459, AP50 0.723). GAP_FIGURE_OUT=file.png also draws the detection
// figure of six validation canvases. Run with `make test-long`.
func TestDenseDefaultProfile(t *testing.T) {
	var p Profile
	for _, q := range Profiles() {
		if q.Name == "default" {
			p = q
		}
	}
	p.Spec.Seed, p.Spec.Threads = 1, 2
	task, err := New(p.Spec)
	if err != nil {
		t.Skip(err)
	}
	t0 := time.Now()
	total := trainDense(t, task, p)
	m, err := task.Evaluate(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dense %s after %d steps (%s): mAP %.4f AP50 %.4f AP75 %.4f VOC mAP %.4f", p.Name, total, time.Since(t0).Round(time.Second), m["map"], m["ap50"], m["ap75"], m["voc_map"])
	if out := os.Getenv("GAP_FIGURE_OUT"); out != "" {
		if err := task.Figure(context.Background(), out, 6, []*Task{task}, 2); err != nil {
			t.Fatal(err)
		}
	}
	if m["ap50"] < 0.35 {
		t.Errorf("AP50 %.3f: the detector did not learn", m["ap50"])
	}
}

// learningRate is the profile's schedule: linear warm-up over the first
// WarmupEpochs, then cosine decay to 0 over the remaining steps.
func learningRate(p Profile, k, total, warm int) float64 {
	if k < warm {
		return p.LR * float64(k+1) / float64(warm)
	}
	return p.LR * 0.5 * (1 + math.Cos(math.Pi*float64(k-warm)/float64(total-warm)))
}

// trainDense trains task's model densely for p.Epochs with SGD (momentum,
// weight decay on conv weights) and returns the number of steps.
func trainDense(t *testing.T, task *Task, p Profile) int {
	t.Helper()
	decay := func(name string) bool { return len(task.Params().Get(name).Shape()) > 1 }
	opt, err := optim.NewSGD(task.Params().Vars(), optim.SGDConfig{LR: p.LR, Momentum: p.Momentum, WeightDecay: p.WeightDecay, Decay: decay, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	tp := engine.NewTape[float32](2)
	rng := rand.New(rand.NewPCG(7, 8))
	spe := task.StepsPerEpoch()
	total, warm := p.Epochs*spe, p.WarmupEpochs*spe
	t0 := time.Now()
	for e := 0; e < p.Epochs; e++ {
		var sum float64
		for s := 0; s < spe; s++ {
			opt.SetLR(learningRate(p, e*spe+s, total, warm))
			tp.Reset()
			task.Params().ZeroGrad()
			l, err := task.Loss(tp, e, s, rng)
			if err != nil {
				t.Fatal(err)
			}
			sum += float64(l.Value.Data()[0])
			if err := tp.Backward(l); err != nil {
				t.Fatal(err)
			}
			opt.Step()
		}
		t.Logf("epoch %d: mean loss %.4f (%s)", e, sum/float64(spe), time.Since(t0).Round(time.Second))
	}
	return total
}
