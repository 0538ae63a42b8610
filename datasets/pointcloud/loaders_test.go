package pointcloud

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeShapeNetFixture builds a miniature shapenetcore_partanno_segmentation_benchmark_v0_normal
// folder: two Airplane shapes and one Mug shape.
func writeShapeNetFixture(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(root, "synsetoffset2category.txt"), []byte("Airplane\t02691156\nMug\t03797390\n"), 0o644))
	shape := func(synset, id string, n int, labels []int) {
		dir := filepath.Join(root, synset)
		must(os.MkdirAll(dir, 0o755))
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "%f %f %f 0.000000 1.000000 0.000000 %d.000000\n", float64(i), float64(i)*0.5, -float64(i), labels[i%len(labels)])
		}
		must(os.WriteFile(filepath.Join(dir, id+".txt"), []byte(b.String()), 0o644))
	}
	shape("02691156", "a1", 10, []int{0, 1, 2, 3})
	shape("02691156", "a2", 3, []int{1})
	shape("03797390", "m1", 8, []int{36, 37})
	must(os.MkdirAll(filepath.Join(root, "train_test_split"), 0o755))
	must(os.WriteFile(filepath.Join(root, "train_test_split", "shuffled_train_file_list.json"),
		[]byte(`["shape_data/02691156/a1", "shape_data/03797390/m1", "shape_data/02691156/a2"]`), 0o644))
	must(os.WriteFile(filepath.Join(root, "train_test_split", "shuffled_test_file_list.json"),
		[]byte(`["shape_data/03797390/m1"]`), 0o644))
	return root
}

func TestShapeNet(t *testing.T) {
	root := writeShapeNetFixture(t)
	s, err := NewShapeNet(root, "train", 6, 42)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 3 || s.NumParts() != 50 || s.NumCategories() != 16 {
		t.Fatalf("len %d", s.Len())
	}
	if got := s.CategoryParts(11); fmt.Sprint(got) != "[36 37]" {
		t.Errorf("Mug parts %v", got)
	}
	total := 0
	for _, c := range ShapeNetCategories() {
		total += c.NumParts
	}
	if total != 50 || ShapeNetCategories()[15].First != 47 || ShapeNetCategories()[10].First != 30 {
		t.Errorf("category table: %d parts", total)
	}
	pts, nrm, parts, cat, err := s.Example(0)
	if err != nil {
		t.Fatal(err)
	}
	if cat != 0 || len(pts) != 18 || len(nrm) != 18 || len(parts) != 6 {
		t.Fatalf("example 0: cat %d %d %d %d", cat, len(pts), len(nrm), len(parts))
	}
	seen := map[float32]bool{}
	for k := 0; k < 6; k++ {
		x := pts[3*k]
		if seen[x] {
			t.Error("sampled with replacement although the shape has 10 points")
		}
		seen[x] = true
		// the fixture's point i is (i, i/2, -i) with label i%4
		if pts[3*k+1] != x*0.5 || pts[3*k+2] != -x || parts[k] != int32(int(x)%4) || nrm[3*k+1] != 1 {
			t.Errorf("point %d: %v label %d", k, pts[3*k:3*k+3], parts[k])
		}
	}
	again, _, _, _, _ := s.Example(0)
	if !slicesEqual(pts, again) {
		t.Error("sampling not deterministic")
	}
	_, _, parts, cat, err = s.Example(2) // 3 points, 6 wanted: with replacement
	if err != nil || cat != 0 || len(parts) != 6 {
		t.Errorf("small shape: %v", err)
	}
	if _, _, _, cat, _ := s.Example(1); cat != 11 {
		t.Errorf("mug category %d", cat)
	}
	// A label outside the category is an error naming the file.
	os.WriteFile(filepath.Join(root, "03797390", "m1.txt"), []byte("0 0 0 0 0 1 3\n"), 0o644)
	if _, _, _, _, err := s.Example(1); err == nil || !strings.Contains(err.Error(), "m1.txt") || !strings.Contains(err.Error(), "Mug") {
		t.Errorf("wrong-category label: %v", err)
	}
	if _, err := NewShapeNet(root, "val", 6, 1); err == nil || !strings.Contains(err.Error(), "shuffled_val_file_list.json") {
		t.Errorf("missing split: %v", err)
	}
}

