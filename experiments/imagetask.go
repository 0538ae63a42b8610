package experiments

import (
	"context"
	"fmt"
	"math/rand/v2"

	imagedata "github.com/gap-harness/gap/datasets/image"
	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/nn"
	"github.com/gap-harness/gap/models"
)

// imageTask is the image-classification suite's Task: a models.Model on a
// training and a test split, cross-entropy (with the profile's label
// smoothing) and top-1/top-5 accuracy.
type imageTask struct {
	model            models.Model
	train, test      imagedata.Classification
	batch, evalBatch int
	seed             int64
	labelSmoothing   float64

	xbuf       []float32
	ybuf       []int32
	orderEpoch int
	order      []int
	evalTape   *engine.Tape[float32]
}

// newImageTask builds the image suite's Task: the profile's model (seeded
// initialisation) on its data set (shared through the cache).
func newImageTask(c TaskConfig) (Task, error) {
	p := c.Profile
	if c.Data == nil {
		c.Data = &DataCache{}
	}
	data, err := c.Data.Load(p.Data, p.Model, c.DataPath)
	if err != nil {
		return nil, err
	}
	model, err := buildModel(p.Model, uint64(c.Seed))
	if err != nil {
		return nil, err
	}
	if p.Batch <= 0 {
		return nil, fmt.Errorf("profile %s: batch %d: expected >= 1", p.Name, p.Batch)
	}
	if n := data.train.Len(); n < p.Batch {
		return nil, fmt.Errorf("profile %s: %d training examples, fewer than one batch of %d", p.Name, n, p.Batch)
	}
	eb := p.EvalBatch
	if eb <= 0 {
		eb = p.Batch
	}
	return &imageTask{model: model, train: data.train, test: data.test, batch: p.Batch, evalBatch: eb,
		seed: c.Seed, labelSmoothing: p.Optim.LabelSmoothing, orderEpoch: -1}, nil
}

func (t *imageTask) Params() *nn.ParamSet        { return t.model.Params() }
func (t *imageTask) NumPartitions() int          { return t.model.NumPartitions() }
func (t *imageTask) PartitionOf(name string) int { return t.model.PartitionOf(name) }
func (t *imageTask) DenseForwardFLOPs() float64  { return t.model.DenseForwardFLOPs() }
func (t *imageTask) StepsPerEpoch() int          { return t.train.Len() / t.batch }
func (t *imageTask) ExamplesPerStep() int        { return t.batch }

// epochOrder is the training order of an epoch: a permutation seeded by the
// run's seed and the epoch, so a resumed run sees the same batches.
func epochOrder(n int, seed int64, epoch int) []int {
	r := rand.New(rand.NewPCG(uint64(seed)^0x9e3779b97f4a7c15, uint64(epoch)))
	return r.Perm(n)
}

// Loss is the cross-entropy of step `step` of epoch `epoch`'s batch.
func (t *imageTask) Loss(tp *engine.Tape[float32], epoch, step int, rng *rand.Rand) (*engine.Var[float32], error) {
	if t.orderEpoch != epoch || t.order == nil {
		t.order, t.orderEpoch = epochOrder(t.train.Len(), t.seed, epoch), epoch
	}
	lo := step * t.batch
	if step < 0 || lo+t.batch > len(t.order) {
		return nil, fmt.Errorf("step %d outside the %d steps of an epoch", step, t.StepsPerEpoch())
	}
	loss, _, err := t.forward(tp, t.train, t.order[lo:lo+t.batch], rng, true)
	return loss, err
}

// forward runs the model on a batch and returns the loss and the logits.
func (t *imageTask) forward(tp *engine.Tape[float32], data imagedata.Classification, idx []int, aug *rand.Rand, training bool) (loss, logits *engine.Var[float32], err error) {
	c, h, w := data.Shape()
	n := len(idx)
	if need := n * c * h * w; len(t.xbuf) < need {
		t.xbuf = make([]float32, need)
	}
	if len(t.ybuf) < n {
		t.ybuf = make([]int32, n)
	}
	if err := data.Batch(idx, t.xbuf[:n*c*h*w], t.ybuf[:n], aug); err != nil {
		return nil, nil, fmt.Errorf("batch: %w", err)
	}
	x := tp.Const(engine.FromSlice(t.xbuf[:n*c*h*w], n, c, h, w))
	logits = t.model.Forward(tp, x, training)
	ls := 0.0
	if training {
		ls = t.labelSmoothing
	}
	return tp.CrossEntropy(logits, t.ybuf[:n], engine.CEOpts{LabelSmoothing: ls}), logits, nil
}

// Evaluate returns the test loss ("test_loss"), top-1 and top-5 accuracy
// (percent) over the test split.
func (t *imageTask) Evaluate(ctx context.Context, threads int) (map[string]float64, error) {
	if t.evalTape == nil {
		t.evalTape = engine.NewTape[float32](threads)
		t.evalTape.SetNoGrad(true)
	}
	tp := t.evalTape
	n := t.test.Len()
	classes := t.test.NumClasses()
	var c1, c5 int
	var loss float64
	idx := make([]int, 0, t.evalBatch)
	for lo := 0; lo < n; lo += t.evalBatch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(lo+t.evalBatch, n)
		idx = idx[:0]
		for i := lo; i < hi; i++ {
			idx = append(idx, i)
		}
		tp.Reset()
		l, lg, err := t.forward(tp, t.test, idx, nil, false)
		if err != nil {
			return nil, err
		}
		loss += float64(l.Value.Data()[0]) * float64(hi-lo)
		logits := lg.Value.Data()
		k1, err := imagedata.TopKCorrect(logits, t.ybuf[:hi-lo], classes, 1)
		if err != nil {
			return nil, err
		}
		k5, err := imagedata.TopKCorrect(logits, t.ybuf[:hi-lo], classes, min(5, classes))
		if err != nil {
			return nil, err
		}
		c1 += k1
		c5 += k5
	}
	tp.Reset()
	return map[string]float64{"test_loss": loss / float64(n), "top1": 100 * float64(c1) / float64(n), "top5": 100 * float64(c5) / float64(n)}, nil
}
