package cocoimg

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"testing"
)

// TestJitterAgainstPIL compares each transform with PIL's, as
// torchvision's ColorJitter applies it to the PIL images of NVIDIA's
// pipeline (values printed by scripts/torch/colorjitter_pil.py into
// testdata/colorjitter_pil.json). PIL works in 8 bits (each transform
// rounds; its grey is the integer 299/587/114 per mille; its contrast mean
// is rounded to a level; its HSV is 8-bit, and the hue shift is
// uint8(shift*255) levels), Jitter in float32 as torchvision's tensor path:
// they agree within the tolerances below, in levels of 255.
func TestJitterAgainstPIL(t *testing.T) {
	b, err := os.ReadFile("testdata/colorjitter_pil.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref map[string][]float64
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	const n = 64
	in := func() (r, g, b []float32) {
		for i := range n {
			r = append(r, float32((i*53+11)%256)/255)
			g = append(g, float32((i*97+29)%256)/255)
			b = append(b, float32((i*31+200)%256)/255)
		}
		return r, g, b
	}
	cases := []struct {
		kind      PhotoKind
		name      string
		v         float64
		maxLevels float64 // largest difference allowed, in levels (of hue for hue)
		meanLevel float64 // mean difference allowed
	}{
		{Brightness, "brightness", 0.875, 1, 0.5}, {Brightness, "brightness", 1.125, 1, 0.5},
		{Contrast, "contrast", 0.5, 1, 0.6}, {Contrast, "contrast", 1.5, 1, 0.6},
		{Saturation, "saturation", 0, 1, 0.5}, {Saturation, "saturation", 0.5, 1, 0.5}, {Saturation, "saturation", 1.5, 1, 0.5},
		// PIL's shift is uint8(shift*255) levels of its 8-bit hue.
		{Hue, "hue", 0.05, 3, 1}, {Hue, "hue", 0.25, 3, 1},
	}
	for _, c := range cases {
		key := fmt.Sprintf("%s %g", c.name, c.v)
		want, ok := ref[key]
		if !ok || len(want) != 3*n {
			t.Fatalf("%s: %d reference values", key, len(want))
		}
		v := c.v
		if c.kind == Hue {
			v = math.Floor(v*255) / 255
		}
		r, g, bl := in()
		Apply([]PhotoOp{{c.kind, v}}, r, g, bl)
		var worst, sum float64
		for i := range n {
			for k, ch := range [][]float32{r, g, bl} {
				d := math.Abs(float64(ch[i])*255 - want[3*i+k])
				worst = max(worst, d)
				sum += d
			}
		}
		mean := sum / (3 * n)
		if c.kind == Hue {
			// PIL's hue has 255 levels a turn: at full value a channel moves
			// 6 levels per hue level, so compare hues (of the pixels that
			// have one) besides the mean.
			var worstHue float64
			for i := range n {
				h1, s1, v1 := rgbToHSV(r[i], g[i], bl[i])
				h2, _, _ := rgbToHSV(float32(want[3*i]/255), float32(want[3*i+1]/255), float32(want[3*i+2]/255))
				if s1 < 0.2 || v1 < 0.2 {
					continue
				}
				d := math.Abs(float64(h1 - h2))
				worstHue = max(worstHue, min(d, 1-d)*255)
			}
			t.Logf("%s: largest hue difference from PIL %.2f of its levels", key, worstHue)
			if worstHue > c.maxLevels {
				t.Errorf("%s: hue differs from PIL by %.2f levels, want at most %g", key, worstHue, c.maxLevels)
			}
		}
		t.Logf("%s: largest difference from PIL %.2f levels, mean %.2f", key, worst, mean)
		if (c.kind != Hue && worst > c.maxLevels) || mean > c.meanLevel {
			t.Errorf("%s: differs from PIL by up to %.2f levels (mean %.2f), want at most %g (mean %g)", key, worst, mean, c.maxLevels, c.meanLevel)
		}
	}
}
