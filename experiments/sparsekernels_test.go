package experiments

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gap-harness/gap/results"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// branchPrefix is the "branchN_" prefix of a P-GaP branch's curve, or "".
func branchPrefix(metric string) string {
	if !strings.HasPrefix(metric, "branch") {
		return ""
	}
	if i := strings.IndexByte(metric, '_'); i > 0 {
		return metric[:i+1]
	}
	return ""
}

// withoutTimings drops the sparse-kernel timing curves, which differ
// between executions like the wall time.
func withoutTimings(runs []*results.Run) []*results.Run {
	out := make([]*results.Run, len(runs))
	for i, r := range runs {
		c := *r
		c.Curves = nil
		for _, p := range r.Curves {
			if !sparseKernelCurve(strings.TrimPrefix(p.Metric, branchPrefix(p.Metric))) {
				c.Curves = append(c.Curves, p)
			}
		}
		delete(c.Settings, "sparse_kernels")
		c.ID = ""
		out[i] = &c
	}
	return out
}

// staticTol is the relative agreement required of the static row's final
// metrics between dense-masked and sparse-kernel training. Over the smoke
// run's 16 SGD steps float32 summation order alone moves the final test
// loss by a few 1e-4: the same dense-masked run gives 2.269334 with
// OpenBLAS and 2.268201 with gonum's BLAS (5.0e-4 apart); the sparse
// kernels (forward, input gradient and the masked weight gradient, all in
// another order than the BLAS) gave 2.269513 (1.8e-4 from OpenBLAS). The
// step-level agreement to 1e-4 is models/bench's
// TestSparseTrainingMatchesDense.
const staticTol = 1e-3

