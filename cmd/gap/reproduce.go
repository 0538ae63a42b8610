package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gap-harness/gap/experiments"
	"github.com/gap-harness/gap/methods"
	"github.com/gap-harness/gap/reports"
	"github.com/gap-harness/gap/results"
)

func cmdReproduce(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("reproduce", stderr)
	table := fs.String("table", "imagenet", "table to reproduce ("+strings.Join(experiments.TableNames(), ", ")+")")
	profile := fs.String("profile", "default", "profile: smoke, default or full")
	seeds := fs.Int("seeds", 1, "seeds per row (0..N-1)")
	jobs := fs.Int("jobs", 0, "runs at once (0 = number of cores); the cores are shared out")
	data := fs.String("data", "", "root of the real data set (profile full)")
	resultsDir := fs.String("results", "results/runs", "results folder")
	rows := fs.String("rows", "", "comma-separated row keys to run (default: all)")
	keep := fs.Bool("keep-checkpoints", false, "keep finished runs' checkpoint folders (gap clean removes them)")
	sparseKernels := fs.String("sparse-kernels", "", "train the layers whose masks stay fixed through an epoch (static, C-GaP, P-GaP, SNIP, one-shot magnitude, prune-from-pretrained) with the sparse kernels: auto (calibrated per layer) or sparse; part of the runs' identity (default: off)")
	saveModels := fs.Bool("save-models", false, "save each finished run's final model (weights, masks) to <results>/<table>/models/<id>.safetensors, for gap bench infer -run/-table")
	executor := fs.String("executor", "local", "where the runs run: local (this machine) or slurm (job arrays; see gap list executors)")
	var sf slurmFlags
	fs.StringVar(&sf.partition, "partition", "", "slurm: partition (sbatch --partition; default: the cluster's)")
	fs.IntVar(&sf.maxParallel, "max-parallel", 0, "slurm: array tasks running at once per array (--array=0-N%K; 0 = no cap)")
	fs.StringVar(&sf.time, "time", "", "slurm: time limit per task (sbatch --time, e.g. 2:00:00)")
	fs.StringVar(&sf.mem, "mem", "", "slurm: memory per task (sbatch --mem, e.g. 4G)")
	fs.IntVar(&sf.cpus, "cpus-per-task", 1, "slurm: CPUs per run, and so its threads (part of the run's identity)")
	fs.BoolVar(&sf.requeue, "requeue", true, "slurm: let Slurm requeue a preempted task (it resumes from its checkpoint)")
	fs.BoolVar(&sf.wait, "wait", false, "slurm: wait until the table is done, then print it")
	fs.DurationVar(&sf.poll, "poll", 2*time.Second, "slurm: how often -wait asks the scheduler")
	fs.IntVar(&sf.pack, "runs-per-task", 1, "slurm: serial runs per array task, run one after another (for runs of seconds, whose fixed cost per task would dominate); keep it the same across resubmissions")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *seeds < 1 {
		return usagef("-seeds %d: expected a count >= 1", *seeds)
	}
	if *jobs < 0 {
		return usagef("-jobs %d: expected a count >= 0 (0 = the number of cores)", *jobs)
	}
	switch *executor {
	case "local", "slurm":
	default:
		return usagef("-executor %q: expected local or slurm", *executor)
	}
	if *executor == "slurm" && (sf.cpus < 1 || sf.maxParallel < 0 || sf.poll <= 0 || sf.pack < 1) {
		return usagef("-cpus-per-task %d, -max-parallel %d, -poll %v, -runs-per-task %d: expected >= 1, >= 0, > 0, >= 1", sf.cpus, sf.maxParallel, sf.poll, sf.pack)
	}
	t, err := experiments.LookupTable(*table)
	if err != nil {
		return usageError{err}
	}
	p, err := t.Profile(*profile)
	if err != nil {
		return usageError{err}
	}
	log := logger(stderr)
	p, err = resolveData(p, *data, log)
	if err != nil {
		return err
	}
	switch *sparseKernels {
	case "", "auto", "sparse":
		p.SparseKernels = *sparseKernels
	default:
		return usagef("-sparse-kernels %q: expected auto or sparse", *sparseKernels)
	}
	plan := experiments.Plan{Table: t, Profile: p, Seeds: *seeds, DataPath: *data}
	if *rows != "" {
		plan.Rows = strings.Split(*rows, ",")
		valid := map[string]bool{}
		for _, k := range t.RowKeys() {
			valid[k] = true
		}
		for _, k := range plan.Rows {
			if !valid[k] {
				return usagef("-rows: table %s has no row %q (valid: %s)", t.Name, k, strings.Join(t.RowKeys(), ", "))
			}
		}
	}
	specs, pending := plan.Specs()
	reg := methods.Default()
	if *executor == "slurm" {
		plan.Registry = reg
		log.Info("reproduce", "table", t.Name, "profile", p.Name, "runs", len(specs), "pending_rows", len(pending), "executor", "slurm", "results", filepath.Join(*resultsDir, t.Name))
		runs, ok, err := reproduceSlurm(ctx, plan, *resultsDir, sf, log, stdout)
		if err != nil || !ok {
			return err
		}
		printTable(stdout, t, p, runs, pending, *resultsDir)
		return nil
	}
	// The runner's ids carry the threads it gives each run: count those.
	prog, err := newProgress(stderr, unfinished(plan.ExecutedSpecs(*jobs), filepath.Join(*resultsDir, t.Name)), reg, log)
	if err != nil {
		return err
	}
	if p.Proxy != "" {
		log.Info("profile is a proxy", "profile", p.Name, "proxy", p.Proxy)
	}
	log.Info("reproduce", "table", t.Name, "profile", p.Name, "runs", len(specs), "pending_rows", len(pending), "results", filepath.Join(*resultsDir, t.Name))
	runs, err := experiments.RunPlan(ctx, plan, experiments.Options{ResultsDir: *resultsDir, Jobs: *jobs, Log: log, Progress: prog.update,
		Registry: reg, Branches: processBranches(stderr), Commit: commit, KeepCheckpoints: *keep, SaveModels: *saveModels})
	prog.finish()
	if err != nil {
		return err
	}
	printTable(stdout, t, p, runs, pending, *resultsDir)
	return nil
}

