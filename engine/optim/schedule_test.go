package optim

import (
	"math"
	"testing"
)

func closeTo(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-12*(1+math.Abs(want)) {
		t.Fatalf("%s = %.15g, want %.15g", what, got, want)
	}
}

// TestSchedules checks each schedule at chosen steps against hand values.
func TestSchedules(t *testing.T) {
	closeTo(t, "constant", Constant{0.3}.LR(1000), 0.3)

	ms, err := NewMultiStep(0.1, 0.1, 60, 30)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		s    int64
		want float64
	}{{0, 0.1}, {29, 0.1}, {30, 0.01}, {59, 0.01}, {60, 0.001}, {1000, 0.001}} {
		closeTo(t, "multistep", ms.LR(c.s), c.want)
	}
	if _, err := NewMultiStep(0.1, 0.1, 5, 5); err == nil {
		t.Fatal("duplicate milestones accepted")
	}

	cs := Cosine{Base: 1, Floor: 0.1, Total: 100}
	closeTo(t, "cosine 0", cs.LR(0), 1)
	closeTo(t, "cosine 50", cs.LR(50), 0.55)
	closeTo(t, "cosine 25", cs.LR(25), 0.1+0.9*(1+math.Sqrt2/2)/2)
	closeTo(t, "cosine 100", cs.LR(100), 0.1)
	closeTo(t, "cosine 500", cs.LR(500), 0.1)

	// PointNet++'s recipe: 1e-3 halved every 20 epochs, never below 1e-5
	// (here 10 steps per epoch, so every 200 steps).
	sd := StepDecay{Base: 1e-3, Gamma: 0.5, Every: 200, Floor: 1e-5}
	for _, c := range []struct {
		s    int64
		want float64
	}{{0, 1e-3}, {199, 1e-3}, {200, 5e-4}, {399, 5e-4}, {400, 2.5e-4}, {1000, 1e-3 / 32}, {1399, 1e-3 / 64}, {1400, 1e-5}, {100000, 1e-5}} {
		closeTo(t, "step decay", sd.LR(c.s), c.want)
	}
	closeTo(t, "step decay without period", StepDecay{Base: 0.1, Gamma: 0.5}.LR(1000), 0.1)

	w := Warmup{Steps: 10, Inner: Constant{0.5}}
	closeTo(t, "warmup 0", w.LR(0), 0)
	closeTo(t, "warmup 4", w.LR(4), 0.2)
	closeTo(t, "warmup 10", w.LR(10), 0.5)
	w2 := Warmup{Steps: 4, StartFactor: 0.5, Inner: cs}
	closeTo(t, "warmup cosine 2", w2.LR(2), cs.LR(2)*0.75)
	closeTo(t, "warmup cosine 50", w2.LR(50), 0.55)

	// fairseq inverse_sqrt: lr=5e-4, warmup_updates=4000, warmup_init_lr=1e-7.
	is := InverseSqrt{Peak: 5e-4, InitLR: 1e-7, WarmupSteps: 4000}
	closeTo(t, "isqrt 0", is.LR(0), 1e-7)
	closeTo(t, "isqrt 2000", is.LR(2000), 1e-7+2000*(5e-4-1e-7)/4000)
	closeTo(t, "isqrt 4000", is.LR(4000), 5e-4)
	closeTo(t, "isqrt 16000", is.LR(16000), 2.5e-4)
}
