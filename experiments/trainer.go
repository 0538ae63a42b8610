package experiments

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	imagedata "github.com/gap-harness/gap/datasets/image"
	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/nn"
	"github.com/gap-harness/gap/engine/optim"
	"github.com/gap-harness/gap/methods"
	"github.com/gap-harness/gap/models"
	"github.com/gap-harness/gap/results"
)

// trainer holds one model under training with its method, optimiser and data.
// P-GaP uses several trainers (one per branch) over the same spec.
type trainer struct {
	spec    RunSpec
	threads int
	model   models.Model
	params  *nn.ParamSet
	opt     optim.Optimizer
	sched   optim.Schedule
	method  methods.Method
	mctx    *methods.Context
	rngSrc  *rand.PCG
	tape    *engine.Tape[float32]
	train   imagedata.Classification
	test    imagedata.Classification

	batch, stepsPerEpoch, totalEpochs int
	otherFwd                          float64 // forward FLOPs per example outside the prunable tensors
	xbuf                              []float32
	ybuf                              []int32

	// Progress counters, checkpointed.
	step        int64
	trainFLOPs  float64
	curves      []results.Point
	maskChanges []results.MaskChange
	lastMasks   map[int][]float32 // per partition, the mask at its last prune-back
	roundOf     map[int]int
	wall        time.Duration

	// last is the most recent evaluation, reused for the final record.
	last *evalResult
}

// newTrainer builds the model (seeded initialisation), the data, the optimiser
// and the method's view of the prunable tensors. It does not call Method.Init.
func newTrainer(spec RunSpec, data *dataPair, threads int, method methods.Method) (*trainer, error) {
	p := spec.Profile
	model, err := buildModel(p.Model, uint64(spec.Seed))
	if err != nil {
		return nil, err
	}
	t := &trainer{spec: spec, threads: threads, model: model, params: model.Params(), method: method,
		train: data.train, test: data.test, batch: p.Batch,
		lastMasks: map[int][]float32{}, roundOf: map[int]int{}}
	t.tape = engine.NewTape[float32](threads)
	n := t.train.Len()
	if n < t.batch {
		return nil, fmt.Errorf("profile %s: %d training examples, fewer than one batch of %d", p.Name, n, t.batch)
	}
	t.stepsPerEpoch = n / t.batch
	t.totalEpochs = method.Epochs(p.Epochs)
	c, h, w := t.train.Shape()
	t.xbuf = make([]float32, t.batch*c*h*w)
	t.ybuf = make([]int32, t.batch)

	// Gradients and masks exist from the start so methods can hold views of them.
	var ts []*methods.Tensor
	prunable := t.params.Prunable()
	var prunableFwd float64
	keepDense := map[string]bool{}
	if spec.DenseFirstLast {
		for _, n := range model.DenseByDefault() {
			keepDense[n] = true
		}
	}
	for _, pr := range prunable {
		v := pr.V
		if v.Grad == nil {
			v.Grad = engine.NewTensor[float32](v.Value.Shape()...)
		}
		if pr.Mask == nil {
			pr.Mask = make([]float32, v.Value.Len())
			for j := range pr.Mask {
				pr.Mask[j] = 1
			}
		}
		dense := keepDense[pr.Name]
		ts = append(ts, &methods.Tensor{Name: pr.Name, Shape: append([]int(nil), v.Value.Shape()...),
			Partition: pr.Partition, Dense: dense,
			W: v.Value.Data(), G: v.Grad.Data(), M: pr.Mask, FwdFLOPs: pr.FwdFLOPs})
		prunableFwd += pr.FwdFLOPs
	}
	t.otherFwd = math.Max(0, model.DenseForwardFLOPs()-prunableFwd)
	if err := t.newOptimizer(); err != nil {
		return nil, err
	}
	t.rngSrc = rand.NewPCG(uint64(spec.Seed), 0x6d6574686f64) // "method"
	t.mctx = &methods.Context{
		Tensors: ts, Opt: optState{t}, RNG: rand.New(t.rngSrc),
		StepsPerEpoch: t.stepsPerEpoch, TotalEpochs: t.totalEpochs,
		Sparsity: spec.Row.Sparsity, Distribution: spec.Row.Distribution,
	}
	if spec.Row.Method == "dense" {
		t.mctx.Sparsity = 0
	}
	t.mctx.Grad = t.oneBatchGrad
	return t, nil
}

