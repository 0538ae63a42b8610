package experiments

import (
	tdata "github.com/gap-harness/gap/datasets/translation"
	"testing"

	"github.com/gap-harness/gap/methods"
)

// writeNumbersCorpus writes a small English-Spanish corpus (numbers in
// words) in the user-data layout (train/valid/test .src/.tgt).
func writeNumbersCorpus(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	if err := tdata.WriteDigits(dir, 1, [3]int{n, n, n}, 3, 4); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestWMT14KappaReachesTask builds the stage of wmt14 smoke rows C-GaP
// kappa 6 and kappa 3 (on a small corpus given as DATA) and requires the
// Transformer's prunable tensors to fall into as many partitions as the
// row's kappa, and the kappa-6 rows to be runnable (not pending).
func TestWMT14KappaReachesTask(t *testing.T) {
	tab := WMT14()
	p, err := tab.Profile("smoke")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range tab.Rows {
		if r.Pending != "" {
			t.Errorf("row %s is pending: %s", r.Key(), r.Pending)
		}
	}
	data := writeNumbersCorpus(t, 64)
	for _, c := range []struct {
		row   string
		kappa int
	}{{"cgap/0.8/uniform#k6", 6}, {"cgap/0.8/uniform#k3", 3}} {
		plan := Plan{Table: tab, Profile: p, Seeds: 1, Rows: []string{c.row}, DataPath: data}
		specs, pending := plan.Specs()
		if len(specs) != 1 || len(pending) != 0 {
			t.Fatalf("row %s: %d runs and %d pending rows, want 1 run", c.row, len(specs), len(pending))
		}
		spec := specs[0]
		spec.Threads = 1
		m, err := methods.Default().New("cgap", spec.MethodParams())
		if err != nil {
			t.Fatal(err)
		}
		tr, err := newTrainer(spec, Env{Data: &DataCache{}}, 1, m, clock{})
		if err != nil {
			t.Fatalf("row %s: %v", c.row, err)
		}
		if got := tr.task.NumPartitions(); got != c.kappa {
			t.Errorf("row %s: task has %d partitions, want %d", c.row, got, c.kappa)
		}
		seen := map[int]bool{}
		for _, pr := range tr.params.Prunable() {
			seen[pr.Partition] = true
		}
		for k := 0; k < c.kappa; k++ {
			if !seen[k] {
				t.Errorf("row %s: no prunable tensor in partition %d (partitions used: %v)", c.row, k, seen)
			}
		}
		if len(seen) != c.kappa {
			t.Errorf("row %s: prunable tensors in %d partitions, want %d", c.row, len(seen), c.kappa)
		}
	}
}
