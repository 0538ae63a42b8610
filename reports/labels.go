package reports

import (
	"math"
	"sort"

	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
)

// Point labels (the Pareto front's) are placed by a greedy search over
// candidate positions around each point: eight directions close to the
// point, sixteen further out, on rings of growing distance. A candidate is
// allowed only when its text box stays inside the panel and covers no
// marker, no interval bar, no other label and no other leader line; among
// the allowed ones the nearest wins (distance in points, then a small
// preference for the right and above, and penalties for a leader line
// crossing a marker or another leader, or the label lying on the front
// line). A label placed away from its point gets a leader line. A point
// whose label fits nowhere is numbered instead (the number placed the same
// way) and listed, with its full label, under the plot. Several orders and
// two label lengths are tried and the layout with the fewest numbered
// points, then the full labels, then the least cost is kept. Everything
// is deterministic: no randomness, ties broken by index.

// labelGap is the clear space kept around markers, bars and labels.
var labelGap = vg.Points(0.8)

// labelRings are the distances (points) from a marker's centre to the
// nearest edge of its label's box that the search tries.
var labelRings = []vg.Length{3.5, 7, 12, 18, 26, 36, 48}

// labelItem is one point to label.
type labelItem struct {
	pt      vg.Point  // marker centre, relative to the panel's origin
	reach   vg.Length // half size of the marker's box
	texts   []string  // the label in each variant (full, short)
	caption string    // the full label, for the numbered list
}

// placedLabel is where a label (or a point's number) goes.
type placedLabel struct {
	item   int
	text   string       // drawn text: the label or the point's number
	box    vg.Rectangle // the text box, relative to the panel's origin
	leader [2]vg.Point  // leader line (from marker edge to box), when hasLeader
	has    bool         // hasLeader
	number int          // > 0: the point is numbered (listed under the plot)
}

// labelLayout is a placement of every label of a panel.
type labelLayout struct {
	size     vg.Point // the panel's data area this layout was made for
	variant  int      // index into labelItem.texts
	placed   []placedLabel
	numbered []int // items numbered, in number order
	cost     float64
}

// textExtent returns the width of s and the height of its box (ascent +
// descent) and the offset from the box's bottom to the point FillText
// takes with textStyle (left, bottom aligned).
func textExtent(sty text.Style, s string) (w, h, dy vg.Length) {
	e := sty.FontExtents()
	asc, desc := e.Ascent, vg.Length(math.Abs(float64(e.Descent)))
	// text.Plain puts the baseline at pt.Y + size - ascent for a bottom
	// aligned line: the box runs from baseline-descent to baseline+ascent.
	return sty.Width(s), asc + desc, asc + desc - sty.Font.Size
}

// layoutLabels places the labels of items in a panel of the given size,
// clear of the obstacles (marker and bar boxes) and of the front line.
func layoutLabels(size vg.Point, items []labelItem, obstacles []vg.Rectangle, front []vg.Point, sty text.Style) *labelLayout {
	var best *labelLayout
	nv := 0
	for _, it := range items {
		nv = max(nv, len(it.texts))
	}
	for v := 0; v < nv; v++ {
		for _, order := range labelOrders(items, obstacles) {
			l := greedyLabels(size, items, obstacles, front, sty, v, order)
			if best == nil || betterLayout(l, best) {
				best = l
			}
		}
	}
	if best == nil {
		best = &labelLayout{size: size}
	}
	return best
}

// betterLayout orders layouts: fewer numbered points, then the longer
// labels, then the lower cost.
func betterLayout(a, b *labelLayout) bool {
	if len(a.numbered) != len(b.numbered) {
		return len(a.numbered) < len(b.numbered)
	}
	if a.variant != b.variant {
		return a.variant < b.variant
	}
	return a.cost < b.cost
}

