package pointcloud

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ShapeNetCategory is one of the 16 categories of ShapeNet part
// (shapenetcore_partanno_segmentation_benchmark_v0_normal) with its global
// part-label range [First, First+NumParts).
type ShapeNetCategory struct {
	Name     string // as in synsetoffset2category.txt
	Synset   string // WordNet synset id, the folder name
	First    int    // first global part label
	NumParts int    // number of parts
}

// Parts lists the category's global part labels.
func (c ShapeNetCategory) Parts() []int {
	out := make([]int, c.NumParts)
	for i := range out {
		out[i] = c.First + i
	}
	return out
}

// ShapeNetCategories returns the standard 16 categories in their usual
// order (alphabetical), with the PointNet++ part ranges: Airplane 0-3,
// Bag 4-5, Cap 6-7, Car 8-11, Chair 12-15, Earphone 16-18, Guitar 19-21,
// Knife 22-23, Lamp 24-27, Laptop 28-29, Motorbike 30-35, Mug 36-37,
// Pistol 38-40, Rocket 41-43, Skateboard 44-46, Table 47-49.
func ShapeNetCategories() []ShapeNetCategory {
	return []ShapeNetCategory{
		{"Airplane", "02691156", 0, 4}, {"Bag", "02773838", 4, 2},
		{"Cap", "02954340", 6, 2}, {"Car", "02958343", 8, 4},
		{"Chair", "03001627", 12, 4}, {"Earphone", "03261776", 16, 3},
		{"Guitar", "03467667", 19, 3}, {"Knife", "03624134", 22, 2},
		{"Lamp", "03636649", 24, 4}, {"Laptop", "03642806", 28, 2},
		{"Motorbike", "03790512", 30, 6}, {"Mug", "03797390", 36, 2},
		{"Pistol", "03948459", 38, 3}, {"Rocket", "04099429", 41, 3},
		{"Skateboard", "04225987", 44, 3}, {"Table", "04379243", 47, 3},
	}
}

// ShapeNetPartCount is the number of part labels of ShapeNet part.
const ShapeNetPartCount = 50

// ParseShapeNetTxt parses one shape file of the ShapeNet part benchmark
// (normal version): one point per line, "x y z nx ny nz part". It returns
// points and normals (3 per point) and the part labels. name labels errors.
func ParseShapeNetTxt(r io.Reader, name string) (pts, normals []float32, parts []int32, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxLine)
	n := 1
	for ; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 7 {
			return nil, nil, nil, fmt.Errorf("shapenet: %s:%d: %d values, want 7 (x y z nx ny nz part)", name, n, len(f))
		}
		for j := 0; j < 6; j++ {
			v, err := strconv.ParseFloat(f[j], 32)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, nil, nil, fmt.Errorf("shapenet: %s:%d: value %d %q, want a finite number", name, n, j+1, f[j])
			}
			if j < 3 {
				pts = append(pts, float32(v))
			} else {
				normals = append(normals, float32(v))
			}
		}
		// labels are written as floats ("12.000000") in the benchmark files
		v, err := strconv.ParseFloat(f[6], 64)
		if err != nil || v != float64(int32(v)) || v < 0 || v >= ShapeNetPartCount {
			return nil, nil, nil, fmt.Errorf("shapenet: %s:%d: part label %q, want an integer in [0,%d)", name, n, f[6], ShapeNetPartCount)
		}
		parts = append(parts, int32(v))
	}
	if sc.Err() != nil {
		return nil, nil, nil, scanErr(sc, name, "shapenet", n, "")
	}
	return pts, normals, parts, nil
}

// ShapeNet is a split of ShapeNet part (shapenetcore_partanno_segmentation_benchmark_v0_normal)
// read from its folder. It implements Segmentation.
type ShapeNet struct {
	root      string
	numPoints int
	seed      uint64
	files     []string
	cats      []int
}

