package experiments

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/results"
)

// TestRunsRecordTheirBuild checks that a run records the engine build that
// computed it, that a finished run of another build is refused instead of
// being reused into a table (with an error naming the file and both
// builds), that a run without a recorded build is still reused, and that a
// checkpoint of another build is refused on resume.
func TestRunsRecordTheirBuild(t *testing.T) {
	plan := testPlan(t, "static/0.9/uniform")
	dir := t.TempDir()
	runs, err := RunPlan(context.Background(), plan, Options{ResultsDir: dir, Jobs: 1})
	if err != nil {
		t.Fatal(err)
	}
	r := runs[0]
	if r.Build == "" || r.Build != engine.Build() {
		t.Fatalf("run records build %q, this binary is %q", r.Build, engine.Build())
	}
	path := filepath.Join(dir, "imagenet", r.ID+results.Ext)
	back, err := results.Read(path)
	if err != nil || back.Build != r.Build {
		t.Fatalf("read back: build %q, %v", back.Build, err)
	}

	// The same folder again: reused.
	if _, err := RunPlan(context.Background(), plan, Options{ResultsDir: dir, Jobs: 1}); err != nil {
		t.Fatalf("same build: %v", err)
	}
	// Recorded by another build: refused.
	back.Build = "otherblas+noasm"
	if _, err := results.Write(filepath.Dir(path), back); err != nil {
		t.Fatal(err)
	}
	_, err = RunPlan(context.Background(), plan, Options{ResultsDir: dir, Jobs: 1})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `"otherblas+noasm"`) || !strings.Contains(err.Error(), engine.Build()) {
		t.Fatalf("a finished run of another build: got %v, want an error naming %s and both builds", err, path)
	}
	// With a row still to train beside it, the folder is refused before
	// anything trains: no run of this build joins the other build's.
	two := plan
	two.Rows = []string{"static/0.9/uniform", "gmp/0.9/uniform"}
	for _, s := range two.ExecutedSpecs(1) {
		if s.Row.Key() == "gmp/0.9/uniform" {
			_, err = RunPlan(context.Background(), two, Options{ResultsDir: dir, Jobs: 1})
			if err == nil || !strings.Contains(err.Error(), `"otherblas+noasm"`) {
				t.Fatalf("a folder with a run of another build and a row to train: got %v", err)
			}
			if _, serr := os.Stat(filepath.Join(dir, "imagenet", s.ID()+results.Ext)); serr == nil {
				t.Fatalf("row %s was trained into a folder of another build", s.Row.Key())
			}
		}
	}
	// Not recorded (a run from before the field): reused.
	back.Build = ""
	if _, err := results.Write(filepath.Dir(path), back); err != nil {
		t.Fatal(err)
	}
	if _, err := RunPlan(context.Background(), plan, Options{ResultsDir: dir, Jobs: 1}); err != nil {
		t.Fatalf("a run without a recorded build: %v", err)
	}

	// A checkpoint of another build: stop after the first checkpoint, mark
	// it, and resume.
	cdir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var ckpt string
	_, err = RunPlan(ctx, plan, Options{ResultsDir: cdir, Jobs: 1, OnCheckpoint: func(p string) {
		if ckpt == "" {
			ckpt = p
			cancel()
		}
	}})
	cancel()
	if !errors.Is(err, context.Canceled) || ckpt == "" {
		t.Fatalf("stopping at the first checkpoint: %v (checkpoint %q)", err, ckpt)
	}
	c, err := LoadCheckpoint(ckpt)
	if err != nil || c == nil {
		t.Fatalf("checkpoint %s: %v", ckpt, err)
	}
	if c.Build != engine.Build() {
		t.Fatalf("checkpoint records build %q, want %q", c.Build, engine.Build())
	}
	c.Build = "otherblas"
	if err := SaveCheckpoint(ckpt, c); err != nil {
		t.Fatal(err)
	}
	_, err = RunPlan(context.Background(), plan, Options{ResultsDir: cdir, Jobs: 1})
	if err == nil || !strings.Contains(err.Error(), `"otherblas"`) {
		t.Fatalf("resuming a checkpoint of another build: got %v", err)
	}
}
