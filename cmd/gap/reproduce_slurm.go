package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gap-harness/gap/experiments"
	"github.com/gap-harness/gap/experiments/slurm"
	"github.com/gap-harness/gap/results"
)

// executors are the values of reproduce's -executor flag.
var executors = []struct{ name, desc string }{
	{"local", "a worker pool on this machine (-jobs runs at once, the cores shared out); the default"},
	{"slurm", "Slurm job arrays (sbatch): serial runs one array, each P-GaP run a chain of one branch array per round (each task first running the init or the merge before it), then merge and fine-tune; gap status shows where they stand"},
}

// slurmFlags are reproduce's flags for -executor slurm.
type slurmFlags struct {
	partition, time, mem string
	maxParallel, cpus    int
	requeue, wait        bool
	poll                 time.Duration
	// pack is how many serial runs one array task runs, one after another
	// (-runs-per-task): runs of seconds pay Slurm's fixed cost per task
	// (scheduling, process start, data loading) once per pack.
	pack int
}

// stageTask is the array task that runs one stage of a run: gap run-stage.
// A run's result marks every one of its stages done.
func stageTask(exe, resultsRoot, table string, r experiments.PlannedRun, stage string) slurm.Task {
	return slurm.Task{
		ID:        r.ID + "/" + stage,
		Argv:      []string{exe, "run-stage", "-results", resultsRoot, "-table", table, "-id", r.ID, "-stage", stage},
		DoneIfAny: []string{r.Result},
	}
}

// slurmPlan is the Slurm plan of a table's runs: each P-GaP run as a chain
// (pgap-<id>-N), submitted first, and the serial runs as one array
// ("serial"). A P-GaP chain has one kappa-task branch array per round and
// the fine-tune; the single-task stages between them ride along with the
// next group instead of being groups of their own: each branch task of
// round R first runs round-R (the init for R = 0, else the merge of round
// R-1) and the fine-tune task first runs the last merge. Those stages are
// idempotent and deterministic, so the kappa branch tasks that may compute
// the same one at once write the same bytes (atomically); the chain's
// critical path is rounds+1 scheduler hops instead of 2*rounds+2. Branches
// get the run's CPUs divided by kappa, as they get threads.
func slurmPlan(exe, resultsRoot, table string, runs []experiments.PlannedRun, res slurm.Resources, pack int) slurm.Plan {
	var plan slurm.Plan
	for _, r := range runs {
		if !r.Parallel {
			continue
		}
		var stages [][]slurm.Task
		var carry []string // single-task stages waiting for the next group
		for _, set := range r.Stages() {
			if len(set) == 1 && set[0] != "finetune" {
				carry = append(carry, set[0])
				continue
			}
			var tasks []slurm.Task
			for _, s := range set {
				t := stageTask(exe, resultsRoot, table, r, s)
				t.Argv[len(t.Argv)-1] = strings.Join(append(append([]string(nil), carry...), s), ",")
				tasks = append(tasks, t)
			}
			carry = nil
			stages = append(stages, tasks)
		}
		chain := slurm.Chain("pgap-"+r.ID, stages...)
		for i := range chain {
			first := strings.TrimPrefix(chain[i].Tasks[0].ID, r.ID+"/")
			if strings.HasPrefix(first, "branch-") {
				b := res
				if b.CPUsPerTask > 0 {
					b.CPUsPerTask = max(1, b.CPUsPerTask/r.Kappa)
				}
				chain[i].Resources = &b
			}
		}
		plan.Groups = append(plan.Groups, chain...)
	}
	// The serial runs last: the chains are the longest paths, so their first
	// stages get the first free CPUs.
	var serial []slurm.Task
	var pending []experiments.PlannedRun
	flush := func() {
		if len(pending) == 0 {
			return
		}
		t := stageTask(exe, resultsRoot, table, pending[0], "main")
		if len(pending) > 1 {
			// A pack: done when every run's result exists; its id is stable
			// across resubmissions with the same -runs-per-task.
			ids := make([]string, len(pending))
			t.DoneIfAny, t.Outputs = nil, make([]string, len(pending))
			for i, r := range pending {
				ids[i], t.Outputs[i] = r.ID, r.Result
			}
			t.ID = fmt.Sprintf("%s/main+%d", pending[0].ID, len(pending)-1)
			t.Argv[slices.Index(t.Argv, "-id")+1] = strings.Join(ids, ",")
		}
		serial = append(serial, t)
		pending = pending[:0]
	}
	for _, r := range runs {
		if !r.Parallel {
			pending = append(pending, r)
			if len(pending) >= max(1, pack) {
				flush()
			}
		}
	}
	flush()
	if len(serial) > 0 {
		plan.Groups = append(plan.Groups, slurm.Group{Name: "serial", Tasks: serial})
	}
	return plan
}

