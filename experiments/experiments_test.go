package experiments

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gap-harness/gap/methods"
	"github.com/gap-harness/gap/results"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// testPlan is the imagenet table's smoke profile on MNIST (always available
// from the Go module cache), restricted to rows that cover every hook: a
// serial GaP, the parallel one, RigL's dense-gradient steps and GMP.
func testPlan(t testing.TB, rows ...string) Plan {
	t.Helper()
	tab := ImageNet()
	p, err := tab.Profile("smoke")
	if err != nil {
		t.Fatal(err)
	}
	p.Data.Name = "mnist"
	if err := Available("mnist", ""); err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	if len(rows) == 0 {
		rows = []string{"cgap/0.9/uniform", "pgap/0.8/global", "rigl/0.9/erk", "gmp/0.9/uniform"}
	}
	return Plan{Table: tab, Profile: p, Seeds: 1, Rows: rows}
}

// comparable strips what legitimately differs between two executions of the
// same run (times and provenance).
var ignoreTimes = cmpopts.IgnoreFields(results.Run{}, "Started", "Finished", "WallSeconds", "Commit", "Machine", "GoVersion")

// TestResumeHelperProcess is the child of TestKillAndResume: it runs the plan
// into the folder named by GAP_RESUME_DIR until it is killed.
func TestResumeHelperProcess(t *testing.T) {
	dir := os.Getenv("GAP_RESUME_DIR")
	if dir == "" {
		t.Skip("helper process for TestKillAndResume")
	}
	plan := testPlan(t)
	if _, err := RunPlan(context.Background(), plan, Options{ResultsDir: dir, Jobs: 1}); err != nil {
		t.Fatal(err)
	}
}

// TestKillAndResume kills a table run with SIGKILL in the middle, runs the same
// command again, and checks that the finished table equals an uninterrupted run's.
func TestKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: BLAS-independent whole-table test, run in the OpenBLAS pass of make test")
	}
	plan := testPlan(t)
	clean := t.TempDir()
	want, err := RunPlan(context.Background(), plan, Options{ResultsDir: clean, Jobs: 1})
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestResumeHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "GAP_RESUME_DIR="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once the second run has a checkpoint: one run finished, one
	// interrupted mid-way, the rest not started.
	deadline := time.Now().Add(2 * time.Minute)
	killed := false
	for time.Now().Before(deadline) {
		finished, _ := filepath.Glob(filepath.Join(dir, "imagenet", "*.arrow"))
		ckpts, _ := filepath.Glob(filepath.Join(dir, "imagenet", "ckpt", "*", "*.ckpt"))
		if len(finished) >= 1 && len(ckpts) >= 2 {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Wait()
	if !killed {
		t.Fatal("the child never reached the middle of the table")
	}
	finished, _ := filepath.Glob(filepath.Join(dir, "imagenet", "*.arrow"))
	if len(finished) >= len(want) {
		t.Fatalf("the child finished all %d runs before the kill; the test proves nothing", len(finished))
	}
	got, err := RunPlan(context.Background(), plan, Options{ResultsDir: dir, Jobs: 1})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, ignoreTimes, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("resumed table differs from the uninterrupted one (-want +got):\n%s", diff)
	}
	// Nothing half-written is left.
	tmps, _ := filepath.Glob(filepath.Join(dir, "imagenet", ".*"))
	if len(tmps) > 0 {
		t.Fatalf("temporary files left behind: %v", tmps)
	}
}

// TestFinishedRunsAreSkipped checks that a second execution reads the runs back.
func TestFinishedRunsAreSkipped(t *testing.T) {
	plan := testPlan(t, "static/0.9/uniform")
	dir := t.TempDir()
	a, err := RunPlan(context.Background(), plan, Options{ResultsDir: dir, Jobs: 1})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	b, err := RunPlan(context.Background(), plan, Options{ResultsDir: dir, Jobs: 1})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, b, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("re-read runs differ:\n%s", diff)
	}
	if !b[0].Started.Equal(a[0].Started) {
		t.Fatalf("the finished run was trained again (started %v, then %v; took %v)", a[0].Started, b[0].Started, time.Since(start))
	}
}

