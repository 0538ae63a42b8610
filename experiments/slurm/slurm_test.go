package slurm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// oddArgs are arguments the shell would mangle without quoting.
var oddArgs = []string{"/usr/bin/gap", "train", "-param", "kappa=5", "with space", "it's", `"dq"`, "$HOME", "`id`",
	"a;b|c&d", "tab\there", "", "*", "ünïcode", `back\slash`, "-x=1,2", "'", "''"}

func TestManifestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	tasks := []Task{
		{ID: "pgap-0.9-uniform-s0/round1/branch3", Argv: oddArgs},
		{ID: "dense_s1", Argv: []string{"/bin/true"}},
	}
	path := filepath.Join(dir, "m.manifest")
	if err := WriteManifest(path, tasks); err != nil {
		t.Fatal(err)
	}
	got, err := ReadManifest(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, tasks) {
		t.Fatalf("read back %q, wrote %q", got, tasks)
	}
	// The shell reads the same words task.sh hands to exec.
	b, _ := os.ReadFile(path)
	line := strings.SplitN(string(b), "\n", 2)[0]
	_, words, _ := strings.Cut(line, "\t")
	out, err := exec.Command("bash", "-c", `eval "set -- $1"; printf '%s\0' "$@"`, "bash", words).Output()
	if err != nil {
		t.Fatal(err)
	}
	shell := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if !reflect.DeepEqual(shell, oddArgs) {
		t.Errorf("bash read %q, want %q", shell, oddArgs)
	}
	// No temp files left beside it.
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("folder holds %d entries after an atomic write", len(ents))
	}
}

func TestManifestBadInput(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.manifest")
	for _, c := range []struct {
		task Task
		want string
	}{
		{Task{ID: "has space", Argv: []string{"x"}}, `task id "has space": character ' '`},
		{Task{ID: "../up", Argv: []string{"x"}}, `must not start with`},
		{Task{ID: "", Argv: []string{"x"}}, "empty task id"},
		{Task{ID: "ok", Argv: nil}, "task ok: empty argv"},
		{Task{ID: "ok", Argv: []string{"a\nb"}}, "newline"},
	} {
		err := WriteManifest(path, []Task{c.task})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%+v: error %v, want one naming %s and %q", c.task, err, path, c.want)
		}
		if _, serr := os.Stat(path); serr == nil {
			t.Errorf("%+v: manifest written despite the error", c.task)
		}
	}
	for _, c := range []struct{ content, want string }{
		{"ok\t/bin/true\nno-tab-here\n", "line 2: expected ID<TAB>argv"},
		{"ok\t'unterminated\n", "line 1: argv: unterminated quote"},
		{"ok\techo $HOME\n", "line 1: argv: unquoted '$'"},
		{"bad id\tx\n", "line 1: task id"},
	} {
		os.WriteFile(path, []byte(c.content), 0o644)
		_, err := ReadManifest(path)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%q: error %v, want one naming %s and %q", c.content, err, path, c.want)
		}
	}
}

