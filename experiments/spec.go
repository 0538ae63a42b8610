package experiments

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// RunSpec is everything that determines one run: the table row, the profile, the
// seed and where the data comes from.
type RunSpec struct {
	Table   string
	Suite   string
	Metric  string
	Row     Row
	Profile Profile
	Seed    int64
	// DataPath is the root of the real data set for profiles that need one.
	DataPath string
	// DenseLayers says which prunable layers every sparse row keeps dense:
	// "first" (the first layer, as RigL's ImageNet runs), "first-last" or
	// "none" (see Table.DenseLayers).
	DenseLayers string
	// Epochs is the row's budget in epochs (its Budget resolved): the base
	// the method derives its schedule from; 0 means Profile.Epochs (x1).
	// Training FLOPs stay reported against dense at Profile.Epochs.
	Epochs int
	// MethodResolved holds every parameter of the row's method with its
	// resolved value (given or the method's default; see
	// methods.Registry.Resolve): the run identity hashes these, so a
	// changed default or a new parameter never reuses a stale result. Nil
	// means the given values only (MethodParams).
	MethodResolved map[string]string
	// MethodRevision is the method's methods.Revisioned revision (0:
	// none); it enters the run identity only when > 0.
	MethodRevision int
	// budgetErr is why the row's budget could not be resolved.
	budgetErr string
	// Threads is the kernels' thread count. Results are bit-identical only for
	// the same count, so it is part of the run's identity; 0 means the
	// executing environment's (Env.Threads).
	Threads int
}

// MethodParams merges the profile's method parameters under the row's.
func (s RunSpec) MethodParams() map[string]string {
	out := map[string]string{}
	for k, v := range s.Profile.MethodParams[s.Row.Method] {
		out[k] = v
	}
	for k, v := range s.Row.Params {
		out[k] = v
	}
	return out
}

// resolvedMethodParams is MethodResolved, or the given parameters
// (MethodParams) where the defaults were not resolved.
func (s RunSpec) resolvedMethodParams() map[string]string {
	if s.MethodResolved != nil {
		return s.MethodResolved
	}
	return s.MethodParams()
}

// Settings returns every resolved setting of the run, stringified; the run's
// identity is a hash of them.
func (s RunSpec) Settings() map[string]string {
	p := s.Profile
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	m := map[string]string{
		"table":              s.Table,
		"suite":              s.Suite,
		"profile":            p.Name,
		"row":                s.Row.Key(),
		"method":             s.Row.Method,
		"sparsity":           f(s.Row.Sparsity),
		"distribution":       s.Row.Distribution,
		"dense_layers":       s.denseRule(),
		"seed":               strconv.FormatInt(s.Seed, 10),
		"threads":            strconv.Itoa(s.Threads),
		"model":              p.Model.Name,
		"model.width":        f(p.Model.Width),
		"model.classes":      strconv.Itoa(p.Model.Classes),
		"model.input_size":   strconv.Itoa(p.Model.InputSize),
		"model.input_c":      strconv.Itoa(p.Model.InputC),
		"model.small_stem":   strconv.FormatBool(p.Model.SmallStem),
		"data":               p.Data.Name,
		"data.train_n":       strconv.Itoa(p.Data.TrainN),
		"data.test_n":        strconv.Itoa(p.Data.TestN),
		"data.size":          strconv.Itoa(p.Data.Size),
		"data.pad":           strconv.Itoa(p.Data.Pad),
		"data.hflip":         strconv.FormatBool(p.Data.HFlip),
		"epochs.base":        strconv.Itoa(p.Epochs),
		"epochs.row":         strconv.Itoa(s.baseEpochs()),
		"budget":             s.Row.Budget,
		"global_warmup":      strconv.Itoa(p.GlobalWarmupEpochs),
		"batch":              strconv.Itoa(p.Batch),
		"eval_batch":         strconv.Itoa(p.EvalBatch),
		"optim":              p.Optim.Name,
		"optim.lr":           f(p.Optim.LR),
		"optim.momentum":     f(p.Optim.Momentum),
		"optim.nesterov":     strconv.FormatBool(p.Optim.Nesterov),
		"optim.weight_decay": f(p.Optim.WeightDecay),
		"optim.schedule":     p.Optim.Schedule,
		"optim.warmup":       strconv.Itoa(p.Optim.WarmupEpochs),
		"optim.label_smooth": f(p.Optim.LabelSmoothing),
		"optim.clip_norm":    f(p.Optim.ClipNorm),
		"optim.keep_state":   strconv.FormatBool(p.Optim.KeepStateAcrossPhases),
	}
	// Settings added after runs were recorded enter only when set, so the
	// identities of the runs that don't use them stay as they were.
	for k, v := range map[string]float64{"optim.beta1": p.Optim.Beta1, "optim.beta2": p.Optim.Beta2, "optim.eps": p.Optim.Eps} {
		if v != 0 {
			m[k] = f(v)
		}
	}
	if p.Optim.WarmupSteps != 0 {
		m["optim.warmup_steps"] = strconv.Itoa(p.Optim.WarmupSteps)
	}
	if p.Optim.StepEpochs != 0 {
		m["optim.step_epochs"] = strconv.Itoa(p.Optim.StepEpochs)
	}
	if p.Optim.StepGamma != 0 {
		m["optim.step_gamma"] = f(p.Optim.StepGamma)
	}
	if p.Optim.MinLR != 0 {
		m["optim.min_lr"] = f(p.Optim.MinLR)
	}
	if len(p.Optim.StepAt) > 0 {
		at := make([]string, len(p.Optim.StepAt))
		for i, e := range p.Optim.StepAt {
			at[i] = strconv.Itoa(e)
		}
		m["optim.step_at"] = strings.Join(at, ",")
	}
	if s.DataPath != "" {
		m["data.path"] = s.DataPath
	}
	if p.SparseKernels != "" {
		m["sparse_kernels"] = p.SparseKernels
	}
	for k, v := range p.Options {
		m["opt."+k] = v
	}
	for k, v := range s.resolvedMethodParams() {
		m["method."+k] = v
	}
	if s.MethodRevision > 0 {
		m["method.revision"] = strconv.Itoa(s.MethodRevision)
	}
	return m
}

