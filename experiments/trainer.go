package experiments

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/nn"
	"github.com/gap-harness/gap/engine/optim"
	"github.com/gap-harness/gap/methods"
	"github.com/gap-harness/gap/results"
)

// trainer holds one stage's model under training: the suite's Task, the
// method, the optimiser and the run's progress. Every stage of every run
// trains through its one epoch loop (runEpoch).
type trainer struct {
	spec    RunSpec
	threads int
	task    Task
	params  *nn.ParamSet
	opt     optim.Optimizer
	sched   optim.Schedule
	method  methods.Method
	mctx    *methods.Context
	rngSrc  *rand.PCG
	tape    *engine.Tape[float32]

	batch, stepsPerEpoch, totalEpochs int
	// clock places the method's epochs in the run (after a warm-up).
	clock    clock
	otherFwd float64 // forward FLOPs per example outside the prunable tensors

	// Progress counters, checkpointed.
	step int64
	// phaseStart is the step at which the current optimiser started (a
	// restart begins a fresh optimiser and, when the profile warms up, a
	// fresh warm-up).
	phaseStart  int64
	trainFLOPs  float64
	curves      []results.Point
	maskChanges []results.MaskChange
	lastMasks   map[int][]float32 // per partition, the mask at its last prune-back
	roundOf     map[int]int
	wall        time.Duration

	// last is the most recent evaluation, reused for the final record.
	last map[string]float64

	// kernels holds the kernel choices of sparse-kernel training
	// (Profile.SparseKernels), checkpointed: a resumed run reuses them and
	// so computes the same bits.
	kernels []KernelRecord
	// branchKernels are P-GaP branches' kernel choices (see
	// Checkpoint.BranchKernelChoices).
	branchKernels []KernelRecord
}

// clock places a method's epochs in the run: the method's epoch e is the
// run's epoch offset+e (offset = the dense warm-up's epochs), and the run
// has total epochs in all (0: offset + the method's epochs), over which the
// learning-rate schedule runs.
type clock struct{ offset, total int }

// newTrainer builds the stage's Task (seeded initialisation, data), the
// optimiser and the method's view of the prunable tensors. It calls
// Method.Epochs but not Method.Init.
func newTrainer(spec RunSpec, env Env, threads int, method methods.Method, clk clock) (*trainer, error) {
	p := spec.Profile
	suites := env.Suites
	if suites == nil {
		suites = DefaultSuites()
	}
	task, err := suites.Build(spec.Suite, TaskConfig{Profile: p, Seed: spec.Seed, DataPath: spec.DataPath, Threads: threads, Data: env.Data,
		MethodParams: spec.resolvedMethodParams()})
	if err != nil {
		return nil, err
	}
	t := &trainer{spec: spec, threads: threads, task: task, params: task.Params(), method: method,
		batch: task.ExamplesPerStep(), stepsPerEpoch: task.StepsPerEpoch(),
		lastMasks: map[int][]float32{}, roundOf: map[int]int{}}
	if t.stepsPerEpoch < 1 || t.batch < 1 {
		return nil, fmt.Errorf("profile %s: %d steps of %d examples per epoch: expected at least one of one", p.Name, t.stepsPerEpoch, t.batch)
	}
	t.tape = engine.NewTape[float32](threads)
	t.totalEpochs = method.Epochs(spec.baseEpochs())
	if clk.total == 0 {
		clk.total = clk.offset + t.totalEpochs
	}
	t.clock = clk

	keepDense, err := denseSet(t.params, spec.denseRule())
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", spec.Table, err)
	}
	// Gradients and masks exist from the start so methods can hold views of them.
	var ts []*methods.Tensor
	var prunableFwd float64
	for _, pr := range t.params.Prunable() {
		v := pr.V
		if v.Grad == nil {
			v.Grad = engine.NewTensor[float32](v.Value.Shape()...)
		}
		pr.EnsureMask()
		ts = append(ts, &methods.Tensor{Name: pr.Name, Shape: append([]int(nil), v.Value.Shape()...),
			Partition: pr.Partition, Dense: keepDense[pr.Name],
			W: v.Value.Data(), G: v.Grad.Data(), M: pr.Mask, FwdFLOPs: pr.FwdFLOPs})
		prunableFwd += pr.FwdFLOPs
	}
	t.otherFwd = math.Max(0, task.DenseForwardFLOPs()-prunableFwd)
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

