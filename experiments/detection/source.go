package detection

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"

	"github.com/gap-harness/gap/datasets/cocoimg"
	data "github.com/gap-harness/gap/datasets/detection"
	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/models/ssd"
)

// source is one split of the task's data: mnist-detect canvases (the
// proxy) or COCO 2017 images (full).
type source interface {
	// Len is the number of samples.
	Len() int
	// Batch returns samples idx as [len(idx), C, S, S] with their truths
	// (relative corners), augmented from rng when rng is not nil.
	Batch(idx []int, rng *rand.Rand) (*engine.Tensor[float32], [][]ssd.Truth, error)
	// GT is the ground truth in pixels of the original images; its
	// Images[i] is sample i.
	GT() *data.Dataset
	// Grey is sample i whole as S x S grey levels (for figures).
	Grey(i int) ([]uint8, error)
	// Category maps a model label to its category id and Name to a short
	// class name.
	Category(label int) int64
	Name(label int) string
}

// mnistSource is an mnist-detect split with the proxy's augmentation
// (random shifts of up to Shift pixels, optional flips).
type mnistSource struct {
	d     *data.MNISTDetect
	shift int
	flip  bool
}

func (s mnistSource) Len() int { return len(s.d.GT.Images) }

func (s mnistSource) Batch(idx []int, rng *rand.Rand) (*engine.Tensor[float32], [][]ssd.Truth, error) {
	x, truths, err := ssd.MNISTBatch(s.d, idx)
	if err != nil {
		return nil, nil, err
	}
	if rng != nil && (s.shift > 0 || s.flip) {
		augment(x, truths, s.shift, s.flip, rng, minValue(s.d))
	}
	return x, truths, nil
}

func (s mnistSource) GT() *data.Dataset           { return s.d.GT }
func (s mnistSource) Grey(i int) ([]uint8, error) { return s.d.Image(i), nil }
func (s mnistSource) Category(label int) int64    { return ssd.DigitCategory(label) }
func (s mnistSource) Name(label int) string {
	return strconv.Itoa(int(ssd.DigitCategory(label)))
}

// minValue is the normalised value of a black pixel (the canvas's fill).
func minValue(d *data.MNISTDetect) float32 {
	x := make([]float32, d.Size*d.Size)
	_, _ = d.Batch([]int{0}, x)
	m := x[0]
	for _, v := range x {
		m = min(m, v)
	}
	return m
}

// cocoSource is a COCO split at the model's input size: a training split
// with SSD's augmentation (aug), a validation split whole (aug nil).
type cocoSource struct {
	s       *cocoimg.Split
	size    int
	aug     *cocoimg.Augment
	threads int
	names   map[int]string
}

func newCOCOSource(s *cocoimg.Split, size int, aug *cocoimg.Augment, threads int) *cocoSource {
	names := map[int]string{}
	for _, c := range s.GT.Categories {
		if l, ok := cocoimg.LabelOf(c.ID); ok {
			names[int(l)] = c.Name
		}
	}
	return &cocoSource{s: s, size: size, aug: aug, threads: max(1, threads), names: names}
}

func (c *cocoSource) Len() int { return c.s.Len() }

// Batch decodes and renders the images on the source's goroutines; with
// rng (training), each image's augmentation is seeded by one draw of rng,
// in batch order.
func (c *cocoSource) Batch(idx []int, rng *rand.Rand) (*engine.Tensor[float32], [][]ssd.Truth, error) {
	x := engine.NewTensor[float32](len(idx), 3, c.size, c.size)
	var aug *cocoimg.Augment
	var seeds []uint64
	if rng != nil && c.aug != nil {
		aug = c.aug
		seeds = make([]uint64, len(idx))
		for k := range seeds {
			seeds[k] = rng.Uint64()
		}
	}
	objs, err := c.s.Batch(idx, c.size, aug, seeds, c.threads, x.Data())
	if err != nil {
		return nil, nil, err
	}
	truths := make([][]ssd.Truth, len(idx))
	for k, os := range objs {
		truths[k] = make([]ssd.Truth, len(os))
		for j, o := range os {
			truths[k][j] = ssd.Truth{Box: ssd.Rect{X0: o.X0, Y0: o.Y0, X1: o.X1, Y1: o.Y1}, Label: o.Label}
		}
	}
	return x, truths, nil
}

func (c *cocoSource) GT() *data.Dataset           { return c.s.GT }
func (c *cocoSource) Grey(i int) ([]uint8, error) { return c.s.Grey(i, c.size) }
func (c *cocoSource) Category(label int) int64    { return cocoimg.CategoryOf(label) }
func (c *cocoSource) Name(label int) string {
	if n, ok := c.names[label]; ok {
		return n
	}
	return strconv.FormatInt(cocoimg.CategoryOf(label), 10)
}

// COCOData is COCO 2017 read from its standard layout, ready for the task
// (see LoadCOCO2017); it is read-only and may be shared between tasks.
type COCOData struct {
	Train, Val *cocoimg.Split
}

// LoadCOCO2017 reads COCO 2017 from root (train2017/, val2017/,
// annotations/instances_train2017.json and instances_val2017.json): at
// most trainN training and valN validation images (0: all; a random subset
// drawn from seed otherwise). Errors and skip counts name the files
// (cocoimg.Load).
func LoadCOCO2017(root string, trainN, valN int, seed uint64) (*COCOData, error) {
	if root == "" {
		return nil, fmt.Errorf("detection: coco2017 needs its folder (DATA=/path/to/coco with train2017/, val2017/ and annotations/instances_{train,val}2017.json)")
	}
	ann := func(split string) string { return filepath.Join(root, "annotations", "instances_"+split+".json") }
	tr, err := cocoimg.Load(ann("train2017"), filepath.Join(root, "train2017"), cocoimg.LoadOptions{Train: true, Limit: trainN, Seed: seed})
	if err != nil {
		return nil, fmt.Errorf("detection: training set: %w", err)
	}
	va, err := cocoimg.Load(ann("val2017"), filepath.Join(root, "val2017"), cocoimg.LoadOptions{Limit: valN, Seed: seed + 1000})
	if err != nil {
		return nil, fmt.Errorf("detection: validation set: %w", err)
	}
	return &COCOData{Train: tr, Val: va}, nil
}