func TestParseShapeNetTxt(t *testing.T) {
	for in, want := range map[string]string{
		"1 2 3 0 0 1 5\n1 2 3\n": "f.txt:2: 3 values, want 7",
		"1 2 3 0 0 1 50\n":       "f.txt:1: part label \"50\"",
		"1 2 3 0 0 1 1.5\n":      "f.txt:1: part label",
		"1 2 x 0 0 1 1\n":        "f.txt:1: value 3 \"x\"",
	} {
		if _, _, _, err := ParseShapeNetTxt(strings.NewReader(in), "f.txt"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

func TestModelNet(t *testing.T) {
	root := t.TempDir()
	for _, c := range []string{"chair", "airplane"} {
		for _, split := range []string{"train", "test"} {
			dir := filepath.Join(root, c, split)
			os.MkdirAll(dir, 0o755)
			for i := 0; i < 2; i++ {
				// ModelNet's quirk: counts on the header line.
				off := strings.Replace(cubeOFF, "OFF\n# a unit cube\n8 6 12\n", "OFF8 6 12\n", 1)
				os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s_%04d.off", c, i+1)), []byte(off), 0o644)
			}
		}
	}
	os.WriteFile(filepath.Join(root, "README.txt"), []byte("not a class"), 0o644)
	m, err := NewModelNet(root, "test", 256, 5)
	if err != nil {
		t.Fatal(err)
	}
	if m.Len() != 4 || fmt.Sprint(m.Classes()) != "[airplane chair]" {
		t.Fatalf("len %d classes %v", m.Len(), m.Classes())
	}
	pts, nrm, label, err := m.Example(3)
	if err != nil || label != 1 || len(pts) != 3*256 || len(nrm) != 3*256 {
		t.Fatalf("example 3: label %d err %v", label, err)
	}
	// Points of the cube surface, normalised: the cube's corners are at
	// distance sqrt(3)/2 from its centre, so every coordinate is within
	// [-0.5, 0.5] * 2/sqrt(3) after normalisation (up to the sample centroid).
	for _, v := range pts {
		if v < -0.7 || v > 0.7 {
			t.Fatalf("coordinate %v outside the normalised cube", v)
		}
	}
	os.WriteFile(m.Path(0), []byte("OFF\n3 1\n0 0 0\n"), 0o644)
	if _, _, _, err := m.Example(0); err == nil || !strings.Contains(err.Error(), m.Path(0)) {
		t.Errorf("broken file: %v", err)
	}
}

// TestNonFiniteAndBadTypesRefused: NaN/Inf coordinates in OFF, PLY and
// ShapeNet files, float PLY face indices and over-long lines are refused
// with the file and line (or element).
func TestNonFiniteAndBadTypesRefused(t *testing.T) {
	tri := "3 1 0\n0 0 0\n1 0 0\n%s 1 0\n3 0 1 2\n"
	for _, v := range []string{"nan", "NaN", "inf", "-Inf", "1e39"} {
		_, err := ParseOFF(strings.NewReader("OFF\n"+fmt.Sprintf(tri, v)), "t.off")
		if err == nil || !strings.Contains(err.Error(), "off: t.off:5: vertex 2 value 1: ") || !strings.Contains(err.Error(), "want a finite number") {
			t.Errorf("OFF vertex %s: %v", v, err)
		}
	}
	ply := "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\nelement face 1\nproperty list uchar %s vertex_indices\nend_header\n0 0 0\n1 0 0\n0 %s 0\n3 0 1 2\n"
	if _, err := ParsePLY(strings.NewReader(fmt.Sprintf(ply, "float", "1")), "t.ply"); err == nil || !strings.Contains(err.Error(), "ply: t.ply: header: face property vertex_indices is a list of float, want an integer type") {
		t.Errorf("float face indices: %v", err)
	}
	if _, err := ParsePLY(strings.NewReader(fmt.Sprintf(ply, "int", "nan")), "t.ply"); err == nil || !strings.Contains(err.Error(), "ply: t.ply: vertex 2: y = NaN") {
		t.Errorf("NaN vertex: %v", err)
	}
	if _, err := ParsePLY(strings.NewReader(fmt.Sprintf(ply, "int", "1")), "t.ply"); err != nil {
		t.Errorf("good PLY: %v", err)
	}
	for _, v := range []string{"nan", "inf"} {
		_, _, _, err := ParseShapeNetTxt(strings.NewReader("0 0 0 0 0 1 0\n0 "+v+" 0 0 0 1 0\n"), "s.txt")
		if err == nil || !strings.Contains(err.Error(), "shapenet: s.txt:2: value 2") {
			t.Errorf("ShapeNet %s: %v", v, err)
		}
	}
	long := strings.Repeat("1", 2<<20)
	if _, _, _, err := ParseShapeNetTxt(strings.NewReader("0 0 0 0 0 1 0\n"+long+"\n"), "s.txt"); err == nil || !strings.Contains(err.Error(), "shapenet: s.txt:2: line longer than") {
		t.Errorf("ShapeNet long line: %v", err)
	}
	if _, err := ParseOFF(strings.NewReader("OFF\n3 1 0\n0 0 0\n"+long+"\n"), "t.off"); err == nil || !strings.Contains(err.Error(), "off: t.off:4: line longer than") {
		t.Errorf("OFF long line: %v", err)
	}
}

func FuzzParseOFF(f *testing.F) {
	f.Add(cubeOFF)
	f.Add("OFF3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n")
	f.Add("NOFF\n1 0 0\n0 0 0 0 0 1\n")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseOFF(strings.NewReader(s), "fuzz.off")
		if err != nil {
			return
		}
		for _, v := range m.Vertices {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("vertex coordinate %v accepted", v)
			}
		}
		for _, v := range m.Faces {
			if v < 0 || int(v) >= m.NumVertices() {
				t.Fatalf("face index %d of %d vertices", v, m.NumVertices())
			}
		}
	})
}

