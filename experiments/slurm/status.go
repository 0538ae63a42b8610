package slurm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// State is where a task stands.
type State string

// The states Status reports.
const (
	Done         State = "done"
	Running      State = "running"
	Pending      State = "pending"
	Failed       State = "failed"
	NotSubmitted State = "not submitted"
	Unknown      State = "unknown" // the controller could not be asked
)

// TaskStatus is one task's line of a status report.
type TaskStatus struct {
	ID     string
	Group  string
	State  State
	Job    string // "ARRAYJOB_INDEX" of its last submission, if any
	Detail string // pending reason, exit status, Slurm state
	Log    string // the task's log (logs/<id>.log), or Slurm's output when the task never started
}

// Report is the status of every task of the plan last submitted.
type Report struct {
	Tasks []TaskStatus
	// QueueErr is set when squeue failed (the controller is down, say): the
	// report then rests on the files alone and unfinished tasks are Unknown.
	QueueErr error
}

// Count returns how many tasks are in each state.
func (r *Report) Count() map[State]int {
	m := map[State]int{}
	for _, t := range r.Tasks {
		m[t.State]++
	}
	return m
}

// ErrNoPlan is returned by Status for a results folder nothing was submitted from.
var ErrNoPlan = errors.New("no Slurm plan")

// Status reads where every task of the plan last submitted from the results
// folder stands: from its outputs and the exit files task.sh writes, and from
// one squeue call for all its jobs. Without accounting, finished jobs drop out
// of squeue after MinJobAge; the files still tell done from failed then.
func (c *Client) Status(ctx context.Context, results string) (*Report, error) {
	abs, err := filepath.Abs(results)
	if err != nil {
		return nil, fmt.Errorf("results folder %s: %w", results, err)
	}
	dir := Dir(abs)
	b, err := os.ReadFile(filepath.Join(dir, "plan.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s: nothing was submitted to Slurm from this results folder", ErrNoPlan, results)
	}
	if err != nil {
		return nil, fmt.Errorf("slurm plan: %w", err)
	}
	var plan Plan
	if err := json.Unmarshal(b, &plan); err != nil {
		return nil, fmt.Errorf("slurm plan %s: %w", filepath.Join(dir, "plan.json"), err)
	}
	st, err := loadState(dir)
	if err != nil {
		return nil, err
	}
	// The last submission of each task, and its array index there.
	type where struct {
		sub   *Submission
		index int
	}
	last := map[string]where{}
	for _, s := range st.Submissions {
		for i, id := range s.Tasks {
			last[id] = where{s, i}
		}
	}
	rep := &Report{}
	queue := map[string]QueueEntry{}
	entries, qerr := c.queueOrPing(ctx, jobIDs(st))
	if qerr != nil {
		rep.QueueErr = qerr
	}
	for _, e := range entries {
		queue[e.Key()] = e
	}
	for _, g := range plan.Groups {
		for _, t := range g.Tasks {
			ts := TaskStatus{ID: t.ID, Group: g.Name}
			logPath := filepath.Join(dir, "logs", fileName(t.ID)+".log")
			if _, err := os.Stat(logPath); err == nil {
				ts.Log = logPath
			}
			w, submitted := last[t.ID]
			if submitted && w.sub.JobID != "" {
				ts.Job = fmt.Sprintf("%s_%d", w.sub.JobID, w.index)
				if ts.Log == "" {
					ts.Log = filepath.Join(dir, "logs", "slurm-"+ts.Job+".out")
				}
			}
			done, why := taskDone(abs, dir, t)
			exit, hasExit := readExit(dir, t.ID)
			e, inQueue := queue[ts.Job]
			switch {
			case done:
				ts.State = Done
			case !submitted:
				ts.State = NotSubmitted
			case inQueue && e.Active():
				ts.State = Running
				if e.State == "PENDING" || e.State == "REQUEUED" || strings.HasPrefix(e.State, "REQUEUE_") {
					ts.State, ts.Detail = Pending, e.Reason
				} else if e.State != "RUNNING" {
					ts.Detail = e.State
				}
			case hasExit && exit != 0:
				ts.State, ts.Detail = Failed, fmt.Sprintf("exit status %d", exit)
				if inQueue {
					ts.Detail += ", " + e.State
				}
			case hasExit:
				ts.State, ts.Detail = Failed, "exited 0 but "+why
			case inQueue:
				ts.State, ts.Detail = Failed, e.State
				if e.Reason != "" && e.Reason != "None" {
					ts.Detail += " (" + e.Reason + ")"
				}
				switch {
				case started(dir, t.ID, ts.Job):
				case e.State == "CANCELLED":
					ts.Detail += ", never started"
				default:
					// task.sh did not get as far as the start file: the node
					// could not read the manifest or write to the folder.
					ts.Detail += ", never reached the results folder: is it shared with the nodes? (see Slurm's output on the node)"
				}
			case qerr != nil:
				ts.State, ts.Detail = Unknown, "squeue failed"
			case started(dir, t.ID, ts.Job):
				ts.State, ts.Detail = Failed, "ended without an exit status (killed), job no longer known to Slurm"
			default:
				ts.State, ts.Detail = Failed, "never started, job no longer known to Slurm (cancelled?)"
			}
			rep.Tasks = append(rep.Tasks, ts)
		}
	}
	return rep, nil
}

// started reports whether task.sh started the task as array element job.
func started(dir, id, job string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "tasks", fileName(id)+".start"))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return len(f) > 0 && f[0] == job
}

// queueOrPing runs squeue and, beside it, scontrol ping: when the controller
// is down, ping says so at once and squeue, which would retry for 20 s, is
// stopped.
func (c *Client) queueOrPing(ctx context.Context, ids []string) ([]QueueEntry, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		entries []QueueEntry
		err     error
	}
	queue := make(chan answer, 1)
	go func() {
		e, err := c.Queue(ctx, ids)
		queue <- answer{e, err}
	}()
	ping := make(chan error, 1)
	go func() { ping <- c.Ping(ctx) }()
	for {
		select {
		case a := <-queue:
			return a.entries, a.err
		case err := <-ping:
			if errors.Is(err, ErrController) {
				return nil, err
			}
			ping = nil // up, or ping itself failed: squeue decides
		}
	}
}
