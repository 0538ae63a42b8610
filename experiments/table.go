// Package experiments holds the paper's tables as typed Go values and the runner
// that trains their rows: the train loop on the engine, evaluation every epoch,
// the method's hooks, checkpoints with automatic resume, run identities, and a
// scheduler that runs several runs at once with the cores shared out.
package experiments

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/gap-harness/gap/results"
)

// Table is one of the paper's tables: what is trained, on what, and which rows
// (method x sparsity x distribution) it compares.
type Table struct {
	Name   string // e.g. "imagenet"
	Title  string
	Suite  string // image, detection, pointcloud, translation
	Metric string // headline metric, a key of the runs' final metrics ("top1")
	// MetricLabel is how reports label the metric ("top-1 %").
	MetricLabel string
	Rows        []Row
	Profiles    map[string]Profile
	// DenseLayers says which prunable layers every sparse row keeps dense:
	// "first" (the first layer only: RigL's ImageNet choice), "first-last"
	// (the first and the last), or "none" / "" (every layer pruned).
	DenseLayers string
}

// Row is one line of a table.
type Row struct {
	Method       string            // registry name in package methods
	Params       map[string]string // method hyper-parameters beyond the defaults
	Sparsity     float64           // target overall sparsity of the prunable layers
	Distribution string            // uniform, global (non-uniform, GaP's) or erk
	// Pending, when set, says why the row is not run yet; it is listed, never faked.
	Pending string
	// Budget is the row's training budget: "" or "x1" (the profile's base
	// epochs), "xN" (N times them: RigL's "5x"), or "gap" (the epochs of
	// the table's C-GaP row at the same profile, for budget-matched
	// comparisons). The method gets the resolved epochs as its base and
	// stretches its schedule with it (RigL's T_end, GMP's window, the
	// phases of prune-from-pretrained).
	Budget string
	// Variant, when set, tells apart rows of one method, sparsity and
	// distribution that differ in Params (an ablation); it ends the key
	// ("pgap/0.9/uniform#T2-bn").
	Variant string
}

// Key identifies a row within its table: results.RowKey(method, sparsity,
// distribution), e.g. "cgap/0.9/uniform", followed by "@<budget>" when the
// budget is not x1 ("rigl/0.9/erk@x5", "rigl/0.9/erk@gap").
func (r Row) Key() string {
	k := results.RowKey(r.Method, r.Sparsity, r.Distribution)
	if r.Budget != "" && r.Budget != "x1" {
		k += "@" + r.Budget
	}
	if r.Variant != "" {
		k += "#" + r.Variant
	}
	return k
}

// budgetMultiple parses "", "x1", "xN" (N a positive integer); ok is false
// for "gap" and anything else.
func budgetMultiple(b string) (n int, ok bool) {
	if b == "" {
		return 1, true
	}
	if !strings.HasPrefix(b, "x") {
		return 0, false
	}
	n, err := strconv.Atoi(b[1:])
	if err != nil || n < 1 || n > 1000 {
		return 0, false
	}
	return n, true
}

// Profile is the scale a table runs at: smoke (seconds), default (minutes on two
// cores, a labelled proxy) or full (the paper's model and data; needs the data set).
type Profile struct {
	Name  string
	Proxy string // when non-empty: what this profile stands in for, printed in every output
	Model ModelSpec
	Data  DataSpec
	// Epochs is the base training budget of a row; a method may derive its own
	// (GaP's schedule) from its hyper-parameters.
	Epochs int
	Batch  int
	Optim  OptimSpec
	// MethodParams overrides methods' defaults at this profile's scale, by method name.
	MethodParams map[string]map[string]string
	// EvalBatch is the batch size used for evaluation.
	EvalBatch int
	// GlobalWarmupEpochs trains the model dense for this many epochs before
	// the methods that fix their targets at Init (C-GaP, P-GaP, static,
	// SNIP, RigL, SET) compute "global" ratios, so that every method of a
	// global column takes them from trained weights (GMP and
	// prune-from-pretrained prune a trained model anyway). The warm-up is
	// part of the run: its epochs, curves and FLOPs are counted. 0: ratios
	// from the initial weights.
	GlobalWarmupEpochs int
	// SparseKernels, when non-empty ("auto" or "sparse"), trains the
	// layers whose masks a method keeps fixed through an epoch
	// (methods.MaskFixer) with the engine's sparse kernels for the forward
	// pass and the input gradient (the weight gradient stays dense): "auto"
	// calibrates per layer and keeps the faster kernel, "sparse" forces the
	// sparse ones. Part of the run's identity only when set. Results agree
	// with the dense-masked run up to float32 summation order.
	SparseKernels string
	// Options holds a suite's own settings (model and data details that
	// ModelSpec and DataSpec do not name), read by its TaskBuilder; every
	// entry is part of the run's identity.
	Options map[string]string
}

