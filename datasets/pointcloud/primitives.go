package pointcloud

import "math"

// labelledMesh is a triangle mesh with one part label per triangle.
type labelledMesh struct {
	m      Mesh
	labels []int32
}

func (lm *labelledMesh) tri(a, b, c vec3, label int32) {
	base := int32(lm.m.NumVertices())
	for _, p := range []vec3{a, b, c} {
		lm.m.Vertices = append(lm.m.Vertices, float32(p[0]), float32(p[1]), float32(p[2]))
	}
	lm.m.Faces = append(lm.m.Faces, base, base+1, base+2)
	lm.labels = append(lm.labels, label)
}

// grid tessellates a parametric patch f(u, v), u, v in [0,1], with nu x nv
// cells of two triangles each.
func (lm *labelledMesh) grid(nu, nv int, f func(u, v float64) vec3, label int32) {
	for i := 0; i < nu; i++ {
		for j := 0; j < nv; j++ {
			u0, u1 := float64(i)/float64(nu), float64(i+1)/float64(nu)
			v0, v1 := float64(j)/float64(nv), float64(j+1)/float64(nv)
			a, b, c, d := f(u0, v0), f(u1, v0), f(u1, v1), f(u0, v1)
			lm.tri(a, b, c, label)
			lm.tri(a, c, d, label)
		}
	}
}

// onAxis maps local coordinates (a, b across the axis, h along it) to world
// coordinates for an axis 0 (x), 1 (y) or 2 (z).
func onAxis(axis int, a, b, h float64) vec3 {
	switch axis {
	case 0:
		return vec3{h, a, b}
	case 2:
		return vec3{a, b, h}
	}
	return vec3{b, h, a}
}

// box adds an axis-aligned box with centre c and half sizes hs.
func (lm *labelledMesh) box(c, hs vec3, label int32) {
	for ax := 0; ax < 3; ax++ {
		for _, s := range []float64{-1, 1} {
			lm.grid(1, 1, func(u, v float64) vec3 {
				var p vec3
				p[ax] = s * hs[ax]
				p[(ax+1)%3] = (2*u - 1) * hs[(ax+1)%3]
				p[(ax+2)%3] = (2*v - 1) * hs[(ax+2)%3]
				if s < 0 { // keep the winding outward
					p[(ax+2)%3] = -p[(ax+2)%3]
				}
				return add(c, p)
			}, label)
		}
	}
}

// frustum adds a (truncated) cone along axis from base centre c, radius r0
// at the base and r1 at height h, with optional disc caps.
func (lm *labelledMesh) frustum(c vec3, axis int, r0, r1, h float64, capBase, capTop bool, label int32) {
	const seg = 24
	lm.grid(seg, 2, func(u, v float64) vec3 {
		th := 2 * math.Pi * u
		r := r0 + (r1-r0)*v
		return add(c, onAxis(axis, r*math.Cos(th), r*math.Sin(th), h*v))
	}, label)
	if capBase && r0 > 0 {
		lm.grid(seg, 1, func(u, v float64) vec3 {
			th := -2 * math.Pi * u
			return add(c, onAxis(axis, r0*v*math.Cos(th), r0*v*math.Sin(th), 0))
		}, label)
	}
	if capTop && r1 > 0 {
		lm.grid(seg, 1, func(u, v float64) vec3 {
			th := 2 * math.Pi * u
			return add(c, onAxis(axis, r1*v*math.Cos(th), r1*v*math.Sin(th), h))
		}, label)
	}
}

// ellipsoid adds an axis-aligned ellipsoid with centre c and radii r.
func (lm *labelledMesh) ellipsoid(c, r vec3, label int32) {
	lm.grid(24, 12, func(u, v float64) vec3 {
		th, ph := 2*math.Pi*u, math.Pi*v
		return add(c, vec3{r[0] * math.Sin(ph) * math.Cos(th), r[1] * math.Cos(ph), r[2] * math.Sin(ph) * math.Sin(th)})
	}, label)
}

// torusArc adds the part of a torus (ring radius big, tube radius small)
// between ring angles a0 and a1, in the plane of world axes ax1 and ax2,
// centred at c.
func (lm *labelledMesh) torusArc(c vec3, ax1, ax2 int, big, small, a0, a1 float64, label int32) {
	n := 3 - ax1 - ax2
	lm.grid(16, 10, func(u, v float64) vec3 {
		th := a0 + (a1-a0)*u
		ph := 2 * math.Pi * v
		rr := big + small*math.Cos(ph)
		var p vec3
		p[ax1] = rr * math.Cos(th)
		p[ax2] = rr * math.Sin(th)
		p[n] = small * math.Sin(ph)
		return add(c, p)
	}, label)
}
