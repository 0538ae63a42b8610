package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gap-harness/gap/experiments/slurm"
)

// fakeSlurm puts stand-ins for sbatch, squeue and scontrol first on PATH:
// sbatch answers job 500, squeue prints queue, scontrol ping reports UP.
func fakeSlurm(t *testing.T, queue string) {
	d := t.TempDir()
	os.WriteFile(filepath.Join(d, "queue"), []byte(queue), 0o644)
	for name, body := range map[string]string{
		"sbatch":   "#!/bin/sh\necho 500\n",
		"squeue":   "#!/bin/sh\ncat " + filepath.Join(d, "queue") + "\n",
		"scontrol": "#!/bin/sh\necho 'Slurmctld(primary) at vm is UP'\n",
	} {
		os.WriteFile(filepath.Join(d, name), []byte(body), 0o755)
	}
	t.Setenv("PATH", d+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func TestStatusCommand(t *testing.T) {
	fakeSlurm(t, "500|1|RUNNING|None|501\n500|2|PENDING|Priority|500\n500|3|FAILED|NonZeroExitCode|503\n")
	results := t.TempDir()
	dir := filepath.Join(results, "lenet")
	var tasks []slurm.Task
	for _, id := range []string{"dense/s0", "gmp/s0", "rigl/s0", "set/s0"} {
		tasks = append(tasks, slurm.Task{ID: id, Argv: []string{"/usr/bin/gap", "run-stage", "-id", id}})
	}
	if _, err := (&slurm.Client{}).Submit(context.Background(), dir, slurm.Plan{Groups: []slurm.Group{{Name: "runs", Tasks: tasks}}}, slurm.Options{}); err != nil {
		t.Fatal(err)
	}
	sd := slurm.Dir(dir)
	os.WriteFile(filepath.Join(sd, "tasks", "dense__s0.exit"), []byte("0\n"), 0o644)
	os.WriteFile(filepath.Join(sd, "tasks", "set__s0.exit"), []byte("2\n"), 0o644)
	os.WriteFile(filepath.Join(sd, "logs", "set__s0.log"), []byte("boom\n"), 0o644)

	code, out, stderr := runCLI(t, "status", "-results", results) // finds lenet/slurm
	if code != 1 || !strings.Contains(stderr, "1 failed task") {
		t.Errorf("exit %d, stderr %q; want 1 and the failed count", code, stderr)
	}
	flat := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{
		"done dense/s0 runs 500_0 -", "running gmp/s0 runs 500_1 -", "pending rigl/s0 runs 500_2 Priority",
		"failed set/s0 runs 500_3 exit status 2, FAILED " + filepath.Join(sd, "logs", "set__s0.log"),
		"4 tasks: 1 done, 1 running, 1 pending, 1 failed",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code, _, stderr := runCLI(t, "status", "-results", t.TempDir()); code != 1 || !strings.Contains(stderr, "no Slurm plan") {
		t.Errorf("empty folder: exit %d, %q", code, stderr)
	}
}