// runScript runs task.sh as Slurm would for array index i.
func runScript(t *testing.T, dir string, i int, tasks []Task) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	for _, d := range []string{"tasks", "logs"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	script := filepath.Join(dir, "task.sh")
	os.WriteFile(script, []byte(BatchScript), 0o755)
	manifest := filepath.Join(dir, "g.1.manifest")
	if tasks != nil {
		if err := WriteManifest(manifest, tasks); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(script, manifest)
	cmd.Env = append(os.Environ(), fmt.Sprintf("SLURM_ARRAY_TASK_ID=%d", i), "SLURM_ARRAY_JOB_ID=41", "SLURM_JOB_ID=44")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	return cmd, &stderr
}

func TestBatchScriptRunsItsLine(t *testing.T) {
	dir := t.TempDir()
	tasks := []Task{
		{ID: "a", Argv: []string{"/bin/sh", "-c", "echo task a"}},
		{ID: "run/b", Argv: []string{"/bin/sh", "-c", `echo "task b: $0 $1"; exit 7`, "x y", "it's"}},
		{ID: "c", Argv: []string{"/bin/sh", "-c", "echo task c"}},
	}
	cmd, stderr := runScript(t, dir, 1, tasks)
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("task.sh: %v (stderr %q), want exit status 7", err, stderr)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "logs", "run__b.log"))
	if !strings.Contains(string(log), "task b: x y it's") || !strings.Contains(string(log), "exit status 7") ||
		!strings.Contains(string(log), "=== gap task run/b: job 41_1 (Slurm job 44") {
		t.Errorf("log of run/b:\n%s", log)
	}
	if n, ok := readExit(dir, "run/b"); !ok || n != 7 {
		t.Errorf("exit file: %d %v", n, ok)
	}
	if !started(dir, "run/b", "41_1") {
		t.Error("start file does not name job 41_1")
	}
	for _, other := range []string{"a", "c"} {
		if _, err := os.Stat(filepath.Join(dir, "logs", other+".log")); err == nil {
			t.Errorf("task %s ran too", other)
		}
	}
}

func TestBatchScriptErrors(t *testing.T) {
	dir := t.TempDir()
	cmd, stderr := runScript(t, dir, 0, nil) // no manifest: not shared
	if err := cmd.Run(); err == nil || !strings.Contains(stderr.String(), "shared by the submitting host and every node") {
		t.Errorf("missing manifest: %v %q", err, stderr)
	}
	cmd, stderr = runScript(t, dir, 5, []Task{{ID: "a", Argv: []string{"/bin/true"}}})
	if err := cmd.Run(); err == nil || !strings.Contains(stderr.String(), "has no line 6 for array index 5") {
		t.Errorf("index past the manifest: %v %q", err, stderr)
	}
}

