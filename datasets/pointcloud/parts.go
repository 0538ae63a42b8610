package pointcloud

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Rotation selects the random rotation applied to each synthetic shape.
type Rotation int

// Rotation modes.
const (
	RotateNone Rotation = iota // canonical pose (up is +y)
	RotateUp                   // uniform rotation about the up (y) axis
	RotateSO3                  // uniform rotation in SO(3)
)

// PartsConfig configures the synthetic "parts" data set.
type PartsConfig struct {
	NumShapes int      // shapes in the set (default 1200)
	NumPoints int      // points per shape (default 2048)
	Seed      uint64   // shape i depends only on Seed and i
	Noise     float64  // std of Gaussian point noise in unit-sphere units (default 0.005; negative: none)
	Rotation  Rotation // random rotation (default RotateNone)
}

// DefaultPartsConfig is the default "parts" set: 1200 shapes (200 per
// category) of 2048 points, noise 0.005, no rotation, seed 1.
func DefaultPartsConfig() PartsConfig {
	return PartsConfig{NumShapes: 1200, NumPoints: 2048, Seed: 1, Noise: 0.005}
}

// partsCategory is one category of the synthetic set.
type partsCategory struct {
	name  string
	parts []string
	build func(lm *labelledMesh, rng *rand.Rand, first int32)
}

var partsCategories = []partsCategory{
	{"table", []string{"top", "leg"}, buildTable},
	{"lamp", []string{"base", "pole", "shade"}, buildLamp},
	{"mug", []string{"body", "handle"}, buildMug},
	{"airplane", []string{"fuselage", "wing", "tail"}, buildAirplane},
	{"chair", []string{"seat", "back", "leg"}, buildChair},
	{"rocket", []string{"body", "nose", "fin"}, buildRocket},
}

// PartsCategoryNames returns the category names of the "parts" set in
// category order.
func PartsCategoryNames() []string {
	out := make([]string, len(partsCategories))
	for i, c := range partsCategories {
		out[i] = c.name
	}
	return out
}

// PartsCategoryParts returns, per category of the "parts" set, its global
// part labels (consecutive, in category order, as in ShapeNet part).
func PartsCategoryParts() [][]int {
	out := make([][]int, len(partsCategories))
	next := 0
	for i, c := range partsCategories {
		for range c.parts {
			out[i] = append(out[i], next)
			next++
		}
	}
	return out
}

// Parts is the default part-segmentation data set: a proxy for ShapeNet
// part built from labelled parametric primitives. Six categories (table:
// top, legs; lamp: base, pole, shade; mug: body, handle; airplane:
// fuselage, wings, tail; chair: seat, back, legs; rocket: body, nose, fins)
// with 16 part labels in all; each shape draws its proportions (and some
// structure: leg count, pedestal tables, armless or tall backs) at random,
// its surface points are sampled by area, normalised to the unit sphere,
// perturbed by Gaussian noise, rotated as configured and normalised again.
// Shape i has category i mod 6 and depends only on (Seed, i), so examples
// can be generated in any order or in parallel. Normals are the unit
// normals of the sampled triangles (outward for closed primitives),
// rotated with the points, without noise.
type Parts struct {
	cfg       PartsConfig
	catParts  [][]int
	partFirst []int32
}

// NewParts returns the "parts" set for cfg, filling zero fields with the
// defaults of DefaultPartsConfig.
func NewParts(cfg PartsConfig) (*Parts, error) {
	d := DefaultPartsConfig()
	if cfg.NumShapes == 0 {
		cfg.NumShapes = d.NumShapes
	}
	if cfg.NumPoints == 0 {
		cfg.NumPoints = d.NumPoints
	}
	if cfg.Noise == 0 {
		cfg.Noise = d.Noise
	}
	if cfg.NumShapes < 0 || cfg.NumPoints < 0 {
		return nil, fmt.Errorf("parts: %d shapes of %d points, want positive counts", cfg.NumShapes, cfg.NumPoints)
	}
	if cfg.Rotation < RotateNone || cfg.Rotation > RotateSO3 {
		return nil, fmt.Errorf("parts: unknown rotation mode %d", cfg.Rotation)
	}
	p := &Parts{cfg: cfg, catParts: PartsCategoryParts()}
	for _, cp := range p.catParts {
		p.partFirst = append(p.partFirst, int32(cp[0]))
	}
	return p, nil
}

