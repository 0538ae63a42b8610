package pointcloud

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/optim"
)

// TrainDense trains the task's model densely with the profile's recipe
// (Adam with L2 weight decay on every parameter, the learning rate of
// Optim.LRAt set each epoch, the task's batch-norm momentum decay) for
// p.Epochs epochs, then evaluates. It is the suite's reference dense
// training outside the stage runner (the dense row's PyTorch comparison
// uses it); rng seeds dropout and augmentation. A progress line is logged
// per epoch.
func TrainDense(ctx context.Context, t *Task, p Profile, threads int, seed uint64, log *slog.Logger) (map[string]float64, error) {
	opt, err := optim.NewAdam(t.Params().Vars(), optim.AdamConfig{LR: p.Optim.LR, WeightDecay: p.Optim.WeightDecay, Threads: threads})
	if err != nil {
		return nil, fmt.Errorf("pointcloud: %w", err)
	}
	tp := engine.NewTape[float32](threads)
	rng := rand.New(rand.NewPCG(seed, 0xa0a0))
	for epoch := 0; epoch < p.Epochs; epoch++ {
		opt.SetLR(p.Optim.LRAt(epoch))
		t0, sum := time.Now(), 0.0
		for step := 0; step < t.StepsPerEpoch(); step++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			tp.Reset()
			t.Params().ZeroGrad()
			l, err := t.Loss(tp, epoch, step, rng)
			if err != nil {
				return nil, err
			}
			sum += float64(l.Value.Data()[0])
			if err := tp.Backward(l); err != nil {
				return nil, fmt.Errorf("pointcloud: epoch %d step %d: %w", epoch, step, err)
			}
			opt.Step()
			t.Params().ApplyMasks()
		}
		if log != nil {
			log.Info("pointcloud dense", "profile", p.Name, "proxy", p.Proxy, "epoch", epoch+1, "of", p.Epochs,
				"loss", sum/float64(t.StepsPerEpoch()), "lr", p.Optim.LRAt(epoch), "sec", time.Since(t0).Seconds())
		}
	}
	return t.Evaluate(ctx, threads)
}