// SIGTERM (Slurm's warning before a kill) reaches the command; its exit
// status is recorded.
func TestBatchScriptForwardsSIGTERM(t *testing.T) {
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	body := fmt.Sprintf(`trap 'echo got TERM; exit 9' TERM; touch %s; while :; do sleep 0.05; done`, ready)
	cmd, _ := runScript(t, dir, 0, []Task{{ID: "t", Argv: []string{"/bin/sh", "-c", body}}})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if i > 200 {
			t.Fatal("task did not start")
		}
		time.Sleep(25 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 9 {
		t.Fatalf("task.sh after SIGTERM: %v, want exit status 9 (the command's)", err)
	}
	if n, _ := readExit(dir, "t"); n != 9 {
		t.Errorf("exit file %d, want 9", n)
	}
	if log, _ := os.ReadFile(filepath.Join(dir, "logs", "t.log")); !strings.Contains(string(log), "got TERM") {
		t.Errorf("command did not see SIGTERM:\n%s", log)
	}
}

func TestParseQueue(t *testing.T) {
	out := "12|3|RUNNING|None|15\n12|[4-6,9%2]|PENDING|JobArrayTaskLimit|12\n20|N/A|PENDING|Dependency|20\n\n12|0|COMPLETED|None|13\n"
	got, err := ParseQueue([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, e := range got {
		keys = append(keys, fmt.Sprintf("%s:%s:%v", e.Key(), e.State, e.Active()))
	}
	want := []string{"12_3:RUNNING:true", "12_4:PENDING:true", "12_5:PENDING:true", "12_6:PENDING:true", "12_9:PENDING:true",
		"20_-1:PENDING:true", "12_0:COMPLETED:false"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("got %v\nwant %v", keys, want)
	}
	for _, bad := range []string{"12|3|RUNNING\n", "12|x|RUNNING|None|1\n", "12|5-2|PENDING|None|1\n"} {
		if _, err := ParseQueue([]byte(bad)); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%q: error %v, want one naming line 1", bad, err)
		}
	}
}

func TestErrorWording(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	dir := t.TempDir()
	plan := Plan{Groups: []Group{{Name: "g", Tasks: []Task{{ID: "t", Argv: []string{"/bin/true"}}}}}}
	cases := []struct {
		stderr string
		is     error
		want   []string
	}{
		{"sbatch: error: Batch job submission failed: Invalid partition name specified", nil,
			[]string{"sbatch --parsable --job-name=gap-g-1 --array=0-0", "--partition=gpu", "Invalid partition name specified", "sinfo -s"}},
		{"sbatch: error: Batch job submission failed: Invalid job array specification", nil,
			[]string{"--array=0-0", "MaxArraySize"}},
		{"sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)", ErrController,
			[]string{"Unable to contact slurm controller", "scontrol ping"}},
	}
	for _, c := range cases {
		f.set(t, "sbatch.err", c.stderr)
		_, err := f.client().Submit(ctx, dir, plan, Options{Resources: Resources{Partition: "gpu"}})
		var ce *CommandError
		if !errors.As(err, &ce) || (c.is != nil && !errors.Is(err, c.is)) {
			t.Errorf("%s: error %v (%T)", c.stderr, err, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q lacks %q", err, w)
			}
		}
		if st, _ := loadState(Dir(dir)); len(st.Submissions) != 0 {
			t.Errorf("%s: a rejected submission was recorded", c.stderr)
		}
	}
	f.unset("sbatch.err")

	f.set(t, "down", "")
	_, err := f.client().Submit(ctx, dir, plan, Options{})
	if !errors.Is(err, ErrController) || !strings.Contains(err.Error(), "scontrol ping") || !strings.Contains(err.Error(), "DOWN") {
		t.Errorf("dead controller: %v", err)
	}
	f.unset("down")

	c := f.client()
	c.Sbatch = "gap-test-no-such-sbatch"
	_, err = c.Submit(ctx, dir, plan, Options{})
	if !errors.Is(err, ErrNoSlurm) || !strings.Contains(err.Error(), "gap-test-no-such-sbatch") || !strings.Contains(err.Error(), "slurm-client") {
		t.Errorf("no sbatch: %v", err)
	}

	bad := Plan{Groups: []Group{{Name: "b", Tasks: plan.Groups[0].Tasks, After: []string{"later"}}, {Name: "later", Tasks: []Task{{ID: "u", Argv: []string{"x"}}}}}}
	if _, err := f.client().Submit(ctx, dir, bad, Options{}); err == nil || !strings.Contains(err.Error(), `after "later", which is not an earlier group`) {
		t.Errorf("dependency on a later group: %v", err)
	}
	dup := Plan{Groups: []Group{{Name: "a", Tasks: plan.Groups[0].Tasks}, {Name: "b", Tasks: plan.Groups[0].Tasks}}}
	if _, err := f.client().Submit(ctx, dir, dup, Options{}); err == nil || !strings.Contains(err.Error(), `task id "t" clashes`) {
		t.Errorf("duplicate task id: %v", err)
	}
}

// syntheticPlan is one group of n tasks, each with an output file.
func syntheticPlan(n int) Plan {
	g := Group{Name: "sweep"}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("row%03d/s%d", i/3, i%3)
		g.Tasks = append(g.Tasks, Task{ID: id, Argv: []string{"/usr/bin/gap", "run-stage", "-id", id}, Outputs: []string{fileName(id) + ".arrow"}})
	}
	return Plan{Groups: []Group{g}}
}

// queueLines is squeue output for array job `job` with `running` elements
// running and the rest of n pending, as squeue -r prints them.
func queueLines(job string, n, running int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i < running {
			fmt.Fprintf(&b, "%s|%d|RUNNING|None|%d\n", job, i, 1000+i)
		} else {
			fmt.Fprintf(&b, "%s|%d|PENDING|JobArrayTaskLimit|%s\n", job, i, job)
		}
	}
	return b.String()
}

