package pointcloud

import (
	"math"
	"testing"
	"time"
)

var _ Segmentation = (*Parts)(nil)
var _ Segmentation = (*ShapeNet)(nil)

func TestPartsSet(t *testing.T) {
	p, err := NewParts(PartsConfig{NumShapes: 60, NumPoints: 1024, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if p.NumCategories() != 6 || p.NumParts() != 16 || p.Len() != 60 || p.NumPoints() != 1024 {
		t.Fatalf("sizes %d %d %d %d", p.NumCategories(), p.NumParts(), p.Len(), p.NumPoints())
	}
	seen := map[int]int{}
	for i := 0; i < p.Len(); i++ {
		pts, nrm, parts, cat, err := p.Example(i)
		if err != nil {
			t.Fatal(err)
		}
		if len(pts) != 3*1024 || len(nrm) != 3*1024 || len(parts) != 1024 || cat != i%6 {
			t.Fatalf("example %d: %d %d %d cat %d", i, len(pts), len(nrm), len(parts), cat)
		}
		own := map[int]bool{}
		for _, l := range p.CategoryParts(cat) {
			own[l] = true
		}
		present := map[int32]bool{}
		for _, l := range parts {
			if !own[int(l)] {
				t.Fatalf("example %d (cat %d): label %d not in %v", i, cat, l, p.CategoryParts(cat))
			}
			present[l] = true
			seen[int(l)]++
		}
		if len(present) != len(own) {
			t.Errorf("example %d (%s): parts present %v, want all of %v", i, p.CategoryNames()[cat], present, p.CategoryParts(cat))
		}
		maxR := 0.0
		for k := 0; k < 1024; k++ {
			r := math.Sqrt(float64(pts[3*k]*pts[3*k] + pts[3*k+1]*pts[3*k+1] + pts[3*k+2]*pts[3*k+2]))
			maxR = math.Max(maxR, r)
			n := math.Sqrt(float64(nrm[3*k]*nrm[3*k] + nrm[3*k+1]*nrm[3*k+1] + nrm[3*k+2]*nrm[3*k+2]))
			if math.Abs(n-1) > 1e-4 {
				t.Fatalf("example %d: normal length %v", i, n)
			}
		}
		if math.Abs(maxR-1) > 1e-5 {
			t.Errorf("example %d: max radius %v, want 1", i, maxR)
		}
	}
	if len(seen) != 16 {
		t.Errorf("labels seen %v, want 16", seen)
	}
	// Determinism: same seed same shape, in any order; other seed differs.
	a, _, _, _, _ := p.Example(13)
	q, _ := NewParts(PartsConfig{NumShapes: 60, NumPoints: 1024, Seed: 7})
	b, _, _, _, _ := q.Example(13)
	if !slicesEqual(a, b) {
		t.Error("same seed, different shape")
	}
	r, _ := NewParts(PartsConfig{NumShapes: 60, NumPoints: 1024, Seed: 8})
	c, _, _, _, _ := r.Example(13)
	if slicesEqual(a, c) {
		t.Error("different seeds, same shape")
	}
	if _, _, _, _, err := p.Example(60); err == nil {
		t.Error("out of range example accepted")
	}
}

func TestPartsRotation(t *testing.T) {
	base, _ := NewParts(PartsConfig{NumShapes: 6, NumPoints: 512, Seed: 3, Noise: -1})
	up, _ := NewParts(PartsConfig{NumShapes: 6, NumPoints: 512, Seed: 3, Noise: -1, Rotation: RotateUp})
	so3, _ := NewParts(PartsConfig{NumShapes: 6, NumPoints: 512, Seed: 3, Noise: -1, Rotation: RotateSO3})
	for i := 0; i < 6; i++ {
		p0, _, _, _, _ := base.Example(i)
		p1, _, _, _, _ := up.Example(i)
		p2, _, _, _, _ := so3.Example(i)
		// A rotation about y keeps every point's height and its distance
		// to the y axis (same sample since the rotation is drawn last).
		for k := 0; k < 512; k++ {
			if math.Abs(float64(p0[3*k+1]-p1[3*k+1])) > 1e-4 {
				t.Fatalf("shape %d point %d: y %v -> %v under an up rotation", i, k, p0[3*k+1], p1[3*k+1])
			}
			r0 := math.Hypot(float64(p0[3*k]), float64(p0[3*k+2]))
			r1 := math.Hypot(float64(p1[3*k]), float64(p1[3*k+2]))
			if math.Abs(r0-r1) > 1e-4 {
				t.Fatalf("shape %d point %d: radius %v -> %v", i, k, r0, r1)
			}
		}
		if slicesEqual(p0, p2) {
			t.Errorf("shape %d: SO(3) rotation changed nothing", i)
		}
	}
	if _, err := NewParts(PartsConfig{Rotation: 9}); err == nil {
		t.Error("bad rotation accepted")
	}
}

// TestPartsThroughput measures one pass over the default set.
func TestPartsThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	p, err := NewParts(DefaultPartsConfig())
	if err != nil {
		t.Fatal(err)
	}
	n := p.Len()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if _, _, _, _, err := p.Example(i); err != nil {
			t.Fatal(err)
		}
	}
	d := time.Since(t0)
	t.Logf("parts: %d shapes of %d points in %v = %.0f shapes/s", n, p.NumPoints(), d, float64(n)/d.Seconds())
}

func BenchmarkPartsExample(b *testing.B) {
	p, _ := NewParts(DefaultPartsConfig())
	for i := 0; b.Loop(); i++ {
		if _, _, _, _, err := p.Example(i % p.Len()); err != nil {
			b.Fatal(err)
		}
	}
}
