package slurm

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary double as the command the array tasks run:
// `slurm.test slurm-helper MODE ARGS...`.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "slurm-helper" {
		if err := helper(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "slurm-helper:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helper modes:
//
//	ok OUT SECONDS      sleep, then write OUT: "threads=N start=NS end=NS"
//	fail                print an error and exit 3
//	sum OUT IN...       write OUT: "start=NS inputs=K" (fails if an input is missing)
//	count OUT N         N steps of 0.1 s, the step count checkpointed in OUT.ckpt;
//	                    resumes from it and writes OUT: "total=N thisrun=K"
func helper(args []string) error {
	start := time.Now().UnixNano()
	threads, _ := Threads()
	switch args[0] {
	case "ok":
		d, _ := strconv.ParseFloat(args[2], 64)
		time.Sleep(time.Duration(d * float64(time.Second)))
		return writeAtomic(args[1], fmt.Appendf(nil, "threads=%d start=%d end=%d\n", threads, start, time.Now().UnixNano()), 0o644)
	case "fail":
		return fmt.Errorf("failing on purpose (task %s)", os.Getenv("SLURM_ARRAY_TASK_ID"))
	case "sum":
		for _, in := range args[2:] {
			if _, err := os.Stat(in); err != nil {
				return fmt.Errorf("input missing: %w", err)
			}
		}
		return writeAtomic(args[1], fmt.Appendf(nil, "start=%d inputs=%d\n", start, len(args)-2), 0o644)
	case "count":
		n, _ := strconv.Atoi(args[2])
		ckpt := args[1] + ".ckpt"
		step := 0
		if b, err := os.ReadFile(ckpt); err == nil {
			step, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		first := step
		for ; step < n; step++ {
			time.Sleep(100 * time.Millisecond)
			if err := writeAtomic(ckpt, []byte(strconv.Itoa(step+1)), 0o644); err != nil {
				return err
			}
		}
		return writeAtomic(args[1], fmt.Appendf(nil, "total=%d thisrun=%d\n", step, step-first), 0o644)
	}
	return fmt.Errorf("unknown mode %q", args[0])
}

// helperTask is a task running the test binary in a helper mode.
func helperTask(t testing.TB, id string, out string, mode ...string) Task {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe, _ = filepath.Abs(exe)
	task := Task{ID: id, Argv: append([]string{exe, "slurm-helper"}, mode...)}
	if out != "" {
		task.Outputs = []string{out}
	}
	return task
}

// readField reads key=value from a helper output file.
func readField(t testing.TB, path, key string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(string(b)) {
		if k, v, ok := strings.Cut(f, "="); ok && k == key {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("%s: %s=%q", path, key, v)
			}
			return n
		}
	}
	t.Fatalf("%s has no %s= in %q", path, key, b)
	return 0
}
