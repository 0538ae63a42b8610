package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/blas"
	"github.com/gap-harness/gap/engine/nn"
	"github.com/gap-harness/gap/experiments"
	"github.com/gap-harness/gap/internal/atomicfile"
	"github.com/gap-harness/gap/models"
	"github.com/gap-harness/gap/models/bench"
	"github.com/gap-harness/gap/reports"
	"github.com/gap-harness/gap/results"
)

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("usage: gap bench step|infer|export|compare [flags]")
	}
	switch args[0] {
	case "step":
		return benchStep(args[1:], stdout, stderr)
	case "infer":
		return benchInfer(args[1:], stdout, stderr)
	case "export":
		return benchExport(args[1:], stdout, stderr)
	case "compare":
		if len(args) != 3 {
			return usagef("usage: gap bench compare OLD NEW")
		}
		return reports.Compare(args[1], args[2], stdout)
	}
	return usagef("unknown bench %q (valid: step, infer, export, compare)", args[0])
}

// benchStep times one training step of a reference model, printing the same
// RESULT line as the project's PyTorch reference, scripts/torch/reference.py.
func benchStep(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench step", stderr)
	model := fs.String("model", "resnet20", "model: mlp, lenet5, conv2 or resnet20")
	batch := fs.Int("batch", 128, "batch size")
	steps := fs.Int("steps", 10, "timed steps")
	warmup := fs.Int("warmup", 3, "untimed warm-up steps")
	threads := fs.Int("threads", runtime.GOMAXPROCS(0), "threads")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (pprof) to this file")
	modelCfg := modelConfigFlags(fs)
	points := fs.Int("points", 0, "points per shape of a point-cloud model (pointnet2; 0: 2048)")
	sparsity := fs.Float64("sparsity", 0, "uniform sparsity of the prunable layers (0: dense model)")
	kernels := fs.String("kernels", "dense", "masked layers' kernels: dense (dense-masked), auto (calibrated) or sparse")
	wgrad := fs.String("wgrad", "dense", "sparse layers' weight gradient: dense or masked")
	if err := parse(fs, args); err != nil {
		return err
	}
	pol, err := engine.ParseKernelPolicy(*kernels)
	if err != nil {
		return usagef("%v", err)
	}
	wg := engine.WeightGradDense
	switch *wgrad {
	case "dense":
	case "masked":
		wg = engine.WeightGradMasked
	default:
		return usagef("-wgrad %q: want dense or masked", *wgrad)
	}
	if *sparsity < 0 || *sparsity >= 1 {
		return usagef("-sparsity %g: want [0, 1)", *sparsity)
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if *batch < 1 || *steps < 1 || *threads < 1 || *warmup < 0 {
		return usagef("-batch, -steps and -threads must be >= 1 and -warmup >= 0")
	}
	if *points < 0 || (*points > 0 && *model != "pointnet2") {
		return usagef("-points %d: a positive point count, for -model pointnet2 only", *points)
	}
	r, err := bench.StepSparse(bench.SparseStep{Model: *model, Config: modelCfg(), Batch: *batch, Steps: *steps, Warmup: *warmup,
		Threads: *threads, Points: *points, Sparsity: *sparsity, Kernels: pol, WeightGrad: wg})
	if err != nil {
		return err
	}
	extra := ""
	if *sparsity > 0 {
		extra = fmt.Sprintf(" sparsity=%.2f kernels=%s wgrad=%s", *sparsity, pol, *wgrad)
	}
	fmt.Fprintf(stdout, "%s blas=%s cpu_s_per_step=%.4f%s\n", r.String(), blas.Impl, r.CPUSecPerStep, extra)
	return nil
}

// benchExport writes a table's runs in the Go benchmark format for benchstat.
func benchExport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench export", stderr)
	table := fs.String("table", "imagenet", "table")
	resultsDir := fs.String("results", "results/runs", "results folder")
	out := fs.String("o", "", "output file (default standard output)")
	if err := parse(fs, args); err != nil {
		return err
	}
	runs, err := loadRuns(*resultsDir, *table)
	if err != nil {
		return err
	}
	if len(runs) == 0 {
		return fmt.Errorf("no runs of table %s in %s", *table, filepath.Join(*resultsDir, *table))
	}
	if *out == "" {
		return reports.ExportBench(runs, stdout)
	}
	return atomicfile.Write(*out, func(w io.Writer) error { return reports.ExportBench(runs, w) })
}

