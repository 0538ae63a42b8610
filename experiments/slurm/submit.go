package slurm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Group is a set of tasks that may run at once, submitted as one job array:
// a sweep's runs, or one P-GaP round's kappa branches. It starts when every
// group in After has finished with all tasks successful (afterok); if one of
// them fails, Slurm cancels it (--kill-on-invalid-dep=yes) instead of leaving
// it pending for ever.
type Group struct {
	Name  string   `json:"name"` // unique in the plan: letters, digits, . _ - only
	Tasks []Task   `json:"tasks"`
	After []string `json:"after,omitempty"` // names of earlier groups
	// Resources, when set, replaces the plan's resources for this group (a
	// merge job needs fewer CPUs than the branches).
	Resources *Resources `json:"resources,omitempty"`
}

// Plan is a small DAG of task groups, each listed after the groups it
// depends on. A P-GaP row is init -> round-0 branches -> merge-0 -> round-1
// branches -> ... -> fine-tune; a sweep is one group.
type Plan struct {
	Groups []Group `json:"groups"`
}

// Resources are what each array task asks for; empty fields are left to the
// cluster's defaults.
type Resources struct {
	Partition   string `json:"partition,omitempty"`     // sbatch --partition
	Time        string `json:"time,omitempty"`          // --time, e.g. "2:00:00"
	Mem         string `json:"mem,omitempty"`           // --mem per task, e.g. "4G"
	CPUsPerTask int    `json:"cpus_per_task,omitempty"` // --cpus-per-task
}

// Options are the submission settings.
type Options struct {
	Resources
	// MaxParallel caps the tasks of one array running at once (--array=0-N%K);
	// 0 leaves it to the cluster.
	MaxParallel int
	// Requeue asks Slurm to requeue a task whose node failed or that was
	// preempted (--requeue); see the package doc for what the command must do.
	Requeue bool
	// SignalBefore, when > 0, has Slurm send SIGTERM that many seconds before
	// the time limit (--signal=B:TERM@N), time to stop at a checkpoint.
	SignalBefore int
	// JobName prefixes the job names (default "gap"): NAME-GROUP-SEQ.
	JobName string
	// Extra are further sbatch arguments, put before the script.
	Extra []string
	// Log receives a line per submission; nil is quiet.
	Log *slog.Logger
}

// Submission is one sbatch call, as recorded in state.json.
type Submission struct {
	Seq       int       `json:"seq"`
	Group     string    `json:"group"`
	JobID     string    `json:"job_id"` // empty while sbatch runs
	JobName   string    `json:"job_name"`
	Manifest  string    `json:"manifest"` // file name in the slurm folder
	Tasks     []string  `json:"tasks"`    // task ids by array index
	After     []string  `json:"after,omitempty"`
	Argv      []string  `json:"sbatch"`
	Submitted time.Time `json:"submitted"`
}

// state is state.json: every submission made from this results folder.
type state struct {
	Submissions []*Submission `json:"submissions"`
}

// Result says what a Submit did.
type Result struct {
	Submitted []*Submission // new sbatch calls, in order
	Done      int           // tasks skipped: their outputs exist
	InFlight  int           // tasks skipped: queued or running from an earlier submission
	Replaced  int           // pending tasks cancelled and submitted again behind resubmitted work
}

// Dir is the slurm folder of a results folder.
func Dir(results string) string { return filepath.Join(results, "slurm") }

// Validate checks a plan: group names, unique task ids, argv, and that every
// After names an earlier group.
func (p Plan) Validate() error {
	groups := map[string]bool{}
	ids := map[string]string{}
	for gi, g := range p.Groups {
		if g.Name == "" || strings.Trim(g.Name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" {
			return fmt.Errorf("plan group %d: name %q: letters, digits and . _ - only", gi, g.Name)
		}
		if groups[g.Name] {
			return fmt.Errorf("plan group %d: name %q used twice", gi, g.Name)
		}
		if len(g.Tasks) == 0 {
			return fmt.Errorf("plan group %s: no tasks", g.Name)
		}
		for _, a := range g.After {
			if !groups[a] {
				return fmt.Errorf("plan group %s: after %q, which is not an earlier group", g.Name, a)
			}
		}
		for _, t := range g.Tasks {
			if _, err := manifestLine(t); err != nil {
				return fmt.Errorf("plan group %s: %w", g.Name, err)
			}
			if prev, dup := ids[fileName(t.ID)]; dup {
				return fmt.Errorf("plan group %s: task id %q clashes with %q of group %s", g.Name, t.ID, t.ID, prev)
			}
			ids[fileName(t.ID)] = g.Name
		}
		groups[g.Name] = true
	}
	return nil
}

