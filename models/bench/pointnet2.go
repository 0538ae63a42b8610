package bench

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/optim"
	"github.com/gap-harness/gap/models/pointnet2"
)

// PointNet2Points is the default point count of the PointNet++ bench step
// (the bench configuration: 2,048 points; `gap bench step -points`
// sets another).
const PointNet2Points = 2048

// PointNet2Stepper runs the PointNet++ reference training step: the full
// part-segmentation network (16 categories, 50 parts, no normals, dropout
// 0.5), a fixed random batch of points on the unit sphere with random
// categories and labels, cross-entropy, backward, Adam(lr=1e-3), masks.
type PointNet2Stepper struct {
	Model  *pointnet2.Model
	Tape   *engine.Tape[float32]
	Opt    *optim.Adam
	Batch  pointnet2.Batch
	Labels []int32
	rng    *rand.Rand
}

// NewPointNet2Stepper builds the model (cfg; zero fields: the full
// network) and a batch from seed.
func NewPointNet2Stepper(batch int, cfg pointnet2.Config, threads int, seed uint64) (*PointNet2Stepper, error) {
	if batch < 1 || threads < 1 {
		return nil, fmt.Errorf("bench: pointnet2: batch %d and threads %d must be >= 1", batch, threads)
	}
	cfg.Seed = seed
	m, err := pointnet2.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	opt, err := optim.NewAdam(m.Params().Vars(), optim.AdamConfig{LR: 1e-3, Threads: threads})
	if err != nil {
		return nil, fmt.Errorf("bench: pointnet2: %w", err)
	}
	cfg = m.Config()
	points := cfg.NumPoints
	rng := rand.New(rand.NewPCG(seed, seed+1))
	xyz := engine.NewTensor[float32](batch, points, 3)
	d := xyz.Data()
	for i := 0; i < len(d); i += 3 {
		v := [3]float64{rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()}
		r := math.Sqrt(v[0]*v[0] + v[1]*v[1] + v[2]*v[2])
		d[i], d[i+1], d[i+2] = float32(v[0]/r), float32(v[1]/r), float32(v[2]/r)
	}
	cats := make([]int, batch)
	for i := range cats {
		cats[i] = rng.IntN(cfg.NumCategories)
	}
	labels := make([]int32, batch*points)
	for i := range labels {
		labels[i] = int32(rng.IntN(cfg.NumParts))
	}
	return &PointNet2Stepper{Model: m, Tape: engine.NewTape[float32](threads), Opt: opt,
		Batch: pointnet2.Batch{XYZ: xyz, Category: cats}, Labels: labels, rng: rng}, nil
}

// Step runs one training step and returns the loss before the update.
func (s *PointNet2Stepper) Step() (loss float32, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("bench: pointnet2 step: %v", r)
		}
	}()
	tp, ps := s.Tape, s.Model.Params()
	tp.Reset()
	ps.ZeroGrad()
	logits, err := s.Model.Forward(tp, s.Batch, true, s.rng)
	if err != nil {
		return 0, err
	}
	l := tp.CrossEntropy(logits, s.Labels, engine.CEOpts{})
	loss = l.Value.Data()[0]
	if err := tp.Backward(l); err != nil {
		return 0, fmt.Errorf("bench: pointnet2 backward: %w", err)
	}
	s.Opt.Step()
	ps.ApplyMasks()
	return loss, nil
}

// PointNet2Step times the PointNet++ step at batch and points as Step does
// for the image models (warmup untimed steps, then the mean of steps).
func PointNet2Step(batch, points, steps, warmup, threads int) (Result, error) {
	if steps < 1 || warmup < 0 {
		return Result{}, fmt.Errorf("bench: steps %d must be >= 1 and warmup %d >= 0", steps, warmup)
	}
	s, err := NewPointNet2Stepper(batch, pointnet2.Config{NumPoints: points}, threads, 0)
	if err != nil {
		return Result{}, err
	}
	return timeSteps("pointnet2", batch, steps, warmup, threads, s.Step)
}