// NewShapeNet opens split ("train", "val" or "test") of the benchmark
// under root: synsetoffset2category.txt maps names to synset folders,
// train_test_split/shuffled_<split>_file_list.json lists
// "shape_data/<synset>/<id>", the points of a shape are in
// <root>/<synset>/<id>.txt. Each example samples numPoints points (without
// replacement when the shape has enough, with replacement otherwise, as
// PointNet++ does); the choice depends only on seed and the index. Points
// are returned as stored (the benchmark's shapes are already normalised).
func NewShapeNet(root, split string, numPoints int, seed uint64) (*ShapeNet, error) {
	if numPoints <= 0 {
		return nil, fmt.Errorf("shapenet: %d points per shape, want > 0", numPoints)
	}
	catPath := filepath.Join(root, "synsetoffset2category.txt")
	data, err := os.ReadFile(catPath)
	if err != nil {
		return nil, fmt.Errorf("shapenet: %w", err)
	}
	std := ShapeNetCategories()
	bySynset := map[string]int{}
	for n, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("shapenet: %s:%d: %q, want \"Name<TAB>synset\"", catPath, n+1, line)
		}
		found := false
		for i, c := range std {
			if strings.EqualFold(c.Name, f[0]) {
				bySynset[f[1]], found = i, true
			}
		}
		if !found {
			return nil, fmt.Errorf("shapenet: %s:%d: unknown category %q", catPath, n+1, f[0])
		}
	}
	listPath := filepath.Join(root, "train_test_split", "shuffled_"+split+"_file_list.json")
	data, err = os.ReadFile(listPath)
	if err != nil {
		return nil, fmt.Errorf("shapenet: split %q: %w", split, err)
	}
	var list []string
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("shapenet: %s: want a JSON list of \"shape_data/<synset>/<id>\": %w", listPath, err)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("shapenet: %s: 0 shapes in split %s, want a JSON list of \"shape_data/<synset>/<id>\"", listPath, split)
	}
	s := &ShapeNet{root: root, numPoints: numPoints, seed: seed}
	for i, e := range list {
		parts := strings.Split(e, "/")
		if len(parts) != 3 || parts[1] == "" || parts[2] == "" || strings.Contains(parts[2], "..") {
			return nil, fmt.Errorf("shapenet: %s: entry %d %q, want \"shape_data/<synset>/<id>\"", listPath, i, e)
		}
		cat, ok := bySynset[parts[1]]
		if !ok {
			return nil, fmt.Errorf("shapenet: %s: entry %d: synset %s not in %s", listPath, i, parts[1], catPath)
		}
		s.files = append(s.files, filepath.Join(root, parts[1], parts[2]+".txt"))
		s.cats = append(s.cats, cat)
	}
	return s, nil
}

// Len is the number of shapes in the split.
func (s *ShapeNet) Len() int { return len(s.files) }

// NumPoints is the number of points sampled per shape.
func (s *ShapeNet) NumPoints() int { return s.numPoints }

// NumCategories is 16.
func (s *ShapeNet) NumCategories() int { return 16 }

// NumParts is 50.
func (s *ShapeNet) NumParts() int { return ShapeNetPartCount }

// CategoryParts returns the part labels of category cat (nil if out of range).
func (s *ShapeNet) CategoryParts(cat int) []int {
	cs := ShapeNetCategories()
	if cat < 0 || cat >= len(cs) {
		return nil
	}
	return cs[cat].Parts()
}

// Path returns the file of shape i.
func (s *ShapeNet) Path(i int) string { return s.files[i] }

// Example reads shape i and samples NumPoints points. A part label outside
// the shape's category is an error naming the file.
func (s *ShapeNet) Example(i int) (pts, normals []float32, parts []int32, cat int, err error) {
	if i < 0 || i >= len(s.files) {
		return nil, nil, nil, 0, fmt.Errorf("shapenet: example %d out of range [0,%d)", i, len(s.files))
	}
	f, err := os.Open(s.files[i])
	if err != nil {
		return nil, nil, nil, 0, fmt.Errorf("shapenet: %w", err)
	}
	defer f.Close()
	ap, an, al, err := ParseShapeNetTxt(bufio.NewReader(f), s.files[i])
	if err != nil {
		return nil, nil, nil, 0, err
	}
	if len(al) == 0 {
		return nil, nil, nil, 0, fmt.Errorf("shapenet: %s: no points", s.files[i])
	}
	cat = s.cats[i]
	c := ShapeNetCategories()[cat]
	for k, l := range al {
		if int(l) < c.First || int(l) >= c.First+c.NumParts {
			return nil, nil, nil, 0, fmt.Errorf("shapenet: %s: point %d has part %d, outside %s's parts %d..%d",
				s.files[i], k+1, l, c.Name, c.First, c.First+c.NumParts-1)
		}
	}
	idx := choosePoints(len(al), s.numPoints, rand.New(rand.NewPCG(s.seed, uint64(i))))
	pts, normals, parts = make([]float32, 3*len(idx)), make([]float32, 3*len(idx)), make([]int32, len(idx))
	for k, j := range idx {
		copy(pts[3*k:3*k+3], ap[3*j:3*j+3])
		copy(normals[3*k:3*k+3], an[3*j:3*j+3])
		parts[k] = al[j]
	}
	return pts, normals, parts, cat, nil
}

// choosePoints picks k of n indices: without replacement when n >= k,
// with replacement otherwise.
func choosePoints(n, k int, rng *rand.Rand) []int {
	if n >= k {
		return rng.Perm(n)[:k]
	}
	out := make([]int, k)
	for i := range out {
		out[i] = rng.IntN(n)
	}
	return out
}
