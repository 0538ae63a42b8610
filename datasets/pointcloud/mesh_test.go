package pointcloud

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const cubeOFF = `OFF
# a unit cube
8 6 12
0 0 0
1 0 0
1 1 0
0 1 0
0 0 1
1 0 1
1 1 1
0 1 1
4 0 3 2 1
4 4 5 6 7
4 0 1 5 4
4 1 2 6 5
4 2 3 7 6
4 3 0 4 7 255 0 0
`

func TestParseOFF(t *testing.T) {
	m, err := ParseOFF(strings.NewReader(cubeOFF), "cube.off")
	if err != nil {
		t.Fatal(err)
	}
	if m.NumVertices() != 8 || m.NumTriangles() != 12 {
		t.Fatalf("cube: %d vertices %d triangles", m.NumVertices(), m.NumTriangles())
	}
	// ModelNet40's quirk: counts glued to the header.
	for _, head := range []string{"OFF8 6 12\n", "OFF 8 6 12\n"} {
		q := head + strings.SplitN(cubeOFF, "8 6 12\n", 2)[1]
		m2, err := ParseOFF(strings.NewReader(q), "quirk.off")
		if err != nil || m2.NumTriangles() != 12 {
			t.Errorf("%q: %v", head, err)
		}
	}
	noff := "NOFF\n3 1 0\n0 0 0 0 0 1\n1 0 0 0 0 1\n0 1 0 0 0 1\n3 0 1 2\n"
	if m, err := ParseOFF(strings.NewReader(noff), "n.off"); err != nil || len(m.Normals) != 9 {
		t.Errorf("NOFF: %v", err)
	}
	bad := map[string]string{
		"PLY\n":                                      "bad.off:1: header",
		"OFF\n3 1 0\n0 0 0\n1 0\n":                   "bad.off:4: vertex 1 has 2 values",
		"OFF\n3 1 0\n0 0 0\n1 0 0\n0 x 0\n":          "bad.off:5: vertex 2 value 2",
		"OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n": "bad.off:6: face 0: vertex index 7 out of range",
		"OFF\n3 2 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n": "after 1 of 2 faces",
		"OFF\n-1 2\n":                                "bad.off:2: counts",
		"":                                           "empty file",
	}
	for in, want := range bad {
		_, err := ParseOFF(strings.NewReader(in), "bad.off")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want it to contain %q", in, err, want)
		}
	}
}

// plyCube writes a PLY cube (8 vertices with normals and labels, 6 quads)
// in the given format.
func plyCube(format string) []byte {
	var b bytes.Buffer
	b.WriteString("ply\nformat " + format + " 1.0\ncomment test\nelement vertex 8\nproperty float x\nproperty float y\nproperty double z\n")
	b.WriteString("property float nx\nproperty float ny\nproperty float nz\nproperty int label\n")
	b.WriteString("element face 6\nproperty list uchar int vertex_indices\nelement extra 1\nproperty short s\nend_header\n")
	var order binary.ByteOrder = binary.LittleEndian
	if format == "binary_big_endian" {
		order = binary.BigEndian
	}
	off, _ := ParseOFF(strings.NewReader(cubeOFF), "cube")
	for v := 0; v < 8; v++ {
		x, y, z := off.Vertices[3*v], off.Vertices[3*v+1], off.Vertices[3*v+2]
		if format == "ascii" {
			b.WriteString(strings.Join([]string{ftoa(x), ftoa(y), ftoa(z), "0", "0", "1", strconv.Itoa(v % 2)}, " ") + "\n")
			continue
		}
		binary.Write(&b, order, x)
		binary.Write(&b, order, y)
		binary.Write(&b, order, float64(z))
		binary.Write(&b, order, [3]float32{0, 0, 1})
		binary.Write(&b, order, int32(v%2))
	}
	quads := [][4]int32{{0, 3, 2, 1}, {4, 5, 6, 7}, {0, 1, 5, 4}, {1, 2, 6, 5}, {2, 3, 7, 6}, {3, 0, 4, 7}}
	for _, q := range quads {
		if format == "ascii" {
			b.WriteString("4 " + strconv.Itoa(int(q[0])) + " " + strconv.Itoa(int(q[1])) + " " + strconv.Itoa(int(q[2])) + " " + strconv.Itoa(int(q[3])) + "\n")
			continue
		}
		b.WriteByte(4)
		binary.Write(&b, order, q)
	}
	if format == "ascii" {
		b.WriteString("-3\n")
	} else {
		binary.Write(&b, order, int16(-3))
	}
	return b.Bytes()
}