// Config returns the resolved configuration.
func (p *Parts) Config() PartsConfig { return p.cfg }

// Len is the number of shapes.
func (p *Parts) Len() int { return p.cfg.NumShapes }

// NumPoints is the number of points per shape.
func (p *Parts) NumPoints() int { return p.cfg.NumPoints }

// NumCategories is 6.
func (p *Parts) NumCategories() int { return len(partsCategories) }

// NumParts is 16.
func (p *Parts) NumParts() int {
	last := p.catParts[len(p.catParts)-1]
	return last[len(last)-1] + 1
}

// CategoryParts returns the part labels of category cat (nil if out of range).
func (p *Parts) CategoryParts(cat int) []int {
	if cat < 0 || cat >= len(p.catParts) {
		return nil
	}
	return append([]int(nil), p.catParts[cat]...)
}

// CategoryNames returns the names of the categories.
func (p *Parts) CategoryNames() []string { return PartsCategoryNames() }

// Example generates shape i.
func (p *Parts) Example(i int) (pts, normals []float32, parts []int32, cat int, err error) {
	if i < 0 || i >= p.cfg.NumShapes {
		return nil, nil, nil, 0, fmt.Errorf("parts: example %d out of range [0,%d)", i, p.cfg.NumShapes)
	}
	rng := rand.New(rand.NewPCG(p.cfg.Seed, uint64(i)))
	cat = i % len(partsCategories)
	var lm labelledMesh
	partsCategories[cat].build(&lm, rng, p.partFirst[cat])
	pts, normals, tri, err := SampleSurface(&lm.m, p.cfg.NumPoints, rng)
	if err != nil {
		return nil, nil, nil, 0, fmt.Errorf("parts: example %d: %w", i, err)
	}
	parts = make([]int32, len(tri))
	for k, t := range tri {
		parts[k] = lm.labels[t]
	}
	NormalizeUnitSphere(pts)
	if p.cfg.Noise > 0 {
		for k := range pts {
			pts[k] += float32(rng.NormFloat64() * p.cfg.Noise)
		}
	}
	var rot [3]vec3
	switch p.cfg.Rotation {
	case RotateUp:
		rot = rotY(2 * math.Pi * rng.Float64())
	case RotateSO3:
		rot = randomSO3(rng)
	default:
		rot = [3]vec3{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}
	}
	applyRot(rot, pts)
	applyRot(rot, normals)
	NormalizeUnitSphere(pts)
	return pts, normals, parts, cat, nil
}

func rotY(a float64) [3]vec3 {
	c, s := math.Cos(a), math.Sin(a)
	return [3]vec3{{c, 0, s}, {0, 1, 0}, {-s, 0, c}}
}

// randomSO3 is a uniform random rotation (Shoemake's unit quaternion).
func randomSO3(rng *rand.Rand) [3]vec3 {
	u1, u2, u3 := rng.Float64(), 2*math.Pi*rng.Float64(), 2*math.Pi*rng.Float64()
	a, b := math.Sqrt(1-u1), math.Sqrt(u1)
	w, x, y, z := a*math.Sin(u2), a*math.Cos(u2), b*math.Sin(u3), b*math.Cos(u3)
	return [3]vec3{
		{1 - 2*(y*y+z*z), 2 * (x*y - z*w), 2 * (x*z + y*w)},
		{2 * (x*y + z*w), 1 - 2*(x*x+z*z), 2 * (y*z - x*w)},
		{2 * (x*z - y*w), 2 * (y*z + x*w), 1 - 2*(x*x+y*y)},
	}
}

func applyRot(r [3]vec3, v []float32) {
	for i := 0; i+2 < len(v); i += 3 {
		p := vec3{float64(v[i]), float64(v[i+1]), float64(v[i+2])}
		for k := 0; k < 3; k++ {
			v[i+k] = float32(r[k][0]*p[0] + r[k][1]*p[1] + r[k][2]*p[2])
		}
	}
}

