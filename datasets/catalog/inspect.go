package catalog

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gap-harness/gap/datasets/detection"
	"github.com/gap-harness/gap/datasets/idx"
	"github.com/gap-harness/gap/datasets/pointcloud"
	"github.com/gap-harness/gap/datasets/translation"
)

// Formats lists the file formats Inspect reads.
var Formats = []string{"idx", "coco", "coco-results", "voc", "off", "ply", "shapenet", "text"}

// FormatOf guesses a file's format from its name: IDX (*-ubyte, *.idx,
// optionally .gz), COCO JSON (.json), Pascal VOC XML (.xml, or a folder of
// them), OFF, PLY, and plain text for anything else. ShapeNet part files
// (.txt) and COCO results files need an explicit format.
func FormatOf(path string) string {
	base := strings.ToLower(filepath.Base(path))
	base = strings.TrimSuffix(base, ".gz")
	switch {
	case strings.HasSuffix(base, "-ubyte") || strings.HasSuffix(base, ".idx") || strings.Contains(base, "-idx"):
		return "idx"
	case strings.HasSuffix(base, ".json"):
		return "coco"
	case strings.HasSuffix(base, ".xml"):
		return "voc"
	case strings.HasSuffix(base, ".off"):
		return "off"
	case strings.HasSuffix(base, ".ply"):
		return "ply"
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return "voc"
	}
	return "text"
}

// Inspect reads one file (a folder of .xml files for voc) with the parser
// of format (empty: FormatOf) and returns a one-line summary of what it
// holds. Any defect the parser finds is returned as its error, which names
// the file and the position; a file that holds nothing usable (0 items) is
// an error too.
func Inspect(path, format string) (string, error) {
	if format == "" {
		format = FormatOf(path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if st.IsDir() && format != "voc" {
		return "", fmt.Errorf("%s: is a folder, want a %s file", path, format)
	}
	switch format {
	case "idx":
		f, err := idx.ReadFile(path)
		if err != nil {
			return "", err
		}
		if len(f.Data) == 0 {
			return "", fmt.Errorf("%s: byte offset 4: dimensions %v hold 0 elements", path, f.Dims)
		}
		return fmt.Sprintf("%s: IDX unsigned bytes, dimensions %v", path, f.Dims), nil
	case "coco":
		d, err := detection.LoadCOCO(path)
		if err != nil {
			return "", err
		}
		if len(d.Images) == 0 {
			return "", fmt.Errorf("%s: images: 0 images", path)
		}
		return fmt.Sprintf("%s: COCO instances, %d images, %d categories, %d annotations", path, len(d.Images), len(d.Categories), len(d.Annotations)), nil
	case "coco-results":
		dets, err := detection.LoadDetections(path, nil)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s: COCO results, %d detections", path, len(dets)), nil
	case "voc":
		files := []string{path}
		if st.IsDir() {
			m, _ := filepath.Glob(filepath.Join(path, "*.xml"))
			sort.Strings(m)
			if len(m) == 0 {
				return "", fmt.Errorf("%s: folder holds no .xml files", path)
			}
			files = m
		}
		var anns []*detection.VOCAnnotation
		for _, f := range files {
			a, err := detection.LoadVOC(f)
			if err != nil {
				return "", err
			}
			anns = append(anns, a)
		}
		d, err := detection.VOCToDataset(anns, files, nil)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s: Pascal VOC, %d images, %d classes, %d objects", path, len(d.Images), len(d.Categories), len(d.Annotations)), nil
	case "off", "ply":
		var m *pointcloud.Mesh
		if format == "off" {
			m, err = pointcloud.ReadOFF(path)
		} else {
			m, err = pointcloud.ReadPLY(path)
		}
		if err != nil {
			return "", err
		}
		if m.NumVertices() == 0 {
			return "", fmt.Errorf("%s: 0 vertices", path)
		}
		return fmt.Sprintf("%s: %s mesh, %d vertices, %d triangles", path, strings.ToUpper(format), m.NumVertices(), m.NumTriangles()), nil
	case "shapenet":
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		_, _, parts, err := pointcloud.ParseShapeNetTxt(f, path)
		if err != nil {
			return "", err
		}
		if len(parts) == 0 {
			return "", fmt.Errorf("shapenet: %s: no points", path)
		}
		return fmt.Sprintf("%s: ShapeNet part shape, %d points", path, len(parts)), nil
	case "text":
		lines, err := translation.ReadLines(path)
		if err != nil {
			return "", err
		}
		if len(lines) == 0 {
			return "", fmt.Errorf("%s: 0 lines", path)
		}
		return fmt.Sprintf("%s: UTF-8 text, %d lines", path, len(lines)), nil
	}
	return "", fmt.Errorf("unknown format %q (valid: %s)", format, strings.Join(Formats, ", "))
}
