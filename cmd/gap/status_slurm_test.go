//go:build slurm

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gap-harness/gap/experiments/slurm"
)

// TestMain lets this test binary stand in for gap in array tasks:
// `gap.test gap-cli ARGS...` is `gap ARGS...`, and so are the commands that
// gap itself starts from its own executable (run-stage, pgap-branch).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "gap-cli" {
		os.Exit(run(os.Args[2:], os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && (os.Args[1] == "run-stage" || os.Args[1] == "pgap-branch") {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// Real gap commands as array tasks on the local cluster: gap status reports
// the one that succeeded as done and the one that failed with its log.
func TestSlurmGapStatus(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	results := t.TempDir()
	os.Chmod(results, 0o755)
	plan := slurm.Plan{Groups: []slurm.Group{{Name: "cli", Tasks: []slurm.Task{
		{ID: "list", Argv: []string{exe, "gap-cli", "list", "methods"}},
		{ID: "bad-train", Argv: []string{exe, "gap-cli", "train", "-method", "no-such-method"}},
	}}}}
	c := &slurm.Client{}
	if _, err := c.Submit(context.Background(), results, plan, slurm.Options{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	var out, stderr string
	var code int
	for {
		code, out, stderr = runCLI(t, "status", "-results", results)
		if !strings.Contains(out, "running") && !strings.Contains(out, "pending") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tasks not finished after 60 s:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	logPath := filepath.Join(results, "slurm", "logs", "bad-train.log")
	flat := strings.Join(strings.Fields(out), " ")
	if code != 1 || !strings.Contains(flat, "done list cli") || !strings.Contains(flat, "exit status 2") ||
		!strings.Contains(flat, logPath) || !strings.Contains(stderr, "1 failed task") {
		t.Fatalf("gap status: exit %d\n%s\n%s", code, out, stderr)
	}
	if log, _ := os.ReadFile(logPath); !strings.Contains(string(log), "no-such-method") {
		t.Errorf("the failed task's log does not say why:\n%s", log)
	}
	if log, _ := os.ReadFile(filepath.Join(results, "slurm", "logs", "list.log")); !strings.Contains(string(log), "cgap") {
		t.Errorf("gap list's output is not in its log:\n%s", log)
	}
}

// BenchmarkSlurmOverhead runs the same eight smoke-profile LeNet-5 trainings
// (gap train, one thread each) two at a time, first as local processes, then
// as one Slurm job array (%2, one CPU per task) on the local cluster, and
// reports both wall times and their ratio.
func BenchmarkSlurmOverhead(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	methods := []string{"dense", "gmp", "rigl", "set", "static", "snip", "pfp", "cgap"}
	argv := func(dir, m string) []string {
		return []string{exe, "gap-cli", "train", "-table", "lenet", "-profile", "smoke", "-method", m, "-threads", "1", "-results", dir}
	}
	const parallel = 2
	var local, viaSlurm time.Duration
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		os.Chmod(dir, 0o755)
		start := time.Now()
		sem := make(chan struct{}, parallel)
		errs := make(chan error, len(methods))
		for _, m := range methods {
			sem <- struct{}{}
			go func(m string) {
				defer func() { <-sem }()
				cmd := exec.Command(argv(filepath.Join(dir, "local"), m)[0], argv(filepath.Join(dir, "local"), m)[1:]...)
				if out, err := cmd.CombinedOutput(); err != nil {
					errs <- fmt.Errorf("%s: %v\n%s", m, err, out)
					return
				}
				errs <- nil
			}(m)
		}
		for range methods {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
		local += time.Since(start)

		var tasks []slurm.Task
		for _, m := range methods {
			tasks = append(tasks, slurm.Task{ID: m, Argv: argv(filepath.Join(dir, "slurm-runs"), m)})
		}
		c := &slurm.Client{}
		start = time.Now()
		if _, err := c.Submit(context.Background(), dir, slurm.Plan{Groups: []slurm.Group{{Name: "smoke", Tasks: tasks}}},
			slurm.Options{MaxParallel: parallel, Resources: slurm.Resources{CPUsPerTask: 1}}); err != nil {
			b.Fatal(err)
		}
		for {
			rep, err := c.Status(context.Background(), dir)
			if err != nil {
				b.Fatal(err)
			}
			n := rep.Count()
			if n[slurm.Failed] > 0 {
				b.Fatalf("failed: %+v", rep.Tasks)
			}
			if n[slurm.Done] == len(tasks) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		viaSlurm += time.Since(start)
	}
	b.ReportMetric(local.Seconds()/float64(b.N), "local-s")
	b.ReportMetric(viaSlurm.Seconds()/float64(b.N), "slurm-s")
	b.ReportMetric(viaSlurm.Seconds()/local.Seconds(), "slurm/local")
}

// The same smoke trainings give the same results as Slurm array tasks as
// they do as local processes, bit for bit (same settings, seed and threads).
func TestSlurmSameResultsAsLocal(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	os.Chmod(root, 0o755)
	methods := []string{"dense", "cgap"}
	argv := func(dir, m string) []string {
		return []string{exe, "gap-cli", "train", "-table", "lenet", "-profile", "smoke", "-method", m, "-threads", "1", "-seed", "3", "-results", dir}
	}
	local, remote := filepath.Join(root, "local"), filepath.Join(root, "slurm-runs")
	var tasks []slurm.Task
	for _, m := range methods {
		a := argv(local, m)
		if out, err := exec.Command(a[0], a[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("local %s: %v\n%s", m, err, out)
		}
		tasks = append(tasks, slurm.Task{ID: m, Argv: argv(remote, m)})
	}
	c := &slurm.Client{}
	ctx := context.Background()
	if _, err := c.Submit(ctx, root, slurm.Plan{Groups: []slurm.Group{{Name: "smoke", Tasks: tasks}}},
		slurm.Options{Resources: slurm.Resources{CPUsPerTask: 1}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(120 * time.Second)
	for {
		rep, err := c.Status(ctx, root)
		if err != nil {
			t.Fatal(err)
		}
		n := rep.Count()
		if n[slurm.Failed] > 0 {
			t.Fatalf("%+v", rep.Tasks)
		}
		if n[slurm.Done] == len(tasks) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not done after 120 s: %+v", rep.Tasks)
		}
		time.Sleep(100 * time.Millisecond)
	}
	a, err := loadRuns(local, "lenet")
	if err != nil {
		t.Fatal(err)
	}
	b, err := loadRuns(remote, "lenet")
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(methods) || len(b) != len(methods) {
		t.Fatalf("%d local and %d Slurm runs, want %d each", len(a), len(b), len(methods))
	}
	byID := map[string]int{}
	for i, r := range b {
		byID[r.ID] = i
	}
	for _, r := range a {
		i, ok := byID[r.ID]
		if !ok {
			t.Errorf("run %s (%s) has no Slurm twin", r.ID, r.Row)
			continue
		}
		s := b[i]
		if !reflect.DeepEqual(r.Final, s.Final) {
			t.Errorf("%s: final metrics local %v, Slurm %v", r.Row, r.Final, s.Final)
		}
		if len(r.Curves) != len(s.Curves) {
			t.Errorf("%s: %d curve points local, %d Slurm", r.Row, len(r.Curves), len(s.Curves))
			continue
		}
		for k := range r.Curves {
			if r.Curves[k] != s.Curves[k] {
				t.Errorf("%s: curve point %d local %+v, Slurm %+v", r.Row, k, r.Curves[k], s.Curves[k])
				break
			}
		}
	}
}