// ModelSpec names a model builder and its size.
type ModelSpec struct {
	Name      string  // mlp, lenet5, conv2, resnet20, resnet32, resnet18, resnet50
	Width     float64 // channel multiplier (1 = the paper's)
	Classes   int
	InputSize int  // side of the square input
	InputC    int  // input channels
	SmallStem bool // 3x3 stride-1 stem without max-pool (CIFAR-style) for small inputs
}

// DataSpec names a data set and how much of it a profile uses.
type DataSpec struct {
	Name   string // mnist, fashion-mnist, cifar10, imagenet, ...
	TrainN int    // examples per epoch drawn from the training split (0 = all)
	TestN  int    // evaluation examples (0 = all)
	Size   int    // resize to Size x Size (0 = native)
	// Pad and HFlip are the training augmentation: a random crop from the image
	// zero-padded by Pad pixels, and a horizontal flip with probability 1/2.
	Pad   int
	HFlip bool
}

// OptimSpec is the optimiser and learning-rate schedule of a profile.
type OptimSpec struct {
	Name        string // sgd, adam, adamw
	LR          float64
	Momentum    float64
	Nesterov    bool
	WeightDecay float64
	// Beta1, Beta2 and Eps are Adam's (and AdamW's) moment decay rates and
	// epsilon; zero takes PyTorch's defaults (0.9, 0.999, 1e-8).
	Beta1, Beta2, Eps float64
	// Schedule is the learning-rate schedule: constant, cosine (decays over
	// the whole run), step (LR times StepGamma every StepEpochs epochs,
	// never below MinLR: PointNet++'s recipe; counted over the whole run as
	// cosine, so an optimiser restart does not restore the rate) or
	// inverse-sqrt (fairseq's: a linear warm-up from 0 to LR over the
	// warm-up, then LR*sqrt(warmup/step); counted from the optimiser's
	// start, so each restart begins it afresh, as each GaP step of the
	// reference is a fresh fairseq process).
	Schedule string
	// StepEpochs, StepGamma and MinLR are the step schedule's period in
	// epochs (>= 1), factor (in (0, 1]) and lower clip (>= 0; 0: none).
	// Used by "step" only, and recorded in a run's settings only when set.
	StepEpochs int
	StepGamma  float64
	MinLR      float64
	// StepAt, when set, makes "step" a multi-step decay
	// (torch.optim.lr_scheduler.MultiStepLR, optim.MultiStep: NVIDIA
	// SSD300's recipe): the rate is multiplied by StepGamma at each of these
	// epochs of the profile's budget (Profile.Epochs) instead of every
	// StepEpochs; increasing, in 1..Epochs-1; MinLR must be 0. Like cosine,
	// the milestones stretch over the run: in a run of T epochs in all (a
	// GaP row, a warm-up added) milestone m falls at step
	// round(m/Epochs * T * steps per epoch), so a run of the profile's
	// length decays at exactly epochs m. Recorded only when set.
	StepAt []int
	// WarmupEpochs and WarmupSteps are the linear warm-up from a zero rate,
	// restarted with the optimiser (both set: they add up). With
	// inverse-sqrt it is that schedule's own warm-up (zero: no warm-up,
	// LR/sqrt(step)).
	WarmupEpochs   int
	WarmupSteps    int
	LabelSmoothing float64
	ClipNorm       float64 // 0 = no clipping
	// KeepStateAcrossPhases keeps the optimiser where a method's phases
	// would restart it (methods.Restarter: each GaP step, the fine-tune of
	// prune-from-pretrained). By default a fresh optimiser starts there (zero
	// state, Adam's step counter at 0, the warm-up restarted), as the
	// reference code starts a new process for each of those phases (P-GaP's
	// branches and fine-tune always start fresh optimisers); the schedule's
	// decay runs on over the whole run either way.
	KeepStateAcrossPhases bool
}

