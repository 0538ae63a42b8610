package main

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/gap-harness/gap/experiments"
	"github.com/gap-harness/gap/experiments/slurm"
)

// cmdRunStage runs one stage of one run, or a few in order, and exits: what
// each task of a Slurm job array runs (gap reproduce -executor slurm). The run's spec was
// written into its checkpoint folder at submission. A stage already complete,
// or a run whose result exists, exits 0 at once; SIGTERM stops the stage at
// the next safe point with its checkpoints intact and exits non-zero.
func cmdRunStage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run-stage", stderr)
	resultsDir := fs.String("results", "results/runs", "results folder (the table's runs are in <results>/<table>)")
	table := fs.String("table", "", "table")
	id := fs.String("id", "", "run identity; with -stage main, several comma-separated run one after another (a packed array task)")
	stage := fs.String("stage", "", "stage: main (a serial run), or P-GaP's round-0, branch-R-B, round-N (the merge of round N-1), finetune; several comma-separated run in order (e.g. round-0,branch-0-1: a branch task that first makes sure the init exists)")
	threads := fs.Int("threads", 0, "threads when the run's spec fixes none (0 = the Slurm allocation's CPUs, else the number of cores)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *table == "" || *id == "" || *stage == "" {
		return usagef("-table, -id and -stage are required")
	}
	if *threads < 0 {
		return usagef("-threads %d: expected >= 0", *threads)
	}
	n := *threads
	if n == 0 {
		var ok bool
		if n, ok = slurm.Threads(); !ok {
			n = runtime.GOMAXPROCS(0)
		}
	}
	log := logger(stderr)
	progress := func(p experiments.Progress) {
		log.Info("epoch", "run", p.ID, "row", p.Row, "seed", p.Seed, "stage", p.Stage, "epoch", p.Epoch, "of", p.Epochs, "loss", lossText(p.Loss))
	}
	dir := filepath.Join(*resultsDir, *table)
	// One data cache for every run of a packed task: the data set loads once.
	env := experiments.Env{Threads: n, Log: log, Progress: progress, Commit: commit, Branches: processBranches(stderr), Data: &experiments.DataCache{}}
	ids := strings.Split(*id, ",")
	if len(ids) > 1 && *stage != "main" {
		return usagef("-id %s: several runs only with -stage main", *id)
	}
	for _, rid := range ids {
		for _, st := range strings.Split(*stage, ",") {
			st = strings.TrimSpace(st)
			err := experiments.RunStage(ctx, dir, rid, st, env)
			if errors.Is(err, experiments.ErrStageDone) {
				log.Info("stage already complete", "run", rid, "stage", st)
				continue
			}
			if err != nil {
				return err
			}
			log.Info("stage complete", "run", rid, "stage", st)
		}
	}
	return nil
}
