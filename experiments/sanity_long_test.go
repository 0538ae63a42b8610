//go:build long

package experiments

import (
	"context"
	"testing"
	"time"
)

// TestDenseSanity trains the dense rows that show the harness trains as it
// should: LeNet-5 on MNIST >= 99.0% (lenet, default profile) and a ResNet on
// Fashion-MNIST >= 92% (imagenet, long profile). Slow: make test-long.
func TestDenseSanity(t *testing.T) {
	for _, c := range []struct {
		table, profile string
		min            float64
	}{{"lenet", "default", 99.0}, {"imagenet", "long", 92.0}} {
		tab, err := LookupTable(c.table)
		if err != nil {
			t.Fatal(err)
		}
		p, err := tab.Profile(c.profile)
		if err != nil {
			t.Fatal(err)
		}
		if err := Available(p.Data.Name, ""); err != nil {
			t.Skipf("%s: %v", p.Data.Name, err)
		}
		start := time.Now()
		runs, err := RunPlan(context.Background(), Plan{Table: tab, Profile: p, Seeds: 1, Rows: []string{"dense/0/dense"}},
			Options{ResultsDir: t.TempDir(), Jobs: 1})
		if err != nil {
			t.Fatal(err)
		}
		top1 := runs[0].Final["top1"]
		t.Logf("%s/%s dense: top-1 %.2f%% after %d epochs in %v", c.table, c.profile, top1, runs[0].Epochs, time.Since(start).Round(time.Second))
		if top1 < c.min {
			t.Errorf("%s/%s dense: top-1 %.2f%%, want >= %.1f%%", c.table, c.profile, top1, c.min)
		}
	}
}