func FuzzParsePLY(f *testing.F) {
	f.Add(plyCube("ascii"))
	f.Add(plyCube("binary_little_endian"))
	f.Add(plyCube("binary_big_endian"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParsePLY(bytes.NewReader(b), "fuzz.ply")
		if err != nil {
			return
		}
		for _, v := range m.Vertices {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("vertex coordinate %v accepted", v)
			}
		}
		for _, v := range m.Faces {
			if v < 0 || int(v) >= m.NumVertices() {
				t.Fatalf("face index %d of %d vertices", v, m.NumVertices())
			}
		}
	})
}

func FuzzParseShapeNetTxt(f *testing.F) {
	f.Add("0.1 0.2 0.3 0 0 1 12.000000\n1 2 3 0 1 0 0\n")
	f.Fuzz(func(t *testing.T, s string) {
		p, n, l, err := ParseShapeNetTxt(strings.NewReader(s), "fuzz.txt")
		if err == nil && (len(p) != 3*len(l) || len(n) != 3*len(l)) {
			t.Fatal("inconsistent lengths")
		}
		for _, v := range append(p, n...) {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("value %v accepted", v)
			}
		}
	})
}

// TestEmptySplitsRefused: a ModelNet split without .off files and a
// ShapeNet split list of 0 shapes are errors naming the folder or file.
func TestEmptySplitsRefused(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "chair", "test"), 0o755)
	if _, err := NewModelNet(root, "test", 16, 1); err == nil || !strings.Contains(err.Error(), "split test holds 0 .off files") {
		t.Errorf("ModelNet: %v", err)
	}
	sn := writeShapeNetFixture(t)
	list := filepath.Join(sn, "train_test_split", "shuffled_test_file_list.json")
	os.WriteFile(list, []byte("[]"), 0o644)
	if _, err := NewShapeNet(sn, "test", 16, 1); err == nil || !strings.Contains(err.Error(), list+": 0 shapes") {
		t.Errorf("ShapeNet: %v", err)
	}
}