// Summary describes the optimiser and its schedule in one line for a
// profile of `epochs` base epochs (what `gap list` prints), e.g. "sgd lr
// 0.0026 momentum 0.9 wd 0.0005; step x0.1 at epochs 43,54 of 65 (same
// fractions of a longer run); warm-up 300 steps".
func (o OptimSpec) Summary(epochs int) string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	s := o.Name + " lr " + f(o.LR)
	if o.Momentum != 0 {
		s += " momentum " + f(o.Momentum)
		if o.Nesterov {
			s += " (nesterov)"
		}
	}
	if o.WeightDecay != 0 {
		s += " wd " + f(o.WeightDecay)
	}
	sched := o.Schedule
	if sched == "" {
		sched = "constant"
	}
	switch {
	case sched == "step" && len(o.StepAt) > 0:
		at := make([]string, len(o.StepAt))
		for i, e := range o.StepAt {
			at[i] = strconv.Itoa(e)
		}
		sched = fmt.Sprintf("step x%s at epochs %s of %d (same fractions of a longer run)", f(o.StepGamma), strings.Join(at, ","), epochs)
	case sched == "step":
		sched = fmt.Sprintf("step x%s every %d epochs", f(o.StepGamma), o.StepEpochs)
		if o.MinLR > 0 {
			sched += ", at least " + f(o.MinLR)
		}
	case sched == "cosine":
		sched = "cosine over the run"
	}
	s += "; " + sched
	switch {
	case o.WarmupEpochs > 0 && o.WarmupSteps > 0:
		s += fmt.Sprintf("; warm-up %d epochs + %d steps", o.WarmupEpochs, o.WarmupSteps)
	case o.WarmupEpochs > 0:
		s += fmt.Sprintf("; warm-up %d epochs", o.WarmupEpochs)
	case o.WarmupSteps > 0:
		s += fmt.Sprintf("; warm-up %d steps", o.WarmupSteps)
	}
	return s
}

// checkStep checks the step schedule's settings.
func (o OptimSpec) checkStep(epochs int) error {
	if len(o.StepAt) > 0 {
		switch {
		case !(o.StepGamma > 0 && o.StepGamma <= 1):
			return fmt.Errorf("optim.step_gamma %v: expected a factor in (0, 1] with the step schedule", o.StepGamma)
		case o.MinLR != 0:
			return fmt.Errorf("optim.min_lr %v: expected 0 with milestones (optim.step_at %v)", o.MinLR, o.StepAt)
		case o.StepEpochs != 0:
			return fmt.Errorf("optim.step_epochs %d: expected 0 with milestones (optim.step_at %v): one or the other", o.StepEpochs, o.StepAt)
		}
		for i, m := range o.StepAt {
			if m < 1 || m >= epochs || (i > 0 && m <= o.StepAt[i-1]) {
				return fmt.Errorf("optim.step_at %v: expected increasing epochs in 1..%d (the profile's %d epochs)", o.StepAt, epochs-1, epochs)
			}
		}
		return nil
	}
	switch {
	case o.StepEpochs < 1:
		return fmt.Errorf("optim.step_epochs %d: expected >= 1 with the step schedule", o.StepEpochs)
	case !(o.StepGamma > 0 && o.StepGamma <= 1):
		return fmt.Errorf("optim.step_gamma %v: expected a factor in (0, 1] with the step schedule", o.StepGamma)
	case !(o.MinLR >= 0):
		return fmt.Errorf("optim.min_lr %v: expected >= 0", o.MinLR)
	}
	return nil
}

// RowKeys returns the keys of a table's rows in table order.
func (t *Table) RowKeys() []string {
	keys := make([]string, len(t.Rows))
	for i, r := range t.Rows {
		keys[i] = r.Key()
	}
	return keys
}

// Profile returns the named profile, or an error listing the valid ones.
func (t *Table) Profile(name string) (Profile, error) {
	p, ok := t.Profiles[name]
	if !ok {
		return Profile{}, fmt.Errorf("table %s has no profile %q (valid: %s)", t.Name, name, strings.Join(t.ProfileNames(), ", "))
	}
	return p, nil
}

// ProfileNames returns the table's profile names, sorted.
func (t *Table) ProfileNames() []string {
	names := make([]string, 0, len(t.Profiles))
	for n := range t.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
