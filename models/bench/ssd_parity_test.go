//go:build parity

package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gap-harness/gap/engine/nn"
	"github.com/gap-harness/gap/internal/paritytest"
)

// TestParitySSDBenchTorch times the SSD proxy's training step at batch 32
// (the `gap bench step -model ssd -batch 32` configuration) here and in
// scripts/torch/parity_ssd.py --bench on the same weights and batch, same
// thread count, and logs both with their ratio (no assertion on time: the
// numbers go to BENCHMARKS.md). Both losses of the first step must agree.
// GAP_BENCH_THREADS sets the thread count of both sides (default 2).
func TestParitySSDBenchTorch(t *testing.T) {
	paritytest.RequireTorch(t)
	const batch, steps = 32, 10
	threads := 2
	if v, err := strconv.Atoi(os.Getenv("GAP_BENCH_THREADS")); err == nil && v > 0 {
		threads = v
	}
	s, err := NewSSDStepper(batch, threads, 0)
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	wpath, bpath := filepath.Join(dir, "w.safetensors"), filepath.Join(dir, "b.safetensors")
	if err := s.Model.Params().SaveSafetensors(wpath, nn.SafetensorsOptions{}); err != nil {
		t.Fatal(err)
	}
	maxT := 0
	for _, l := range s.Truths {
		maxT = max(maxT, len(l))
	}
	gt := make([]float32, batch*maxT*5)
	for i, l := range s.Truths {
		for k := 0; k < maxT; k++ {
			row := gt[(i*maxT+k)*5:][:5]
			if k >= len(l) {
				row[4] = -1
				continue
			}
			b := l[k].Box
			row[0], row[1], row[2], row[3], row[4] = float32(b.X0), float32(b.Y0), float32(b.X1), float32(b.Y1), float32(l[k].Label)
		}
	}
	paritytest.WriteTensors(t, bpath, map[string]nn.STensor{
		"x":  {Shape: []int{1, batch, 1, 64, 64}, Data: s.X.Data()},
		"gt": {Shape: []int{1, batch, maxT, 5}, Data: gt},
	})
	out := paritytest.Run(t, "parity_ssd.py", wpath, bpath, "--bench", fmt.Sprint(steps), "--threads", fmt.Sprint(threads))
	first, err := s.Step()
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := paritytest.MaxRelDiff([]float64{float64(first)}, paritytest.Column(out["LOSS"], 1)); d > 1e-4 {
		t.Errorf("first-step loss %g, torch %v", first, out["LOSS"])
	}
	t0 := time.Now()
	for i := 0; i < steps; i++ {
		if _, err := s.Step(); err != nil {
			t.Fatal(err)
		}
	}
	goSec := time.Since(t0).Seconds() / steps
	pySec := paritytest.Column(out["TIME"], 0)[0]
	t.Logf("RESULT ssd batch=%d threads=%d go_s_per_step=%.4f torch_s_per_step=%.4f ratio=%.2f go_peak_rss_mb=%.0f torch_peak_rss_mb=%.0f",
		batch, threads, goSec, pySec, goSec/pySec, PeakRSSMB(), paritytest.Column(out["RSS"], 0)[0])
}
