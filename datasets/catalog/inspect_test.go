package catalog

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gap-harness/gap/datasets/idx"
)

// TestInspect reads one good and one bad file of each format: the good one
// is summarised, the bad one's error names the file.
func TestInspect(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var ib bytes.Buffer
	idx.Encode(&ib, &idx.File{Dims: []int{2, 2}, Data: []byte{1, 2, 3, 4}})
	cases := []struct {
		name, format, good, bad, want string
	}{
		{"a-ubyte", "", ib.String(), ib.String() + "x", "IDX unsigned bytes, dimensions [2 2]"},
		{"g.json", "", `{"images": [{"id": 1}], "categories": [], "annotations": []}`, `{"images": [], "categories": [], "annotations": []}`, "COCO instances, 1 images"},
		{"r.json", "coco-results", `[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.5}]`, `[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": null}]`, "COCO results, 1 detections"},
		{"v.xml", "", "<annotation><object><name>a</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object></annotation>", "<annotation><object></object></annotation>", "Pascal VOC, 1 images, 1 classes, 1 objects"},
		{"m.off", "", "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n", "OFF\n0 0 0\n", "OFF mesh, 3 vertices, 1 triangles"},
		{"m.ply", "", "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nend_header\n0 0 0\n", "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nend_header\n0 inf 0\n", "PLY mesh, 1 vertices"},
		{"s.txt", "shapenet", "0 0 0 0 0 1 3\n", "", "ShapeNet part shape, 1 points"},
		{"h.txt", "", "a b c\n", "a\x00\n", "UTF-8 text, 1 lines"},
	}
	for _, c := range cases {
		got, err := Inspect(write(c.name, []byte(c.good)), c.format)
		if err != nil || !strings.Contains(got, c.want) {
			t.Errorf("%s: %q %v, want %q", c.name, got, err, c.want)
		}
		bad := write("bad-"+c.name, []byte(c.bad))
		if _, err := Inspect(bad, c.format); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("bad %s: %v, want an error naming %s", c.name, err, bad)
		}
	}
	if _, err := Inspect(dir, "off"); err == nil || !strings.Contains(err.Error(), "is a folder") {
		t.Errorf("folder: %v", err)
	}
}
