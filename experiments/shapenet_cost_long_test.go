//go:build long

package experiments

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestShapeNetEpochCost measures the CPU time (user + system of this
// process) of the first epochs of shapenet rows of a profile, each epoch
// with its evaluation, one thread: the figure the profile's budget is
// sized with (the table's epochs in all times the CPU per epoch, over the
// machine's cores). PC_COST_ROWS (comma-separated row keys, default
// dense/0/dense and cgap/0.9/uniform), PC_COST_EPOCHS (default 2) and
// PC_COST_PROFILE (default "default") choose; skips unless PC_COST is set.
func TestShapeNetEpochCost(t *testing.T) {
	if os.Getenv("PC_COST") == "" {
		t.Skip("PC_COST not set")
	}
	rows := strings.Split(envOr("PC_COST_ROWS", "dense/0/dense,cgap/0.9/uniform"), ",")
	epochs, err := strconv.Atoi(envOr("PC_COST_EPOCHS", "2"))
	if err != nil || epochs < 1 {
		t.Fatalf("PC_COST_EPOCHS %q", os.Getenv("PC_COST_EPOCHS"))
	}
	tab := ShapeNet()
	prof, err := tab.Profile(envOr("PC_COST_PROFILE", "default"))
	if err != nil {
		t.Fatal(err)
	}
	specs, _ := Plan{Table: tab, Profile: prof, Seeds: 1, Rows: rows}.Specs()
	if len(specs) != len(rows) {
		t.Fatalf("%d specs for rows %v", len(specs), rows)
	}
	stop := errors.New("enough epochs")
	for _, spec := range specs {
		spec.Threads = 1
		ctx, cancel := context.WithCancelCause(context.Background())
		var last time.Duration
		var per []float64
		env := Env{Dir: t.TempDir(), Threads: 1, Data: &DataCache{}, Progress: func(p Progress) {
			c := processCPU()
			if last > 0 {
				per = append(per, (c - last).Seconds())
			}
			last = c
			if len(per) >= epochs {
				cancel(stop)
			}
		}}
		// The first epoch's time includes building the task; it is timed from
		// the end of the first epoch on, so run one more.
		_, err := Execute(ctx, spec, env)
		if err != nil && !errors.Is(context.Cause(ctx), stop) {
			t.Fatal(err)
		}
		var sum float64
		for _, s := range per {
			sum += s
		}
		t.Logf("%s (profile %s): CPU s per epoch with its evaluation %v, mean %.1f", spec.Row.Key(), prof.Name, per, sum/float64(len(per)))
		cancel(nil)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