// reproduceSlurm submits a table's runs to Slurm; with -wait it polls until
// nothing is pending or running and prints the table as the local executor
// does.
func reproduceSlurm(ctx context.Context, plan experiments.Plan, resultsRoot string, sf slurmFlags, log *slog.Logger, stdout io.Writer) ([]*results.Run, bool, error) {
	root, err := filepath.Abs(resultsRoot)
	if err != nil {
		return nil, false, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, false, fmt.Errorf("slurm executor: the gap binary's path: %w", err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return nil, false, fmt.Errorf("slurm executor: %w", err)
	}
	dir := filepath.Join(root, plan.Table.Name)
	runs, err := plan.Runs(dir, sf.cpus)
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, false, err
	}
	if err := experiments.WriteSpecs(dir, runs); err != nil {
		return nil, false, err
	}
	sp := slurmPlan(exe, root, plan.Table.Name, runs, slurm.Resources{Partition: sf.partition, Time: sf.time, Mem: sf.mem, CPUsPerTask: sf.cpus}, sf.pack)
	c := &slurm.Client{}
	res, err := c.Submit(ctx, dir, sp, slurm.Options{Resources: slurm.Resources{Partition: sf.partition, Time: sf.time, Mem: sf.mem, CPUsPerTask: sf.cpus},
		MaxParallel: sf.maxParallel, Requeue: sf.requeue, Log: log})
	if err != nil {
		return nil, false, err
	}
	log.Info("submitted", "table", plan.Table.Name, "runs", len(runs), "sbatch_calls", len(res.Submitted), "done", res.Done, "in_flight", res.InFlight, "slurm", slurm.Dir(dir))
	if !sf.wait {
		fmt.Fprintf(stdout, "Submitted %d runs of table %s to Slurm (%d sbatch calls; %d tasks already done, %d in flight).\nWatch: gap status -table %s -results %s\n",
			len(runs), plan.Table.Name, len(res.Submitted), res.Done, res.InFlight, plan.Table.Name, resultsRoot)
		return nil, false, nil
	}
	last := ""
	for {
		rep, err := c.Status(ctx, dir)
		if err != nil {
			return nil, false, err
		}
		n := rep.Count()
		if line := fmt.Sprintf("%d done, %d running, %d pending, %d failed", n[slurm.Done], n[slurm.Running], n[slurm.Pending], n[slurm.Failed]); line != last {
			log.Info("slurm", "table", plan.Table.Name, "tasks", len(rep.Tasks), "state", line)
			last = line
		}
		if rep.QueueErr == nil && n[slurm.Running] == 0 && n[slurm.Pending] == 0 {
			if n[slurm.Failed] > 0 || n[slurm.NotSubmitted] > 0 {
				printStatus(stdout, dir, rep)
				return nil, false, fmt.Errorf("%d failed task(s) and %d not run (cancelled behind a failure); see the logs above, fix the cause and submit again: finished tasks are skipped", n[slurm.Failed], n[slurm.NotSubmitted])
			}
			break
		}
		select {
		case <-ctx.Done():
			return nil, false, fmt.Errorf("stopped waiting (the jobs go on; gap status -table %s): %w", plan.Table.Name, ctx.Err())
		case <-time.After(sf.poll):
		}
	}
	out := make([]*results.Run, 0, len(runs))
	for _, r := range runs {
		// The tasks are this binary (or its copy); a result left in the
		// folder by another engine build is refused, as in a local run.
		run, err := experiments.ReadFinished(r.Result)
		if err != nil {
			return nil, false, fmt.Errorf("run %s (%s): %w", r.ID, r.Spec.Row.Key(), err)
		}
		out = append(out, run)
	}
	return out, true, nil
}
