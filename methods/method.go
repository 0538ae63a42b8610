// Package methods holds the sparsification methods of the harness behind one
// Method interface, the registry that names them, and the mask helpers they
// share (top-k by magnitude, global threshold, random masks, uniform / ERK /
// global-magnitude layer distributions) plus RigL-style FLOPs accounting.
//
// A method never sees the engine, a model or a data set: it sees the
// prunable tensors as named float32 slices (weights, dense gradients, masks)
// and the training schedule. See README.md for the runner's contract.
package methods

import (
	"fmt"
	"math/rand/v2"
)

// Tensor is one prunable weight tensor as a method sees it. W, G and M are
// live views owned by the runner: writes to W and M take effect in the model.
type Tensor struct {
	// Name identifies the tensor (the model's parameter name).
	Name string
	// Shape is [out, in] for a linear layer and [out, in/groups, kh, kw] for
	// a convolution.
	Shape []int
	// Partition is the GaP partition index (0..kappa-1), or -1 when the
	// tensor is in no partition.
	Partition int
	// Dense says the table keeps this layer dense (e.g. first conv, last
	// linear). Methods never prune a Dense tensor and leave its mask at 1.
	Dense bool
	// W is the weight, G the dense gradient of the last backward pass (not
	// masked), M the mask (1 keep, 0 pruned). All have Size() elements.
	W, G, M []float32
	// FwdFLOPs is the dense forward FLOPs of one example through this
	// tensor's op (multiply-adds x 2).
	FwdFLOPs float64
}

// Size is the number of elements of the tensor.
func (t *Tensor) Size() int { return len(t.W) }

// OptState lets a method zero the optimiser state (momentum, Adam moments)
// of chosen elements of a named tensor. The runner implements it over its
// optimiser; a nil OptState in Context means "no state to zero".
type OptState interface {
	// ZeroPruned zeroes the state of every element i with mask[i] == 0.
	ZeroPruned(name string, mask []float32)
	// ZeroIndices zeroes the state of the listed elements (e.g. regrown ones).
	ZeroIndices(name string, idx []int)
}

// Context is everything a method may see and touch. The runner fills it
// before each hook call (Step, Epoch) and keeps it alive for the whole run.
type Context struct {
	// Tensors are the prunable tensors, in a fixed model order.
	Tensors []*Tensor
	// Opt zeroes optimiser state; may be nil.
	Opt OptState
	// RNG is the run's seeded generator (math/rand/v2).
	RNG *rand.Rand
	// Step is the global step, 0-based, counted before the optimiser step.
	Step int64
	// Epoch is the current epoch, 0-based. In EpochEnd it is the epoch that
	// just finished.
	Epoch int
	// StepsPerEpoch is the number of optimiser steps in one epoch.
	StepsPerEpoch int
	// TotalEpochs is Method.Epochs(base) for this run.
	TotalEpochs int
	// Sparsity is the run's target overall sparsity in [0, 1).
	Sparsity float64
	// Distribution is "uniform", "erk" or "global" (see LayerSparsities).
	Distribution string
	// Targets holds the per-tensor target sparsities (by name) once they are
	// resolved (see ResolveTargets). Methods fill it when it is nil. The
	// runner should save it with checkpoints and restore it on resume or in
	// a P-GaP branch process, since "global" ratios depend on the weights at
	// the moment they were computed and are fixed afterwards.
	Targets map[string]float64
	// Grad runs one forward/backward pass on one training batch with the
	// current masks and weights and fills every Tensor.G (dense). SNIP needs
	// it at Init; other methods leave it alone. May be nil.
	Grad func() error
}

// TotalSteps is TotalEpochs * StepsPerEpoch.
func (c *Context) TotalSteps() int64 { return int64(c.TotalEpochs) * int64(c.StepsPerEpoch) }

