package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/gap-harness/gap/engine/blas"
	"github.com/gap-harness/gap/models/bench"
	"github.com/gap-harness/gap/reports"
)

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("usage: gap bench step|export|compare [flags]")
	}
	switch args[0] {
	case "step":
		return benchStep(args[1:], stdout, stderr)
	case "export":
		return benchExport(args[1:], stdout, stderr)
	case "compare":
		if len(args) != 3 {
			return usagef("usage: gap bench compare OLD NEW")
		}
		return reports.Compare(args[1], args[2], stdout)
	}
	return usagef("unknown bench %q (valid: step, export, compare)", args[0])
}

// benchStep times one training step of a reference model, printing the same
// RESULT line as ../shared/bench/torch_reference.py.
func benchStep(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench step", stderr)
	model := fs.String("model", "resnet20", "model: mlp, lenet5, conv2 or resnet20")
	batch := fs.Int("batch", 128, "batch size")
	steps := fs.Int("steps", 10, "timed steps")
	warmup := fs.Int("warmup", 3, "untimed warm-up steps")
	threads := fs.Int("threads", runtime.GOMAXPROCS(0), "threads")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *batch < 1 || *steps < 1 || *threads < 1 || *warmup < 0 {
		return usagef("-batch, -steps and -threads must be >= 1 and -warmup >= 0")
	}
	r, err := bench.Step(*model, *batch, *steps, *warmup, *threads)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s blas=%s\n", r.String(), blas.Impl)
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
	tmp, err := os.CreateTemp(filepath.Dir(*out), ".bench-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := reports.ExportBench(runs, tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), *out)
}
