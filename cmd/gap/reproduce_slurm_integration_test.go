//go:build slurm

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gap-harness/gap/experiments/slurm"
)

// The lenet smoke table through `gap reproduce -executor slurm -wait` on the
// local cluster gives the same results as the local executor at the same
// threads per run (one), bit for bit, and prints the table; the P-GaP run's
// branches ran as separate array tasks of one array, each its own Slurm job.
func TestSlurmReproduceSameAsLocal(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	os.Chmod(root, 0o755)
	local, remote := filepath.Join(root, "local"), filepath.Join(root, "slurm-runs")
	gap := func(env []string, args ...string) (string, time.Duration) {
		t.Helper()
		cmd := exec.Command(exe, append([]string{"gap-cli"}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		start := time.Now()
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("gap %v: %v\n%s\n%s", args, err, out, stderr.String())
		}
		return string(out), time.Since(start)
	}
	// Two runs at once on two cores: one thread each, as -cpus-per-task 1.
	localOut, localWall := gap([]string{"GOMAXPROCS=2"}, "reproduce", "-table", "lenet", "-profile", "smoke", "-jobs", "2", "-results", local)
	slurmOut, slurmWall := gap(nil, "reproduce", "-table", "lenet", "-profile", "smoke", "-executor", "slurm", "-cpus-per-task", "1",
		"-max-parallel", "2", "-wait", "-poll", "200ms", "-results", remote)
	t.Logf("lenet smoke table: local executor (2 at once) %.1f s, Slurm executor (-max-parallel 2) %.1f s", localWall.Seconds(), slurmWall.Seconds())
	for _, out := range []string{localOut, slurmOut} {
		if !strings.Contains(out, "LeNet-5 on MNIST") || !strings.Contains(out, "Results: 9 runs") {
			t.Errorf("reproduce printed no table:\n%s", out)
		}
	}
	a, err := loadRuns(local, "lenet")
	if err != nil {
		t.Fatal(err)
	}
	b, err := loadRuns(remote, "lenet")
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 9 || len(b) != 9 {
		t.Fatalf("%d local and %d Slurm runs, want 9 each", len(a), len(b))
	}
	byID := map[string]int{}
	for i, r := range b {
		byID[r.ID] = i
	}
	pgapID := ""
	for _, r := range a {
		if r.Method == "pgap" {
			pgapID = r.ID
		}
		i, ok := byID[r.ID]
		if !ok {
			t.Errorf("run %s (%s) has no Slurm twin", r.ID, r.Row)
			continue
		}
		s := b[i]
		if !reflect.DeepEqual(r.Final, s.Final) {
			t.Errorf("%s: final metrics local %v, Slurm %v", r.Row, r.Final, s.Final)
		}
		if !reflect.DeepEqual(r.Curves, s.Curves) || !reflect.DeepEqual(r.Layers, s.Layers) || r.TrainFLOPs != s.TrainFLOPs {
			t.Errorf("%s: curves, layers or FLOPs differ between local and Slurm", r.Row)
		}
	}
	// The branches' job ids, as task.sh recorded them when each started.
	dir := filepath.Join(remote, "lenet")
	var arrays, jobs []string
	for k := 0; k < 5; k++ {
		raw, err := os.ReadFile(filepath.Join(slurm.Dir(dir), "tasks", pgapID+"__branch-0-"+string(rune('0'+k))+".start"))
		if err != nil {
			t.Fatalf("branch %d: %v", k, err)
		}
		f := strings.Fields(string(raw)) // ARRAYJOB_INDEX SLURM_JOB_ID host time
		if len(f) < 2 {
			t.Fatalf("branch %d start record %q", k, raw)
		}
		arr, idx, _ := strings.Cut(f[0], "_")
		if idx != string(rune('0'+k)) {
			t.Errorf("branch %d ran as array index %s", k, idx)
		}
		arrays, jobs = append(arrays, arr), append(jobs, f[1])
	}
	sort.Strings(jobs)
	for k := 1; k < len(jobs); k++ {
		if jobs[k] == jobs[k-1] {
			t.Errorf("two branches ran in the same Slurm job %s", jobs[k])
		}
	}
	for _, a := range arrays[1:] {
		if a != arrays[0] {
			t.Errorf("branches in different arrays: %v", arrays)
		}
	}
	t.Logf("P-GaP run %s: branches in array %s, jobs %v", pgapID, arrays[0], jobs)
	// Submitting again finds everything done and submits nothing.
	again, _ := gap(nil, "reproduce", "-table", "lenet", "-profile", "smoke", "-executor", "slurm", "-results", remote)
	if !strings.Contains(again, "0 sbatch calls; 14 tasks already done") {
		t.Errorf("resubmission of a finished table:\n%s", again)
	}
	// Packed: four serial runs per array task, the same results.
	packed := filepath.Join(root, "slurm-packed")
	_, packedWall := gap(nil, "reproduce", "-table", "lenet", "-profile", "smoke", "-executor", "slurm", "-cpus-per-task", "1",
		"-max-parallel", "2", "-runs-per-task", "4", "-wait", "-poll", "200ms", "-results", packed)
	t.Logf("lenet smoke table, 4 serial runs per array task: Slurm executor %.1f s (local %.1f s)", packedWall.Seconds(), localWall.Seconds())
	c, err := loadRuns(packed, "lenet")
	if err != nil {
		t.Fatal(err)
	}
	if len(c) != 9 {
		t.Fatalf("%d packed Slurm runs, want 9", len(c))
	}
	for _, r := range c {
		i, ok := byID[r.ID]
		if !ok || !reflect.DeepEqual(r.Final, b[i].Final) || !reflect.DeepEqual(r.Curves, b[i].Curves) {
			t.Errorf("packed run %s (%s) differs from the unpacked one", r.ID, r.Row)
		}
	}
}

// A P-GaP branch cancelled with scancel leaves its run unfinished (the merge
// behind it is not run) and gap status says so; submitting the table again
// runs only what is missing, and the run ends with the local executor's
// result.
func TestSlurmCancelledBranchResubmitted(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	os.Chmod(root, 0o755)
	local, remote := filepath.Join(root, "local"), filepath.Join(root, "slurm-runs")
	gap := func(env []string, args ...string) (string, error) {
		cmd := exec.Command(exe, append([]string{"gap-cli"}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	row := []string{"-table", "lenet", "-profile", "smoke", "-rows", "pgap/0.9/uniform"}
	if out, err := gap([]string{"GOMAXPROCS=1"}, append([]string{"reproduce", "-results", local}, row...)...); err != nil {
		t.Fatalf("local: %v\n%s", err, out)
	}
	if out, err := gap(nil, append([]string{"reproduce", "-executor", "slurm", "-max-parallel", "1", "-results", remote}, row...)...); err != nil {
		t.Fatalf("submit: %v\n%s", err, out)
	}
	want, err := loadRuns(local, "lenet")
	if err != nil || len(want) != 1 {
		t.Fatalf("local runs %v: %v", want, err)
	}
	id := want[0].ID
	dir := filepath.Join(remote, "lenet")
	tasks := filepath.Join(slurm.Dir(dir), "tasks")
	// As soon as the first branch starts (one at a time), cancel the last.
	deadline := time.Now().Add(90 * time.Second)
	var start []byte
	for {
		if start, err = os.ReadFile(filepath.Join(tasks, id+"__branch-0-0.start")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first branch did not start in 90 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	array, _, _ := strings.Cut(strings.Fields(string(start))[0], "_")
	if out, err := exec.Command("scancel", array+"_4").CombinedOutput(); err != nil {
		t.Fatalf("scancel %s_4: %v\n%s", array, err, out)
	}
	c := &slurm.Client{}
	var rep *slurm.Report
	for {
		if rep, err = c.Status(t.Context(), dir); err != nil {
			t.Fatal(err)
		}
		n := rep.Count()
		if rep.QueueErr == nil && n[slurm.Running] == 0 && n[slurm.Pending] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still running after 90 s: %+v", rep.Tasks)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n := rep.Count(); n[slurm.Done] != 4 || n[slurm.Failed]+n[slurm.NotSubmitted] != 2 {
		t.Fatalf("after the scancel: %v, want 4 done (branches 0-3, each running the init first) and 2 not (branch 4, merge and fine-tune): %+v", n, rep.Tasks)
	}
	if _, err := os.Stat(filepath.Join(dir, id+".arrow")); err == nil {
		t.Fatal("the run finished without its cancelled branch")
	}
	out, err := gap(nil, append([]string{"reproduce", "-executor", "slurm", "-wait", "-poll", "200ms", "-results", remote}, row...)...)
	if err != nil {
		t.Fatalf("resubmit: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Results: 1 runs") {
		t.Errorf("resubmission printed no table:\n%s", out)
	}
	raw, err := os.ReadFile(filepath.Join(slurm.Dir(dir), "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(raw), `"group": "pgap-`+id+`-0"`); n != 2 {
		t.Errorf("branch array submitted %d times, want 2 (the resubmission runs branch 4 only)", n)
	}
	// The resubmitted branch found the init done and did not run it again.
	blog, err := os.ReadFile(filepath.Join(slurm.Dir(dir), "logs", id+"__branch-0-4.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(blog), "stage already complete") || !strings.Contains(string(blog), "stage=round-0") {
		t.Errorf("branch 4's log does not say it found round-0 complete:\n%s", blog)
	}
	got, err := loadRuns(remote, "lenet")
	if err != nil || len(got) != 1 {
		t.Fatalf("Slurm runs %v: %v", got, err)
	}
	if !reflect.DeepEqual(want[0].Final, got[0].Final) || !reflect.DeepEqual(want[0].Curves, got[0].Curves) || want[0].TrainFLOPs != got[0].TrainFLOPs {
		t.Errorf("resubmitted run differs from the local one: final %v vs %v", want[0].Final, got[0].Final)
	}
}