// benchInfer times a model's inference dense-masked against the sparse
// kernels at a uniform sparsity (first conv and last linear dense), at batch
// 1 and 64 unless -batch is given, printing one RESULT line per batch and the
// per-layer kernel choices with -v. With -run it times a finished run's final
// model (saved by gap reproduce -save-models) with its own masks, and with
// -table every sparse run of a table that has one; both record the
// measurements in the table's results folder (reports.SpeedupsFile), where
// gap report finds them.
func benchInfer(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench infer", stderr)
	model := fs.String("model", "resnet50", "model (gap list models)")
	sparsity := fs.Float64("sparsity", 0.9, "uniform sparsity of the prunable layers")
	batch := fs.Int("batch", 0, "batch size (0: 1 and 64)")
	threads := fs.Int("threads", runtime.GOMAXPROCS(0), "threads")
	reps := fs.Int("reps", 3, "timed forwards of each kind (median)")
	kernels := fs.String("kernels", "auto", "sparse layers' kernels: auto (calibrated per layer) or sparse")
	modelCfg := modelConfigFlags(fs)
	verbose := fs.Bool("v", false, "print every layer's kernel choice")
	fold := fs.Bool("fold", true, "time the folded inference copy on both sides (batch norm folded into the convs; bias, residual add and ReLU fused) where the model has one")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (pprof) of the timed runs to this file")
	ckpt := fs.String("checkpoint", "", "time a run's checkpoint (weights and masks; give the run's model flags) instead of uniform random masks")
	runID := fs.String("run", "", "time this finished run's final model (needs -save-models when it ran); see -results")
	table := fs.String("table", "", "time every sparse run of this table that has a saved final model; see -results")
	resultsDir := fs.String("results", "results/runs", "results folder of -run and -table")
	seeds := fs.Int("seeds", 0, "with -table: only the runs of seeds 0..N-1 (0 = every seed)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if *batch < 0 || *threads < 1 || *reps < 1 || *sparsity < 0 || *sparsity > 1 || *seeds < 0 {
		return usagef("-batch and -seeds must be >= 0, -threads and -reps >= 1, -sparsity in [0, 1]")
	}
	pol, err := engine.ParseKernelPolicy(*kernels)
	if err != nil || pol == engine.KernelDense {
		return usagef("-kernels %q: want auto or sparse", *kernels)
	}
	if *ckpt != "" && (*runID != "" || *table != "") {
		return usagef("-checkpoint does not go with -run or -table")
	}
	batches := []int{1, 64}
	if *batch > 0 {
		batches = []int{*batch}
	}
	show := func(r bench.InferResult) {
		if *verbose {
			for _, c := range r.Choices {
				fmt.Fprintf(stdout, "layer %s %s input=%v sparsity=%.3f sparse=%v dense_ms=%.3f sparse_ms=%.3f\n",
					c.Layer, c.Op, c.Input, c.Sparsity, c.Sparse, c.DenseSec*1e3, c.SparseSec*1e3)
			}
		}
		fmt.Fprintf(stdout, "%s blas=%s\n", r.String(), blas.Impl)
	}
	if *runID != "" || *table != "" {
		runs, err := inferRuns(*resultsDir, *table, *runID, *seeds)
		if err != nil {
			return err
		}
		for _, tr := range runs {
			sp, err := reports.ReadSpeedups(tr.dir)
			if err != nil {
				return err
			}
			if sp == nil {
				sp = &reports.InferSpeedups{}
			}
			for _, b := range batches {
				// A fresh copy per batch: the kernel choices are per model.
				m, density, err := loadSavedModel(tr.dir, tr.run)
				if err != nil {
					return err
				}
				r, err := bench.Infer(bench.InferConfig{Model: tr.run.Model, Prepared: m, Sparsity: density,
					Batch: b, Threads: *threads, Reps: *reps, Policy: pol, Fold: *fold})
				if err != nil {
					return fmt.Errorf("run %s: %w", tr.run.ID, err)
				}
				fmt.Fprintf(stdout, "run=%s row=%s seed=%d ", tr.run.ID, tr.run.Row, tr.run.Seed)
				show(r)
				sp.Set(tr.run.ID, reports.InferSpeedup{Batch: b, DenseSec: r.DenseSec, SparseSec: r.SparseSec,
					DenseCPU: r.DenseCPU, SparseCPU: r.SparseCPU, Speedup: r.Speedup, CPUSpeedup: r.CPUSpeedup,
					Folded: r.Folded, SparseLayers: r.SparseLayers, Layers: r.PreparedLayers,
					Machine: results.Machine(), Threads: *threads, BLAS: blas.Impl, Load1: load1(), Measured: time.Now().UTC()})
			}
			if err := reports.WriteSpeedups(tr.dir, sp); err != nil {
				return err
			}
		}
		return nil
	}
	cfg := modelCfg()
	for _, b := range batches {
		ic := bench.InferConfig{Model: *model, Config: cfg, Sparsity: *sparsity, Batch: b, Threads: *threads, Reps: *reps, Policy: pol, Fold: *fold}
		if *ckpt != "" {
			m, sp, err := loadCheckpointModel(*ckpt, *model, cfg)
			if err != nil {
				return err
			}
			ic.Prepared, ic.Sparsity = m, sp
		}
		r, err := bench.Infer(ic)
		if err != nil {
			return err
		}
		show(r)
	}
	return nil
}

