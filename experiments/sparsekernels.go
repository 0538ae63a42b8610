package experiments

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/nn"
	"github.com/gap-harness/gap/internal/atomicfile"
	"github.com/gap-harness/gap/methods"
	"github.com/gap-harness/gap/results"
)

// KernelRecord is one kernel choice of sparse-kernel training
// (Profile.SparseKernels): for a layer, op, input shape and thread count,
// whether the sparse kernels ran, and the calibration's forward times.
type KernelRecord struct {
	Layer, Op string
	Input     []int
	Threads   int
	Sparsity  float64
	// DenseSec and SparseSec are the calibration's best forward times (0
	// when the policy forced the choice).
	DenseSec, SparseSec float64
	Sparse              bool
	// Epoch is the run's epoch in which the choice was made.
	Epoch int
	// Stage is the P-GaP branch that made the choice ("branch-R-B"), empty
	// for the run's own stages.
	Stage string `json:",omitempty"`
}

// key identifies a choice: the layer, op, input shape, threads and the
// layer's sparsity (a layer whose sparsity changes between epochs, as in
// iterative pruning, is calibrated again at each new sparsity).
func (k KernelRecord) key() string {
	return fmt.Sprintf("%s %s %v t%d s%.6f", k.Layer, k.Op, k.Input, k.Threads, k.Sparsity)
}

// sparseEpoch is one epoch's sparse-kernel state: the layers prepared and
// their masks when prepared.
type sparseEpoch struct {
	params []*nn.Param
	masks  [][]float32
}

// clear drops the prepared patterns: evaluation and the method's epoch end
// run dense.
func (s *sparseEpoch) clear() {
	if s == nil {
		return
	}
	for _, p := range s.params {
		p.ClearSparse()
	}
}

// prepareSparseKernels prepares, when the profile asks for sparse-kernel
// training and the method keeps masks fixed through its epoch me, the sparse
// pattern of every prunable layer whose mask has zeros (all-ones masks,
// GaP's grown partition and dense layers, stay on the dense kernels), with
// the choices recorded so far at the layer's sparsity fixed. It returns nil
// when nothing runs sparse.
func (t *trainer) prepareSparseKernels(me int) (*sparseEpoch, error) {
	pol := t.spec.Profile.SparseKernels
	if pol == "" {
		return nil, nil
	}
	mf, ok := t.method.(methods.MaskFixer)
	if !ok || me < 0 || !mf.MasksFixedDuring(me) {
		return nil, nil
	}
	policy, err := engine.ParseKernelPolicy(pol)
	if err != nil {
		return nil, fmt.Errorf("profile %s: sparse_kernels: %w", t.spec.Profile.Name, err)
	}
	s := &sparseEpoch{}
	for _, p := range t.params.Prunable() {
		if p.Mask == nil || !slices.Contains(p.Mask, 0) {
			continue
		}
		// The weight gradient is computed at the mask's kept entries only
		// (the pruned ones stay zero): a MaskFixer reads no gradient at
		// pruned positions, clipping zeroes them before it measures the
		// norm, and ApplyMasks zeroes the pruned weights and their optimiser
		// state after every step, so a pruned position's gradient never
		// reaches a weight or a metric.
		if err := p.PrepareSparse(policy, engine.WeightGradMasked); err != nil {
			s.clear()
			return nil, err
		}
		sp := fmt.Sprintf("%.6f", p.Sparse.Sparsity())
		for _, k := range t.kernels {
			if k.Layer == p.Name && fmt.Sprintf("%.6f", k.Sparsity) == sp {
				p.Sparse.SetChoice(k.Op, k.Input, k.Threads, k.Sparse)
			}
		}
		s.params = append(s.params, p)
		s.masks = append(s.masks, slices.Clone(p.Mask))
	}
	return s, nil
}

