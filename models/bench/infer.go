package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"syscall"
	"time"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/nn"
	"github.com/gap-harness/gap/models"
)

// InferConfig says what Infer times.
type InferConfig struct {
	// Model names the network (models.Names()); Config its size and seed.
	Model  string
	Config models.Config
	// Sparsity is the uniform sparsity of every prunable weight that is not
	// FirstOrLast (those stay dense), applied as a random mask from the seed.
	// Ignored when Prepared is set.
	Sparsity float64
	// Prepared, when non-nil, is a model whose weights and masks are already
	// set (e.g. loaded from a run's checkpoint); Model and Config then only
	// label the result.
	Prepared models.Model
	// Batch, Threads and Reps: batch size, tape threads, timed forwards of
	// each kind (default 3).
	Batch, Threads, Reps int
	// Policy is the sparse layers' kernel policy (KernelAuto: per-layer
	// calibration, KernelSparse: every masked layer sparse).
	Policy engine.KernelPolicy
	// Fold times the model's inference copy (models.Folder: batch norm
	// folded into the convolutions, bias, residual add and ReLU fused into
	// their epilogues) on both sides, dense and sparse, when the model has
	// one; otherwise the plain evaluation-mode forward.
	Fold bool
}

// InferResult is one dense-versus-sparse inference timing.
type InferResult struct {
	Model    string
	Sparsity float64
	Batch    int
	Threads  int
	Reps     int
	Policy   engine.KernelPolicy
	// DenseSec and SparseSec are the median forward times (evaluation mode)
	// through the dense kernels on the masked weights and through the sparse
	// kernels where the policy chose them; Speedup = DenseSec / SparseSec.
	DenseSec, SparseSec, Speedup float64
	// DenseCPU and SparseCPU are the median process CPU seconds per forward
	// (less disturbed than wall time on a shared machine); CPUSpeedup is
	// their ratio.
	DenseCPU, SparseCPU, CPUSpeedup float64
	// MaxRelDiff is max |sparse - dense| / max |dense| over the logits.
	MaxRelDiff float64
	// Folded is true when both sides ran the folded inference copy;
	// FoldRelDiff is then max |folded dense - unfolded| / max |unfolded|
	// over the logits (the folding's float32 error).
	Folded      bool
	FoldRelDiff float64
	// SparseLayers of PreparedLayers chose the sparse kernels; Choices lists
	// every choice.
	SparseLayers, PreparedLayers int
	Choices                      []engine.KernelChoice
	// WholeModelDense is true when, under KernelAuto, the per-layer choices
	// together were slower than the dense model in the whole-model check
	// (wholeModelCheckReps alternating forwards), so every layer was set to
	// the dense kernels.
	WholeModelDense bool
}

// wholeModelCheckReps is the number of alternating whole-model forwards of
// the check that follows the per-layer calibration under KernelAuto.
const wholeModelCheckReps = 3

// chosenSlower reports whether the per-layer choices lost to the dense
// model in the whole-model check: the median of their forward times is
// above the dense forwards' median.
func chosenSlower(dense, chosen []float64) bool { return median(chosen) > median(dense) }

// forceDense sets every choice made so far on the patterns to the dense
// kernels (the whole-model fallback).
func forceDense(prepared []*engine.SparseWeight[float32]) {
	for _, s := range prepared {
		for _, ch := range s.Choices() {
			s.SetChoice(ch.Op, ch.Input, ch.Threads, false)
		}
	}
}

// String is the result's RESULT line.
func (r InferResult) String() string {
	return fmt.Sprintf("RESULT infer model=%s sparsity=%.2f batch=%d threads=%d policy=%s fold=%v dense_s=%.4f sparse_s=%.4f speedup=%.2f dense_cpu_s=%.4f sparse_cpu_s=%.4f cpu_speedup=%.2f sparse_layers=%d/%d max_rel_diff=%.1e fold_rel_diff=%.1e whole_model_dense=%v",
		r.Model, r.Sparsity, r.Batch, r.Threads, r.Policy, r.Folded, r.DenseSec, r.SparseSec, r.Speedup, r.DenseCPU, r.SparseCPU, r.CPUSpeedup, r.SparseLayers, r.PreparedLayers, r.MaxRelDiff, r.FoldRelDiff, r.WholeModelDense)
}