// Submit submits the plan's unfinished tasks from the results folder: for
// each group, one job array of the tasks that are neither done nor queued or
// running from an earlier submission, depending (afterok) on the arrays, new
// or earlier, of the groups it comes after. It records every submission in
// <results>/slurm/state.json before and after its sbatch call, so nothing is
// submitted twice, even after a crash between the two.
func (c *Client) Submit(ctx context.Context, results string, plan Plan, opt Options) (*Result, error) {
	if err := plan.Validate(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(results)
	if err != nil {
		return nil, fmt.Errorf("results folder %s: %w", results, err)
	}
	if err := c.Ping(ctx); err != nil {
		return nil, err
	}
	dir := Dir(abs)
	for _, d := range []string{dir, filepath.Join(dir, "tasks"), filepath.Join(dir, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("slurm folder: %w", err)
		}
	}
	unlock, err := lock(filepath.Join(dir, "lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()

	st, err := loadState(dir)
	if err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(dir, "plan.json"), plan); err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(dir, "task.sh"), []byte(BatchScript), 0o755); err != nil {
		return nil, err
	}
	// Which task is queued or running where.
	if err := c.adoptOrphans(ctx, dir, st); err != nil {
		return nil, err
	}
	active, err := c.activeTasks(ctx, st)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	groupJobs := map[string][]string{} // group -> the jobs (arrays or elements) it is running as
	renewed := map[string]bool{}       // groups with tasks submitted by this call
	for _, g := range plan.Groups {
		var todo []Task
		jobs := map[string]bool{}
		// A task still pending behind an earlier submission of a group that
		// this call submits again waits for the wrong jobs (or for an array
		// that failed): cancel it, it has not started, and submit it anew.
		stale := false
		for _, a := range g.After {
			stale = stale || renewed[a]
		}
		var cancel []string
		for _, t := range g.Tasks {
			if done, _ := taskDone(abs, dir, t); done {
				res.Done++
				continue
			}
			if f, ok := active[t.ID]; ok {
				if stale && f.pending {
					cancel = append(cancel, f.element)
					todo = append(todo, t)
					continue
				}
				res.InFlight++
				jobs[f.dep] = true
				continue
			}
			todo = append(todo, t)
		}
		if len(cancel) > 0 {
			if err := c.Cancel(ctx, cancel...); err != nil {
				return res, fmt.Errorf("group %s: cancel tasks waiting for replaced jobs: %w", g.Name, err)
			}
			res.Replaced += len(cancel)
		}
		var after []string
		seen := map[string]bool{}
		for _, a := range g.After {
			for _, j := range groupJobs[a] {
				if !seen[j] {
					seen[j] = true
					after = append(after, j)
				}
			}
		}
		for _, j := range sortedKeys(jobs) {
			groupJobs[g.Name] = append(groupJobs[g.Name], j)
		}
		if len(todo) == 0 {
			continue
		}
		sub, err := c.submitGroup(ctx, dir, st, g, todo, after, opt)
		if err != nil {
			return res, fmt.Errorf("submit group %s (%d tasks): %w", g.Name, len(todo), err)
		}
		res.Submitted = append(res.Submitted, sub)
		renewed[g.Name] = true
		groupJobs[g.Name] = append(groupJobs[g.Name], sub.JobID)
		if opt.Log != nil {
			opt.Log.Info("submitted", "group", g.Name, "job", sub.JobID, "tasks", len(todo), "after", strings.Join(after, ","))
		}
	}
	return res, nil
}

// submitGroup writes the manifest of todo and submits it as one array.
func (c *Client) submitGroup(ctx context.Context, dir string, st *state, g Group, todo []Task, after []string, opt Options) (*Submission, error) {
	seq := 1
	for _, s := range st.Submissions {
		if s.Seq >= seq {
			seq = s.Seq + 1
		}
	}
	prefix := opt.JobName
	if prefix == "" {
		prefix = "gap"
	}
	sub := &Submission{Seq: seq, Group: g.Name, JobName: fmt.Sprintf("%s-%s-%d", prefix, g.Name, seq),
		Manifest: fmt.Sprintf("%s.%d.manifest", g.Name, seq), After: after, Submitted: time.Now().UTC()}
	for _, t := range todo {
		sub.Tasks = append(sub.Tasks, t.ID)
	}
	if err := WriteManifest(filepath.Join(dir, sub.Manifest), todo); err != nil {
		return nil, err
	}
	res := opt.Resources
	if g.Resources != nil {
		res = *g.Resources
	}
	sub.Argv = sbatchArgs(pick("sbatch", c.Sbatch), dir, sub, len(todo), res, opt)
	// The intent goes to disk first: if this process dies after sbatch but
	// before the job id is written, the next Submit finds the job by name.
	st.Submissions = append(st.Submissions, sub)
	if err := saveState(dir, st); err != nil {
		return nil, err
	}
	out, err := c.run(ctx, sub.Argv)
	if err == nil {
		sub.JobID, err = parseJobID(out)
	}
	if err != nil {
		os.Remove(filepath.Join(dir, sub.Manifest))
		st.Submissions = st.Submissions[:len(st.Submissions)-1]
		if serr := saveState(dir, st); serr != nil {
			return nil, errors.Join(err, serr)
		}
		return nil, err
	}
	if err := saveState(dir, st); err != nil {
		return nil, fmt.Errorf("job %s submitted but not recorded: %w", sub.JobID, err)
	}
	return sub, nil
}

// sbatchArgs is the sbatch command line of one group's array.
func sbatchArgs(sbatch, dir string, sub *Submission, n int, res Resources, opt Options) []string {
	array := fmt.Sprintf("0-%d", n-1)
	if opt.MaxParallel > 0 {
		array += "%" + strconv.Itoa(opt.MaxParallel)
	}
	argv := []string{sbatch, "--parsable", "--job-name=" + sub.JobName, "--array=" + array,
		"--output=" + filepath.Join(dir, "logs", "slurm-%A_%a.out"), "--open-mode=append"}
	if res.Partition != "" {
		argv = append(argv, "--partition="+res.Partition)
	}
	if res.Time != "" {
		argv = append(argv, "--time="+res.Time)
	}
	if res.Mem != "" {
		argv = append(argv, "--mem="+res.Mem)
	}
	if res.CPUsPerTask > 0 {
		argv = append(argv, "--cpus-per-task="+strconv.Itoa(res.CPUsPerTask))
	}
	if opt.Requeue {
		argv = append(argv, "--requeue")
	} else {
		argv = append(argv, "--no-requeue")
	}
	if opt.SignalBefore > 0 {
		argv = append(argv, fmt.Sprintf("--signal=B:TERM@%d", opt.SignalBefore))
	}
	if len(sub.After) > 0 {
		argv = append(argv, "--dependency=afterok:"+strings.Join(sub.After, ":"), "--kill-on-invalid-dep=yes")
	}
	argv = append(argv, opt.Extra...)
	return append(argv, filepath.Join(dir, "task.sh"), filepath.Join(dir, sub.Manifest))
}

// adoptOrphans finds the job of each submission recorded without a job id
// (the submitting process died around sbatch) by its unique job name, and
// forgets the submission if Slurm has no such job.
func (c *Client) adoptOrphans(ctx context.Context, dir string, st *state) error {
	changed := false
	kept := st.Submissions[:0]
	for _, s := range st.Submissions {
		if s.JobID != "" {
			kept = append(kept, s)
			continue
		}
		out, err := c.run(ctx, []string{pick("squeue", c.Squeue), "-h", "-t", "all", "-o", "%F", "--name=" + s.JobName})
		if err != nil {
			return fmt.Errorf("look for the job of an unfinished submission %s: %w", s.JobName, err)
		}
		changed = true
		if f := strings.Fields(string(out)); len(f) > 0 {
			s.JobID = f[0]
			kept = append(kept, s)
		}
	}
	st.Submissions = kept
	if changed {
		return saveState(dir, st)
	}
	return nil
}

// activeTasks maps each task id that is queued or running to what a
// dependant must wait for: its whole array job when no element of that array
// ended badly, else the element itself ("ARRAY_INDEX"), since afterok on an
// array with a failed element is never satisfied.
func (c *Client) activeTasks(ctx context.Context, st *state) (map[string]inFlight, error) {
	entries, err := c.Queue(ctx, jobIDs(st))
	if err != nil {
		return nil, err
	}
	byJob := map[string]*Submission{}
	for _, s := range st.Submissions {
		byJob[s.JobID] = s
	}
	failed := map[string]bool{}
	for _, e := range entries {
		if !e.Active() && e.State != "COMPLETED" {
			failed[e.ArrayJob] = true
		}
	}
	active := map[string]inFlight{}
	for _, e := range entries {
		s := byJob[e.ArrayJob]
		if s == nil || !e.Active() || e.Index < 0 || e.Index >= len(s.Tasks) {
			continue
		}
		f := inFlight{dep: s.JobID, element: e.Key(), pending: e.State == "PENDING"}
		if failed[e.ArrayJob] {
			f.dep = e.Key()
		}
		active[s.Tasks[e.Index]] = f
	}
	return active, nil
}

// inFlight is a task queued or running from an earlier submission.
type inFlight struct {
	dep     string // what a dependant waits for: the array job, or the element
	element string // ARRAY_INDEX
	pending bool   // not started yet
}

func jobIDs(st *state) []string {
	var ids []string
	for _, s := range st.Submissions {
		if s.JobID != "" {
			ids = append(ids, s.JobID)
		}
	}
	return ids
}

// taskDone reports whether a task has finished, and why not.
func taskDone(results, dir string, t Task) (bool, string) {
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(results, p)
	}
	for _, f := range t.DoneIfAny {
		if _, err := os.Stat(abs(f)); err == nil {
			return true, ""
		}
	}
	exit, hasExit := readExit(dir, t.ID)
	if len(t.Outputs) == 0 {
		return hasExit && exit == 0, ""
	}
	for _, o := range t.Outputs {
		if _, err := os.Stat(abs(o)); err != nil {
			return false, "missing output " + abs(o)
		}
	}
	return true, ""
}

