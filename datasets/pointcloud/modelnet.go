package pointcloud

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ModelNet is a split of a ModelNet40-style folder, <root>/<class>/<split>/*.off,
// as a classification set: each example samples NumPoints points on the
// mesh surface (area-weighted), normalised to the unit sphere.
type ModelNet struct {
	classes   []string
	files     []string
	labels    []int
	numPoints int
	seed      uint64
}

// NewModelNet lists split ("train" or "test") of the ModelNet folder at
// root. Classes are the sub-folders of root that contain a <split> folder,
// sorted by name; files are sorted within a class. Example i depends only
// on seed and i.
func NewModelNet(root, split string, numPoints int, seed uint64) (*ModelNet, error) {
	if numPoints <= 0 {
		return nil, fmt.Errorf("modelnet: %d points per shape, want > 0", numPoints)
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("modelnet: %w", err)
	}
	m := &ModelNet{numPoints: numPoints, seed: seed}
	for _, e := range ents { // ReadDir sorts by name
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name(), split)
		files, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		var offs []string
		for _, f := range files {
			if !f.IsDir() && strings.EqualFold(filepath.Ext(f.Name()), ".off") {
				offs = append(offs, filepath.Join(dir, f.Name()))
			}
		}
		sort.Strings(offs)
		label := len(m.classes)
		m.classes = append(m.classes, e.Name())
		for _, f := range offs {
			m.files = append(m.files, f)
			m.labels = append(m.labels, label)
		}
	}
	if len(m.classes) == 0 {
		return nil, fmt.Errorf("modelnet: no <class>/%s folders under %s", split, root)
	}
	if len(m.files) == 0 {
		return nil, fmt.Errorf("modelnet: %s: split %s holds 0 .off files in its %d class folders", root, split, len(m.classes))
	}
	return m, nil
}

// Len is the number of shapes.
func (m *ModelNet) Len() int { return len(m.files) }

// NumPoints is the number of points per example.
func (m *ModelNet) NumPoints() int { return m.numPoints }

// Classes returns the class names in label order.
func (m *ModelNet) Classes() []string { return append([]string(nil), m.classes...) }

// Path returns the file of shape i.
func (m *ModelNet) Path(i int) string { return m.files[i] }

// Example reads shape i and returns sampled points, their (triangle)
// normals and the class label.
func (m *ModelNet) Example(i int) (pts, normals []float32, label int, err error) {
	if i < 0 || i >= len(m.files) {
		return nil, nil, 0, fmt.Errorf("modelnet: example %d out of range [0,%d)", i, len(m.files))
	}
	f, err := os.Open(m.files[i])
	if err != nil {
		return nil, nil, 0, fmt.Errorf("modelnet: %w", err)
	}
	defer f.Close()
	mesh, err := ParseOFF(bufio.NewReader(f), m.files[i])
	if err != nil {
		return nil, nil, 0, fmt.Errorf("modelnet: %w", err)
	}
	pts, normals, _, err = SampleSurface(mesh, m.numPoints, rand.New(rand.NewPCG(m.seed, uint64(i))))
	if err != nil {
		return nil, nil, 0, fmt.Errorf("modelnet: %s: %w", m.files[i], err)
	}
	NormalizeUnitSphere(pts)
	return pts, normals, m.labels[i], nil
}