func ftoa(f float32) string { return strconv.FormatFloat(float64(f), 'g', -1, 32) }

func TestParsePLY(t *testing.T) {
	for _, f := range []string{"ascii", "binary_little_endian", "binary_big_endian"} {
		m, err := ParsePLY(bytes.NewReader(plyCube(f)), f+".ply")
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if m.NumVertices() != 8 || m.NumTriangles() != 12 || len(m.Normals) != 24 || len(m.Labels) != 8 {
			t.Fatalf("%s: %d vertices %d triangles %d normals %d labels", f, m.NumVertices(), m.NumTriangles(), len(m.Normals), len(m.Labels))
		}
		if m.Vertices[3*6] != 1 || m.Vertices[3*6+2] != 1 || m.Labels[3] != 1 || m.Normals[2] != 1 {
			t.Errorf("%s: values %v %v", f, m.Vertices, m.Labels)
		}
	}
	full := plyCube("binary_little_endian")
	_, err := ParsePLY(bytes.NewReader(full[:len(full)-5]), "cut.ply")
	if err == nil || !strings.Contains(err.Error(), "cut.ply: byte") {
		t.Errorf("truncated binary: %v", err)
	}
	asc := strings.Replace(string(plyCube("ascii")), "4 0 3 2 1", "4 0 3 2 9", 1)
	if _, err := ParsePLY(strings.NewReader(asc), "idx.ply"); err == nil || !strings.Contains(err.Error(), "face 0") {
		t.Errorf("bad index: %v", err)
	}
	asc = strings.Replace(string(plyCube("ascii")), "\n1 0 0 0 0 1 1\n", "\n1 zero 0 0 0 1 1\n", 1)
	if _, err := ParsePLY(strings.NewReader(asc), "num.ply"); err == nil || !strings.Contains(err.Error(), `num.ply:18: "zero"`) {
		t.Errorf("bad number: %v", err)
	}
	if _, err := ParsePLY(strings.NewReader("ply\nformat ascii 1.0\nelement vertex 1\nproperty float q\nend_header\n1\n"), "noxyz.ply"); err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("no x: %v", err)
	}
	if _, err := ParsePLY(strings.NewReader("solid\n"), "stl.ply"); err == nil || !strings.Contains(err.Error(), "stl.ply:1") {
		t.Errorf("not ply: %v", err)
	}
}

