package detection

import (
	"testing"

	"github.com/gap-harness/gap/models/ssd"
)

// TestFigureBoxes checks what a figure draws per canvas: every detection
// from FigureMinScore, and below it the best-scoring others only up to the
// canvas's object count, best first.
func TestFigureBoxes(t *testing.T) {
	d := func(scores ...float64) []ssd.Scored {
		var out []ssd.Scored
		for i, s := range scores {
			out = append(out, ssd.Scored{Label: i, Score: s})
		}
		return out
	}
	for _, c := range []struct {
		name   string
		dets   []ssd.Scored
		truths int
		want   []float64
	}{
		{"confident model: threshold only", d(0.9, 0.05, 0.5, 0.1), 1, []float64{0.9, 0.5}},
		{"under-confident: best guesses up to the digits", d(0.12, 0.05, 0.14, 0.08), 2, []float64{0.14, 0.12}},
		{"mixed: threshold then fill", d(0.2, 0.35, 0.1), 2, []float64{0.35, 0.2}},
		{"more confident boxes than digits: all kept", d(0.4, 0.31, 0.6), 1, []float64{0.6, 0.4, 0.31}},
		{"no detections", nil, 3, nil},
		{"no truths, nothing confident", d(0.2), 0, nil},
	} {
		got := figureBoxes(c.dets, c.truths)
		if len(got) != len(c.want) {
			t.Errorf("%s: %d boxes %v, want %v", c.name, len(got), got, c.want)
			continue
		}
		for i := range got {
			if got[i].Score != c.want[i] {
				t.Errorf("%s: box %d score %v, want %v", c.name, i, got[i].Score, c.want[i])
			}
		}
	}
}