// Tensor returns the tensor with the given name, or nil.
func (c *Context) Tensor(name string) *Tensor {
	for _, t := range c.Tensors {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// Phase names the part of the schedule an epoch is in, for reports and the
// FLOPs count.
type Phase struct {
	// Name is one of "dense", "sparse", "prune", "grow", "branch", "finetune".
	Name string
	// Partition is the grown partition in a "grow" phase, else -1.
	Partition int
	// Step is the phase's ordinal within the run (GaP step index; the
	// reference code restarts the optimiser and LR schedule whenever it
	// changes, and a runner may do the same).
	Step int
}

// String formats the phase as name, name[p] or name[p]#step.
func (p Phase) String() string {
	if p.Partition >= 0 {
		return fmt.Sprintf("%s[%d]#%d", p.Name, p.Partition, p.Step)
	}
	return fmt.Sprintf("%s#%d", p.Name, p.Step)
}

// Method is one sparsification method. The runner calls, in this order:
//
//	n := m.Epochs(base)                 // once, before anything else
//	ctx.TotalEpochs = n; m.Init(ctx)    // masks set; ApplyMasks already done
//	for epoch := 0; epoch < n; epoch++ {
//	    for each batch {
//	        forward, backward (fill every Tensor.G, dense, unmasked)
//	        m.Update(ctx)               // ctx.Step = global step
//	        optimiser step              // skipped when m.(StepSkipper).SkipsOptimizerStep(step)
//	        ApplyMasks(ctx)             // W *= M, zero opt state where M == 0
//	        m.(AfterStepper).AfterStep(ctx), if implemented
//	        ctx.Step++
//	    }
//	    m.EpochEnd(ctx)                 // ctx.Epoch = the epoch just finished
//	}
//
// Methods call ApplyMasks themselves after every mask change. A method that
// embeds Base declares its schedule as a Plan and gets Epochs, Phase,
// RestartsOptimizerAt (Restarter) and TargetsAtInit derived from it; it
// writes only its mask rule (Init, Update, EpochEnd).
type Method interface {
	// Name is the registry name.
	Name() string
	// Epochs is the total number of epochs this method trains for, given the
	// table row's base budget. It also fixes schedule defaults that are
	// relative to base, so it must be called before Init and Phase.
	Epochs(base int) int
	// Init sets the initial masks (before the first step).
	Init(ctx *Context) error
	// Update runs every step after backward and before the optimiser step.
	Update(ctx *Context) error
	// EpochEnd runs after each epoch.
	EpochEnd(ctx *Context) error
	// Phase is the phase the given epoch is in.
	Phase(epoch int) Phase
}

// DenseGradStepper is implemented by methods that need the dense gradient
// of every weight (not only the active ones) at some steps: RigL's update
// steps. The FLOPs count charges those steps with the dense gradient cost.
type DenseGradStepper interface {
	// NeedsDenseGrad reports whether the given global step uses dense
	// gradients.
	NeedsDenseGrad(step int64) bool
}

// StepSkipper is implemented by methods that, at some steps, replace the
// optimiser step with their mask update: RigL, as rigl's SparseRigLOptimizer
// does (at an update step the mask changes and no weight moves, so a regrown
// weight is still 0 when the next step starts). The runner skips the
// optimiser step (and gradient clipping) when SkipsOptimizerStep is true.
type StepSkipper interface {
	SkipsOptimizerStep(step int64) bool
}

// AfterStepper is implemented by methods whose mask update follows the
// optimiser step: SET, as rigl's SparseSETOptimizer does. The runner calls
// AfterStep (ctx.Step still the step just taken) after the optimiser step
// and ApplyMasks; AfterStep applies masks itself when it changes them.
type AfterStepper interface {
	AfterStep(ctx *Context) error
}

// MaskFixer is implemented by the methods whose masks change only between
// epochs (in Init, BranchInit and EpochEnd), never in Update or AfterStep,
// and that read no gradient at pruned positions during such an epoch:
// static, C-GaP, P-GaP, SNIP, one-shot magnitude, prune-from-pretrained
// (one-shot and iterative). A runner may then run the epoch's sparse layers
// through sparse kernels prepared once per epoch, with the weight gradient
// computed at the kept entries only (the pruned entries of Tensor.G stay
// zero). A layer whose mask is all ones (GaP's grown partition, a dense
// layer) stays on the dense kernels.
type MaskFixer interface {
	// MasksFixedDuring reports whether no mask changes during the steps of
	// the method's epoch `epoch`.
	MasksFixedDuring(epoch int) bool
}

// Restarter is implemented by methods whose phases are, in their reference
// code, separate training processes with fresh optimisers: each GaP step
// (the reference restarts its optimiser at every step), the fine-tune after
// a one-shot or iterative prune (run_mag_prune.sh). Before an epoch for
// which RestartsOptimizerAt is true the runner starts a fresh optimiser
// (zero momentum and moments, Adam's step counter at 0) and restarts the
// profile's learning-rate warm-up, unless the profile keeps the state; the
// schedule's decay runs on over the whole run.
// Base derives it from the plan's phases marked Restart.
type Restarter interface {
	RestartsOptimizerAt(epoch int) bool
}

// TargetsAtInit is implemented by the methods that fix their per-layer
// targets at Init, sparse from the first step (C-GaP, P-GaP, static, SNIP,
// RigL, SET). For the "global" distribution, whose ratios come from the
// weights, a runner may train the model dense for a short warm-up before
// Init so that the ratios come from trained weights, as they do for the
// methods that prune a trained model (GMP, prune-from-pretrained).
// Base derives it from the plan's Targets (TargetsInit).
type TargetsAtInit interface {
	TargetsAtInit() bool
}

// base is embedded by every method of the package (exported as Base): the
// name, the parameters as parsed, no-op hooks, and the runner-facing
// schedule (Epochs, Phase, RestartsOptimizerAt, TargetsAtInit) derived from
// the method's plan.
type base struct {
	name string
	ps   *params
	// planFn declares the method's plan for a base budget (nil: one
	// "sparse" phase of the whole budget, targets from the initial
	// weights). It may fix the method's schedule fields as a side effect.
	planFn func(budget int) Plan
	plan   *Plan // resolved by Plan (or Epochs)
	budget int   // the budget plan was resolved for
}

// newBase returns a base for the named method with its parser and plan.
func newBase(name string, ps *params, plan func(budget int) Plan) base {
	return base{name: name, ps: ps, planFn: plan}
}

// Params describes every parameter the method declares with its resolved
// value (see Described).
func (b base) Params() []ParamInfo {
	if b.ps == nil {
		return nil
	}
	return append([]ParamInfo(nil), b.ps.infos...)
}

// Name is the registry name.
func (b base) Name() string { return b.name }

// Update does nothing by default.
func (b base) Update(ctx *Context) error { return nil }

// EpochEnd does nothing by default.
func (b base) EpochEnd(ctx *Context) error { return nil }

func (b *base) declare(budget int) Plan {
	if b.planFn == nil {
		return OnePhase("sparse", budget, TargetsInitialWeights)
	}
	return b.planFn(budget)
}

// Plan resolves the method's plan for the base budget (see Planner); the
// runner-facing answers below read it.
func (b *base) Plan(budget int) Plan {
	p := b.declare(budget)
	b.plan, b.budget = &p, budget
	return p
}

// replan resolves the plan again for the same budget, after Init learned
// what the plan depends on (C-GaP's random order).
func (b *base) replan() {
	if b.plan != nil {
		b.Plan(b.budget)
	}
}

// Epochs is the plan's length for the base budget; it resolves the plan,
// so it comes before Init and Phase.
func (b *base) Epochs(budget int) int { return b.Plan(budget).Epochs() }

// Phase is the plan's phase at epoch ("sparse" before the plan is
// resolved).
func (b *base) Phase(epoch int) Phase {
	if b.plan == nil {
		return Phase{Name: "sparse", Partition: -1}
	}
	return b.plan.PhaseAt(epoch)
}

// RestartsOptimizerAt is true at the first epoch of a plan phase that
// restarts the optimiser (see Restarter).
func (b *base) RestartsOptimizerAt(epoch int) bool {
	return b.plan != nil && b.plan.RestartsAt(epoch)
}

// TargetsAtInit is true when the plan fixes the targets at Init from
// trained weights (see the TargetsAtInit interface and TargetsInit).
func (b *base) TargetsAtInit() bool {
	if b.plan != nil {
		return b.plan.Targets == TargetsInit
	}
	return b.declare(max(b.budget, 1)).Targets == TargetsInit
}

func (b base) errorf(f string, a ...any) error { return fmt.Errorf(b.name+": "+f, a...) }