// finishSparseKernels ends an epoch of sparse-kernel training: it checks
// that no prepared mask changed (the method's MaskFixer promise), records
// new kernel choices, and adds the epoch's wall time and the share of it
// spent in the sparse kernels to the curves ("epoch_wall_s",
// "sparse_kernel_share"), and the process CPU time of the epoch
// ("epoch_cpu_s", steadier than wall time on a shared machine). It does nothing without Profile.SparseKernels.
func (t *trainer) finishSparseKernels(s *sparseEpoch, epoch int, wall, cpu time.Duration) error {
	if t.spec.Profile.SparseKernels == "" {
		return nil
	}
	var busy float64
	if s != nil {
		known := map[string]bool{}
		for _, k := range t.kernels {
			known[k.key()] = true
		}
		for i, p := range s.params {
			if !slices.Equal(p.Mask, s.masks[i]) {
				return fmt.Errorf("epoch %d: %s changed the mask of %s during the epoch, though it declares masks fixed (methods.MaskFixer)", epoch, t.method.Name(), p.Name)
			}
			busy += p.Sparse.SparseSeconds()
			for _, c := range p.Sparse.Choices() {
				k := KernelRecord{Layer: c.Layer, Op: c.Op, Input: c.Input, Threads: c.Threads, Sparsity: c.Sparsity,
					DenseSec: c.DenseSec, SparseSec: c.SparseSec, Sparse: c.Sparse, Epoch: epoch}
				if !known[k.key()] {
					known[k.key()] = true
					t.kernels = append(t.kernels, k)
				}
			}
		}
		s.clear()
	}
	w := wall.Seconds()
	share := 0.0
	if w > 0 {
		share = busy / w
	}
	t.curves = append(t.curves,
		results.Point{Epoch: epoch + 1, Step: t.step, Metric: "epoch_wall_s", Value: w},
		results.Point{Epoch: epoch + 1, Step: t.step, Metric: "epoch_cpu_s", Value: cpu.Seconds()},
		results.Point{Epoch: epoch + 1, Step: t.step, Metric: "sparse_kernel_share", Value: share})
	slog.Debug("sparse kernels", "epoch", epoch, "wall_s", w, "sparse_share", share)
	return nil
}

// sparseKernelCurve reports whether a curve's metric is one of the timings
// finishSparseKernels records for every epoch.
func sparseKernelCurve(metric string) bool {
	return metric == "epoch_wall_s" || metric == "epoch_cpu_s" || metric == "sparse_kernel_share"
}

// processCPU is the process's user+system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// KernelsPath is where a sparse-kernel run's per-layer kernel choices are
// written: <results>/<table>/kernels/<run id>.json.
func KernelsPath(tableDir, id string) string { return filepath.Join(tableDir, "kernels", id+".json") }

// writeKernelRecord writes the run's kernel choices (Profile.SparseKernels
// only) to KernelsPath, atomically.
func writeKernelRecord(env Env, spec RunSpec, t *trainer) error {
	if spec.Profile.SparseKernels == "" {
		return nil
	}
	path := KernelsPath(env.Dir, spec.ID())
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("kernel choices: %w", err)
	}
	rec := struct {
		Run     string         `json:"run"`
		Policy  string         `json:"policy"`
		Machine string         `json:"machine"`
		Choices []KernelRecord `json:"choices"`
	}{spec.ID(), spec.Profile.SparseKernels, results.Machine(), slices.Concat(t.kernels, t.branchKernels)}
	return atomicfile.Write(path, func(w io.Writer) error {
		e := json.NewEncoder(w)
		e.SetIndent("", "  ")
		return e.Encode(rec)
	})
}

// newKernelChoices returns the choices of after that before does not hold
// (by key), with Stage set to stage: what a P-GaP branch, started from a
// checkpoint with the choices before, chose itself, or what a replayed
// record adds to a run's choices.
func newKernelChoices(before, after []KernelRecord, stage string) []KernelRecord {
	known := map[string]bool{}
	for _, k := range before {
		known[k.key()] = true
	}
	var out []KernelRecord
	for _, k := range after {
		if !known[k.key()] {
			k.Stage = stage
			out = append(out, k)
		}
	}
	return out
}

// replayKernelChoices loads, for a run that starts fresh with the sparse
// kernels, the kernel choices an earlier execution of the same run recorded
// (KernelsPath): the re-execution then takes the same kernels, and so gives
// the same bits, where a new calibration (timings) might choose otherwise.
// Only choices the file lacks are calibrated. A P-GaP branch's recorded
// choices are replayed as the run's own (the branches start from the run's
// checkpoints), so the new record lists them without their Stage.
func (t *trainer) replayKernelChoices(env Env) error {
	if t.spec.Profile.SparseKernels == "" {
		return nil
	}
	path := KernelsPath(env.Dir, t.spec.ID())
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("kernel choices: %w", err)
	}
	var rec struct {
		Run     string
		Choices []KernelRecord
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return fmt.Errorf("kernel choices %s: %w", path, err)
	}
	if rec.Run != t.spec.ID() {
		return fmt.Errorf("kernel choices %s: field run is %q, expected this run's id %q", path, rec.Run, t.spec.ID())
	}
	for i, k := range rec.Choices {
		if k.Layer == "" || k.Op == "" || len(k.Input) == 0 || k.Threads < 1 {
			return fmt.Errorf("kernel choices %s: choice %d: want a layer, an op, an input shape and threads >= 1, got %+v", path, i, k)
		}
	}
	add := newKernelChoices(t.kernels, rec.Choices, "")
	t.kernels = append(t.kernels, add...)
	env.log().Info("replaying recorded kernel choices", "run", t.spec.ID(), "choices", len(add), "file", path)
	return nil
}
