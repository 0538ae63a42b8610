package main

import (
	"context"
	"fmt"
	"io"

	"github.com/gap-harness/gap/experiments"
)

func cmdClean(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("clean", stderr)
	resultsDir := fs.String("results", "results/runs", "results folder")
	all := fs.Bool("all", false, "also remove the checkpoints of unfinished runs (they then restart from scratch)")
	dry := fs.Bool("n", false, "only list what would be removed")
	if err := parse(fs, args); err != nil {
		return err
	}
	rep, err := experiments.Clean(*resultsDir, experiments.CleanOptions{Unfinished: *all, DryRun: *dry})
	if err != nil {
		return err
	}
	verb := "removed"
	if *dry {
		verb = "would remove"
	}
	for _, p := range rep.Removed {
		fmt.Fprintf(stdout, "%s %s\n", verb, p)
	}
	fmt.Fprintf(stdout, "%s %d checkpoint folders (%.1f MB) and %d temporary files; kept %d of unfinished runs\n",
		verb, rep.Folders, float64(rep.Bytes)/1e6, rep.TempFiles, rep.KeptUnfinished)
	return nil
}