func TestSampleSurface(t *testing.T) {
	// Two triangles in the z=0 plane with areas 0.5 and 1.5: a quarter of
	// the points must fall on the first.
	m := &Mesh{Vertices: []float32{0, 0, 0, 1, 0, 0, 0, 1, 0, 10, 0, 0, 13, 0, 0, 10, 1, 0},
		Faces: []int32{0, 1, 2, 3, 4, 5}}
	const n = 20000
	pts, nrm, tri, err := SampleSurface(m, n, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	first := 0
	for i := 0; i < n; i++ {
		x, y, z := pts[3*i], pts[3*i+1], pts[3*i+2]
		if z != 0 || math.Abs(float64(nrm[3*i+2])) != 1 {
			t.Fatalf("point %d off plane or bad normal", i)
		}
		if tri[i] == 0 {
			first++
			if x < 0 || y < 0 || x+y > 1+1e-6 {
				t.Fatalf("point %d (%v,%v) outside triangle 0", i, x, y)
			}
		}
	}
	if f := float64(first) / n; math.Abs(f-0.25) > 0.015 {
		t.Errorf("fraction on the small triangle %v, want 0.25", f)
	}
	again, _, _, _ := SampleSurface(m, n, rand.New(rand.NewPCG(1, 2)))
	if !slicesEqual(pts, again) {
		t.Error("sampling not deterministic")
	}
	if _, _, _, err := SampleSurface(&Mesh{Vertices: []float32{0, 0, 0}, Faces: []int32{0, 0, 0}}, 3, rand.New(rand.NewPCG(1, 1))); err == nil {
		t.Error("zero-area mesh accepted")
	}
}

func slicesEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestRealMeshes loads meshes Debian ships: an OFF from CGAL's data archive
// (libcgal-demo) and the assimp test models (assimp-testmodels).
func TestRealMeshes(t *testing.T) {
	t.Run("cgal", func(t *testing.T) {
		const archive = "/usr/share/doc/libcgal-dev/data.tar.gz"
		f, err := os.Open(archive)
		if err != nil {
			t.Skip("CGAL data absent (apt-get install libcgal-demo): ", err)
		}
		defer f.Close()
		gz, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(gz)
		found := 0
		for found < 2 {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			var want int
			switch h.Name {
			case "data/meshes/anchor.off":
				want = 519
			case "data/points_3/b9_training.ply":
				want = 22300
			default:
				continue
			}
			found++
			var m *Mesh
			if strings.HasSuffix(h.Name, ".off") {
				m, err = ParseOFF(tr, h.Name)
			} else {
				m, err = ParsePLY(tr, h.Name)
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.NumVertices() != want {
				t.Errorf("%s: %d vertices, want %d", h.Name, m.NumVertices(), want)
			}
			if strings.HasSuffix(h.Name, ".off") {
				if m.NumTriangles() != 1050 {
					t.Errorf("anchor: %d triangles, want 1050", m.NumTriangles())
				}
				pts, _, _, err := SampleSurface(m, 1024, rand.New(rand.NewPCG(3, 3)))
				if err != nil || len(pts) != 3*1024 {
					t.Errorf("anchor sampling: %v", err)
				}
			} else if len(m.Labels) != want {
				t.Errorf("b9_training: %d labels", len(m.Labels))
			}
		}
		if found != 2 {
			t.Errorf("found %d of 2 files in %s", found, archive)
		}
	})
	t.Run("assimp", func(t *testing.T) {
		const dir = "/usr/share/assimp/models"
		if _, err := os.Stat(dir); err != nil {
			t.Skip("assimp models absent (apt-get install assimp-testmodels): ", err)
		}
		cases := []struct {
			file      string
			verts, tr int
		}{
			{"OFF/Cube.off", 8, 12},
			{"OFF/Wuson.off", 3205, -1},
			{"PLY/cube.ply", 8, 12},
			{"PLY/cube_binary.ply", 8, 12},
			{"PLY/Wuson.ply", 11184, -1},
			{"PLY/points.ply", 4, 0},
			{"PLY/float-color.ply", 3, 1},
		}
		for _, c := range cases {
			p := filepath.Join(dir, c.file)
			var m *Mesh
			var err error
			if strings.HasSuffix(p, ".off") {
				m, err = ReadOFF(p)
			} else {
				m, err = ReadPLY(p)
			}
			if err != nil {
				t.Errorf("%s: %v", c.file, err)
				continue
			}
			if m.NumVertices() != c.verts || (c.tr >= 0 && m.NumTriangles() != c.tr) {
				t.Errorf("%s: %d vertices %d triangles, want %d %d", c.file, m.NumVertices(), m.NumTriangles(), c.verts, c.tr)
			}
		}
		// pond.0.ply is a scan with NaN positions for missing points (and
		// it ends 3 vertices early): the first NaN position is refused.
		if _, err := ReadPLY(filepath.Join(dir, "PLY/pond.0.ply")); err == nil || !strings.Contains(err.Error(), "pond.0.ply: vertex 714: z = NaN, want a finite number") {
			t.Errorf("pond.0.ply: %v", err)
		}
		if _, err := ReadOFF(filepath.Join(dir, "OFF/invalid.off")); err == nil {
			t.Error("OFF/invalid.off accepted")
		} else {
			t.Log("invalid.off:", err)
		}
	})
}
