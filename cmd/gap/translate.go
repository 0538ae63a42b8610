package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"

	tdata "github.com/gap-harness/gap/datasets/translation"
	"github.com/gap-harness/gap/experiments/translation"
)

// cmdTranslate translates standard input line by line with an exported
// translation model (experiments/translation.Task.Export: model.safetensors,
// model.json, bpe.txt) and prints one translation per line.
func cmdTranslate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return translateRun(ctx, args, os.Stdin, stdout, stderr)
}

func translateRun(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("translate", stderr)
	weights := fs.String("weights", "", "model weights (safetensors, from an export)")
	config := fs.String("config", "", "model configuration JSON (default: model.json beside -weights)")
	bpe := fs.String("bpe", "", "BPE tokenizer (default: bpe.txt beside -weights)")
	beam := fs.Int("beam", 0, "beam size (0: the model file's; 1: greedy)")
	lenpen := fs.Float64("lenpen", -1, "length penalty (negative: the model file's)")
	threads := fs.Int("threads", runtime.GOMAXPROCS(0), "threads")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *weights == "" {
		return usagef("translate: -weights is required (gap translate -weights DIR/model.safetensors < source.txt)")
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