func uni(rng *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }

func buildTable(lm *labelledMesh, rng *rand.Rand, first int32) {
	top, leg := first, first+1
	w, d := uni(rng, 0.8, 1.5), uni(rng, 0.5, 1.0)
	th, h := uni(rng, 0.03, 0.09), uni(rng, 0.5, 0.9)
	if rng.Float64() < 0.3 { // round top
		lm.frustum(vec3{0, h - th, 0}, 1, w/2, w/2, th, true, true, top)
		if rng.Float64() < 0.5 { // pedestal
			r := uni(rng, 0.04, 0.1)
			lm.frustum(vec3{0, 0, 0}, 1, r, r, h-th, false, false, leg)
			lm.frustum(vec3{0, 0, 0}, 1, uni(rng, 0.2, 0.35), r, 0.05, true, false, leg)
			return
		}
		d = w
	} else {
		lm.box(vec3{0, h - th/2, 0}, vec3{w / 2, th / 2, d / 2}, top)
	}
	lt := uni(rng, 0.025, 0.07)
	in := uni(rng, 0.02, 0.12)
	round := rng.Float64() < 0.5
	for _, sx := range []float64{-1, 1} {
		for _, sz := range []float64{-1, 1} {
			x, z := sx*(w/2-in-lt), sz*(d/2-in-lt)
			if d == w && round { // legs under a round top
				x, z = x*0.6, z*0.6
			}
			if round {
				lm.frustum(vec3{x, 0, z}, 1, lt, lt, h-th, true, false, leg)
			} else {
				lm.box(vec3{x, (h - th) / 2, z}, vec3{lt, (h - th) / 2, lt}, leg)
			}
		}
	}
}

func buildLamp(lm *labelledMesh, rng *rand.Rand, first int32) {
	base, pole, shade := first, first+1, first+2
	bh := uni(rng, 0.03, 0.1)
	if rng.Float64() < 0.5 {
		lm.frustum(vec3{0, 0, 0}, 1, uni(rng, 0.15, 0.3), uni(rng, 0.08, 0.2), bh, true, true, base)
	} else {
		s := uni(rng, 0.12, 0.25)
		lm.box(vec3{0, bh / 2, 0}, vec3{s, bh / 2, s}, base)
	}
	pr, ph := uni(rng, 0.012, 0.035), uni(rng, 0.6, 1.3)
	lm.frustum(vec3{0, bh, 0}, 1, pr, pr, ph, false, false, pole)
	sh := uni(rng, 0.2, 0.45)
	r0, r1 := uni(rng, 0.2, 0.45), uni(rng, 0.06, 0.2)
	y := bh + ph - sh*uni(rng, 0.4, 0.9)
	if rng.Float64() < 0.25 { // globe shade
		lm.ellipsoid(vec3{0, bh + ph + r1, 0}, vec3{r0 * 0.7, r0 * 0.7, r0 * 0.7}, shade)
		return
	}
	lm.frustum(vec3{0, y, 0}, 1, r0, r1, sh, false, true, shade)
}

func buildMug(lm *labelledMesh, rng *rand.Rand, first int32) {
	body, handle := first, first+1
	r, h := uni(rng, 0.25, 0.45), uni(rng, 0.5, 1.0)
	taper := uni(rng, 0.85, 1.1)
	lm.frustum(vec3{0, 0, 0}, 1, r, r*taper, h, true, false, body)
	// inner wall, so the open mug has a thickness
	lm.frustum(vec3{0, 0.03, 0}, 1, r*0.92, r*taper*0.92, h-0.03, true, false, body)
	big := uni(rng, 0.12, 0.22) * h / 0.7
	small := uni(rng, 0.025, 0.05)
	xc := math.Max(r, r*taper) + big*0.3
	lm.torusArc(vec3{xc, h / 2, 0}, 0, 1, big, small, -math.Pi/2*1.15, math.Pi/2*1.15, handle)
}