// Validate checks the settings a run cannot start without: a sparsity in
// [0, 1) (NaN refused), a base budget of at least one epoch, a positive
// batch and thread count.
func (s RunSpec) Validate() error {
	r, p := s.Row, s.Profile
	if s.budgetErr != "" {
		return errors.New(s.budgetErr)
	}
	switch {
	case !(r.Sparsity >= 0 && r.Sparsity < 1):
		return fmt.Errorf("row %s: sparsity %v: expected a value in [0, 1)", r.Key(), r.Sparsity)
	case p.Epochs < 1 || p.Epochs > 1<<20:
		return fmt.Errorf("profile %s: epochs %d: expected 1..2^20", p.Name, p.Epochs)
	case p.Batch < 1:
		return fmt.Errorf("profile %s: batch %d: expected >= 1", p.Name, p.Batch)
	case p.Optim.WarmupEpochs < 0 || p.Optim.WarmupSteps < 0:
		return fmt.Errorf("profile %s: optim warm-up %d epochs + %d steps: expected >= 0", p.Name, p.Optim.WarmupEpochs, p.Optim.WarmupSteps)
	case p.Optim.Schedule == "step" && p.Optim.checkStep(p.Epochs) != nil:
		return fmt.Errorf("profile %s: %w", p.Name, p.Optim.checkStep(p.Epochs))
	case s.Epochs < 0 || s.Epochs > 1<<20:
		return fmt.Errorf("row %s: %d epochs: expected 1..2^20", r.Key(), s.Epochs)
	case s.Threads < 0:
		return fmt.Errorf("threads %d: expected >= 1 (0 = the environment's)", s.Threads)
	}
	switch p.SparseKernels {
	case "", "auto", "sparse":
	default:
		return fmt.Errorf("profile %s: sparse_kernels %q: expected auto or sparse (or unset)", p.Name, p.SparseKernels)
	}
	if _, err := denseSet(nil, s.denseRule()); err != nil {
		return fmt.Errorf("table %s: %w", s.Table, err)
	}
	return nil
}

// baseEpochs is the row's budget in epochs.
func (s RunSpec) baseEpochs() int {
	if s.Epochs > 0 {
		return s.Epochs
	}
	return s.Profile.Epochs
}

// denseRule is the run's dense-layer rule ("none" when unset).
func (s RunSpec) denseRule() string {
	if s.DenseLayers == "" {
		return "none"
	}
	return s.DenseLayers
}

// ID is the run identity: the first 16 hex digits of the SHA-256 of the sorted
// settings. Identical settings give the same ID, so finished runs are skipped and
// interrupted ones resume.
func (s RunSpec) ID() string {
	return HashSettings(s.Settings())
}

// HashSettings hashes a settings map in a canonical order.
func HashSettings(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q\n", k, m[k])
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:8])
}
