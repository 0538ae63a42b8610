package bench

import (
	"math"
	"regexp"
	"runtime"
	"testing"

	"github.com/gap-harness/gap/engine/blas"

	"github.com/gap-harness/gap/models"
)

// TestStepResult runs a tiny timed step and checks the RESULT line's format
// and that the loss is finite.
func TestStepResult(t *testing.T) {
	r, err := Step("mlp", 8, 2, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^RESULT model=mlp batch=8 threads=1 s_per_step=\d+\.\d{4} img_per_s=\d+\.\d peak_rss_mb=\d+$`)
	if !re.MatchString(r.String()) {
		t.Fatalf("bad RESULT line %q", r.String())
	}
	if math.IsNaN(float64(r.Loss)) || r.PeakRSSMB <= 0 {
		t.Fatalf("loss %v, peak RSS %v", r.Loss, r.PeakRSSMB)
	}
	if _, err := Step("nope", 8, 1, 0, 1); err == nil {
		t.Fatal("unknown model accepted")
	}
	if _, err := Step("mlp", 8, 0, 0, 1); err == nil {
		t.Fatal("zero steps accepted")
	}
}

// TestTrainingReducesLoss checks that 30 steps on one fixed batch fit it
// (the loss falls well below its start), i.e. forward, backward and Adam are
// wired together correctly.
func TestTrainingReducesLoss(t *testing.T) {
	s, err := NewStepper("lenet5", models.Config{}, 16, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.Step()
	if err != nil {
		t.Fatal(err)
	}
	var last float32
	for i := 0; i < 30; i++ {
		if last, err = s.Step(); err != nil {
			t.Fatal(err)
		}
	}
	if !(last < first/2) {
		t.Fatalf("loss %v -> %v: not learning", first, last)
	}
}

func losses(t *testing.T, model string, cfg models.Config, batch, threads, steps int) []float32 {
	t.Helper()
	s, err := NewStepper(model, cfg, batch, threads, 42)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, steps)
	for i := range out {
		if out[i], err = s.Step(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestDeterminism trains from the same seed twice with 2 threads and requires
// bit-identical losses at every step: the MLP for 100 steps (batch 32), and a
// narrow ResNet-20 (convolutions, batch norm, shortcuts) for 8 steps.
func TestDeterminism(t *testing.T) {
	for _, c := range []struct {
		model        string
		cfg          models.Config
		batch, steps int
	}{
		{"mlp", models.Config{}, 32, 100},
		{"resnet20", models.Config{WidthMult: 0.25, Height: 16, Width: 16}, 4, 8},
	} {
		a := losses(t, c.model, c.cfg, c.batch, 2, c.steps)
		b := losses(t, c.model, c.cfg, c.batch, 2, c.steps)
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("%s: step %d: loss %v vs %v", c.model, i, a[i], b[i])
			}
		}
		if a[len(a)-1] >= a[0] {
			t.Errorf("%s: loss did not fall: %v -> %v", c.model, a[0], a[len(a)-1])
		}
	}
}

func benchStep(b *testing.B, model string, batch int) {
	s, err := NewStepper(model, models.Config{}, batch, 2, 0)
	if err != nil {
		b.Skip(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := s.Step(); err != nil {
			b.Skipf("%s: %v", model, err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Step(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "img/s")
}

// BenchmarkStepMLP times torch_reference.py's mlp step (batch 128, 2 threads).
func BenchmarkStepMLP(b *testing.B) { benchStep(b, "mlp", 128) }

// BenchmarkStepLeNet5 times the lenet5 step (batch 128, 2 threads).
func BenchmarkStepLeNet5(b *testing.B) { benchStep(b, "lenet5", 128) }

// BenchmarkStepConv2 times the conv2 step (batch 128, 2 threads).
func BenchmarkStepConv2(b *testing.B) { benchStep(b, "conv2", 128) }

// BenchmarkStepResNet20 times the resnet20 step (batch 128, 2 threads).
func BenchmarkStepResNet20(b *testing.B) { benchStep(b, "resnet20", 128) }

// TestMemoryFlat checks that buffers are reused across steps: after a warm-up,
// 200 more training steps of a narrow ResNet-20 (convolutions, batch norm,
// shortcuts) allocate only small bookkeeping (graph nodes, closures: well under
// a tenth of one step's ~2 MiB of activations and gradients), and the live
// heap does not grow, so memory stays flat over long runs.
func TestMemoryFlat(t *testing.T) {
	s, err := NewStepper("resnet20", models.Config{WidthMult: 0.5, Height: 16, Width: 16}, 16, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if _, err := s.Step(); err != nil {
			t.Fatal(err)
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const steps = 200
	for i := 0; i < steps; i++ {
		if _, err := s.Step(); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	perStep := float64(after.TotalAlloc-before.TotalAlloc) / steps
	runtime.GC()
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%.0f bytes allocated per step; live heap %+d bytes after %d steps", perStep, growth, steps)
	if blas.Impl == "openblas" && perStep > 200<<10 { // gonum's sgemm allocates its own scratch per call
		t.Errorf("%.0f bytes allocated per training step after warm-up: buffers are not being reused", perStep)
	}
	if growth > 1<<20 {
		t.Errorf("live heap grew by %d bytes over %d steps", growth, steps)
	}
}