// UniformMasks gives every prunable weight that is not FirstOrLast a random
// mask pruning round(sparsity*n) of its n entries, and applies the masks.
func UniformMasks(ps *nn.ParamSet, sparsity float64, seed uint64) error {
	if sparsity < 0 || sparsity > 1 || math.IsNaN(sparsity) {
		return fmt.Errorf("bench: sparsity %g outside [0, 1]", sparsity)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	for _, p := range ps.Prunable() {
		if p.FirstOrLast {
			continue
		}
		n := p.Len()
		m := make([]float32, n)
		for i := range m {
			m[i] = 1
		}
		for _, i := range rng.Perm(n)[:int(math.Round(sparsity*float64(n)))] {
			m[i] = 0
		}
		p.Mask = m
	}
	ps.ApplyMasks()
	return nil
}

// Infer times the model's evaluation-mode forward pass dense-masked and with
// the sparse kernels on every masked weight, alternating the two so that
// both see the same machine load, and returns the medians.
func Infer(c InferConfig) (InferResult, error) {
	if c.Batch < 1 || c.Threads < 1 {
		return InferResult{}, fmt.Errorf("bench: batch %d and threads %d must be >= 1", c.Batch, c.Threads)
	}
	if c.Reps < 1 {
		c.Reps = 3
	}
	m := c.Prepared
	if m == nil {
		var err error
		if m, err = models.New(c.Model, c.Config); err != nil {
			return InferResult{}, fmt.Errorf("bench: %w", err)
		}
		if err := UniformMasks(m.Params(), c.Sparsity, c.Config.Seed); err != nil {
			return InferResult{}, err
		}
	}
	ps := m.Params()
	ch, h, w := m.InputShape()
	rng := rand.New(rand.NewPCG(c.Config.Seed, 7))
	x := engine.NewTensor[float32](c.Batch, ch, h, w)
	for i := range x.Data() {
		x.Data()[i] = float32(rng.NormFloat64())
	}
	tp := engine.NewTape[float32](c.Threads)
	tp.SetNoGrad(true)
	forward := func() []float32 {
		tp.Reset()
		return m.Forward(tp, tp.Const(x), false).Value.Data()
	}
	var masked []*nn.Param
	for _, p := range ps.Prunable() {
		if p.Mask != nil {
			masked = append(masked, p)
		}
	}
	var foldRel float64
	folder, folded := m.(models.Folder)
	folded = folded && c.Fold
	if folded {
		for _, p := range masked {
			p.ClearSparse()
		}
		ref := slices.Clone(forward())
		inf, err := folder.Fold()
		if err != nil {
			return InferResult{}, fmt.Errorf("bench: %w", err)
		}
		forward = func() []float32 {
			tp.Reset()
			return inf.Forward(tp, tp.Const(x)).Value.Data()
		}
		masked = inf.Masked()
		for _, p := range masked {
			p.ClearSparse()
		}
		foldRel = relDiff(ref, forward())
	}
	setSparse := func(on bool) error {
		for _, p := range masked {
			if !on {
				p.ClearSparse()
			} else if p.Sparse == nil {
				return fmt.Errorf("bench: %s has no prepared pattern", p.Name)
			}
		}
		return nil
	}
	// Prepare the patterns once, run the calibration (first sparse forward),
	// keep them, and switch layers between the kernels by swapping Sparse.
	prepared := make([]*engine.SparseWeight[float32], len(masked))
	for i, p := range masked {
		if err := p.PrepareSparse(c.Policy, engine.WeightGradDense); err != nil {
			return InferResult{}, err
		}
		prepared[i] = p.Sparse
	}
	restore := func() {
		for i, p := range masked {
			p.Sparse = prepared[i]
		}
	}
	sparseOut := slices.Clone(forward()) // warm-up and calibration
	wholeDense := false
	if c.Policy == engine.KernelAuto {
		// The whole-model check: each layer's choice was faster alone, but
		// together (fixed costs outside the products, layers whose timings
		// were within noise, e.g. at batch 1) they can lose to the dense
		// model; then every layer goes dense.
		var d, ch []float64
		for i := 0; i < wholeModelCheckReps; i++ {
			_ = setSparse(false)
			t0 := time.Now()
			forward()
			d = append(d, time.Since(t0).Seconds())
			restore()
			t0 = time.Now()
			forward()
			ch = append(ch, time.Since(t0).Seconds())
		}
		if chosenSlower(d, ch) {
			forceDense(prepared)
			wholeDense = true
			sparseOut = slices.Clone(forward())
		}
	}
	if err := setSparse(false); err != nil {
		return InferResult{}, err
	}
	denseOut := slices.Clone(forward()) // warm-up
	var dts, sts, dcs, scs []float64
	timed := func(wall, cpu *[]float64) {
		c0, t0 := processCPU(), time.Now()
		forward()
		*wall = append(*wall, time.Since(t0).Seconds())
		*cpu = append(*cpu, (processCPU() - c0).Seconds())
	}
	for i := 0; i < c.Reps; i++ {
		timed(&dts, &dcs)
		restore()
		timed(&sts, &scs)
		_ = setSparse(false)
	}
	restore()
	r := InferResult{Model: m.Name(), Sparsity: c.Sparsity, Batch: c.Batch, Threads: c.Threads, Reps: c.Reps, Policy: c.Policy,
		DenseSec: median(dts), SparseSec: median(sts), PreparedLayers: len(masked), Folded: folded, FoldRelDiff: foldRel,
		WholeModelDense: wholeDense}
	for _, p := range masked {
		r.Choices = append(r.Choices, p.Sparse.Choices()...)
	}
	r.Speedup = r.DenseSec / r.SparseSec
	r.DenseCPU, r.SparseCPU = median(dcs), median(scs)
	r.CPUSpeedup = r.DenseCPU / r.SparseCPU
	r.MaxRelDiff = relDiff(denseOut, sparseOut)
	for _, ch := range r.Choices {
		if ch.Sparse {
			r.SparseLayers++
		}
	}
	return r, nil
}

// relDiff is max |got - want| / max |want| (0 when want is all zero).
func relDiff(want, got []float32) float64 {
	var maxAbs, maxDiff float64
	for i, v := range want {
		maxAbs = max(maxAbs, math.Abs(float64(v)))
		maxDiff = max(maxDiff, math.Abs(float64(got[i]-v)))
	}
	if maxAbs == 0 {
		return 0
	}
	return maxDiff / maxAbs
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// processCPU is the process's user+system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
