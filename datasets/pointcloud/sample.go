package pointcloud

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// SampleSurface draws n points uniformly on the surface of the triangles
// of m: a triangle is chosen with probability proportional to its area,
// then a point uniformly inside it (barycentric sqrt trick). It returns the
// points (n*3), the unit normals of the chosen triangles (n*3) and the
// index of each point's triangle. The draw depends only on m, n and rng.
func SampleSurface(m *Mesh, n int, rng *rand.Rand) (pts, normals []float32, tri []int32, err error) {
	nt := m.NumTriangles()
	if nt == 0 {
		return nil, nil, nil, fmt.Errorf("sample surface: mesh has no triangles")
	}
	cum := make([]float64, nt)
	fn := make([]float64, 3*nt)
	total := 0.0
	for t := 0; t < nt; t++ {
		a, b, c := vtx(m, m.Faces[3*t]), vtx(m, m.Faces[3*t+1]), vtx(m, m.Faces[3*t+2])
		cr := cross(sub(b, a), sub(c, a))
		l := norm(cr)
		if l > 0 && !math.IsInf(l, 0) && !math.IsNaN(l) {
			total += l / 2
			fn[3*t], fn[3*t+1], fn[3*t+2] = cr[0]/l, cr[1]/l, cr[2]/l
		}
		cum[t] = total
	}
	if !(total > 0) || math.IsInf(total, 0) {
		return nil, nil, nil, fmt.Errorf("sample surface: total area %v, want a finite positive area", total)
	}
	pts = make([]float32, 3*n)
	normals = make([]float32, 3*n)
	tri = make([]int32, n)
	for i := 0; i < n; i++ {
		u := rng.Float64() * total
		// First triangle whose cumulative area exceeds u: it has a positive
		// area, since cum[t-1] <= u < cum[t].
		t := sort.Search(nt, func(j int) bool { return cum[j] > u })
		if t >= nt { // u rounded up to total
			t = sort.Search(nt, func(j int) bool { return cum[j] >= total })
		}
		r1, r2 := math.Sqrt(rng.Float64()), rng.Float64()
		wa, wb, wc := 1-r1, r1*(1-r2), r1*r2
		a, b, c := vtx(m, m.Faces[3*t]), vtx(m, m.Faces[3*t+1]), vtx(m, m.Faces[3*t+2])
		for k := 0; k < 3; k++ {
			pts[3*i+k] = float32(wa*a[k] + wb*b[k] + wc*c[k])
			normals[3*i+k] = float32(fn[3*t+k])
		}
		tri[i] = int32(t)
	}
	return pts, normals, tri, nil
}

type vec3 = [3]float64

func vtx(m *Mesh, i int32) vec3 {
	return vec3{float64(m.Vertices[3*i]), float64(m.Vertices[3*i+1]), float64(m.Vertices[3*i+2])}
}
func sub(a, b vec3) vec3 { return vec3{a[0] - b[0], a[1] - b[1], a[2] - b[2]} }
func add(a, b vec3) vec3 { return vec3{a[0] + b[0], a[1] + b[1], a[2] + b[2]} }
func scale(a vec3, s float64) vec3 {
	return vec3{a[0] * s, a[1] * s, a[2] * s}
}
func cross(a, b vec3) vec3 {
	return vec3{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}
func norm(a vec3) float64 { return math.Sqrt(a[0]*a[0] + a[1]*a[1] + a[2]*a[2]) }

// NormalizeUnitSphere centres pts (x y z triples) on their centroid and
// scales them so the farthest point is at distance 1, in place, as
// PointNet++'s data loaders do. All-equal points are only centred.
func NormalizeUnitSphere(pts []float32) {
	n := len(pts) / 3
	if n == 0 {
		return
	}
	var c vec3
	for i := 0; i < n; i++ {
		for k := 0; k < 3; k++ {
			c[k] += float64(pts[3*i+k])
		}
	}
	c = scale(c, 1/float64(n))
	r := 0.0
	for i := 0; i < n; i++ {
		d := vec3{float64(pts[3*i]) - c[0], float64(pts[3*i+1]) - c[1], float64(pts[3*i+2]) - c[2]}
		r = math.Max(r, norm(d))
	}
	s := 1.0
	if r > 0 {
		s = 1 / r
	}
	for i := 0; i < n; i++ {
		for k := 0; k < 3; k++ {
			pts[3*i+k] = float32((float64(pts[3*i+k]) - c[k]) * s)
		}
	}
}
