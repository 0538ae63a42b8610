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
	if !strings.Contains(again, "0 sbatch calls; 16 tasks already done") {
		t.Errorf("resubmission of a finished table:\n%s", again)
	}
}