// tableRun is a finished run and its table's results folder.
type tableRun struct {
	dir string
	run *results.Run
}

// inferRuns finds the runs bench infer times: run id (in table, or in any
// table of the results folder when table is ""), or every sparse run of
// table that has a saved final model (with seeds > 0, only the runs of
// seeds 0..seeds-1).
func inferRuns(resultsDir, table, id string, seeds int) ([]tableRun, error) {
	if id != "" {
		pattern := filepath.Join(resultsDir, "*", id+results.Ext)
		if table != "" {
			pattern = filepath.Join(resultsDir, table, id+results.Ext)
		}
		matches, _ := filepath.Glob(pattern)
		if len(matches) == 0 {
			return nil, fmt.Errorf("run %s: no finished run %s", id, pattern)
		}
		r, err := results.Read(matches[0])
		if err != nil {
			return nil, err
		}
		return []tableRun{{filepath.Dir(matches[0]), r}}, nil
	}
	dir := filepath.Join(resultsDir, table)
	runs, err := results.ReadDir(dir, table)
	if err != nil {
		return nil, err
	}
	var out []tableRun
	for _, r := range runs {
		if r.Sparsity == 0 || (seeds > 0 && r.Seed >= int64(seeds)) {
			continue
		}
		if _, err := os.Stat(experiments.ModelPath(dir, r.ID)); err != nil {
			continue
		}
		out = append(out, tableRun{dir, r})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("table %s: no sparse run with a saved final model in %s (run gap reproduce with -save-models)", table, dir)
	}
	return out, nil
}