func buildAirplane(lm *labelledMesh, rng *rand.Rand, first int32) {
	fus, wing, tail := first, first+1, first+2
	L, R := uni(rng, 1.6, 2.6), uni(rng, 0.09, 0.2)
	lm.ellipsoid(vec3{0, 0, 0}, vec3{L / 2, R, R}, fus)
	span, chord := uni(rng, 1.2, 2.4), uni(rng, 0.2, 0.5)
	wx, wy := uni(rng, -0.15, 0.2)*L, uni(rng, -0.6, 0.5)*R
	lm.box(vec3{wx, wy, 0}, vec3{chord / 2, 0.015, span / 2}, wing)
	if rng.Float64() < 0.4 { // engines under the wings count as wing
		er := uni(rng, 0.04, 0.08)
		for _, s := range []float64{-1, 1} {
			lm.frustum(vec3{wx - chord/2, wy - er - 0.015, s * span * 0.3}, 0, er, er, chord, true, true, wing)
		}
	}
	tx := -L/2 + uni(rng, 0.05, 0.15)
	fh, fc := uni(rng, 0.2, 0.45), uni(rng, 0.15, 0.3)
	lm.box(vec3{tx + fc/2, R*0.5 + fh/2, 0}, vec3{fc / 2, fh / 2, 0.012}, tail)
	ss := uni(rng, 0.35, 0.8)
	lm.box(vec3{tx + fc/2, R * 0.3, 0}, vec3{fc / 2, 0.012, ss / 2}, tail)
}

func buildChair(lm *labelledMesh, rng *rand.Rand, first int32) {
	seat, back, leg := first, first+1, first+2
	w, d, th := uni(rng, 0.45, 0.7), uni(rng, 0.45, 0.7), uni(rng, 0.04, 0.1)
	h := uni(rng, 0.4, 0.55)
	lm.box(vec3{0, h - th/2, 0}, vec3{w / 2, th / 2, d / 2}, seat)
	bh, bt := uni(rng, 0.35, 0.8), uni(rng, 0.03, 0.07)
	lm.box(vec3{0, h + bh/2, -d/2 + bt/2}, vec3{w / 2, bh / 2, bt / 2}, back)
	lt := uni(rng, 0.02, 0.045)
	round := rng.Float64() < 0.5
	for _, sx := range []float64{-1, 1} {
		for _, sz := range []float64{-1, 1} {
			x, z := sx*(w/2-lt), sz*(d/2-lt)
			if round {
				lm.frustum(vec3{x, 0, z}, 1, lt, lt, h-th, true, false, leg)
			} else {
				lm.box(vec3{x, (h - th) / 2, z}, vec3{lt, (h - th) / 2, lt}, leg)
			}
		}
	}
}

func buildRocket(lm *labelledMesh, rng *rand.Rand, first int32) {
	body, nose, fin := first, first+1, first+2
	r, h := uni(rng, 0.08, 0.18), uni(rng, 0.9, 1.8)
	lm.frustum(vec3{0, 0, 0}, 1, r, r, h, true, false, body)
	lm.frustum(vec3{0, h, 0}, 1, r, 0, uni(rng, 1.5, 4)*r, false, false, nose)
	fh, fw := uni(rng, 0.2, 0.45), uni(rng, 0.15, 0.3)
	n := 3 + rng.IntN(2)
	for k := 0; k < n; k++ {
		a := 2 * math.Pi * float64(k) / float64(n)
		c, s := math.Cos(a), math.Sin(a)
		// a thin plate radiating from the body: four corners, both faces
		in0, out0 := vec3{r * c, 0, r * s}, vec3{(r + fw) * c, 0, (r + fw) * s}
		in1, out1 := vec3{r * c, fh, r * s}, vec3{(r + fw*0.4) * c, fh * 0.6, (r + fw*0.4) * s}
		lm.tri(in0, out0, out1, fin)
		lm.tri(in0, out1, in1, fin)
		lm.tri(in0, out1, out0, fin)
		lm.tri(in0, in1, out1, fin)
	}
}
