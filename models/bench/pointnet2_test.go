package bench

import (
	"math"
	"testing"
)

// TestPointNet2StepRuns runs one small PointNet++ step (512 points, batch
// 2) through the bench path and checks the loss is finite.
func TestPointNet2StepRuns(t *testing.T) {
	r, err := PointNet2Step(2, 512, 1, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if math.IsNaN(float64(r.Loss)) || r.Model != "pointnet2" {
		t.Fatalf("result %+v", r)
	}
}

// BenchmarkPointNet2Step times one training step of the bench
// configuration: batch 16, 2,048 points, the full network, 2 threads.
func BenchmarkPointNet2Step(b *testing.B) {
	s, err := NewPointNet2Stepper(16, PointNet2Points, 2, 0)
	if err != nil {
		b.Fatal(err)
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