// printTable prints a reproduced table, its pending rows and where its
// results are.
func printTable(stdout io.Writer, t *experiments.Table, p experiments.Profile, runs []*results.Run, pending []experiments.Row, resultsDir string) {
	spec := tableSpec(t, p)
	fmt.Fprint(stdout, reports.Table(runs, spec))
	for _, r := range pending {
		fmt.Fprintf(stdout, "\npending: %s (%s)\n", r.Key(), r.Pending)
	}
	fmt.Fprintf(stdout, "\nResults: %d runs in %s (Arrow IPC, one file per run). Report: gap report -table %s -results %s\n",
		len(runs), filepath.Join(resultsDir, t.Name), t.Name, resultsDir)
}

// resolveData falls back from Fashion-MNIST to MNIST (from the Go module) when
// Debian's dataset-fashion-mnist is not installed, and says so.
func resolveData(p experiments.Profile, dataPath string, log *slog.Logger) (experiments.Profile, error) {
	err := experiments.Available(p.Data.Name, dataPath)
	if err == nil {
		return p, nil
	}
	if p.Data.Name == "fashion-mnist" && experiments.Available("mnist", "") == nil {
		log.Warn("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist); falling back to MNIST", "reason", err)
		p.Data.Name = "mnist"
		p.Proxy = strings.Replace(p.Proxy, "Fashion-MNIST", "MNIST", -1)
		return p, nil
	}
	return p, err
}

// methodLabels are the report's names for the methods.
var methodLabels = map[string]string{
	"dense": "Dense", "gmp": "GMP", "rigl": "RigL", "set": "SET", "snip": "SNIP", "static": "Static",
	"pfp": "Prune from pretrained", "ipfp": "Iterative prune from pretrained",
	"cgap": "C-GaP", "pgap": "P-GaP", "magnitude_oneshot": "One-shot magnitude",
}

