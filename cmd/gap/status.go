package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/gap-harness/gap/experiments/slurm"
)

// cmdStatus prints where every Slurm task of a results folder stands: done,
// running, pending or failed (with the path of its log). It reads the files
// the submission left in <results>/slurm and asks squeue once; when the
// controller cannot be reached it says so and reports what the files tell.
func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("status", stderr)
	resultsDir := fs.String("results", "results/runs", "results folder: the one holding slurm/, or its parent (each table's folder is read)")
	table := fs.String("table", "", "table: read <results>/<table>")
	if err := parse(fs, args); err != nil {
		return err
	}
	root := *resultsDir
	if *table != "" {
		root = filepath.Join(root, *table)
	}
	dirs, err := slurmFolders(root)
	if err != nil {
		return err
	}
	c := &slurm.Client{}
	failed := 0
	for i, dir := range dirs {
		rep, err := c.Status(ctx, dir)
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		failed += printStatus(stdout, dir, rep)
	}
	if failed > 0 {
		return fmt.Errorf("%d failed task(s); fix the cause, then submit again: finished tasks are skipped", failed)
	}
	return nil
}

// slurmFolders lists the results folders under root that hold a Slurm plan:
// root itself, or its subfolders (one per table).
func slurmFolders(root string) ([]string, error) {
	if _, err := os.Stat(filepath.Join(slurm.Dir(root), "plan.json")); err == nil {
		return []string{root}, nil
	}
	found, err := filepath.Glob(filepath.Join(root, "*", "slurm", "plan.json"))
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, f := range found {
		dirs = append(dirs, filepath.Dir(filepath.Dir(f)))
	}
	sort.Strings(dirs)
	if len(dirs) == 0 {
		return nil, fmt.Errorf("%w: no %s nor %s", slurm.ErrNoPlan,
			filepath.Join(slurm.Dir(root), "plan.json"), filepath.Join(root, "*", "slurm", "plan.json"))
	}
	return dirs, nil
}

// printStatus writes one line per task and a summary; it returns the number
// of failed tasks.
func printStatus(w io.Writer, dir string, rep *slurm.Report) int {
	fmt.Fprintf(w, "%s\n", dir)
	if rep.QueueErr != nil {
		fmt.Fprintf(w, "warning: the scheduler could not be asked, so unfinished tasks are unknown: %v\n", rep.QueueErr)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATE\tTASK\tGROUP\tJOB\tDETAIL\tLOG")
	for _, t := range rep.Tasks {
		log := ""
		if t.State != slurm.Done && t.State != slurm.Pending && t.State != slurm.NotSubmitted {
			log = t.Log
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.State, t.ID, t.Group, dash(t.Job), dash(t.Detail), log)
	}
	tw.Flush()
	n := rep.Count()
	var parts []string
	for _, s := range []slurm.State{slurm.Done, slurm.Running, slurm.Pending, slurm.Failed, slurm.NotSubmitted, slurm.Unknown} {
		if n[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
		}
	}
	fmt.Fprintf(w, "%d tasks: %s\n", len(rep.Tasks), strings.Join(parts, ", "))
	return n[slurm.Failed]
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
