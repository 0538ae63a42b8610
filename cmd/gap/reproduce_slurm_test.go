package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/gap-harness/gap/experiments"
	"github.com/gap-harness/gap/experiments/slurm"
)

// The lenet table's Slurm plan: the serial runs in one array of run-stage
// main tasks, the P-GaP run a chain of two groups: kappa branch tasks that
// each run the init first, then one task that merges and fine-tunes; every
// task done once its run's result exists.
func TestSlurmPlanOfATable(t *testing.T) {
	tab, err := experiments.LookupTable("lenet")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := tab.Profile("smoke")
	root := "/shared/results"
	dir := filepath.Join(root, "lenet")
	runs, err := (experiments.Plan{Table: tab, Profile: p, Seeds: 1}).Runs(dir, 4)
	if err != nil {
		t.Fatal(err)
	}
	res := slurm.Resources{Partition: "cpu", Time: "1:00:00", Mem: "2G", CPUsPerTask: 4}
	plan := slurmPlan("/shared/bin/gap", root, "lenet", runs, res, 1)
	if err := plan.Validate(); err != nil {
		t.Fatal(err)
	}
	var pg experiments.PlannedRun
	serial := 0
	for _, r := range runs {
		if r.Parallel {
			pg = r
		} else {
			serial++
		}
	}
	if pg.ID == "" || pg.Kappa != 5 || pg.Rounds != 1 || serial != 8 {
		t.Fatalf("lenet smoke: %d serial runs and P-GaP %+v; want 8 and kappa 5, 1 round", serial, pg)
	}
	if len(plan.Groups) != 3 {
		t.Fatalf("groups: %+v", plan.Groups)
	}
	// The P-GaP chain first (its longest path starts first), then the serial array.
	g := append([]slurm.Group{plan.Groups[2]}, plan.Groups[:2]...)
	if g[0].Name != "serial" || len(g[0].Tasks) != serial || g[0].Resources != nil || len(g[0].After) != 0 {
		t.Fatalf("groups: %+v", plan.Groups)
	}
	first := g[0].Tasks[0]
	want := []string{"/shared/bin/gap", "run-stage", "-results", root, "-table", "lenet", "-id", runs[0].ID, "-stage", "main"}
	if first.ID != runs[0].ID+"/main" || !reflect.DeepEqual(first.Argv, want) || !reflect.DeepEqual(first.DoneIfAny, []string{runs[0].Result}) {
		t.Errorf("first serial task %+v, want argv %v done if %s", first, want, runs[0].Result)
	}
	names := []string{"branch-0-0", "finetune"}
	stages := []string{"round-0,branch-0-0", "round-1,finetune"}
	sizes := []int{5, 1}
	for i, gr := range g[1:] {
		if gr.Name != "pgap-"+pg.ID+"-"+string(rune('0'+i)) || len(gr.Tasks) != sizes[i] || gr.Tasks[0].ID != pg.ID+"/"+names[i] {
			t.Errorf("P-GaP group %d: %s with %d tasks, first %s; want %d tasks, first %s", i, gr.Name, len(gr.Tasks), gr.Tasks[0].ID, sizes[i], names[i])
		}
		if argv := gr.Tasks[0].Argv; argv[len(argv)-1] != stages[i] {
			t.Errorf("P-GaP group %d runs -stage %s, want %s", i, argv[len(argv)-1], stages[i])
		}
		if i > 0 && !reflect.DeepEqual(gr.After, []string{g[i].Name}) {
			t.Errorf("group %s after %v, want %s", gr.Name, gr.After, g[i].Name)
		}
		for _, task := range gr.Tasks {
			if !reflect.DeepEqual(task.DoneIfAny, []string{pg.Result}) {
				t.Errorf("task %s done if %v, want %s", task.ID, task.DoneIfAny, pg.Result)
			}
		}
	}
	for b, task := range g[1].Tasks {
		if argv := task.Argv; argv[len(argv)-1] != "round-0,branch-0-"+string(rune('0'+b)) {
			t.Errorf("branch task %d runs -stage %s", b, argv[len(argv)-1])
		}
	}
	if r := g[1].Resources; r == nil || r.CPUsPerTask != 1 || r.Partition != "cpu" || r.Mem != "2G" { // branches: 4 CPUs / kappa 5
		t.Errorf("branch resources %+v, want 1 CPU (4 / kappa 5), partition and memory kept", r)
	}
	if g[2].Resources != nil {
		t.Errorf("merge and fine-tune take the plan's resources, got %+v", g[2].Resources)
	}
}