// loadSavedModel rebuilds run's model from its recorded settings and loads
// its saved final weights and masks (an all-ones mask counts as dense). It
// returns the model and the sparsity of its masked weights.
func loadSavedModel(dir string, run *results.Run) (models.Model, float64, error) {
	path := experiments.ModelPath(dir, run.ID)
	if _, err := os.Stat(path); err != nil {
		return nil, 0, fmt.Errorf("run %s: no saved final model %s (the run was not made with gap reproduce -save-models)", run.ID, path)
	}
	st := run.Settings
	atoi := func(k string) (int, error) {
		v, err := strconv.Atoi(st[k])
		if err != nil {
			return 0, fmt.Errorf("run %s: setting %s = %q: want an integer", run.ID, k, st[k])
		}
		return v, nil
	}
	var cfg models.Config
	var err error
	if cfg.Classes, err = atoi("model.classes"); err != nil {
		return nil, 0, err
	}
	if cfg.InChannels, err = atoi("model.input_c"); err != nil {
		return nil, 0, err
	}
	if cfg.Height, err = atoi("model.input_size"); err != nil {
		return nil, 0, err
	}
	cfg.Width = cfg.Height
	if cfg.WidthMult, err = strconv.ParseFloat(st["model.width"], 64); err != nil {
		return nil, 0, fmt.Errorf("run %s: setting model.width = %q: want a number", run.ID, st["model.width"])
	}
	cfg.SmallStem = st["model.small_stem"] == "true"
	m, err := models.New(st["model"], cfg)
	if err != nil {
		return nil, 0, fmt.Errorf("run %s: %w", run.ID, err)
	}
	ps := m.Params()
	if err := ps.LoadSafetensors(path, false); err != nil {
		return nil, 0, fmt.Errorf("run %s: %w", run.ID, err)
	}
	var kept, total float64
	for _, p := range ps.Prunable() {
		if p.Mask == nil {
			continue
		}
		ones := 0
		for _, v := range p.Mask {
			if v != 0 {
				ones++
			}
		}
		if ones == len(p.Mask) {
			p.Mask = nil // dense: nothing for the sparse kernels to skip
			continue
		}
		kept += float64(ones)
		total += float64(len(p.Mask))
	}
	ps.ApplyMasks()
	if total == 0 {
		return m, 0, nil
	}
	return m, 1 - kept/total, nil
}

// load1 is the 1-minute load average (0 when unknown).
func load1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// modelConfigFlags registers the model-size flags of the bench commands and
// returns a function giving the parsed models.Config. The ResNet-18/8 proxy
// of the imagenet table's default profile is -model resnet18 -width 0.125
// -size 28 -in-channels 1 -small-stem.
func modelConfigFlags(fs *flag.FlagSet) func() models.Config {
	width := fs.Float64("width", 0, "ResNet width multiplier (0: model default)")
	size := fs.Int("size", 0, "input height and width (0: model default)")
	inC := fs.Int("in-channels", 0, "input channels (0: model default)")
	classes := fs.Int("classes", 0, "classes (0: model default)")
	smallStem := fs.Bool("small-stem", false, "3x3 stride-1 stem without max pool (ImageNet ResNets)")
	seed := fs.Uint64("seed", 0, "seed of weights, masks and input")
	return func() models.Config {
		return models.Config{Classes: *classes, InChannels: *inC, Height: *size, Width: *size,
			WidthMult: *width, Seed: *seed, SmallStem: *smallStem}
	}
}

// loadCheckpointModel builds model with cfg and loads a run checkpoint's
// weights and masks into it (masks applied); it returns the model and the
// sparsity of its masked weights.
func loadCheckpointModel(path, model string, cfg models.Config) (models.Model, float64, error) {
	c, err := experiments.LoadCheckpoint(path)
	if err != nil {
		return nil, 0, err
	}
	if c == nil {
		return nil, 0, fmt.Errorf("checkpoint %s: no such file", path)
	}
	m, err := models.New(model, cfg)
	if err != nil {
		return nil, 0, err
	}
	sd := make(map[string][]float32, len(c.State)+len(c.Masks))
	for k, v := range c.State {
		sd[k] = v
	}
	for k, v := range c.Masks {
		sd[k+nn.MaskSuffix] = v
	}
	ps := m.Params()
	if err := ps.LoadStateDict(sd); err != nil {
		return nil, 0, fmt.Errorf("checkpoint %s (model %s; give the run's -width/-size/-in-channels/-classes/-small-stem): %w", path, model, err)
	}
	ps.ApplyMasks()
	var kept, total float64
	for _, p := range ps.Prunable() {
		if p.Mask == nil {
			continue
		}
		for _, v := range p.Mask {
			if v != 0 {
				kept++
			}
		}
		total += float64(len(p.Mask))
	}
	if total == 0 {
		return m, 0, nil
	}
	return m, 1 - kept/total, nil
}

// startCPUProfile starts a CPU profile (pprof) written to path; the returned
// function stops it and closes the file.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile %s: %w", path, err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