// newOptimizer (re)creates the optimiser and its schedule over the run's steps.
func (t *trainer) newOptimizer() error {
	o := t.spec.Profile.Optim
	vars := make([]*engine.Var[float32], 0, len(t.params.All()))
	for _, p := range t.params.All() {
		vars = append(vars, p.V)
	}
	var err error
	switch o.Name {
	case "sgd":
		t.opt, err = optim.NewSGD(vars, optim.SGDConfig{LR: o.LR, Momentum: o.Momentum, Nesterov: o.Nesterov, WeightDecay: o.WeightDecay, Threads: t.threads})
	case "adam":
		t.opt, err = optim.NewAdam(vars, optim.AdamConfig{LR: o.LR, WeightDecay: o.WeightDecay, Threads: t.threads})
	case "adamw":
		t.opt, err = optim.NewAdamW(vars, optim.AdamConfig{LR: o.LR, WeightDecay: o.WeightDecay, Threads: t.threads})
	default:
		return fmt.Errorf("profile %s: optim.name %q: expected sgd, adam or adamw", t.spec.Profile.Name, o.Name)
	}
	if err != nil {
		return fmt.Errorf("optimiser: %w", err)
	}
	total := int64(t.totalEpochs) * int64(t.stepsPerEpoch)
	var s optim.Schedule
	switch o.Schedule {
	case "", "constant":
		s = optim.Constant{Base: o.LR}
	case "cosine":
		s = optim.Cosine{Base: o.LR, Total: total}
	default:
		return fmt.Errorf("profile %s: optim.schedule %q: expected constant or cosine", t.spec.Profile.Name, o.Schedule)
	}
	if o.WarmupEpochs > 0 {
		s = optim.Warmup{Inner: s, Steps: int64(o.WarmupEpochs) * int64(t.stepsPerEpoch)}
	}
	t.sched = s
	return nil
}

// optState adapts the optimiser to the methods' OptState.
type optState struct{ t *trainer }

func (o optState) ZeroPruned(name string, mask []float32) { o.t.opt.ZeroWhereMasked(name, mask) }
func (o optState) ZeroIndices(name string, idx []int)     { o.t.opt.ZeroState(name, idx) }

// forwardLoss runs the model on a batch of data and returns the loss and logits.
func (t *trainer) forwardLoss(data imagedata.Classification, idx []int, aug *rand.Rand, training bool) (loss, logits *engine.Var[float32], err error) {
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
	x := t.tape.Const(engine.FromSlice(t.xbuf[:n*c*h*w], n, c, h, w))
	logits = t.model.Forward(t.tape, x, training)
	ls := 0.0
	if training {
		ls = t.spec.Profile.Optim.LabelSmoothing
	}
	return t.tape.CrossEntropy(logits, t.ybuf[:n], engine.CEOpts{LabelSmoothing: ls}), logits, nil
}

// oneBatchGrad fills every gradient from one training batch (SNIP's saliency).
func (t *trainer) oneBatchGrad() error {
	t.tape.Reset()
	idx := epochOrder(t.train.Len(), t.spec.Seed, 0, 0)[:t.batch]
	loss, _, err := t.forwardLoss(t.train, idx, nil, true)
	if err != nil {
		return err
	}
	t.params.ZeroGrad()
	return t.tape.Backward(loss)
}

// epochOrder is the training order of an epoch: a permutation seeded by the run's
// seed, the stage and the epoch, so a resumed run sees the same batches.
func epochOrder(n int, seed int64, stage uint64, epoch int) []int {
	r := rand.New(rand.NewPCG(uint64(seed)^0x9e3779b97f4a7c15, stage<<32|uint64(epoch)))
	return r.Perm(n)
}

