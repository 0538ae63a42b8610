package pointcloud

import (
	"math"
	"strings"
	"testing"

	pcdata "github.com/gap-harness/gap/datasets/pointcloud"
)

// badSet is a one-shape data set whose example is broken in a chosen way.
type badSet struct {
	pts   []float32
	parts []int32
	cat   int
}

func (b badSet) Len() int                    { return 1 }
func (b badSet) NumPoints() int              { return 2 }
func (b badSet) NumCategories() int          { return 2 }
func (b badSet) NumParts() int               { return 4 }
func (b badSet) Path(i int) string           { return "/data/chair/1a2b.txt" }
func (b badSet) CategoryParts(cat int) []int { return [][]int{{0, 1}, {2, 3}}[cat] }
func (b badSet) Example(i int) ([]float32, []float32, []int32, int, error) {
	return b.pts, nil, b.parts, b.cat, nil
}

var _ pcdata.Segmentation = badSet{}

// catalogueSet reports no parts for its category (a category missing from
// the catalogue).
type catalogueSet struct{ badSet }

func (catalogueSet) CategoryParts(cat int) []int { return nil }

// TestLoadRejectsBadShapes checks that too few points, NaN coordinates,
// labels outside the category's parts and an unknown category are errors
// naming the file and the point.
func TestLoadRejectsBadShapes(t *testing.T) {
	good := []float32{0, 0, 0, 1, 1, 1}
	nan := float32(math.NaN())
	cases := []struct {
		name string
		set  pcdata.Segmentation
		want string
	}{
		{"few points", badSet{pts: good[:3], parts: []int32{0}}, "1 coordinates"},
		{"nan", badSet{pts: []float32{0, 0, 0, 1, nan, 1}, parts: []int32{0, 1}}, "point 1 has a non-finite"},
		{"label", badSet{pts: good, parts: []int32{0, 3}}, "point 1 has label 3"},
		{"category", catalogueSet{badSet{pts: good, parts: []int32{0, 1}, cat: 1}}, "category 1 not in the catalogue"},
	}
	for _, c := range cases {
		_, err := load(c.set, 0)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "/data/chair/1a2b.txt") {
			t.Errorf("%s: error %v, want one naming the file and %q", c.name, err, c.want)
		}
	}
	if _, err := load(badSet{pts: good, parts: []int32{0, 1}}, 0); err != nil {
		t.Fatalf("good shape rejected: %v", err)
	}
}
