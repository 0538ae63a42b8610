package bench

import (
	"math"
	"testing"
)

// TestTransformerStepLearns checks the bench Transformer's step runs and fits
// its fixed batch (small batch, a few steps).
func TestTransformerStepLearns(t *testing.T) {
	s, err := NewTransformerStepper(2, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.Step()
	if err != nil {
		t.Fatal(err)
	}
	var last float32
	for i := 0; i < 8; i++ {
		if last, err = s.Step(); err != nil {
			t.Fatal(err)
		}
	}
	if math.IsNaN(float64(last)) || !(last < first-0.5) {
		t.Fatalf("loss %v -> %v: not learning", first, last)
	}
}

// BenchmarkStepTransformer times the transformer step of torch_reference.py
// (batch 64 sentence pairs, 2 threads).
func BenchmarkStepTransformer(b *testing.B) {
	s, err := NewTransformerStepper(64, 2, 0)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := s.Step(); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Step(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(64*float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
}
