package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	tdata "github.com/gap-harness/gap/datasets/translation"
	"github.com/gap-harness/gap/experiments"
	"github.com/gap-harness/gap/experiments/translation"
	"github.com/gap-harness/gap/results"
)

// cmdTranslate translates standard input line by line with an exported
// translation model (experiments/translation.Task.Export: model.safetensors,
// model.json, bpe.txt) and prints one translation per line. The model is
// either named by -weights or is the final model of a finished run (-run
// ID: the export the run left in <results>/<table>/artifacts/<ID>/).
func cmdTranslate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return translateRun(ctx, args, os.Stdin, stdout, stderr)
}

func translateRun(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("translate", stderr)
	weights := fs.String("weights", "", "model weights (safetensors, from an export)")
	runID := fs.String("run", "", "a finished run's ID (or a unique prefix): translate with its final model")
	resultsDir := fs.String("results", "results/runs", "results folder (with -run)")
	table := fs.String("table", "wmt14", "the run's table (with -run)")
	config := fs.String("config", "", "model configuration JSON (default: model.json beside -weights)")
	bpe := fs.String("bpe", "", "BPE tokenizer (default: bpe.txt beside -weights)")
	beam := fs.Int("beam", 0, "beam size (0: the model file's; 1: greedy)")
	lenpen := fs.Float64("lenpen", -1, "length penalty (negative: the model file's)")
	threads := fs.Int("threads", runtime.GOMAXPROCS(0), "threads")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *weights != "" && *runID != "":
		return usagef("translate: give -run or -weights, not both")
	case *runID != "":
		w, err := runWeights(*resultsDir, *table, *runID)
		if err != nil {
			return err
		}
		*weights = w
	case *weights == "":
		return usagef("translate: -run or -weights is required (gap translate -run RUN_ID < source.txt, or -weights DIR/model.safetensors)")
	}
	dir := dirOf(*weights)
	if *config == "" {
		*config = dir + translation.ExportConfig
	}
	if *bpe == "" {
		*bpe = dir + translation.ExportBPE
	}
	tr, err := translation.LoadTranslator(*weights, *config, *bpe)
	if err != nil {
		return err
	}
	if *beam > 0 {
		tr.Search.Beam = *beam
	}
	if *lenpen >= 0 {
		tr.Search.LenPenalty = *lenpen
	}
	lines, err := tdata.ParseLines(stdin, "standard input")
	if err != nil {
		return err
	}
	out, err := tr.Translate(ctx, lines, max(*threads, 1))
	if err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	for _, l := range out {
		fmt.Fprintln(w, l)
	}
	return w.Flush()
}

// dirOf returns path's directory with a trailing separator ("" for a bare name).
func dirOf(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if os.IsPathSeparator(path[i]) {
			return path[:i+1]
		}
	}
	return ""
}

// runWeights finds the exported final model of the finished run id (or the
// one run whose ID starts with id) of table under resultsDir: the run's
// record <resultsDir>/<table>/<ID>.arrow must exist and be a translation
// run, and its artifacts folder must hold the export. Each failure names
// what is missing.
func runWeights(resultsDir, table, id string) (string, error) {
	t, err := experiments.LookupTable(table)
	if err != nil {
		return "", usageError{err}
	}
	if t.Suite != "translation" {
		return "", usagef("translate: table %s is of the %s suite, not translation (try -table wmt14)", t.Name, t.Suite)
	}
	tableDir := filepath.Join(resultsDir, t.Name)
	entries, err := os.ReadDir(tableDir)
	if err != nil {
		return "", fmt.Errorf("translate: no results of table %s: %w", t.Name, err)
	}
	var match []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || filepath.Ext(name) != results.Ext {
			continue
		}
		if full := strings.TrimSuffix(name, results.Ext); strings.HasPrefix(full, id) {
			match = append(match, full)
			if full == id {
				match = []string{full}
				break
			}
		}
	}
	switch len(match) {
	case 0:
		return "", fmt.Errorf("translate: no finished run %q in %s (no %s file; `gap list` and the reproduce output name the run IDs)",
			id, tableDir, filepath.Join(tableDir, id+results.Ext))
	case 1:
	default:
		if len(match) > 5 {
			match = append(match[:5], "...")
		}
		return "", usagef("translate: run ID prefix %q matches %d runs in %s: %s", id, len(match), tableDir, strings.Join(match, ", "))
	}
	recPath := filepath.Join(tableDir, match[0]+results.Ext)
	run, err := results.Read(recPath)
	if err != nil {
		return "", fmt.Errorf("translate: %w", err)
	}
	if run.Suite != "translation" {
		return "", fmt.Errorf("translate: run %s (%s) is a %s run of table %s, not a translation run", run.ID, recPath, run.Suite, run.Table)
	}
	w := filepath.Join(experiments.ArtifactDir(tableDir, run.ID), translation.ExportWeights)
	if _, err := os.Stat(w); err != nil {
		return "", fmt.Errorf("translate: run %s (row %s, seed %d, %s) has no exported model: %s is missing "+
			"(runs export their final model when they finish; a run finished by an older gap has none: delete %s and run it again)",
			run.ID, run.Row, run.Seed, recPath, w, recPath)
	}
	return w, nil
}
