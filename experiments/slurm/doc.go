// Package slurm runs the harness's work on a Slurm cluster: a plan of task
// groups (a sweep's runs, a P-GaP round's kappa branches, its merge, its
// fine-tune) becomes one job array per group, chained with afterok
// dependencies. Slurm does the queueing, placement and retries; this package
// writes what each task runs into the results folder, submits, resubmits only
// what is unfinished, and reads back where every task stands.
//
// Everything lives in <results>/slurm/ (the results folder must be on a file
// system every node sees, as the checkpoints must be):
//
//	plan.json                 the plan last submitted: groups, task ids, outputs
//	state.json                every submission: job id, job name, manifest, task ids
//	<group>.<seq>.manifest    one line per array task: ID<TAB>argv (shell words)
//	task.sh                   the batch script: runs line SLURM_ARRAY_TASK_ID+1
//	tasks/<id>.start|.exit    written by task.sh: which job ran it, its exit status
//	logs/<id>.log             the task's output, every attempt appended
//	logs/slurm-<A>_<a>.out    Slurm's own output of the array task (script errors)
//
// A task is done when one of its DoneIfAny files exists, or all its Outputs
// exist (or, when it names none, when its last attempt exited 0). Submit skips done tasks and tasks still queued or
// running in an earlier submission, so a resubmission after a failure, a
// cancellation or a crash of the submitting process runs each unfinished task
// once. A task still pending (not started) behind a group that the
// resubmission submits again is cancelled and queued anew behind the new
// jobs; a dependant of an array with a failed element waits for the array's
// running elements one by one (afterok on the array would never be met). It
// holds a lock on the folder while it submits.
//
// # Preemption and requeue
//
// With Options.Requeue, sbatch gets --requeue: when a node fails or the job is
// preempted, Slurm puts the task back in the queue and runs it again from the
// start of its argv. Slurm ends a task with SIGTERM and, KillWait seconds later
// (30 s by default), SIGKILL; with Options.SignalBefore it also sends SIGTERM
// that many seconds before the time limit (--signal=B:TERM@N). task.sh passes
// the SIGTERM to the command and records its exit status. The command should
// therefore (1) resume from its last checkpoint when started again with the
// same argv, (2) write checkpoints atomically (temp file and rename), so a
// SIGKILL between two leaves the previous one intact, and (3) on SIGTERM,
// stop at the next safe point and exit non-zero, so a task that did not finish
// is never taken for done. The gap commands do all three by the run id.
package slurm
