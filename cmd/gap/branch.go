package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"

	"github.com/gap-harness/gap/experiments"
)

// cmdBranch trains one P-GaP branch in this process: the reproduce and train
// commands start one such process per branch, so a round's branches run as
// separate processes that meet only through checkpoint files.
func cmdBranch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("pgap-branch", stderr)
	dir := fs.String("dir", "", "results folder of the table (<results>/<table>)")
	id := fs.String("id", "", "run identity")
	round := fs.Int("round", -1, "round")
	branch := fs.Int("branch", -1, "branch")
	threads := fs.Int("threads", 1, "threads")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dir == "" || *id == "" || *round < 0 || *branch < 0 || *threads < 1 {
		return usagef("-dir, -id, -round >= 0, -branch >= 0 and -threads >= 1 are required")
	}
	log := logger(stderr)
	progress := func(p experiments.Progress) {
		log.Info("epoch", "row", p.Row, "seed", p.Seed, "stage", p.Stage, "epoch", p.Epoch, "of", p.Epochs, "loss", lossText(p.Loss))
	}
	return experiments.RunBranch(ctx, *dir, *id, *round, *branch, *threads, experiments.Env{Log: log, Progress: progress})
}

// processBranches runs each P-GaP branch as a child process of this executable.
func processBranches(stderr io.Writer) experiments.BranchRunner {
	return func(ctx context.Context, dir, id string, round, branch, threads int) error {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("p-gap branch process: %w", err)
		}
		cmd := exec.CommandContext(ctx, exe, "pgap-branch", "-dir", dir, "-id", id,
			"-round", strconv.Itoa(round), "-branch", strconv.Itoa(branch), "-threads", strconv.Itoa(threads))
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("p-gap branch process (round %d, branch %d): %w", round, branch, err)
		}
		return nil
	}
}