// TestFinalSparsityIsTarget trains every sparse method of the table on the smoke
// profile and checks the defining bookkeeping: each non-dense prunable layer ends
// exactly at its target count (uniform), the kept-dense layers are fully dense,
// and pruned weights are zero.
func TestFinalSparsityIsTarget(t *testing.T) {
	var rows []string
	for _, m := range []string{"gmp", "rigl", "set", "static", "pfp", "cgap", "pgap"} {
		rows = append(rows, m+"/0.9/uniform")
	}
	plan := testPlan(t, rows...)
	runs, err := RunPlan(context.Background(), plan, Options{ResultsDir: t.TempDir(), Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	model, err := buildModel(plan.Profile.Model, 0)
	if err != nil {
		t.Fatal(err)
	}
	dense := map[string]bool{}
	ds, err := model.DenseSet(plan.Table.DenseLayers)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ds {
		dense[n] = true
	}
	for _, r := range runs {
		if len(r.Layers) == 0 {
			t.Fatalf("%s: no layers recorded", r.Row)
		}
		for _, l := range r.Layers {
			want := int64(methods.KeepCount(int(l.Params), r.Sparsity))
			if dense[l.Name] {
				want = l.Params
			}
			if l.Nonzero != want {
				t.Errorf("%s: layer %s keeps %d of %d, want %d", r.Row, l.Name, l.Nonzero, l.Params, want)
			}
		}
		if r.TrainFLOPs <= 0 || r.DenseTrainFLOPs <= 0 || r.InferFLOPs >= r.DenseInferFLOPs {
			t.Errorf("%s: FLOPs not counted: train %g dense %g infer %g dense infer %g", r.Row, r.TrainFLOPs, r.DenseTrainFLOPs, r.InferFLOPs, r.DenseInferFLOPs)
		}
	}
}

// TestNaNLossStops checks that a diverging run stops with an error naming the
// cause and writes no result.
func TestNaNLossStops(t *testing.T) {
	plan := testPlan(t, "dense/0/dense")
	plan.Profile.Optim.LR = 1e30
	dir := t.TempDir()
	_, err := RunPlan(context.Background(), plan, Options{ResultsDir: dir, Jobs: 1})
	if err == nil || !strings.Contains(err.Error(), "diverged") {
		t.Fatalf("want a divergence error, got %v", err)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "imagenet", "*.arrow")); len(files) > 0 {
		t.Fatalf("a diverged run left results: %v", files)
	}
}

// TestRunIdentity checks that the identity is a function of the settings alone.
func TestRunIdentity(t *testing.T) {
	plan := testPlan(t)
	specs, _ := plan.Specs()
	a, b := specs[0], specs[0]
	if a.ID() != b.ID() {
		t.Fatal("same settings, different IDs")
	}
	b.Seed++
	if a.ID() == b.ID() {
		t.Fatal("a different seed gives the same ID")
	}
	c := specs[0]
	c.Profile.Optim.LR *= 2
	if a.ID() == c.ID() {
		t.Fatal("a different learning rate gives the same ID")
	}
	seen := map[string]bool{}
	for _, s := range specs {
		if seen[s.ID()] {
			t.Fatalf("two runs of the plan share ID %s", s.ID())
		}
		seen[s.ID()] = true
	}
}

// TestCheckpointErrors checks that a corrupt checkpoint gets an error naming it.
func TestCheckpointErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "main.ckpt")
	if c, err := LoadCheckpoint(path); c != nil || err != nil {
		t.Fatalf("missing checkpoint: got %v, %v", c, err)
	}
	if err := SaveCheckpoint(path, &Checkpoint{RunID: "x", Epoch: 3, State: map[string][]float32{"w": {1, 2}}}); err != nil {
		t.Fatal(err)
	}
	c, err := LoadCheckpoint(path)
	if err != nil || c.Epoch != 3 || c.State["w"][1] != 2 {
		t.Fatalf("round trip: %+v, %v", c, err)
	}
	if err := os.WriteFile(path, []byte("not a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCheckpoint(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("corrupt checkpoint: want an error naming %s, got %v", path, err)
	}
}

// TestLookupErrors checks that unknown names list the valid ones.
func TestLookupErrors(t *testing.T) {
	if _, err := LookupTable("nope"); err == nil || !strings.Contains(err.Error(), "imagenet") {
		t.Fatalf("unknown table: %v", err)
	}
	if _, err := ImageNet().Profile("huge"); err == nil || !strings.Contains(err.Error(), "smoke") {
		t.Fatalf("unknown profile: %v", err)
	}
}

// keepLargestLast is a method written outside package methods, as a user
// would: it keeps the largest weights of each layer at Init (like the README's
// worked example) and is registered with one line.
type keepLargestLast struct{}

func (keepLargestLast) Name() string                    { return "keep-largest" }
func (keepLargestLast) Epochs(base int) int             { return base }
func (keepLargestLast) Update(*methods.Context) error   { return nil }
func (keepLargestLast) EpochEnd(*methods.Context) error { return nil }
func (keepLargestLast) Phase(int) methods.Phase         { return methods.Phase{Name: "sparse", Partition: -1} }
func (keepLargestLast) Init(ctx *methods.Context) error {
	for _, t := range ctx.Tensors {
		if !t.Dense {
			methods.MagnitudeMask(t.W, ctx.Sparsity, t.M)
		}
	}
	methods.ApplyMasks(ctx)
	return nil
}