// labelOrders are the orders the greedy search tries: along the front,
// backwards, the most crowded point first, the highest first, the lowest
// first.
func labelOrders(items []labelItem, obstacles []vg.Rectangle) [][]int {
	fwd, back, crowd := rangeI(len(items)), rangeI(len(items)), rangeI(len(items))
	for i, j := 0, len(back)-1; i < j; i, j = i+1, j-1 {
		back[i], back[j] = back[j], back[i]
	}
	near := make([]int, len(items))
	for i, it := range items {
		for _, o := range obstacles {
			c := vg.Point{X: (o.Min.X + o.Max.X) / 2, Y: (o.Min.Y + o.Max.Y) / 2}
			if math.Hypot(float64(c.X-it.pt.X), float64(c.Y-it.pt.Y)) < 30 {
				near[i]++
			}
		}
	}
	sort.SliceStable(crowd, func(a, b int) bool { return near[crowd[a]] > near[crowd[b]] })
	high, low := rangeI(len(items)), rangeI(len(items))
	sort.SliceStable(high, func(a, b int) bool { return items[high[a]].pt.Y > items[high[b]].pt.Y })
	sort.SliceStable(low, func(a, b int) bool { return items[low[a]].pt.Y < items[low[b]].pt.Y })
	return [][]int{fwd, back, crowd, high, low}
}

// labelCandidates are the boxes of size w×h tried around pt, nearest
// ring first: on each ring the box's side (or corner) nearest the point
// lies at that distance in one of 8 (16 further out) directions; on the
// near rings, boxes above, below and beside the point also slide along
// it (the point under a quarter, the middle or three quarters of the
// side).
func labelCandidates(pt vg.Point, w, h vg.Length) []vg.Rectangle {
	var out []vg.Rectangle
	at := func(o vg.Point) { out = append(out, vg.Rectangle{Min: o, Max: vg.Point{X: o.X + w, Y: o.Y + h}}) }
	for ri, d := range labelRings {
		ndir := 8
		if ri >= 4 {
			ndir = 16
		}
		for k := 0; k < ndir; k++ {
			a := float64(k) * 2 * math.Pi / float64(ndir)
			cs, sn := vg.Length(math.Cos(a)), vg.Length(math.Sin(a))
			ux, uy := sign(cs), sign(sn)
			at(vg.Point{X: pt.X + d*cs - w/2 + ux*w/2, Y: pt.Y + d*sn - h/2 + uy*h/2})
		}
		if ri < 4 {
			for _, f := range []vg.Length{0.25, 0.75} {
				at(vg.Point{X: pt.X - f*w, Y: pt.Y + d})     // above
				at(vg.Point{X: pt.X - f*w, Y: pt.Y - d - h}) // below
			}
			for _, f := range []vg.Length{0.2, 0.8} {
				at(vg.Point{X: pt.X + d, Y: pt.Y - f*h})     // right
				at(vg.Point{X: pt.X - d - w, Y: pt.Y - f*h}) // left
			}
		}
	}
	return out
}

// labelPlacer holds what labels must keep clear of.
type labelPlacer struct {
	size      vg.Point
	items     []labelItem
	obstacles []vg.Rectangle
	front     []vg.Point
	sty       text.Style
}

