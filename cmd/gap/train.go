package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/gap-harness/gap/experiments"
	"github.com/gap-harness/gap/methods"
)

// kvFlag collects repeated -param key=value flags.
type kvFlag map[string]string

func (k kvFlag) String() string { return fmt.Sprint(map[string]string(k)) }
func (k kvFlag) Set(s string) error {
	key, val, ok := strings.Cut(s, "=")
	if !ok || key == "" {
		return fmt.Errorf("%q: expected key=value", s)
	}
	k[key] = val
	return nil
}

func cmdTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("train", stderr)
	table := fs.String("table", "imagenet", "table whose profile (model, data, budget) the run uses")
	profile := fs.String("profile", "default", "profile")
	method := fs.String("method", "dense", "method (gap list methods)")
	sparsity := fs.Float64("sparsity", 0.9, "target sparsity of the prunable layers")
	dist := fs.String("dist", "uniform", "layer sparsity distribution: uniform, erk or global")
	seed := fs.Int64("seed", 0, "seed")
	epochs := fs.Int("epochs", 0, "base epochs (0 = the profile's)")
	data := fs.String("data", "", "root of the real data set (profile full)")
	resultsDir := fs.String("results", "results/runs", "results folder")
	threads := fs.Int("threads", runtime.GOMAXPROCS(0), "threads")
	keep := fs.Bool("keep-checkpoints", false, "keep the run's checkpoint folder once it finishes (gap clean removes it)")
	sparseKernels := fs.String("sparse-kernels", "", "train the layers whose masks stay fixed through an epoch (static, C-GaP, P-GaP, SNIP, one-shot magnitude, prune-from-pretrained) with the sparse kernels: auto (calibrated per layer) or sparse; part of the run's identity (default: off)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (pprof) of the run to this file")
	params := kvFlag{}
	fs.Var(params, "param", "method hyper-parameter key=value (repeatable)")
	if err := parse(fs, args); err != nil {
		return err
	}
	t, err := experiments.LookupTable(*table)
	if err != nil {
		return usageError{err}
	}
	p, err := t.Profile(*profile)
	if err != nil {
		return usageError{err}
	}
	switch *dist {
	case "uniform", "erk", "global":
	default:
		return usagef("-dist %q: expected uniform, erk or global", *dist)
	}
	if !(*sparsity >= 0 && *sparsity < 1) { // NaN fails both
		return usagef("-sparsity %v: expected a value in [0, 1)", *sparsity)
	}
	if *epochs < 0 {
		return usagef("-epochs %d: expected a count >= 0 (0 = the profile's)", *epochs)
	}
	if *threads < 1 {
		return usagef("-threads %d: expected a count >= 1", *threads)
	}
	switch *sparseKernels {
	case "", "auto", "sparse":
		p.SparseKernels = *sparseKernels
	default:
		return usagef("-sparse-kernels %q: expected auto or sparse", *sparseKernels)
	}
	reg := methods.Default()
	if _, err := reg.New(*method, params); err != nil {
		return usageError{err}
	}
	if *epochs > 0 {
		p.Epochs = *epochs
	}
	log := logger(stderr)
	if p, err = resolveData(p, *data, log); err != nil {
		return err
	}
	row := experiments.Row{Method: *method, Sparsity: *sparsity, Distribution: *dist, Params: params}
	if *method == "dense" {
		row.Sparsity, row.Distribution = 0, "dense"
	}
	plan := experiments.Plan{Table: &experiments.Table{Name: t.Name, Title: t.Title, Suite: t.Suite, Metric: t.Metric,
		Rows: []experiments.Row{row}, DenseLayers: t.DenseLayers}, Profile: p, Seeds: 1, DataPath: *data}
	specs, _ := plan.Specs()
	for i := range specs {
		// The threads are part of the run's identity (Execute would set
		// them): set them here so the progress count uses the result's id.
		specs[i].Seed, specs[i].Threads = *seed, *threads
	}
	prog, err := newProgress(stderr, unfinished(specs, filepath.Join(*resultsDir, t.Name)), reg, log)
	if err != nil {
		return err
	}
	env := experiments.Env{Dir: filepath.Join(*resultsDir, t.Name), Threads: *threads, Log: log, Registry: reg,
		Data: &experiments.DataCache{}, Progress: prog.update, Branches: processBranches(stderr), Commit: commit, KeepCheckpoints: *keep}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	r, err := experiments.Execute(ctx, specs[0], env)
	prog.finish()
	if err != nil {
		return err
	}
	headline := fmt.Sprintf("top1 %.2f%% top5 %.2f%%", r.Final["top1"], r.Final["top5"])
	if t.Metric != "" && t.Metric != "top1" { // BLEU, mIoU, mAP: the table's own headline
		headline = fmt.Sprintf("%s %.4g", t.Metric, r.Final[t.Metric])
	}
	fmt.Fprintf(stdout, "run %s: %s seed %d: %s sparsity %.4f train FLOPs %.3gx dense, %d epochs, %.1fs\n",
		r.ID, r.Row, r.Seed, headline, r.Final["sparsity"], r.TrainCost(), r.Epochs, r.WallSeconds)
	fmt.Fprintf(stdout, "result: %s\n", env.ResultPath(r.ID))
	return nil
}
