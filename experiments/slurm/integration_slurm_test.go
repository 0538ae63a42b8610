//go:build slurm

// Tests against real Slurm daemons: make test-slurm starts a one-node
// cluster (scripts/slurm/start.sh), runs these, and stops it.

package slurm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// needCluster fails the test unless a controller answers.
func needCluster(t *testing.T) *Client {
	t.Helper()
	out, err := exec.Command("scontrol", "ping").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "is UP") {
		t.Fatalf("no Slurm controller (scontrol ping: %v %s); run via make test-slurm", err, out)
	}
	return &Client{}
}

// resultsDir is a results folder the jobs (root, on this node) can write.
// Its cleanup first waits (up to 30 s) for the queue to empty: a task's
// status file says done before its job has exited, and a job still writing
// its log would make the folder's removal fail ("directory not empty").
func resultsDir(t *testing.T) string {
	d := t.TempDir()
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { waitQueueEmpty(t, 30*time.Second) })
	return d
}

// waitQueueEmpty polls squeue until it lists no job (the test cluster runs
// only the tests' jobs), or logs what is left after limit.
func waitQueueEmpty(t *testing.T, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for {
		out, err := exec.Command("squeue", "-h", "-o", "%i %T").CombinedOutput()
		if err == nil && strings.TrimSpace(string(out)) == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Logf("jobs still queued after %v: %v %s", limit, err, out)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitSettled polls Status until no task is pending or running.
func waitSettled(t *testing.T, c *Client, dir string, limit time.Duration) *Report {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(limit)
	for {
		rep, err := c.Status(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		n := rep.Count()
		if n[Pending]+n[Running] == 0 {
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("tasks not settled after %v: %+v", limit, rep.Tasks)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func byID(rep *Report) map[string]TaskStatus {
	m := map[string]TaskStatus{}
	for _, ts := range rep.Tasks {
		m[ts.ID] = ts
	}
	return m
}

func attempts(t *testing.T, dir, id string) int {
	b, err := os.ReadFile(filepath.Join(Dir(dir), "logs", fileName(id)+".log"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "=== gap task "+id+": job ")
}

// An array runs every task once; the merge job waits for the whole array;
// threads come from the allocation; a resubmission submits nothing.
func TestSlurmArrayThenMerge(t *testing.T) {
	c := needCluster(t)
	dir := resultsDir(t)
	ctx := context.Background()
	var branches []Task
	var outs []string
	for b := 0; b < 4; b++ {
		out := filepath.Join(dir, fmt.Sprintf("round0/branch%d", b))
		outs = append(outs, out)
		branches = append(branches, helperTask(t, fmt.Sprintf("pgap-s0/r0/b%d", b), out, "ok", out, "0.5"))
	}
	os.MkdirAll(filepath.Join(dir, "round0"), 0o755)
	merge := helperTask(t, "pgap-s0/merge0", "merge0", append([]string{"sum", filepath.Join(dir, "merge0")}, outs...)...)
	plan := Plan{Groups: []Group{
		{Name: "r0-branches", Tasks: branches},
		{Name: "r0-merge", Tasks: []Task{merge}, After: []string{"r0-branches"}},
	}}
	res, err := c.Submit(ctx, dir, plan, Options{Resources: Resources{CPUsPerTask: 1}, MaxParallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Submitted) != 2 || res.Submitted[1].After[0] != res.Submitted[0].JobID {
		t.Fatalf("want an array and a merge depending on it, got %+v", res.Submitted)
	}
	// While the array runs, the merge is held by its dependency.
	rep, err := c.Status(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	// (the reason is None until the scheduler first looks at the job)
	if m := byID(rep)[merge.ID]; m.State != Pending || (m.Detail != "Dependency" && m.Detail != "None") {
		t.Errorf("merge while branches run: %+v, want pending (Dependency)", m)
	}
	rep = waitSettled(t, c, dir, 60*time.Second)
	if n := rep.Count(); n[Done] != 5 {
		t.Fatalf("want 5 done, got %v: %+v", n, rep.Tasks)
	}
	var lastEnd int64
	for i, b := range branches {
		if n := attempts(t, dir, b.ID); n != 1 {
			t.Errorf("%s ran %d times", b.ID, n)
		}
		if th := readField(t, outs[i], "threads"); th != 1 {
			t.Errorf("%s: Threads() = %d under --cpus-per-task=1", b.ID, th)
		}
		lastEnd = max(lastEnd, readField(t, outs[i], "end"))
	}
	if start := readField(t, filepath.Join(dir, "merge0"), "start"); start <= lastEnd {
		t.Errorf("merge started %v before the last branch ended", time.Duration(lastEnd-start))
	}
	// Branches ran as separate array elements of one job.
	seen := map[string]bool{}
	for _, ts := range rep.Tasks[:4] {
		if !strings.HasPrefix(ts.Job, res.Submitted[0].JobID+"_") || seen[ts.Job] {
			t.Errorf("branch %s ran as %q", ts.ID, ts.Job)
		}
		seen[ts.Job] = true
	}
	res2, err := c.Submit(ctx, dir, plan, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res2.Submitted) != 0 || res2.Done != 5 {
		t.Errorf("resubmission of a finished plan: %+v, want nothing submitted, 5 done", res2)
	}
}

// A failing task is reported with its log, its dependant is cancelled rather
// than left pending, and a resubmission runs only the failed work.
func TestSlurmFailureAndResubmit(t *testing.T) {
	c := needCluster(t)
	dir := resultsDir(t)
	ctx := context.Background()
	good := helperTask(t, "run-good", "good.out", "ok", filepath.Join(dir, "good.out"), "0")
	bad := helperTask(t, "run-bad", "bad.out", "fail")
	after := helperTask(t, "finetune", "ft.out", "sum", filepath.Join(dir, "ft.out"), filepath.Join(dir, "good.out"))
	plan := Plan{Groups: []Group{
		{Name: "runs", Tasks: []Task{good, bad}},
		{Name: "finetune", Tasks: []Task{after}, After: []string{"runs"}},
	}}
	if _, err := c.Submit(ctx, dir, plan, Options{}); err != nil {
		t.Fatal(err)
	}
	rep := waitSettled(t, c, dir, 60*time.Second)
	st := byID(rep)
	if st["run-good"].State != Done {
		t.Errorf("good task: %+v", st["run-good"])
	}
	b := st["run-bad"]
	if b.State != Failed || !strings.Contains(b.Detail, "exit status 3") {
		t.Errorf("bad task: %+v, want failed with exit status 3", b)
	}
	if log, err := os.ReadFile(b.Log); err != nil || !strings.Contains(string(log), "failing on purpose") {
		t.Errorf("bad task's log %q does not hold its error: %v %q", b.Log, err, log)
	}
	if f := st["finetune"]; f.State != Failed || !strings.Contains(f.Detail, "CANCELLED") {
		t.Errorf("dependant of a failed task: %+v, want failed (CANCELLED)", f)
	}
	// Fix the failing task (same id, new argv) and resubmit.
	plan.Groups[0].Tasks[1] = helperTask(t, "run-bad", "bad.out", "ok", filepath.Join(dir, "bad.out"), "0")
	res, err := c.Submit(ctx, dir, plan, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Submitted) != 2 || res.Done != 1 || len(res.Submitted[0].Tasks) != 1 || res.Submitted[0].Tasks[0] != "run-bad" {
		t.Fatalf("resubmission: done %d, submitted %+v; want run-bad then finetune", res.Done, res.Submitted)
	}
	rep = waitSettled(t, c, dir, 60*time.Second)
	if n := rep.Count(); n[Done] != 3 {
		t.Fatalf("after resubmission: %+v", rep.Tasks)
	}
	if n := attempts(t, dir, "run-good"); n != 1 {
		t.Errorf("finished task ran %d times", n)
	}
}

// A task cancelled mid-run (scancel of one array element) and resubmitted
// resumes from its checkpoint and finishes with the same result.
func TestSlurmCancelledTaskResumes(t *testing.T) {
	c := needCluster(t)
	dir := resultsDir(t)
	ctx := context.Background()
	out := filepath.Join(dir, "count.out")
	plan := Plan{Groups: []Group{{Name: "long", Tasks: []Task{
		helperTask(t, "long-run", "count.out", "count", out, "30"),
		helperTask(t, "short-run", "short.out", "ok", filepath.Join(dir, "short.out"), "0"),
	}}}}
	res, err := c.Submit(ctx, dir, plan, Options{Requeue: true})
	if err != nil {
		t.Fatal(err)
	}
	job := res.Submitted[0].JobID + "_0"
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(out + ".ckpt")
		if n, _ := strconv.Atoi(string(b)); n >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("long task made no progress in 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := c.Cancel(ctx, job); err != nil {
		t.Fatal(err)
	}
	rep := waitSettled(t, c, dir, 30*time.Second)
	if s := byID(rep)["long-run"]; s.State != Failed || s.Job != job {
		t.Fatalf("cancelled task: %+v, want failed as %s", s, job)
	}
	res, err = c.Submit(ctx, dir, plan, Options{Requeue: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Submitted) != 1 || len(res.Submitted[0].Tasks) != 1 || res.Done != 1 {
		t.Fatalf("resubmission: %+v (done %d), want only long-run", res.Submitted, res.Done)
	}
	rep = waitSettled(t, c, dir, 60*time.Second)
	if s := byID(rep)["long-run"]; s.State != Done {
		t.Fatalf("resubmitted task: %+v", s)
	}
	if total, this := readField(t, out, "total"), readField(t, out, "thisrun"); total != 30 || this >= 30 {
		t.Errorf("resumed run: total %d, this run %d steps; want 30 in all, fewer this run", total, this)
	}
	if n := attempts(t, dir, "long-run"); n != 2 {
		t.Errorf("long-run ran %d times, want 2", n)
	}
}

// Rejected submissions and a dead controller give errors naming the command
// and Slurm's message, and leave no submission recorded.
func TestSlurmErrors(t *testing.T) {
	c := needCluster(t)
	ctx := context.Background()
	one := func(dir string) Plan {
		return Plan{Groups: []Group{{Name: "g", Tasks: []Task{helperTask(t, "t0", "t0.out", "ok", filepath.Join(dir, "t0.out"), "0")}}}}
	}
	noSubmissions := func(dir string) {
		t.Helper()
		st, err := loadState(Dir(dir))
		if err != nil || len(st.Submissions) != 0 {
			t.Errorf("state after a rejected submission: %+v %v", st, err)
		}
	}

	dir := resultsDir(t)
	_, err := c.Submit(ctx, dir, one(dir), Options{Resources: Resources{Partition: "no-such-partition"}})
	var ce *CommandError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "--partition=no-such-partition") ||
		!strings.Contains(err.Error(), "invalid partition") || !strings.Contains(err.Error(), "sinfo") {
		t.Errorf("bad partition: %v", err)
	}
	t.Logf("bad partition: %v", err)
	noSubmissions(dir)

	maxArray, err := c.Config(ctx, "MaxArraySize")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := strconv.Atoi(maxArray); n > 0 && n <= 20000 {
		dir := resultsDir(t)
		var tasks []Task
		for i := 0; i <= n; i++ { // indices 0..n: one past the limit
			tasks = append(tasks, Task{ID: fmt.Sprintf("t%d", i), Argv: []string{"/bin/true"}})
		}
		_, err := c.Submit(ctx, dir, Plan{Groups: []Group{{Name: "big", Tasks: tasks}}}, Options{})
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), fmt.Sprintf("--array=0-%d", n)) || !strings.Contains(err.Error(), "MaxArraySize") {
			t.Errorf("array over MaxArraySize=%d: %v", n, err)
		}
		t.Logf("over MaxArraySize: %v", err)
		noSubmissions(dir)
	} else {
		t.Logf("MaxArraySize=%s: too large to exceed here; start the cluster with GAP_SLURM_MAX_ARRAY=1001", maxArray)
	}

	// A controller that does not answer: the same cluster's config with a
	// port nothing listens on.
	conf, err := os.ReadFile(os.Getenv("SLURM_CONF"))
	if err != nil {
		t.Fatalf("SLURM_CONF: %v", err)
	}
	dead := filepath.Join(t.TempDir(), "slurm.conf")
	os.WriteFile(dead, regexp.MustCompile(`(?m)^SlurmctldPort=\d+`).ReplaceAll(conf, []byte("SlurmctldPort=1")), 0o644)
	dc := &Client{Env: []string{"SLURM_CONF=" + dead}}
	dir = resultsDir(t)
	_, err = dc.Submit(ctx, dir, one(dir), Options{})
	if !errors.Is(err, ErrController) || !strings.Contains(err.Error(), "scontrol ping") || !strings.Contains(err.Error(), "DOWN") {
		t.Errorf("dead controller: %v", err)
	}
	t.Logf("dead controller: %v", err)
	noSubmissions(dir)
	// Status without a controller: what the files tell, and the reason.
	if _, err := c.Submit(ctx, dir, one(dir), Options{}); err != nil {
		t.Fatal(err)
	}
	waitSettled(t, c, dir, 30*time.Second)
	rep, err := dc.Status(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(rep.QueueErr, ErrController) || rep.Tasks[0].State != Done {
		t.Errorf("status with a dead controller: %v %+v", rep.QueueErr, rep.Tasks)
	}
}

// BenchmarkSlurmThousand submits a 1,000-task plan to the real controller
// (held, so nothing runs), then times Status on it: one squeue call listing
// 1,000 array elements, plus the files.
func BenchmarkSlurmThousand(b *testing.B) {
	c := &Client{}
	ctx := context.Background()
	var submit, status time.Duration
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		plan := syntheticPlan(1000)
		start := time.Now()
		res, err := c.Submit(ctx, dir, plan, Options{Extra: []string{"--hold"}})
		if err != nil {
			b.Fatal(err)
		}
		submit += time.Since(start)
		if len(res.Submitted) != 1 {
			b.Fatalf("%d sbatch calls", len(res.Submitted))
		}
		start = time.Now()
		rep, err := c.Status(ctx, dir)
		if err != nil {
			b.Fatal(err)
		}
		status += time.Since(start)
		if n := rep.Count(); n[Pending] != 1000 {
			b.Fatalf("status: %v", n)
		}
		if err := c.Cancel(ctx, res.Submitted[0].JobID); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(submit.Seconds()/float64(b.N), "submit-s")
	b.ReportMetric(status.Seconds()/float64(b.N), "status-s")
}

// BenchmarkSlurmNoop times the fixed cost of the Slurm path: submit an array
// of eight tasks that do nothing (/bin/true), two at a time, and poll Status
// until all are done.
func BenchmarkSlurmNoop(b *testing.B) {
	c := &Client{}
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		os.Chmod(dir, 0o755)
		g := Group{Name: "noop"}
		for k := 0; k < 8; k++ {
			g.Tasks = append(g.Tasks, Task{ID: fmt.Sprintf("t%d", k), Argv: []string{"/bin/true"}})
		}
		if _, err := c.Submit(ctx, dir, Plan{Groups: []Group{g}}, Options{MaxParallel: 2, Resources: Resources{CPUsPerTask: 1}}); err != nil {
			b.Fatal(err)
		}
		for {
			rep, err := c.Status(ctx, dir)
			if err != nil {
				b.Fatal(err)
			}
			if n := rep.Count(); n[Done] == 8 {
				break
			} else if n[Failed] > 0 {
				b.Fatalf("%+v", rep.Tasks)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// With --requeue, a task Slurm requeues mid-run (as on preemption or a node
// failure) gets SIGTERM, is started again by Slurm itself as the same array
// element, and resumes from its checkpoint.
func TestSlurmRequeueResumes(t *testing.T) {
	c := needCluster(t)
	dir := resultsDir(t)
	ctx := context.Background()
	out := filepath.Join(dir, "count.out")
	plan := Plan{Groups: []Group{{Name: "g", Tasks: []Task{helperTask(t, "preempted", "count.out", "count", out, "30")}}}}
	res, err := c.Submit(ctx, dir, plan, Options{Requeue: true})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(out + ".ckpt")
		if n, _ := strconv.Atoi(string(b)); n >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("task made no progress in 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	entries, err := c.Queue(ctx, []string{res.Submitted[0].JobID})
	if err != nil || len(entries) != 1 {
		t.Fatalf("queue: %+v %v", entries, err)
	}
	job := entries[0].JobID
	if out, err := exec.Command("scontrol", "requeue", job).CombinedOutput(); err != nil {
		t.Fatalf("scontrol requeue %s: %v %s", job, err, out)
	}
	// A requeued job waits as long as a job credential lives (AuthInfo
	// cred_expire, 120 s by default; make test-slurm sets 5 s).
	rep := waitSettled(t, c, dir, 60*time.Second)
	if s := byID(rep)["preempted"]; s.State != Done {
		t.Fatalf("requeued task: %+v", s)
	}
	if total, this := readField(t, out, "total"), readField(t, out, "thisrun"); total != 30 || this >= 30 {
		t.Errorf("requeued run: total %d, this run %d steps; want 30 in all, fewer this run", total, this)
	}
	log, _ := os.ReadFile(filepath.Join(Dir(dir), "logs", "preempted.log"))
	if !strings.Contains(string(log), "restart 1)") || strings.Count(string(log), "=== gap task preempted: job ") != 2 {
		t.Errorf("log of the requeued task:\n%s", log)
	}
}

// A node that cannot see the results folder (here: the manifest removed
// before the held task is released) fails the task with a message saying
// so, and status points at the shared-folder requirement.
func TestSlurmResultsNotShared(t *testing.T) {
	c := needCluster(t)
	dir := resultsDir(t)
	ctx := context.Background()
	plan := Plan{Groups: []Group{{Name: "g", Tasks: []Task{helperTask(t, "t", "t.out", "ok", filepath.Join(dir, "t.out"), "0")}}}}
	res, err := c.Submit(ctx, dir, plan, Options{Extra: []string{"--hold"}})
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(Dir(dir), res.Submitted[0].Manifest))
	if out, err := exec.Command("scontrol", "release", res.Submitted[0].JobID).CombinedOutput(); err != nil {
		t.Fatalf("scontrol release: %v %s", err, out)
	}
	rep := waitSettled(t, c, dir, 30*time.Second)
	s := rep.Tasks[0]
	if s.State != Failed || !strings.Contains(s.Detail, "is it shared with the nodes?") {
		t.Errorf("status: %+v", s)
	}
	if log, _ := os.ReadFile(s.Log); !strings.Contains(string(log), "must be on a file system shared by the submitting host and every node") {
		t.Errorf("Slurm's output %s: %q", s.Log, log)
	}
}

// Resubmitting while part of an array still runs and another part failed:
// the new merge waits for the running element and the new array, not for
// the old array as a whole (whose afterok could never be satisfied).
func TestSlurmResubmitBesideRunningElements(t *testing.T) {
	c := needCluster(t)
	dir := resultsDir(t)
	ctx := context.Background()
	slow := helperTask(t, "slow", "slow.out", "count", filepath.Join(dir, "slow.out"), "30")
	bad := helperTask(t, "flaky", "flaky.out", "fail")
	merge := helperTask(t, "merge", "merge.out", "sum", filepath.Join(dir, "merge.out"), filepath.Join(dir, "slow.out"), filepath.Join(dir, "flaky.out"))
	plan := Plan{Groups: []Group{{Name: "branches", Tasks: []Task{slow, bad}}, {Name: "merge", Tasks: []Task{merge}, After: []string{"branches"}}}}
	first, err := c.Submit(ctx, dir, plan, Options{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		rep, err := c.Status(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		st := byID(rep)
		if st["flaky"].State == Failed {
			if st["slow"].State != Running || st["merge"].State != Pending {
				t.Fatalf("slow task no longer running or merge not pending (%+v): make it longer", rep.Tasks)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("flaky task not failed after 30 s: %+v", rep.Tasks)
		}
		time.Sleep(100 * time.Millisecond)
	}
	plan.Groups[0].Tasks[1] = helperTask(t, "flaky", "flaky.out", "ok", filepath.Join(dir, "flaky.out"), "0")
	res, err := c.Submit(ctx, dir, plan, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The old merge, pending behind the old array, is replaced.
	if len(res.Submitted) != 2 || res.InFlight != 1 || res.Replaced != 1 {
		t.Fatalf("resubmission: %+v", res)
	}
	want := []string{first.Submitted[0].JobID + "_0", res.Submitted[0].JobID}
	if got := res.Submitted[1].After; !reflect.DeepEqual(got, want) {
		t.Errorf("merge depends on %v, want %v", got, want)
	}
	rep := waitSettled(t, c, dir, 60*time.Second)
	if n := rep.Count(); n[Done] != 3 {
		t.Fatalf("after resubmission: %+v", rep.Tasks)
	}
	if attempts(t, dir, "slow") != 1 || attempts(t, dir, "merge") != 1 {
		t.Error("a task ran twice")
	}
}