// best is the cheapest allowed place of text s for item i, given the
// labels already placed.
func (lp *labelPlacer) best(i int, s string, placed []placedLabel) (placedLabel, float64, bool) {
	it := lp.items[i]
	w, h, _ := textExtent(lp.sty, s)
	var boxes []vg.Rectangle
	var leaders [][2]vg.Point
	for _, p := range placed {
		boxes = append(boxes, grow(p.box, labelGap))
		if p.has {
			leaders = append(leaders, p.leader)
		}
	}
	best, bestCost, found := placedLabel{}, math.Inf(1), false
	for ci, box := range labelCandidates(it.pt, w, h) {
		if box.Min.X < 0 || box.Min.Y < 0 || box.Max.X > lp.size.X || box.Max.Y > lp.size.Y {
			continue
		}
		padded := grow(box, labelGap)
		if hitsAny(padded, lp.obstacles) || hitsAny(padded, boxes) || crossesLeaders(padded, leaders) {
			continue
		}
		pl := placedLabel{item: i, text: s, box: box}
		pl.leader, pl.has = leaderLine(it, box)
		if pl.has && segmentHitsAny(pl.leader, boxes) {
			continue
		}
		cost := float64(boxDistance(it.pt, box)) + 0.001*float64(ci)
		if pl.has {
			cost += 30 * float64(segmentHits(pl.leader, lp.obstacles, it.pt))
			for _, ld := range leaders {
				if segmentsCross(pl.leader, ld) {
					cost += 40
				}
			}
		}
		for j := 1; j < len(lp.front); j++ {
			if segmentHitsBox([2]vg.Point{lp.front[j-1], lp.front[j]}, box) {
				cost += 6
				break
			}
		}
		if cost < bestCost {
			best, bestCost, found = pl, cost, true
		}
	}
	return best, bestCost, found
}