// newOptimizer creates a fresh optimiser (zero state, step counter 0) and the
// learning-rate schedule over the run's steps.
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
		t.opt, err = optim.NewAdam(vars, optim.AdamConfig{LR: o.LR, Beta1: o.Beta1, Beta2: o.Beta2, Eps: o.Eps, WeightDecay: o.WeightDecay, Threads: t.threads})
	case "adamw":
		t.opt, err = optim.NewAdamW(vars, optim.AdamConfig{LR: o.LR, Beta1: o.Beta1, Beta2: o.Beta2, Eps: o.Eps, WeightDecay: o.WeightDecay, Threads: t.threads})
	default:
		return fmt.Errorf("profile %s: optim.name %q: expected sgd, adam or adamw", t.spec.Profile.Name, o.Name)
	}
	if err != nil {
		return fmt.Errorf("optimiser: %w", err)
	}
	total := int64(t.clock.total) * int64(t.stepsPerEpoch)
	switch o.Schedule {
	case "", "constant":
		t.sched = optim.Constant{Base: o.LR}
	case "cosine":
		t.sched = optim.Cosine{Base: o.LR, Total: total}
	case "step":
		if err := o.checkStep(t.spec.Profile.Epochs); err != nil {
			return fmt.Errorf("profile %s: %w", t.spec.Profile.Name, err)
		}
		if len(o.StepAt) > 0 {
			ms := make([]int64, len(o.StepAt))
			for i, m := range o.StepAt {
				ms[i] = int64(math.Round(float64(m) * float64(total) / float64(t.spec.Profile.Epochs)))
			}
			t.sched = optim.MultiStep{Base: o.LR, Gamma: o.StepGamma, Milestones: ms}
			break
		}
		t.sched = optim.StepDecay{Base: o.LR, Gamma: o.StepGamma, Floor: o.MinLR, Every: int64(o.StepEpochs) * int64(t.stepsPerEpoch)}
	case "inverse-sqrt":
		t.sched = optim.InverseSqrt{Peak: o.LR, WarmupSteps: t.warmupSteps()}
	default:
		return fmt.Errorf("profile %s: optim.schedule %q: expected constant, cosine, step or inverse-sqrt", t.spec.Profile.Name, o.Schedule)
	}
	return nil
}

// warmupSteps is the length of the profile's warm-up in steps.
func (t *trainer) warmupSteps() int64 {
	o := t.spec.Profile.Optim
	return int64(o.WarmupEpochs)*int64(t.stepsPerEpoch) + int64(o.WarmupSteps)
}

// restartOptimizer is the one optimiser restart of the runner, used where the
// reference starts a new training process (each C-GaP step, each P-GaP branch
// and fine-tune, prune-from-pretrained's fine-tune): a fresh optimiser (zero
// momentum and moments, Adam's step counter at 0, so its bias correction
// starts over) and, when the profile warms up, a fresh warm-up from this step.
// The schedule's decay runs on over the whole run.
func (t *trainer) restartOptimizer() error {
	if err := t.newOptimizer(); err != nil {
		return err
	}
	t.phaseStart = t.step
	return nil
}

// lr is the learning rate at the current step: the schedule at the run's step
// times the warm-up factor counted from the optimiser's start; inverse-sqrt
// (warm-up included) runs wholly from the optimiser's start, as fairseq's
// update counter does in each of the reference's processes.
func (t *trainer) lr() float64 {
	if _, ok := t.sched.(optim.InverseSqrt); ok {
		return t.sched.LR(t.step - t.phaseStart)
	}
	lr := t.sched.LR(t.step)
	if w := t.warmupSteps(); w > 0 {
		lr *= optim.Warmup{Inner: optim.Constant{Base: 1}, Steps: w}.LR(t.step - t.phaseStart)
	}
	return lr
}

// optState adapts the optimiser to the methods' OptState.
type optState struct{ t *trainer }

func (o optState) ZeroPruned(name string, mask []float32) { o.t.opt.ZeroWhereMasked(name, mask) }
func (o optState) ZeroIndices(name string, idx []int)     { o.t.opt.ZeroState(name, idx) }