// TestAddedMethodRunsThroughSmokeTable runs the README's worked example
// (magnitude-oneshot, in package methods) and a method defined in this test
// and added with one Register line through the smoke table.
func TestAddedMethodRunsThroughSmokeTable(t *testing.T) {
	reg := methods.Default()
	if err := reg.Register("keep-largest", "test method: largest weights at init", func(p map[string]string) (methods.Method, error) {
		return keepLargestLast{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	plan := testPlan(t, "dense/0/dense")
	plan.Rows = nil
	plan.Table.Rows = []Row{
		{Method: "magnitude-oneshot", Sparsity: 0.9, Distribution: "uniform"},
		{Method: "keep-largest", Sparsity: 0.8, Distribution: "uniform"},
	}
	runs, err := RunPlan(context.Background(), plan, Options{ResultsDir: t.TempDir(), Jobs: 2, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if _, ok := r.Final["top1"]; !ok || len(r.Curves) == 0 {
			t.Fatalf("%s: no metrics recorded", r.Row)
		}
		for _, l := range r.Layers {
			if l.Name == "layer2.0.conv1.weight" && l.Nonzero != int64(methods.KeepCount(int(l.Params), r.Sparsity)) {
				t.Fatalf("%s: %s keeps %d of %d", r.Row, l.Name, l.Nonzero, l.Params)
			}
		}
	}
}

// TestBranchHelperProcess is a P-GaP branch process for TestBranchesAsProcesses.
func TestBranchHelperProcess(t *testing.T) {
	args := os.Getenv("GAP_BRANCH_ARGS")
	if args == "" {
		t.Skip("helper process for TestBranchesAsProcesses")
	}
	var dir, id string
	var round, branch, threads int
	if _, err := fmt.Sscan(args, &dir, &id, &round, &branch, &threads); err != nil {
		t.Fatal(err)
	}
	if err := RunBranch(context.Background(), dir, id, round, branch, threads, Env{}); err != nil {
		t.Fatal(err)
	}
}

// TestBranchesAsProcesses runs P-GaP's branches as separate processes that
// meet only through checkpoint files, and checks the result equals running
// them as goroutines of one process.
func TestBranchesAsProcesses(t *testing.T) {
	plan := testPlan(t, "pgap/0.8/global")
	want, err := RunPlan(context.Background(), plan, Options{ResultsDir: t.TempDir(), Jobs: 1})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	started := 0
	procs := func(ctx context.Context, dir, id string, round, branch, threads int) error {
		mu.Lock()
		started++
		mu.Unlock()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestBranchHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), fmt.Sprintf("GAP_BRANCH_ARGS=%s %s %d %d %d", dir, id, round, branch, threads))
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("branch process: %v\n%s", err, out)
		}
		return nil
	}
	got, err := RunPlan(context.Background(), plan, Options{ResultsDir: t.TempDir(), Jobs: 1, Branches: procs})
	if err != nil {
		t.Fatal(err)
	}
	if started != 4 {
		t.Fatalf("%d branch processes started, want kappa = 4", started)
	}
	if diff := cmp.Diff(want, got, ignoreTimes, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("branches as processes differ from in-process branches (-want +got):\n%s", diff)
	}
}

// TestPGaPCountsEveryRound checks P-GaP's training FLOPs over several rounds:
// every branch of every round counts (kappa x a branch path in aggregate), so
// two rounds cost more than one, and the count is never negative.
func TestPGaPCountsEveryRound(t *testing.T) {
	plan := testPlan(t, "pgap/0.9/uniform")
	plan.Rows = nil
	plan.Table.Rows = []Row{
		{Method: "pgap", Sparsity: 0.9, Distribution: "uniform", Params: map[string]string{"rounds": "1"}},
		{Method: "pgap", Sparsity: 0.9, Distribution: "uniform", Params: map[string]string{"rounds": "2"}},
	}
	runs, err := RunPlan(context.Background(), plan, Options{ResultsDir: t.TempDir(), Jobs: 1})
	if err != nil {
		t.Fatal(err)
	}
	one, two := runs[0], runs[1]
	if one.TrainFLOPs <= 0 || two.TrainFLOPs <= one.TrainFLOPs || one.DenseTrainFLOPs != two.DenseTrainFLOPs {
		t.Fatalf("P-GaP FLOPs: 1 round %g, 2 rounds %g (dense %g, %g)", one.TrainFLOPs, two.TrainFLOPs, one.DenseTrainFLOPs, two.DenseTrainFLOPs)
	}
	// A round adds kappa branch epochs at about the sparse cost: between 1x and
	// 4x one dense epoch's cost for kappa = 4 at 90% sparsity, dense first/last.
	epochDense := one.DenseTrainFLOPs / float64(plan.Profile.Epochs)
	if d := two.TrainFLOPs - one.TrainFLOPs; d < 0.5*epochDense || d > 4*epochDense {
		t.Fatalf("one more round added %g FLOPs; a dense epoch is %g", d, epochDense)
	}
}