// reproduce -executor slurm writes every run's spec, submits the plan (a
// fake sbatch here: no daemons) with the resources asked for and says how to
// follow it; bad executor flags are usage errors.
func TestReproduceSlurmSubmits(t *testing.T) {
	if err := experiments.Available("mnist", ""); err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	fakeSlurm(t, "")
	results := t.TempDir()
	code, out, stderr := runCLI(t, "reproduce", "-table", "lenet", "-profile", "smoke", "-executor", "slurm", "-results", results,
		"-rows", "gmp/0.9/uniform,pgap/0.9/uniform", "-cpus-per-task", "2", "-max-parallel", "3", "-time", "10:00")
	if code != 0 || !strings.Contains(out, "Submitted 2 runs of table lenet") || !strings.Contains(out, "gap status -table lenet") {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	dir := filepath.Join(results, "lenet")
	specs, _ := filepath.Glob(filepath.Join(dir, "ckpt", "*", "spec.json"))
	if len(specs) != 2 {
		t.Errorf("%d spec files, want 2: %v", len(specs), specs)
	}
	mans, _ := filepath.Glob(filepath.Join(slurm.Dir(dir), "serial.*.manifest"))
	if len(mans) != 1 {
		t.Fatalf("serial manifests %v, want one", mans)
	}
	man, err := os.ReadFile(mans[0])
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	exe, _ = filepath.EvalSymlinks(exe)
	if !strings.Contains(string(man), exe+" run-stage -results "+results+" -table lenet -id ") || !strings.HasSuffix(string(man), " -stage main\n") {
		t.Errorf("serial manifest:\n%s", man)
	}
	st, err := os.ReadFile(filepath.Join(slurm.Dir(dir), "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"--cpus-per-task=2", "--array=0-4%3", "--time=10:00", "--requeue", "--dependency=afterok:500"} {
		if !strings.Contains(string(st), w) {
			t.Errorf("state.json has no %s:\n%s", w, st)
		}
	}
	for _, bad := range [][]string{{"-executor", "pbs"}, {"-executor", "slurm", "-cpus-per-task", "0"}} {
		if code, _, _ := runCLI(t, append([]string{"reproduce", "-table", "lenet", "-profile", "smoke", "-results", results}, bad...)...); code != 2 {
			t.Errorf("reproduce %v: exit %d, want 2", bad, code)
		}
	}
}

// The fused P-GaP stages the Slurm plan submits (each branch task runs the
// init first; the last task merges and fine-tunes), run here one task after
// another through run-stage, end with the local executor's result bit for
// bit, and a second pass finds every stage complete.
func TestRunStageFusedChainSameAsLocal(t *testing.T) {
	if err := experiments.Available("mnist", ""); err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	fakeSlurm(t, "")
	root := t.TempDir()
	local, remote := filepath.Join(root, "local"), filepath.Join(root, "slurm")
	row := []string{"-table", "lenet", "-profile", "smoke", "-rows", "pgap/0.9/uniform"}
	threads := runtime.GOMAXPROCS(0) // the local run's, with one job
	if code, out, stderr := runCLI(t, append([]string{"reproduce", "-executor", "slurm", "-cpus-per-task", strconv.Itoa(threads), "-results", remote}, row...)...); code != 0 {
		t.Fatalf("submit: exit %d\n%s\n%s", code, out, stderr)
	}
	tab, err := experiments.LookupTable("lenet")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := tab.Profile("smoke")
	runs, err := (experiments.Plan{Table: tab, Profile: p, Seeds: 1, Rows: []string{"pgap/0.9/uniform"}}).Runs(filepath.Join(remote, "lenet"), threads)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs %v, %v", runs, err)
	}
	plan := slurmPlan("gap", remote, "lenet", runs, slurm.Resources{CPUsPerTask: threads}, 1)
	for pass := 0; pass < 2; pass++ {
		for _, g := range plan.Groups {
			for _, task := range g.Tasks {
				if code, _, stderr := runCLI(t, task.Argv[1:]...); code != 0 {
					t.Fatalf("%v: exit %d\n%s", task.Argv, code, stderr)
				}
			}
		}
	}
	// The local executor in this process (its branches as goroutines).
	if _, err := experiments.RunPlan(context.Background(), experiments.Plan{Table: tab, Profile: p, Seeds: 1, Rows: []string{"pgap/0.9/uniform"}},
		experiments.Options{ResultsDir: local, Jobs: 1}); err != nil {
		t.Fatal(err)
	}
	a, err := loadRuns(local, "lenet")
	if err != nil {
		t.Fatal(err)
	}
	b, err := loadRuns(remote, "lenet")
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 1 || len(b) != 1 || a[0].ID != b[0].ID || !reflect.DeepEqual(a[0].Final, b[0].Final) {
		t.Fatalf("local %v, fused stages %v", a, b)
	}
}

// -runs-per-task packs the serial runs: one array task runs several, one
// after another, and is done when all of their results exist; the P-GaP
// chain is unchanged. A packed task run through run-stage finishes every
// run of its pack, and runs nothing the second time.
func TestSlurmPlanPacksSerialRuns(t *testing.T) {
	tab, err := experiments.LookupTable("lenet")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := tab.Profile("smoke")
	root := t.TempDir()
	runs, err := (experiments.Plan{Table: tab, Profile: p, Seeds: 1}).Runs(filepath.Join(root, "lenet"), 1)
	if err != nil {
		t.Fatal(err)
	}
	plan := slurmPlan("gap", root, "lenet", runs, slurm.Resources{CPUsPerTask: 1}, 3)
	if err := plan.Validate(); err != nil {
		t.Fatal(err)
	}
	var serial []experiments.PlannedRun
	for _, r := range runs {
		if !r.Parallel {
			serial = append(serial, r)
		}
	}
	g := plan.Groups[len(plan.Groups)-1]
	if g.Name != "serial" || len(g.Tasks) != 3 || len(plan.Groups) != 3 {
		t.Fatalf("groups %+v: want the chain's 2 and a serial array of 3 packed tasks (8 runs by 3)", plan.Groups)
	}
	k := 0
	for i, task := range g.Tasks {
		n := []int{3, 3, 2}[i]
		ids := make([]string, n)
		var outs []string
		for j := range n {
			ids[j] = serial[k+j].ID
			outs = append(outs, serial[k+j].Result)
		}
		if task.ID != fmt.Sprintf("%s/main+%d", ids[0], n-1) || !reflect.DeepEqual(task.Outputs, outs) || len(task.DoneIfAny) != 0 {
			t.Errorf("task %d: %+v, want id %s/main+%d and outputs %v", i, task, ids[0], n-1, outs)
		}
		if argv := strings.Join(task.Argv, " "); !strings.Contains(argv, "-id "+strings.Join(ids, ",")+" -stage main") {
			t.Errorf("task %d argv %s", i, argv)
		}
		k += n
	}
	if err := experiments.Available("mnist", ""); err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	if err := experiments.WriteSpecs(filepath.Join(root, "lenet"), runs); err != nil {
		t.Fatal(err)
	}
	last := g.Tasks[2] // two short serial runs
	for pass := 0; pass < 2; pass++ {
		code, _, stderr := runCLI(t, last.Argv[1:]...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", last.Argv, code, stderr)
		}
		if want := []string{"stage complete", "stage already complete"}[pass]; strings.Count(stderr, want) != 2 {
			t.Errorf("pass %d: want %q twice:\n%s", pass, want, stderr)
		}
	}
	for _, o := range last.Outputs {
		if _, err := os.Stat(o); err != nil {
			t.Errorf("packed run's result: %v", err)
		}
	}
	if code, _, _ := runCLI(t, "run-stage", "-results", root, "-table", "lenet", "-id", "a,b", "-stage", "round-0"); code != 2 {
		t.Errorf("several ids with a P-GaP stage: exit %d, want 2", code)
	}
}