// greedyLabels places the items in the given order, each at its cheapest
// allowed place; then, for each label that fits nowhere, it tries moving
// one placed label out of the way (the pair placed again, the cheapest
// such move kept); the labels still without a place are numbered.
func greedyLabels(size vg.Point, items []labelItem, obstacles []vg.Rectangle, front []vg.Point, sty text.Style, variant int, order []int) *labelLayout {
	lp := &labelPlacer{size: size, items: items, obstacles: obstacles, front: front, sty: sty}
	text := func(i int) string { return items[i].texts[min(variant, len(items[i].texts)-1)] }
	var placed []placedLabel
	var costs []float64
	var failed []int
	for _, i := range order {
		pl, cost, ok := lp.best(i, text(i), placed)
		if !ok {
			failed = append(failed, i)
			continue
		}
		placed, costs = append(placed, pl), append(costs, cost)
	}
	var still []int
	for _, i := range failed {
		bestJ, bestCost, costI, costJ := -1, math.Inf(1), 0.0, 0.0
		var bestI, bestMoved placedLabel
		for j := range placed {
			others := append(append([]placedLabel(nil), placed[:j]...), placed[j+1:]...)
			pi, ci, ok := lp.best(i, text(i), others)
			if !ok {
				continue
			}
			pj, cj, ok := lp.best(placed[j].item, placed[j].text, append(others, pi))
			if !ok {
				continue
			}
			if c := ci + cj - costs[j]; c < bestCost {
				bestJ, bestCost, bestI, bestMoved, costI, costJ = j, c, pi, pj, ci, cj
			}
		}
		if bestJ < 0 {
			still = append(still, i)
			continue
		}
		placed[bestJ], costs[bestJ] = bestMoved, costJ
		placed, costs = append(placed, bestI), append(costs, costI)
	}
	l := &labelLayout{size: size, variant: variant}
	for _, c := range costs {
		l.cost += c
	}
	// Numbers in front order, placed after every label that fits.
	sort.Ints(still)
	for n, i := range still {
		l.numbered = append(l.numbered, i)
		l.cost += 1000
		pl, cost, ok := lp.best(i, itoa(n+1), placed)
		if !ok {
			continue // listed under the plot only
		}
		pl.number = n + 1
		placed = append(placed, pl)
		l.cost += cost
	}
	l.placed = placed
	return l
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func sign(v vg.Length) vg.Length {
	switch {
	case v > 1e-9:
		return 1
	case v < -1e-9:
		return -1
	}
	return 0
}

// grow returns r enlarged by d on every side.
func grow(r vg.Rectangle, d vg.Length) vg.Rectangle {
	return vg.Rectangle{Min: vg.Point{X: r.Min.X - d, Y: r.Min.Y - d}, Max: vg.Point{X: r.Max.X + d, Y: r.Max.Y + d}}
}

func hitsAny(r vg.Rectangle, rs []vg.Rectangle) bool {
	for _, o := range rs {
		if overlapArea(r, o) > 0 {
			return true
		}
	}
	return false
}

// boxDistance is the distance from p to the nearest point of r.
func boxDistance(p vg.Point, r vg.Rectangle) vg.Length {
	q := nearestOnBox(p, r)
	return vg.Length(math.Hypot(float64(q.X-p.X), float64(q.Y-p.Y)))
}

func nearestOnBox(p vg.Point, r vg.Rectangle) vg.Point {
	return vg.Point{X: max(r.Min.X, min(p.X, r.Max.X)), Y: max(r.Min.Y, min(p.Y, r.Max.Y))}
}

// leaderLine is the line from the marker's edge to the label's box, when
// the box sits away from the marker.
func leaderLine(it labelItem, box vg.Rectangle) ([2]vg.Point, bool) {
	q := nearestOnBox(it.pt, box)
	dx, dy := float64(q.X-it.pt.X), float64(q.Y-it.pt.Y)
	d := math.Hypot(dx, dy)
	if d <= float64(it.reach+vg.Points(3)) {
		return [2]vg.Point{}, false
	}
	start := it.reach + labelGap
	from := vg.Point{X: it.pt.X + vg.Length(dx/d)*start, Y: it.pt.Y + vg.Length(dy/d)*start}
	return [2]vg.Point{from, q}, true
}

// segmentHits counts the boxes the segment crosses, leaving out the box
// of the segment's own marker (the one containing own).
func segmentHits(s [2]vg.Point, rs []vg.Rectangle, own vg.Point) int {
	n := 0
	for _, r := range rs {
		if own.X >= r.Min.X && own.X <= r.Max.X && own.Y >= r.Min.Y && own.Y <= r.Max.Y {
			continue
		}
		if segmentHitsBox(s, r) {
			n++
		}
	}
	return n
}

func segmentHitsAny(s [2]vg.Point, rs []vg.Rectangle) bool {
	for _, r := range rs {
		if segmentHitsBox(s, r) {
			return true
		}
	}
	return false
}

// crossesLeaders says whether box r lies on any of the leader lines.
func crossesLeaders(r vg.Rectangle, leaders [][2]vg.Point) bool {
	for _, s := range leaders {
		if segmentHitsBox(s, r) {
			return true
		}
	}
	return false
}

// segmentHitsBox says whether the segment s passes through the inside of
// r (Liang-Barsky clipping).
func segmentHitsBox(s [2]vg.Point, r vg.Rectangle) bool {
	x0, y0 := float64(s[0].X), float64(s[0].Y)
	dx, dy := float64(s[1].X)-x0, float64(s[1].Y)-y0
	t0, t1 := 0.0, 1.0
	for _, c := range [4][2]float64{
		{-dx, x0 - float64(r.Min.X)}, {dx, float64(r.Max.X) - x0},
		{-dy, y0 - float64(r.Min.Y)}, {dy, float64(r.Max.Y) - y0},
	} {
		p, q := c[0], c[1]
		if p == 0 {
			if q <= 0 {
				return false
			}
			continue
		}
		t := q / p
		if p < 0 {
			t0 = math.Max(t0, t)
		} else {
			t1 = math.Min(t1, t)
		}
		if t0 >= t1 {
			return false
		}
	}
	return true
}

// segmentsCross says whether two segments properly intersect.
func segmentsCross(a, b [2]vg.Point) bool {
	orient := func(p, q, r vg.Point) float64 {
		return float64(q.X-p.X)*float64(r.Y-p.Y) - float64(q.Y-p.Y)*float64(r.X-p.X)
	}
	d1, d2 := orient(b[0], b[1], a[0]), orient(b[0], b[1], a[1])
	d3, d4 := orient(a[0], a[1], b[0]), orient(a[0], a[1], b[1])
	return (d1 > 0) != (d2 > 0) && (d3 > 0) != (d4 > 0) && d1 != 0 && d2 != 0 && d3 != 0 && d4 != 0
}