// TestSparseKernelTraining runs static, C-GaP and P-GaP rows of the smoke
// table dense-masked and with the sparse kernels forced on every layer
// whose mask is fixed: static's record (final metrics, layers) agrees to
// staticTol (C-GaP's and P-GaP's final metrics are logged: see below), the
// run identity changes only with the option on, the runs record per-epoch
// wall time, the sparse-kernel share and their kernel choices (P-GaP's
// branches' too); and a run interrupted at a checkpoint and resumed gives
// the uninterrupted run bit for bit.
func TestSparseKernelTraining(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: BLAS-independent whole-table test, run in the OpenBLAS pass of make test")
	}
	plan := testPlan(t, "static/0.9/erk", "cgap/0.9/uniform", "pgap/0.8/global")
	dense, err := RunPlan(context.Background(), plan, Options{ResultsDir: t.TempDir(), Jobs: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(dense) != 3 {
		t.Fatalf("%d runs", len(dense))
	}
	static := -1
	for i, r := range dense {
		if r.Row == "static/0.9/erk" {
			static = i
		}
	}
	sp := plan
	sp.Profile.SparseKernels = "sparse"
	dir := t.TempDir()
	sparse, err := RunPlan(context.Background(), sp, Options{ResultsDir: dir, Jobs: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range dense {
		s := sparse[i]
		if d.ID == s.ID || d.Settings["sparse_kernels"] != "" || s.Settings["sparse_kernels"] != "sparse" {
			t.Fatalf("%s: identity %s vs %s, settings %q %q", d.Row, d.ID, s.ID, d.Settings["sparse_kernels"], s.Settings["sparse_kernels"])
		}
		for k, v := range d.Final {
			w := s.Final[k]
			if d.Row != "static/0.9/erk" {
				// C-GaP and P-GaP prune by magnitude: float32 reordering
				// flips near-tied entries and the runs part ways (the
				// dense-masked C-GaP run itself moves by points of top-1
				// between 1 and 2 threads), so only log them.
				t.Logf("%s: final %s dense-masked %v, sparse kernels %v", d.Row, k, v, w)
				continue
			}
			if math.Abs(w-v) > staticTol*max(1, math.Abs(v)) {
				t.Errorf("%s: final %s dense-masked %v, sparse kernels %v", d.Row, k, v, w)
			}
		}
		var walls, shares int
		var share float64
		for _, p := range s.Curves {
			switch p.Metric {
			case "epoch_wall_s":
				walls++
			case "sparse_kernel_share":
				shares++
				share = max(share, p.Value)
			}
		}
		if walls == 0 || walls != shares || share <= 0 || share > 1 {
			t.Errorf("%s: %d wall and %d share points, max share %v", d.Row, walls, shares, share)
		}
		b, err := os.ReadFile(KernelsPath(filepath.Join(dir, "imagenet"), s.ID))
		if err != nil {
			t.Fatalf("%s: kernel choices: %v", d.Row, err)
		}
		var rec struct {
			Choices []KernelRecord
		}
		if err := json.Unmarshal(b, &rec); err != nil || len(rec.Choices) == 0 || !rec.Choices[0].Sparse {
			t.Fatalf("%s: kernel choices %v: %s", d.Row, err, b)
		}
		if strings.Contains(d.Row, "pgap") {
			// The branches' own choices are in the record, by branch.
			branches := 0
			for _, c := range rec.Choices {
				if strings.HasPrefix(c.Stage, "branch-0-") {
					branches++
				}
			}
			if branches == 0 {
				t.Errorf("%s: no branch kernel choices recorded: %s", d.Row, b)
			}
			// And the branches' epoch timings, by branch.
			timed := 0
			for _, p := range s.Curves {
				if p.Metric == "branch0_epoch_wall_s" || p.Metric == "branch0_sparse_kernel_share" {
					timed++
				}
			}
			if timed < 2 {
				t.Errorf("%s: %d branch-0 timing points, want its epoch wall time and sparse-kernel share", d.Row, timed)
			}
		}
		if strings.Contains(d.Row, "cgap") {
			// The C-GaP partition grown to dense stays on the dense kernels:
			// every recorded choice is of a layer with zeros in its mask.
			for _, c := range rec.Choices {
				if c.Sparsity == 0 {
					t.Errorf("%s: dense layer %s on the sparse kernels", d.Row, c.Layer)
				}
			}
		}
	}
	if diff := cmp.Diff(withoutTimings(dense[static:static+1]), withoutTimings(sparse[static:static+1]), ignoreTimes, cmpopts.EquateEmpty(),
		cmpopts.EquateApprox(staticTol, 0), cmpopts.IgnoreFields(results.Run{}, "Curves")); diff != "" {
		t.Errorf("sparse-kernel runs differ from dense-masked beyond timings and final metrics:\n%s", diff)
	}

	// Resume: stop the C-GaP run after its third checkpoint, run it again
	// to the end, and compare with the uninterrupted sparse-kernel run.
	one := sp
	one.Rows = []string{"cgap/0.9/uniform"}
	rdir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	saves := 0
	_, err = RunPlan(ctx, one, Options{ResultsDir: rdir, Jobs: 1, OnCheckpoint: func(string) {
		if saves++; saves == 3 {
			cancel()
		}
	}})
	cancel()
	if err == nil {
		t.Fatal("the interrupted run finished")
	}
	got, err := RunPlan(context.Background(), one, Options{ResultsDir: rdir, Jobs: 1})
	if err != nil {
		t.Fatal(err)
	}
	var want *results.Run
	for _, r := range sparse {
		if r.Row == "cgap/0.9/uniform" {
			want = r
		}
	}
	if diff := cmp.Diff(withoutTimings([]*results.Run{want}), withoutTimings(got), ignoreTimes, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("resumed sparse-kernel run differs from the uninterrupted one (-want +got):\n%s", diff)
	}
}

// TestKernelChoiceReplay checks that a run executed again from scratch with
// the sparse kernels takes the kernel choices its earlier execution recorded
// (each recorded choice is flipped before the second execution, and the
// second record must hold the flipped ones), and that a malformed record
// is an error naming the file and the field.
func TestKernelChoiceReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: BLAS-independent whole-run test, run in the OpenBLAS pass of make test")
	}
	plan := testPlan(t, "static/0.9/erk")
	plan.Profile.SparseKernels = "auto"
	dir := t.TempDir()
	first, err := RunPlan(context.Background(), plan, Options{ResultsDir: dir, Jobs: 1})
	if err != nil {
		t.Fatal(err)
	}
	tableDir := filepath.Join(dir, "imagenet")
	path := KernelsPath(tableDir, first[0].ID)
	read := func() (rec struct {
		Run     string         `json:"run"`
		Policy  string         `json:"policy"`
		Machine string         `json:"machine"`
		Choices []KernelRecord `json:"choices"`
	}) {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	rec := read()
	if len(rec.Choices) == 0 {
		t.Fatal("no kernel choices recorded")
	}
	want := map[string]bool{}
	for i := range rec.Choices {
		rec.Choices[i].Sparse = !rec.Choices[i].Sparse
		want[rec.Choices[i].key()] = rec.Choices[i].Sparse
	}
	write := func(v any) {
		t.Helper()
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(rec)
	if err := os.Remove(filepath.Join(tableDir, first[0].ID+results.Ext)); err != nil {
		t.Fatal(err)
	}
	if _, err := RunPlan(context.Background(), plan, Options{ResultsDir: dir, Jobs: 1}); err != nil {
		t.Fatal(err)
	}
	got := read()
	for _, c := range got.Choices {
		if w, ok := want[c.key()]; !ok || w != c.Sparse {
			t.Errorf("re-execution chose %v for %s (recorded, flipped: %v, %v)", c.Sparse, c.key(), w, ok)
		}
	}
	if len(got.Choices) != len(want) {
		t.Errorf("re-execution recorded %d choices, the replayed record %d", len(got.Choices), len(want))
	}

	// A record of another run is refused with the file and the field named.
	got.Run = "0123456789abcdef"
	write(got)
	if err := os.Remove(filepath.Join(tableDir, first[0].ID+results.Ext)); err != nil {
		t.Fatal(err)
	}
	_, err = RunPlan(context.Background(), plan, Options{ResultsDir: dir, Jobs: 1})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "field run") {
		t.Fatalf("a record of another run: %v", err)
	}
}
