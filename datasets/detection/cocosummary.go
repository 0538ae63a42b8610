package detection

import (
	"fmt"
	"math"
)

// summarize computes the 12 standard numbers.
func (c *COCOResult) summarize() [12]float64 {
	p := c.Params
	thrIndex := func(v float64) int {
		best := 0
		for i, t := range p.IoUThrs {
			if math.Abs(t-v) < math.Abs(p.IoUThrs[best]-v) {
				best = i
			}
		}
		return best
	}
	all := -1
	t50, t75 := thrIndex(0.5), thrIndex(0.75)
	last := len(p.MaxDets) - 1
	return [12]float64{
		c.meanAP(all, 0, last), c.meanAP(t50, 0, last), c.meanAP(t75, 0, last),
		c.meanAP(all, 1, last), c.meanAP(all, 2, last), c.meanAP(all, 3, last),
		c.meanAR(all, 0, 0), c.meanAR(all, 0, 1), c.meanAR(all, 0, last),
		c.meanAR(all, 1, last), c.meanAR(all, 2, last), c.meanAR(all, 3, last),
	}
}

// meanAP averages Precision over thresholds (t < 0: all), recall points
// and categories for area a and max-dets m, skipping -1; -1 if none.
func (c *COCOResult) meanAP(t, a, m int) float64 {
	s, n := 0.0, 0
	for ti := range c.Params.IoUThrs {
		if t >= 0 && ti != t {
			continue
		}
		for r := range c.Params.RecThrs {
			for k := range c.CatIDs {
				if v := c.PrecisionAt(ti, r, k, a, m); v > -1 {
					s += v
					n++
				}
			}
		}
	}
	if n == 0 {
		return -1
	}
	return s / float64(n)
}

func (c *COCOResult) meanAR(t, a, m int) float64 {
	s, n := 0.0, 0
	for ti := range c.Params.IoUThrs {
		if t >= 0 && ti != t {
			continue
		}
		for k := range c.CatIDs {
			if v := c.RecallAt(ti, k, a, m); v > -1 {
				s += v
				n++
			}
		}
	}
	if n == 0 {
		return -1
	}
	return s / float64(n)
}

// Summary returns the 12 lines that pycocotools' COCOeval.summarize()
// prints for boxes, e.g.
// " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.378".
func (c *COCOResult) Summary() []string {
	p := c.Params
	if len(p.MaxDets) != 3 || len(p.AreaLabels) != 4 {
		return nil
	}
	full := fmt.Sprintf("%0.2f:%0.2f", p.IoUThrs[0], p.IoUThrs[len(p.IoUThrs)-1])
	rows := []struct {
		ap   bool
		iou  string
		area int
		md   int
	}{
		{true, full, 0, 2}, {true, "0.50", 0, 2}, {true, "0.75", 0, 2},
		{true, full, 1, 2}, {true, full, 2, 2}, {true, full, 3, 2},
		{false, full, 0, 0}, {false, full, 0, 1}, {false, full, 0, 2},
		{false, full, 1, 2}, {false, full, 2, 2}, {false, full, 3, 2},
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		title, typ := "Average Recall", "(AR)"
		if r.ap {
			title, typ = "Average Precision", "(AP)"
		}
		out[i] = fmt.Sprintf(" %-18s %s @[ IoU=%-9s | area=%6s | maxDets=%3d ] = %0.3f", title, typ, r.iou, p.AreaLabels[r.area], p.MaxDets[r.md], c.Stats[i])
	}
	return out
}