// readExit reads tasks/<id>.exit: the exit status of the task's last attempt.
func readExit(dir, id string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "tasks", fileName(id)+".exit"))
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, false
	}
	return n, true
}

func loadState(dir string) (*state, error) {
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return &state{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("slurm state: %w", err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("slurm state %s: %w", filepath.Join(dir, "state.json"), err)
	}
	return &st, nil
}

func saveState(dir string, st *state) error {
	return writeJSON(filepath.Join(dir, "state.json"), st)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return writeAtomic(path, append(b, '\n'), 0o644)
}

// lock takes an exclusive lock on path (flock), failing at once when another
// process holds it.
func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: another submission from this results folder is in progress (%w)", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Chain returns groups that run one after the other, each starting when the
// one before has succeeded: name-0, name-1, ... A P-GaP row with kappa
// branches and R rounds is
//
//	Chain(row, []Task{init}, branches(0), []Task{merge(0)}, ..., branches(R-1), []Task{merge(R-1)}, []Task{finetune})
//
// where branches(r) are the kappa tasks of round r: each round's branches
// are one array, its merge waits for all of them.
func Chain(name string, stages ...[]Task) []Group {
	groups := make([]Group, len(stages))
	for i, tasks := range stages {
		groups[i] = Group{Name: fmt.Sprintf("%s-%d", name, i), Tasks: tasks}
		if i > 0 {
			groups[i].After = []string{groups[i-1].Name}
		}
	}
	return groups
}
