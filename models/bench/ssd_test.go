package bench

import "testing"

// BenchmarkSSDStep times one training step of the SSD proxy at batch 32
// (the bench configuration of `gap bench step -model ssd -batch 32`).
func BenchmarkSSDStep(b *testing.B) {
	s, err := NewSSDStepper(32, 2, 0)
	if err != nil {
		b.Skip(err)
	}
	if _, err := s.Step(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Step(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSSDStepperLossFalls trains the proxy a few steps on one batch.
func TestSSDStepperLossFalls(t *testing.T) {
	s, err := NewSSDStepper(4, 2, 1)
	if err != nil {
		t.Skip(err)
	}
	first, err := s.Step()
	if err != nil {
		t.Fatal(err)
	}
	var last float32
	for i := 0; i < 5; i++ {
		if last, err = s.Step(); err != nil {
			t.Fatal(err)
		}
	}
	if !(last < first) {
		t.Errorf("loss %g -> %g did not fall", first, last)
	}
}