// runEpoch trains one epoch. stage separates the data order of P-GaP branches.
func (t *trainer) runEpoch(ctx context.Context, epoch int, stage uint64) (meanLoss float64, err error) {
	start := time.Now()
	order := epochOrder(t.train.Len(), t.spec.Seed, stage, epoch)
	aug := rand.New(rand.NewPCG(uint64(t.spec.Seed)^0x5851f42d4c957f2d, stage<<32|uint64(epoch)))
	t.mctx.Epoch = epoch
	if r, ok := t.method.(methods.Restarter); ok && r.RestartsOptimizerAt(epoch) && !t.spec.Profile.Optim.KeepStateAcrossPhases {
		t.resetOptimizerState()
	}
	denseGrad, _ := t.method.(methods.DenseGradStepper)
	skipper, _ := t.method.(methods.StepSkipper)
	after, _ := t.method.(methods.AfterStepper)
	var sum float64
	for b := 0; b < t.stepsPerEpoch; b++ {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		t.tape.Reset()
		loss, _, err := t.forwardLoss(t.train, order[b*t.batch:(b+1)*t.batch], aug, true)
		if err != nil {
			return 0, err
		}
		lv := float64(loss.Value.Data()[0])
		if math.IsNaN(lv) || math.IsInf(lv, 0) {
			return 0, fmt.Errorf("epoch %d step %d: loss is %v: training diverged (lower optim.lr?)", epoch, t.step, lv)
		}
		sum += lv
		t.params.ZeroGrad()
		if err := t.tape.Backward(loss); err != nil {
			return 0, fmt.Errorf("backward: %w", err)
		}
		t.mctx.Step = t.step
		if err := t.method.Update(t.mctx); err != nil {
			return 0, fmt.Errorf("%s update at step %d: %w", t.method.Name(), t.step, err)
		}
		if skipper == nil || !skipper.SkipsOptimizerStep(t.step) {
			if c := t.spec.Profile.Optim.ClipNorm; c > 0 {
				t.clipGradients(c)
			}
			t.opt.SetLR(t.sched.LR(t.step))
			t.opt.Step()
		}
		methods.ApplyMasks(t.mctx)
		if after != nil {
			if err := after.AfterStep(t.mctx); err != nil {
				return 0, fmt.Errorf("%s after step %d: %w", t.method.Name(), t.step, err)
			}
		}
		dg := denseGrad != nil && denseGrad.NeedsDenseGrad(t.step)
		t.trainFLOPs += methods.StepFLOPs(t.mctx.Tensors, t.batch, dg, t.otherFwd)
		t.step++
	}
	t.mctx.Epoch = epoch
	if err := t.method.EpochEnd(t.mctx); err != nil {
		return 0, fmt.Errorf("%s epoch end %d: %w", t.method.Name(), epoch, err)
	}
	t.wall += time.Since(start)
	return sum / float64(t.stepsPerEpoch), nil
}

// clipGradients scales the gradients to a global norm of at most c, counting
// only the active weights of pruned tensors (their pruned gradients are
// zeroed first: they would not move the masked weights anyway).
func (t *trainer) clipGradients(c float64) {
	for _, ts := range t.mctx.Tensors {
		for i, m := range ts.M {
			if m == 0 {
				ts.G[i] = 0
			}
		}
	}
	optim.ClipGradNorm(t.params.Vars(), c)
}

// resetOptimizerState zeroes every optimiser state (momentum, Adam moments) at
// a phase change; the step counter and learning-rate schedule run on.
func (t *trainer) resetOptimizerState() {
	for _, p := range t.params.All() {
		st := t.opt.State(p.Name)
		for _, v := range st {
			clear(v)
		}
	}
}

// denseTrainFLOPs is what dense training for the table's base budget costs:
// the denominator of "training FLOPs x dense", as RigL reports it (so a method
// that trains longer than the base budget, like GaP, shows it).
func (t *trainer) denseTrainFLOPs() float64 {
	return float64(t.spec.Profile.Epochs) * float64(t.stepsPerEpoch) * t.denseStepFLOPs()
}

// denseStepFLOPs is what one step of dense training costs.
func (t *trainer) denseStepFLOPs() float64 {
	var fwd float64
	for _, ts := range t.mctx.Tensors {
		fwd += ts.FwdFLOPs
	}
	return 3 * float64(t.batch) * (fwd + t.otherFwd)
}

// evalResult is one evaluation of the test split.
type evalResult struct{ loss, top1, top5 float64 }

// evaluate returns the test loss, top-1 and top-5 accuracy (percent).
func (t *trainer) evaluate() (loss, top1, top5 float64, err error) {
	t.tape.SetNoGrad(true)
	defer t.tape.SetNoGrad(false)
	n := t.test.Len()
	eb := t.spec.Profile.EvalBatch
	if eb <= 0 {
		eb = t.batch
	}
	classes := t.test.NumClasses()
	var c1, c5 int
	idx := make([]int, 0, eb)
	for lo := 0; lo < n; lo += eb {
		hi := min(lo+eb, n)
		idx = idx[:0]
		for i := lo; i < hi; i++ {
			idx = append(idx, i)
		}
		t.tape.Reset()
		l, lg, err := t.forwardLoss(t.test, idx, nil, false)
		if err != nil {
			return 0, 0, 0, err
		}
		loss += float64(l.Value.Data()[0]) * float64(hi-lo)
		logits := lg.Value.Data()
		k1, err := imagedata.TopKCorrect(logits, t.ybuf[:hi-lo], classes, 1)
		if err != nil {
			return 0, 0, 0, err
		}
		k5, err := imagedata.TopKCorrect(logits, t.ybuf[:hi-lo], classes, min(5, classes))
		if err != nil {
			return 0, 0, 0, err
		}
		c1 += k1
		c5 += k5
	}
	t.tape.Reset()
	return loss / float64(n), 100 * float64(c1) / float64(n), 100 * float64(c5) / float64(n), nil
}