// 1,000 tasks go in one sbatch call; status reads them back; a resubmission
// while they are queued submits nothing; once some are done, only the rest.
func TestThousandTasks(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	c := f.client()
	dir := t.TempDir()
	plan := syntheticPlan(1000)
	res, err := c.Submit(ctx, dir, plan, Options{MaxParallel: 50, Resources: Resources{Partition: "cpu", Time: "1:00:00", Mem: "2G", CPUsPerTask: 4}, Requeue: true, SignalBefore: 120})
	if err != nil {
		t.Fatal(err)
	}
	calls := f.calls(t)
	if len(calls) != 1 {
		t.Fatalf("%d sbatch calls, want 1", len(calls))
	}
	for _, w := range []string{"--parsable", "--array=0-999%50", "--partition=cpu", "--time=1:00:00", "--mem=2G", "--cpus-per-task=4",
		"--requeue", "--signal=B:TERM@120", "--job-name=gap-sweep-1", filepath.Join(dir, "slurm", "task.sh") + " " + filepath.Join(dir, "slurm", "sweep.1.manifest")} {
		if !strings.Contains(calls[0], w) {
			t.Errorf("sbatch call lacks %q: %s", w, calls[0])
		}
	}
	m, err := ReadManifest(filepath.Join(dir, "slurm", "sweep.1.manifest"))
	if err != nil || len(m) != 1000 || m[999].ID != plan.Groups[0].Tasks[999].ID {
		t.Fatalf("manifest: %d tasks, %v", len(m), err)
	}
	if res.Submitted[0].JobID != "100" {
		t.Fatalf("job id %q", res.Submitted[0].JobID)
	}

	f.set(t, "squeue.out", queueLines("100", 1000, 50))
	rep, err := c.Status(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := rep.Count(); n[Running] != 50 || n[Pending] != 950 {
		t.Errorf("status counts %v", n)
	}
	if ts := rep.Tasks[7]; ts.Job != "100_7" || ts.State != Running {
		t.Errorf("task 7: %+v", ts)
	}

	res, err = c.Submit(ctx, dir, plan, Options{})
	if err != nil || len(res.Submitted) != 0 || res.InFlight != 1000 || len(f.calls(t)) != 1 {
		t.Fatalf("resubmission while queued: %+v %v, %d calls", res, err, len(f.calls(t)))
	}

	// The first 600 finished (outputs written); the rest were cancelled.
	for _, tk := range plan.Groups[0].Tasks[:600] {
		os.WriteFile(filepath.Join(dir, tk.Outputs[0]), nil, 0o644)
	}
	f.set(t, "squeue.out", "")
	rep, _ = c.Status(ctx, dir)
	if n := rep.Count(); n[Done] != 600 || n[Failed] != 400 || !strings.Contains(rep.Tasks[600].Detail, "never started") {
		t.Errorf("after cancellation: %v, task 600 %+v", n, rep.Tasks[600])
	}
	res, err = c.Submit(ctx, dir, plan, Options{})
	if err != nil || len(res.Submitted) != 1 || res.Done != 600 || len(res.Submitted[0].Tasks) != 400 {
		t.Fatalf("resubmission: %+v %v", res, err)
	}
	if calls := f.calls(t); len(calls) != 2 || !strings.Contains(calls[1], "--array=0-399 ") {
		t.Errorf("second sbatch call: %v", calls[len(calls)-1])
	}
	if res.Submitted[0].Tasks[0] != plan.Groups[0].Tasks[600].ID {
		t.Errorf("index 0 of the new array is %s", res.Submitted[0].Tasks[0])
	}
}

// A P-GaP chain: init, then per round a branch array and a merge that
// depend on what came before, then the fine-tune.
func TestChainDependencies(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	dir := t.TempDir()
	task := func(id string) Task { return Task{ID: id, Argv: []string{"/usr/bin/gap", "run-stage", "-id", id}} }
	plan := Plan{Groups: []Group{{Name: "init", Tasks: []Task{task("init")}}}}
	prev := "init"
	for r := 0; r < 2; r++ {
		br := Group{Name: fmt.Sprintf("r%d-branches", r), After: []string{prev}}
		for b := 0; b < 4; b++ {
			br.Tasks = append(br.Tasks, task(fmt.Sprintf("r%d/b%d", r, b)))
		}
		mg := Group{Name: fmt.Sprintf("r%d-merge", r), After: []string{br.Name}, Tasks: []Task{task(fmt.Sprintf("r%d/merge", r))},
			Resources: &Resources{CPUsPerTask: 1}}
		plan.Groups = append(plan.Groups, br, mg)
		prev = mg.Name
	}
	plan.Groups = append(plan.Groups, Group{Name: "finetune", After: []string{prev}, Tasks: []Task{task("finetune")}})
	if _, err := f.client().Submit(ctx, dir, plan, Options{Resources: Resources{CPUsPerTask: 2}}); err != nil {
		t.Fatal(err)
	}
	calls := f.calls(t)
	wantArray := []string{"0-0", "0-3", "0-0", "0-3", "0-0", "0-0"}
	if len(calls) != len(wantArray) {
		t.Fatalf("%d sbatch calls, want %d", len(calls), len(wantArray))
	}
	for i, call := range calls {
		if !strings.Contains(call, "--array="+wantArray[i]+" ") {
			t.Errorf("call %d: %s, want --array=%s", i, call, wantArray[i])
		}
		dep := fmt.Sprintf("--dependency=afterok:%d --kill-on-invalid-dep=yes", 100+i-1)
		if (i > 0) != strings.Contains(call, dep) {
			t.Errorf("call %d: %s, want dependency %v on job %d", i, call, i > 0, 100+i-1)
		}
		cpus := "--cpus-per-task=2"
		if i == 2 || i == 4 {
			cpus = "--cpus-per-task=1"
		}
		if !strings.Contains(call, cpus) {
			t.Errorf("call %d lacks %s: %s", i, cpus, call)
		}
	}
	// Round 0 is done (exit files), round 1's branches still queued: the
	// resubmission submits nothing and nothing depends on finished work.
	for _, id := range []string{"init", "r0/b0", "r0/b1", "r0/b2", "r0/b3", "r0/merge"} {
		os.WriteFile(filepath.Join(dir, "slurm", "tasks", fileName(id)+".exit"), []byte("0\n"), 0o644)
	}
	f.set(t, "squeue.out", queueLines("103", 4, 2)+"104|0|PENDING|Dependency|104\n105|0|PENDING|Dependency|105\n")
	res, err := f.client().Submit(ctx, dir, plan, Options{})
	if err != nil || len(res.Submitted) != 0 || res.Done != 6 || res.InFlight != 6 {
		t.Fatalf("resubmission mid-chain: %+v %v", res, err)
	}
	// Branch r1/b2 failed, the rest of the chain was cancelled: resubmit r1/b2
	// after the still-running array 103 is done, then merge and fine-tune.
	f.set(t, "squeue.out", "103|0|RUNNING|None|200\n103|1|RUNNING|None|201\n103|2|FAILED|NonZeroExitCode|202\n103|3|COMPLETED|None|203\n"+
		"104|0|CANCELLED|DependencyNeverSatisfied|104\n105|0|CANCELLED|DependencyNeverSatisfied|105\n")
	os.WriteFile(filepath.Join(dir, "slurm", "tasks", "r1__b3.exit"), []byte("0\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "slurm", "tasks", "r1__b2.exit"), []byte("1\n"), 0o644)
	res, err = f.client().Submit(ctx, dir, plan, Options{})
	if err != nil || len(res.Submitted) != 3 {
		t.Fatalf("resubmission after a failure: %+v %v", res, err)
	}
	if got := res.Submitted[0].Tasks; !reflect.DeepEqual(got, []string{"r1/b2"}) {
		t.Errorf("resubmitted branches %v", got)
	}
	// afterok on array 103 would never be satisfied (element 2 failed): the
	// merge waits for the two elements still running, and the new array.
	if got := res.Submitted[1].After; !reflect.DeepEqual(got, []string{"103_0", "103_1", res.Submitted[0].JobID}) {
		t.Errorf("merge depends on %v, want the running elements 103_0, 103_1 and the new array", got)
	}
	if calls := f.calls(t); !strings.Contains(calls[len(calls)-2], "--dependency=afterok:103_0:103_1:"+res.Submitted[0].JobID+" ") {
		t.Errorf("merge's sbatch call: %s", calls[len(calls)-2])
	}
}

// A submission recorded without a job id (the submitter died around sbatch)
// is matched to its job by name, not submitted again.
func TestOrphanAdopted(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	dir := t.TempDir()
	plan := Plan{Groups: []Group{{Name: "g", Tasks: []Task{{ID: "t", Argv: []string{"/bin/true"}}}}}}
	os.MkdirAll(Dir(dir), 0o755)
	saveState(Dir(dir), &state{Submissions: []*Submission{{Seq: 1, Group: "g", JobName: "gap-g-1", Manifest: "g.1.manifest", Tasks: []string{"t"}}}})
	f.set(t, "squeue-name.out", "77\n")
	f.set(t, "squeue.out", "77|0|RUNNING|None|78\n")
	res, err := f.client().Submit(ctx, dir, plan, Options{})
	if err != nil || len(res.Submitted) != 0 || res.InFlight != 1 || len(f.calls(t)) != 0 {
		t.Fatalf("orphan: %+v %v", res, err)
	}
	if st, _ := loadState(Dir(dir)); st.Submissions[0].JobID != "77" {
		t.Errorf("orphan not adopted: %+v", st.Submissions[0])
	}
	// Not found by name: forgotten, and the task submitted.
	saveState(Dir(dir), &state{Submissions: []*Submission{{Seq: 1, Group: "g", JobName: "gap-g-1", Manifest: "g.1.manifest", Tasks: []string{"t"}}}})
	f.set(t, "squeue-name.out", "")
	res, err = f.client().Submit(ctx, dir, plan, Options{})
	if err != nil || len(res.Submitted) != 1 || len(f.calls(t)) != 1 {
		t.Fatalf("lost orphan: %+v %v", res, err)
	}
}

func TestStatusDeadControllerAndNoPlan(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	dir := t.TempDir()
	if _, err := f.client().Status(ctx, dir); !errors.Is(err, ErrNoPlan) {
		t.Errorf("no plan: %v", err)
	}
	if _, err := f.client().Submit(ctx, dir, syntheticPlan(3), Options{}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, fileName("row000/s0")+".arrow"), nil, 0o644)
	f.set(t, "down", "")
	f.set(t, "squeue.err", "squeue: error: Unable to contact slurm controller (connect failure)")
	rep, err := f.client().Status(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := rep.Count(); !errors.Is(rep.QueueErr, ErrController) || n[Done] != 1 || n[Unknown] != 2 {
		t.Errorf("dead controller: %v %v", rep.QueueErr, n)
	}
}

func TestThreads(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		n    int
		inSl bool
	}{
		{map[string]string{}, 0, false},
		{map[string]string{"SLURM_CPUS_ON_NODE": "8"}, 8, true},
		{map[string]string{"SLURM_CPUS_PER_TASK": "3", "SLURM_CPUS_ON_NODE": "8"}, 3, true},
		{map[string]string{"SLURM_CPUS_PER_TASK": "", "SLURM_CPUS_ON_NODE": "2(x3)"}, 2, true},
		{map[string]string{"SLURM_CPUS_PER_TASK": "zero", "SLURM_CPUS_ON_NODE": "0"}, 0, false},
	} {
		n, ok := threadsFrom(func(k string) string { return c.env[k] })
		if n != c.n || ok != c.inSl {
			t.Errorf("%v: %d %v, want %d %v", c.env, n, ok, c.n, c.inSl)
		}
	}
}

// BenchmarkStatus1000 times a status report of a 1,000-task plan: one squeue
// call (a stand-in printing 1,000 lines) and the files of every task.
func BenchmarkStatus1000(b *testing.B) {
	ctx := context.Background()
	f := newFake(b)
	dir := b.TempDir()
	plan := syntheticPlan(1000)
	if _, err := f.client().Submit(ctx, dir, plan, Options{}); err != nil {
		b.Fatal(err)
	}
	for _, tk := range plan.Groups[0].Tasks[:500] {
		os.WriteFile(filepath.Join(dir, tk.Outputs[0]), nil, 0o644)
	}
	f.set(b, "squeue.out", queueLines("100", 1000, 100)[0:])
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := f.client().Status(ctx, dir)
		if err != nil || len(rep.Tasks) != 1000 {
			b.Fatal(err)
		}
	}
}

// BenchmarkSubmit1000 times writing and submitting a 1,000-task manifest
// (one stand-in sbatch call).
func BenchmarkSubmit1000(b *testing.B) {
	ctx := context.Background()
	f := newFake(b)
	plan := syntheticPlan(1000)
	for i := 0; i < b.N; i++ {
		if _, err := f.client().Submit(ctx, b.TempDir(), plan, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestChainAndLock(t *testing.T) {
	task := func(id string) Task { return Task{ID: id, Argv: []string{"/bin/true"}} }
	groups := Chain("pgap", []Task{task("init")}, []Task{task("b0"), task("b1")}, []Task{task("merge")})
	if len(groups) != 3 || groups[0].After != nil || groups[1].After[0] != "pgap-0" || groups[2].After[0] != "pgap-1" || len(groups[1].Tasks) != 2 {
		t.Fatalf("chain: %+v", groups)
	}
	if err := (Plan{Groups: groups}).Validate(); err != nil {
		t.Fatal(err)
	}
	// A second submission from the same folder while one holds the lock.
	f := newFake(t)
	dir := t.TempDir()
	os.MkdirAll(Dir(dir), 0o755)
	unlock, err := lock(filepath.Join(Dir(dir), "lock"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.client().Submit(context.Background(), dir, Plan{Groups: groups}, Options{})
	if err == nil || !strings.Contains(err.Error(), "another submission from this results folder is in progress") {
		t.Errorf("concurrent submission: %v", err)
	}
	unlock()
	if _, err := f.client().Submit(context.Background(), dir, Plan{Groups: groups}, Options{}); err != nil || len(f.calls(t)) != 3 {
		t.Errorf("after unlock: %v, %d calls", err, len(f.calls(t)))
	}
}

func TestDoneIfAny(t *testing.T) {
	dir := t.TempDir()
	sd := Dir(dir)
	os.MkdirAll(filepath.Join(sd, "tasks"), 0o755)
	task := Task{ID: "run1/branch-0-2", Argv: []string{"x"}, Outputs: []string{"ckpt/run1/branch-0-2.done"}, DoneIfAny: []string{"run1.arrow"}}
	if done, why := taskDone(dir, sd, task); done || !strings.Contains(why, "branch-0-2.done") {
		t.Errorf("nothing on disk: done %v (%s)", done, why)
	}
	os.WriteFile(filepath.Join(dir, "run1.arrow"), nil, 0o644)
	if done, _ := taskDone(dir, sd, task); !done {
		t.Error("the run's result exists, yet the stage is not done")
	}
	task.DoneIfAny, task.Outputs = nil, nil
	os.WriteFile(filepath.Join(sd, "tasks", "run1__branch-0-2.exit"), []byte("1\n"), 0o644)
	if done, _ := taskDone(dir, sd, task); done {
		t.Error("exit status 1 taken for done")
	}
	os.WriteFile(filepath.Join(sd, "tasks", "run1__branch-0-2.exit"), []byte("0\n"), 0o644)
	if done, _ := taskDone(dir, sd, task); !done {
		t.Error("exit status 0 without outputs not taken for done")
	}
}
