package pointcloud

import "fmt"

// Mesh is a triangle mesh or point set read from a file. Polygons with more
// than three vertices are split into a fan of triangles.
type Mesh struct {
	Vertices []float32 // x y z per vertex
	Normals  []float32 // nx ny nz per vertex, or nil
	Labels   []int32   // one label per vertex, or nil
	Faces    []int32   // three vertex indices per triangle
}

// NumVertices is len(Vertices)/3.
func (m *Mesh) NumVertices() int { return len(m.Vertices) / 3 }

// NumTriangles is len(Faces)/3.
func (m *Mesh) NumTriangles() int { return len(m.Faces) / 3 }

// addPolygon appends the fan triangulation of poly, checking indices.
func (m *Mesh) addPolygon(poly []int32, nv int) error {
	for _, v := range poly {
		if v < 0 || int(v) >= nv {
			return fmt.Errorf("vertex index %d out of range [0,%d)", v, nv)
		}
	}
	for i := 2; i < len(poly); i++ {
		m.Faces = append(m.Faces, poly[0], poly[i-1], poly[i])
	}
	return nil
}

// capHint bounds preallocation driven by counts read from a file.
func capHint(n int) int { return max(0, min(n, 1<<16)) }
