package experiments

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// deadPID is the id of a process that has exited.
func deadPID(t *testing.T) int {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no `true` command")
	}
	return cmd.Process.Pid
}

// TestStaleTempCleaned checks that a temporary checkpoint a killed process
// left is removed when the run resumes, that a finished run drops its
// checkpoint folder by default, and that Clean removes a kept one and stale
// temporary files of unfinished runs while keeping their checkpoints.
func TestStaleTempCleaned(t *testing.T) {
	plan := testPlan(t, "static/0.9/uniform")
	dir := t.TempDir()
	specs, _ := plan.Specs()
	spec := specs[0]
	spec.Threads = 1
	ck := filepath.Join(dir, "imagenet", "ckpt", spec.ID())
	stale := filepath.Join(ck, ".main.ckpt."+strconv.Itoa(deadPID(t))+".77.tmp")
	if err := os.MkdirAll(ck, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("half a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	var removedDuringRun bool
	env := Env{Dir: filepath.Join(dir, "imagenet"), Threads: 1, Data: &DataCache{}, OnCheckpoint: func(string) {
		_, err := os.Stat(stale)
		removedDuringRun = os.IsNotExist(err)
	}}
	if _, err := Execute(context.Background(), spec, env); err != nil {
		t.Fatal(err)
	}
	if !removedDuringRun {
		t.Fatal("the stale temporary checkpoint was not removed when the run started")
	}
	if _, err := os.Stat(ck); !os.IsNotExist(err) {
		t.Fatalf("the finished run kept its checkpoint folder: %v", err)
	}

	// Keep a finished run's checkpoints; make an unfinished run with a stale temp.
	spec.Seed = 1
	env.KeepCheckpoints, env.OnCheckpoint = true, nil
	if _, err := Execute(context.Background(), spec, env); err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(dir, "imagenet", "ckpt", spec.ID())
	unfinished := filepath.Join(dir, "imagenet", "ckpt", "0123456789abcdef")
	if err := os.MkdirAll(unfinished, 0o755); err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(unfinished, "main.ckpt")
	tmp := filepath.Join(unfinished, ".main.ckpt."+strconv.Itoa(deadPID(t))+".1.tmp")
	staleResult := filepath.Join(dir, "imagenet", ".0123456789abcdef.arrow."+strconv.Itoa(deadPID(t))+".5.tmp")
	for _, p := range []string{ckpt, tmp, staleResult} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := Clean(dir, CleanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Folders != 1 || rep.TempFiles != 2 || rep.KeptUnfinished != 1 {
		t.Fatalf("clean report %+v", rep)
	}
	if _, err := os.Stat(kept); !os.IsNotExist(err) {
		t.Fatal("the finished run's kept checkpoints survived gap clean")
	}
	if _, err := os.Stat(ckpt); err != nil {
		t.Fatal("an unfinished run lost its checkpoint")
	}
	for _, p := range []string{tmp, staleResult} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("a stale temporary file survived gap clean: %s", p)
		}
	}
}
