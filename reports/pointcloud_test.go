package reports

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/gap-harness/gap/results"
)

// fakeShapes are two synthetic shapes (a ring and a stick, two parts each)
// with truth labels, and predictions that differ per run.
func fakeShapes(run *results.Run) (truth, pred []PointCloud, err error) {
	for s := 0; s < 2; s++ {
		var tc, pc PointCloud
		for i := 0; i < 60; i++ {
			a := float64(i) / 60 * 2 * math.Pi
			x, y, z := math.Cos(a)*0.8, float64(s)*0.3*math.Sin(a), math.Sin(a)*0.8
			tc.XYZ = append(tc.XYZ, float32(x), float32(y), float32(z))
			l := int32(2*s + i/30)
			tc.Labels = append(tc.Labels, l)
			if run.Method != "dense" && i%7 == 0 {
				l = int32(2 * s)
			}
			pc.Labels = append(pc.Labels, l)
		}
		pc.XYZ = tc.XYZ
		truth, pred = append(truth, tc), append(pred, pc)
	}
	return truth, pred, nil
}

func withParts(spec TableSpec) TableSpec {
	spec.Extra = append(spec.Extra, PartsFigure(fakeShapes))
	return spec
}

// TestPartsFigure checks the point-cloud figure: drawn from the dense and
// the 90% C-GaP runs, one row per shape and three columns, not drawn when
// the runs saved no shapes, and a loader's error reported.
func TestPartsFigure(t *testing.T) {
	runs := fixtureRuns()
	files, captions, _, err := Figures(runs, withParts(ImageNetSpec()))
	if err != nil {
		t.Fatal(err)
	}
	if files["parts.png"] == nil || files["parts.svg"] == nil || captions[len(captions)-1][0] != "parts" {
		t.Fatalf("parts figure missing: %v", captions)
	}
	if c := captions[len(captions)-1][1]; !strings.Contains(c, "2 test shapes") || !strings.Contains(c, "C-GaP") {
		t.Errorf("caption %q", c)
	}
	var seen []string
	none := func(r *results.Run) ([]PointCloud, []PointCloud, error) {
		seen = append(seen, r.Row)
		return nil, nil, nil
	}
	spec := ImageNetSpec()
	spec.Extra = []FigureMaker{PartsFigure(none)}
	_, _, missing, err := Figures(runs, spec)
	if err != nil || len(missing) == 0 || !strings.Contains(strings.Join(missing, ","), "extra figure 0") {
		t.Fatalf("no shapes: missing %v, err %v", missing, err)
	}
	if len(seen) != 2 || seen[0] != "dense/0/dense" || seen[1] != "cgap/0.9/uniform" {
		t.Errorf("runs loaded: %v", seen)
	}
	spec.Extra = []FigureMaker{PartsFigure(func(*results.Run) ([]PointCloud, []PointCloud, error) {
		return nil, nil, errors.New("bad file x.json")
	})}
	if _, _, _, err := Figures(runs, spec); err == nil || !strings.Contains(err.Error(), "x.json") {
		t.Fatalf("loader error: %v", err)
	}
	// Without a 90% C-GaP run there is nothing to draw.
	var noGap []*results.Run
	for _, r := range runs {
		if r.Method != "cgap" {
			noGap = append(noGap, r)
		}
	}
	spec.Extra = []FigureMaker{PartsFigure(fakeShapes)}
	if _, _, missing, err := Figures(noGap, spec); err != nil || !strings.Contains(strings.Join(missing, ","), "extra figure 0") {
		t.Fatalf("no C-GaP run: missing %v, err %v", missing, err)
	}
}
