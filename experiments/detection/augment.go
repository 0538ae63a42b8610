package detection

import (
	"math/rand/v2"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/models/ssd"
)

// augment shifts each image of x [N, 1, S, S] by a random (dx, dy) in
// [-shift, shift] (uncovered pixels get fill) and, when flip, mirrors it
// horizontally with probability 1/2, moving the truths with it; a box
// pushed partly out of the canvas is clipped, one pushed wholly out is
// dropped.
func augment(x *engine.Tensor[float32], truths [][]ssd.Truth, shift int, flip bool, rng *rand.Rand, fill float32) {
	s := x.Shape()
	n, S := s[0], s[3]
	buf := make([]float32, S*S)
	for i := 0; i < n; i++ {
		dx, dy := 0, 0
		if shift > 0 {
			dx, dy = rng.IntN(2*shift+1)-shift, rng.IntN(2*shift+1)-shift
		}
		mirror := flip && rng.IntN(2) == 1
		img := x.Data()[i*S*S : (i+1)*S*S]
		for r := 0; r < S; r++ {
			for c := 0; c < S; c++ {
				sr, sc := r-dy, c-dx
				if mirror {
					sc = S - 1 - c + dx
				}
				v := fill
				if sr >= 0 && sr < S && sc >= 0 && sc < S {
					v = img[sr*S+sc]
				}
				buf[r*S+c] = v
			}
		}
		copy(img, buf)
		fx, fy := float64(dx)/float64(S), float64(dy)/float64(S)
		out := truths[i][:0:0]
		for _, t := range truths[i] {
			b := t.Box
			if mirror {
				b.X0, b.X1 = 1-b.X1, 1-b.X0
			}
			b = ssd.Rect{X0: clamp(b.X0 + fx), Y0: clamp(b.Y0 + fy), X1: clamp(b.X1 + fx), Y1: clamp(b.Y1 + fy)}
			if b.X1-b.X0 <= 0 || b.Y1-b.Y0 <= 0 {
				continue
			}
			out = append(out, ssd.Truth{Box: b, Label: t.Label})
		}
		truths[i] = out
	}
}

func clamp(v float64) float64 { return min(1, max(0, v)) }
