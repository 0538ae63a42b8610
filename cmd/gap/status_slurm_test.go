//go:build slurm

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gap-harness/gap/experiments/slurm"
)

// TestMain lets this test binary stand in for gap in array tasks:
// `gap.test gap-cli ARGS...` is `gap ARGS...`.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "gap-cli" {
		os.Exit(run(os.Args[2:], os.Stdout, os.Stderr))
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