// tableSpec describes a table for the report: its rows in table order with the
// paper's numbers where the paper (or the baseline's paper) has them, each
// budget row labelled with its multiple of the base epochs, then the paper's
// rows that the table does not run, shown as pending.
func tableSpec(t *experiments.Table, p experiments.Profile) reports.TableSpec {
	paper := reports.Specs()[t.Name] // the zero spec for a table the paper has no numbers for
	byKey := map[string]reports.RowSpec{}
	for _, r := range paper.Rows {
		byKey[r.Key] = r
	}
	spec := paper
	spec.Table, spec.Metric, spec.MetricLabel = t.Name, t.Metric, t.MetricLabel
	if spec.Title == "" {
		spec.Title = t.Title
	}
	if spec.Proxies == nil {
		spec.Proxies = map[string]string{}
	}
	if p.Proxy != "" {
		spec.Proxies[p.Name] = p.Name + " profile: " + p.Proxy
	}
	plan := experiments.Plan{Table: t, Profile: p}
	covered := map[string]bool{}
	spec.Rows = nil
	for _, r := range t.Rows {
		covered[r.Key()] = true
		rs, ok := byKey[r.Key()]
		if !ok {
			rs = reports.RowSpec{Sparsity: r.Sparsity}
		}
		rs.Key = r.Key()
		if l, ok := methodLabels[r.Method]; ok {
			rs.Method = l
		}
		if r.Budget != "" && r.Budget != "x1" {
			label := r.Budget
			if n, err := plan.RowEpochs(r); err == nil && p.Epochs > 0 {
				label = strconv.FormatFloat(float64(n)/float64(p.Epochs), 'g', 3, 64) + "× epochs"
				if r.Budget == "gap" {
					label = fmt.Sprintf("GaP budget, %s×", strconv.FormatFloat(float64(n)/float64(p.Epochs), 'g', 3, 64))
				}
			}
			rs.Method += " (" + label + ")"
		}
		if r.Variant != "" {
			rs.Method += " [" + r.Variant + "]"
		}
		switch r.Distribution {
		case "uniform":
			rs.Distribution = "uniform"
		case "global":
			rs.Distribution = "non-uniform (global)"
		case "erk":
			rs.Distribution = "non-uniform (ERK)"
		case "dense":
			rs.Distribution = "—"
		}
		spec.Rows = append(spec.Rows, rs)
	}
	for _, r := range paper.Rows {
		if !covered[r.Key] {
			spec.Rows = append(spec.Rows, r) // no runs: the report shows it pending
		}
	}
	if n := budgetNote(t, p); n != "" {
		spec.Notes = append(append([]string(nil), spec.Notes...), n)
	}
	return spec
}

// budgetNote says, for a profile, which rows train which budget and so which
// comparisons are budget-matched.
func budgetNote(t *experiments.Table, p experiments.Profile) string {
	plan := experiments.Plan{Table: t, Profile: p}
	gap := 0
	hasGapRows := false
	for _, r := range t.Rows {
		if r.Budget == "gap" {
			hasGapRows = true
			if n, err := plan.RowEpochs(r); err == nil {
				gap = n
			}
		}
	}
	note := fmt.Sprintf("Budgets (%s profile): every baseline trains the base budget, %d epochs (prune-from-pretrained's dense and fine-tune phases share it); C-GaP and P-GaP follow their own schedule (the Epochs column; P-GaP's is one branch's path, its training FLOPs count every branch).", p.Name, p.Epochs)
	if hasGapRows && gap > 0 {
		note += fmt.Sprintf(" Rows marked \"GaP budget\" train C-GaP's %d epochs: C-GaP against them is the budget-matched comparison (the paper's \"RigL 5×\" analogue); against the x1 rows it is not.", gap)
	}
	return note
}

// loadRuns reads a table's runs from a results folder.
func loadRuns(resultsDir, table string) ([]*results.Run, error) {
	dir := filepath.Join(resultsDir, table)
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("no results for table %s: %w (run: gap reproduce -table %s)", table, err, table)
	}
	return results.ReadDir(dir, table)
}
