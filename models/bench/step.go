package bench

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/models"
)

// Result is one timed run of the training step.
type Result struct {
	// Model, Batch, Threads and Steps are the settings timed.
	Model                 string
	Batch, Threads, Steps int
	// SecPerStep is the mean wall time of one step; ImgPerSec = Batch/SecPerStep.
	SecPerStep, ImgPerSec float64
	// PeakRSSMB is the process's peak resident set (VmHWM) in MiB, for the
	// whole process so far (not only this run).
	PeakRSSMB float64
	// Loss is the loss of the last timed step (a sanity check).
	Loss float32
	// CPUSecPerStep is the process CPU time (user+system) per timed step,
	// steadier than wall time on a shared machine.
	CPUSecPerStep float64
}

// String is torch_reference.py's RESULT line:
//
//	RESULT model=resnet20 batch=128 threads=2 s_per_step=0.3612 img_per_s=354.4 peak_rss_mb=612
func (r Result) String() string {
	return fmt.Sprintf("RESULT model=%s batch=%d threads=%d s_per_step=%.4f img_per_s=%.1f peak_rss_mb=%.0f",
		r.Model, r.Batch, r.Threads, r.SecPerStep, r.ImgPerSec, r.PeakRSSMB)
}

// Step times the reference training step of model (mlp, lenet5, conv2,
// resnet20, or any other models.Names() entry at its default config) at the
// given batch and thread count: warmup untimed steps, then the mean of steps
// timed ones. Model and data come from seed 0.
func Step(model string, batch, steps, warmup, threads int) (Result, error) {
	return StepSparse(SparseStep{Model: model, Batch: batch, Steps: steps, Warmup: warmup, Threads: threads})
}

// SparseStep is a training-step benchmark with uniform masks on the prunable
// layers (first conv and last linear dense) and, unless Kernels is
// KernelDense, the sparse kernels on every masked layer.
type SparseStep struct {
	Model                         string
	Config                        models.Config
	Batch, Steps, Warmup, Threads int
	// Points is the point count of a point-cloud model's step (0: its
	// bench default, PointNet2Points); refused for the other models.
	Points     int
	Sparsity   float64 // 0: no masks (the plain dense step)
	Kernels    engine.KernelPolicy
	WeightGrad engine.WeightGrad
}

// StepSparse times the training step of c (as Step) and returns the result;
// with Sparsity > 0 the masks stay fixed through the run (a static-sparse
// epoch), so the prepared patterns stay valid.
func StepSparse(c SparseStep) (Result, error) {
	model, batch, steps, warmup, threads := c.Model, c.Batch, c.Steps, c.Warmup, c.Threads
	if steps < 1 || warmup < 0 {
		return Result{}, fmt.Errorf("bench: steps %d must be >= 1 and warmup %d >= 0", steps, warmup)
	}
	switch model {
	case "transformer", "pointnet2", "ssd":
		if c.Sparsity > 0 {
			return Result{}, fmt.Errorf("bench: -sparsity is supported for the image models only, not %s", model)
		}
	}
	if c.Points < 0 || (c.Points > 0 && model != "pointnet2") {
		return Result{}, fmt.Errorf("bench: points %d: expected a positive count, for pointnet2 only (model %s)", c.Points, model)
	}
	switch model {
	case "transformer":
		return transformerStep(batch, steps, warmup, threads)
	case "pointnet2":
		points := c.Points
		if points == 0 {
			points = PointNet2Points
		}
		return PointNet2Step(batch, points, steps, warmup, threads)
	case "ssd":
		return stepSSD(batch, steps, warmup, threads)
	}
	s, err := NewStepper(model, c.Config, batch, threads, c.Config.Seed)
	if err != nil {
		return Result{}, err
	}
	if c.Sparsity > 0 {
		ps := s.Model.Params()
		if err := UniformMasks(ps, c.Sparsity, c.Config.Seed); err != nil {
			return Result{}, err
		}
		if c.Kernels != engine.KernelDense {
			for _, p := range ps.Prunable() {
				if p.Mask == nil {
					continue
				}
				if err := p.PrepareSparse(c.Kernels, c.WeightGrad); err != nil {
					return Result{}, err
				}
			}
		}
	}
	return timeSteps(model, batch, steps, warmup, threads, s.Step)
}

// timeSteps runs warmup untimed calls of step, then times steps calls: the
// mean wall and process CPU time per step, the peak RSS and the last loss.
func timeSteps(model string, batch, steps, warmup, threads int, step func() (float32, error)) (Result, error) {
	if steps < 1 || warmup < 0 {
		return Result{}, fmt.Errorf("bench: steps %d must be >= 1 and warmup %d >= 0", steps, warmup)
	}
	for i := 0; i < warmup; i++ {
		if _, err := step(); err != nil {
			return Result{}, fmt.Errorf("bench: warm-up: %w", err)
		}
	}
	var loss float32
	var err error
	c0, t0 := processCPU(), time.Now()
	for i := 0; i < steps; i++ {
		if loss, err = step(); err != nil {
			return Result{}, err
		}
	}
	sec := time.Since(t0).Seconds() / float64(steps)
	cpu := (processCPU() - c0).Seconds() / float64(steps)
	return Result{Model: model, Batch: batch, Threads: threads, Steps: steps, SecPerStep: sec,
		ImgPerSec: float64(batch) / sec, PeakRSSMB: PeakRSSMB(), Loss: loss, CPUSecPerStep: cpu}, nil
}

// PeakRSSMB returns the process's peak resident set size in MiB: VmHWM from
// /proc/self/status, or getrusage's ru_maxrss where /proc is unavailable.
func PeakRSSMB() float64 {
	if f, err := os.Open("/proc/self/status"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
				fs := strings.Fields(rest)
				if len(fs) > 0 {
					if kb, err := strconv.ParseFloat(fs[0], 64); err == nil {
						return kb / 1024
					}
				}
			}
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		return float64(ru.Maxrss) / 1024 // kilobytes on Linux
	}
	return 0
}
