package ssd

import (
	"math/rand/v2"
	"testing"

	"github.com/gap-harness/gap/engine"
)

func randomTruths(rng *rand.Rand, images, per int) [][]Truth {
	out := make([][]Truth, images)
	for i := range out {
		for k := 0; k < per; k++ {
			x, y := rng.Float64()*0.7, rng.Float64()*0.7
			w, h := 0.05+rng.Float64()*0.25, 0.05+rng.Float64()*0.25
			out[i] = append(out[i], Truth{Box: Rect{x, y, x + w, y + h}, Label: int32(1 + rng.IntN(10))})
		}
	}
	return out
}

func benchMatch(b *testing.B, spec BoxSpec, images, per int) {
	a, err := DefaultBoxes(spec)
	if err != nil {
		b.Fatal(err)
	}
	m := NewMatcher(a, MatchThreshold)
	tr := randomTruths(rand.New(rand.NewPCG(1, 2)), images, per)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		MatchBatch(m, tr, 2)
	}
}

// BenchmarkMatchProxy matches a batch of 32 canvases with 4 digits each to
// the proxy's 380 default boxes (the bench step's matching).
func BenchmarkMatchProxy(b *testing.B) { benchMatch(b, ProxyBoxes, 32, 4) }

// BenchmarkMatchSSD300 matches 32 images with 8 objects each (COCO's mean
// is about 7) to SSD300's 8732 default boxes.
func BenchmarkMatchSSD300(b *testing.B) { benchMatch(b, SSD300Boxes, 32, 8) }

func benchPost(b *testing.B, spec BoxSpec, classes, images int, scale float64) {
	a, err := DefaultBoxes(spec)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	loc, conf := engine.NewTensor[float32](images, 4, len(a)), engine.NewTensor[float32](images, classes, len(a))
	for i := range loc.Data() {
		loc.Data()[i] = float32(rng.NormFloat64())
	}
	for i := range conf.Data() {
		conf.Data()[i] = float32(scale * rng.NormFloat64())
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		PostProcessBatch(loc, conf, a, DefaultPost, 2)
	}
}

// BenchmarkPostProcessProxy post-processes 64 proxy images whose logits are
// near-uniform (an untrained model: every box of every class passes the
// 0.05 threshold, the worst case for NMS).
func BenchmarkPostProcessProxy(b *testing.B) { benchPost(b, ProxyBoxes, 11, 64, 0.1) }

// BenchmarkPostProcessSSD300 post-processes 8 SSD300 images with spread
// logits over 81 classes.
func BenchmarkPostProcessSSD300(b *testing.B) { benchPost(b, SSD300Boxes, 81, 8, 3) }