// oneBatchGrad fills every gradient from the first training batch (SNIP's
// saliency), without augmentation.
func (t *trainer) oneBatchGrad() error {
	t.tape.Reset()
	loss, err := t.task.Loss(t.tape, 0, 0, nil)
	if err != nil {
		return err
	}
	t.params.ZeroGrad()
	return t.tape.Backward(loss)
}

// augRNG is the augmentation generator of an epoch of a stage's stream.
func augRNG(seed int64, stream uint64, epoch int) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed)^0x5851f42d4c957f2d, stream<<32|uint64(epoch)))
}

// methodStep is the method's own step count at the run's current step.
func (t *trainer) methodStep() int64 {
	return t.step - int64(t.clock.offset)*int64(t.stepsPerEpoch)
}

// runEpoch trains the run's epoch `epoch`: the run's only epoch loop. stream
// separates the augmentation of stages that train the same epochs (P-GaP's
// branches). The method sees its own epochs and steps (after the warm-up).
func (t *trainer) runEpoch(ctx context.Context, epoch int, stream uint64) (meanLoss float64, err error) {
	start := time.Now()
	aug := augRNG(t.spec.Seed, stream, epoch)
	me := epoch - t.clock.offset
	t.mctx.Epoch = me
	if r, ok := t.method.(methods.Restarter); ok && r.RestartsOptimizerAt(me) && !t.spec.Profile.Optim.KeepStateAcrossPhases {
		if err := t.restartOptimizer(); err != nil {
			return 0, err
		}
	}
	cpu0 := processCPU()
	sk, err := t.prepareSparseKernels(me)
	if err != nil {
		return 0, err
	}
	defer sk.clear()
	denseGrad, _ := t.method.(methods.DenseGradStepper)
	skipper, _ := t.method.(methods.StepSkipper)
	after, _ := t.method.(methods.AfterStepper)
	var sum float64
	for b := 0; b < t.stepsPerEpoch; b++ {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		t.tape.Reset()
		loss, err := t.task.Loss(t.tape, epoch, b, aug)
		if err != nil {
			return 0, fmt.Errorf("epoch %d step %d: %w", epoch, b, err)
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
		ms := t.methodStep()
		t.mctx.Step = ms
		if err := t.method.Update(t.mctx); err != nil {
			return 0, fmt.Errorf("%s update at step %d: %w", t.method.Name(), t.step, err)
		}
		if skipper == nil || !skipper.SkipsOptimizerStep(ms) {
			if c := t.spec.Profile.Optim.ClipNorm; c > 0 {
				t.clipGradients(c)
			}
			t.opt.SetLR(t.lr())
			t.opt.Step()
		}
		methods.ApplyMasks(t.mctx)
		if after != nil {
			if err := after.AfterStep(t.mctx); err != nil {
				return 0, fmt.Errorf("%s after step %d: %w", t.method.Name(), t.step, err)
			}
		}
		dg := denseGrad != nil && denseGrad.NeedsDenseGrad(ms)
		t.trainFLOPs += methods.StepFLOPs(t.mctx.Tensors, t.batch, dg, t.otherFwd)
		t.step++
	}
	if err := t.finishSparseKernels(sk, epoch, time.Since(start), processCPU()-cpu0); err != nil {
		return 0, err
	}
	t.mctx.Epoch = me
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

// evaluate runs the task's evaluation and keeps it as the latest.
func (t *trainer) evaluate(ctx context.Context) (map[string]float64, error) {
	m, err := t.task.Evaluate(ctx, t.threads)
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	t.last = m
	return m, nil
}

// recordEval appends an evaluation to the curves at a curve epoch.
func (t *trainer) recordEval(epoch int, m map[string]float64) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.curves = append(t.curves, results.Point{Epoch: epoch, Step: t.step, Metric: curveName(k), Value: m[k]})
	}
	t.curves = append(t.curves, results.Point{Epoch: epoch, Step: t.step, Metric: "sparsity", Value: methods.OverallSparsity(t.mctx.Tensors)})
}

// headline is the table's metric from an evaluation (-1 when absent).
func (t *trainer) headline(m map[string]float64) float64 {
	if v, ok := m[t.spec.Metric]; ok {
		return v
	}
	return -1
}
