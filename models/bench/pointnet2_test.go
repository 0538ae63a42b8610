package bench

import (
	"math"
	"testing"

	"github.com/gap-harness/gap/models/pointnet2"
)

// TestPointNet2StepRuns runs steps of a narrow PointNet++ (128 points,
// width 1/8) through the bench stepper and checks the loss is finite, and
// that the timed entry point rejects bad settings.
func TestPointNet2StepRuns(t *testing.T) {
	s, err := NewPointNet2Stepper(2, pointnet2.Config{NumPoints: 128, NPoint1: 32, NPoint2: 8, K1: 8, K2: 8, Width: 0.125}, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		l, err := s.Step()
		if err != nil || math.IsNaN(float64(l)) {
			t.Fatalf("step %d: loss %v, %v", i, l, err)
		}
	}
	if _, err := PointNet2Step(2, 2048, 0, 0, 2); err == nil {
		t.Fatal("zero steps accepted")
	}
}

// BenchmarkPointNet2Step times one training step of the bench
// configuration: batch 16, 2,048 points, the full network, 2 threads.
func BenchmarkPointNet2Step(b *testing.B) {
	s, err := NewPointNet2Stepper(16, pointnet2.Config{NumPoints: PointNet2Points}, 2, 0)
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

// TestStepSparsePoints checks the point count reaches the PointNet++ step
// (the full network on 512 points, one step) and is refused for other
// models, negative, or below the first abstraction's 512 centres.
func TestStepSparsePoints(t *testing.T) {
	if testing.Short() {
		t.Skip("a full-network PointNet++ step (-short)")
	}
	r, err := StepSparse(SparseStep{Model: "pointnet2", Points: 512, Batch: 1, Steps: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Model != "pointnet2" || math.IsNaN(float64(r.Loss)) {
		t.Fatalf("result %+v", r)
	}
	for _, c := range []SparseStep{
		{Model: "resnet20", Points: 512, Batch: 1, Steps: 1, Threads: 1},
		{Model: "pointnet2", Points: -1, Batch: 1, Steps: 1, Threads: 1},
		{Model: "pointnet2", Points: 256, Batch: 1, Steps: 1, Threads: 1},
	} {
		if _, err := StepSparse(c); err == nil {
			t.Errorf("%s with %d points accepted", c.Model, c.Points)
		}
	}
}
