// Package cocoimg is the COCO 2017 image pipeline of the detection suite's
// full profile: a split read from its instances file and image folder
// (train2017/ or val2017/ with annotations/instances_*.json), the 81-class
// label map of the COCO category ids, JPEG decoding (image/jpeg) and SSD's
// training augmentation (zoom-out "expand", random crop under IoU
// constraints, horizontal flip, and NVIDIA SSD300's colour jitter,
// torchvision's ColorJitter), resizing to the detector's square input
// (golang.org/x/image/draw's bilinear kernel, which filters over the source
// footprint when shrinking as PIL's bilinear resize does) and the ImageNet
// normalisation. Every random choice is drawn from a seed given per image,
// so a batch is the same whatever the number of decoding goroutines.
package cocoimg

import (
	"fmt"
	"image"
	_ "image/jpeg" // COCO's images
	_ "image/png"  // accepted as well (generated data sets)
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"

	"github.com/gap-harness/gap/datasets/detection"
)

// CategoryIDs are the 80 object category ids of COCO 2017's instances
// files in ascending order (1..90 without 12, 26, 29, 30, 45, 66, 68, 69,
// 71 and 83). Label i+1 is CategoryIDs[i]; label 0 is the background, so
// the detector has 81 classes.
var CategoryIDs = [80]int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
	27, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56,
	57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88,
	89, 90}

// Classes is the detector's class count: background plus the 80 categories.
const Classes = len(CategoryIDs) + 1

// LabelOf maps a COCO category id to its label 1..80 (ok false when the id
// is not one of CategoryIDs).
func LabelOf(cat int64) (int32, bool) {
	i := sort.Search(len(CategoryIDs), func(i int) bool { return CategoryIDs[i] >= cat })
	if i < len(CategoryIDs) && CategoryIDs[i] == cat {
		return int32(i + 1), true
	}
	return 0, false
}

// CategoryOf inverts LabelOf (label 1..80; -1 for anything else).
func CategoryOf(label int) int64 {
	if label < 1 || label > len(CategoryIDs) {
		return -1
	}
	return CategoryIDs[label-1]
}

// Object is a ground-truth box, corners (X0, Y0) top-left and (X1, Y1)
// bottom-right, with its label 1..80. Split.Objects hold pixels of the
// original image; Sample returns coordinates relative to its output (0..1).
type Object struct {
	X0, Y0, X1, Y1 float64
	Label          int32
}

// Split is one COCO split ready for training or evaluation.
type Split struct {
	// Annotations is the instances file and ImageDir the image folder.
	Annotations, ImageDir string
	// GT is the ground truth of the split's images as the file has it
	// (crowd regions included), for evaluation.
	GT *detection.Dataset
	// Images are the split's images in order: index i of Sample and Batch.
	Images []detection.ImageInfo
	// Objects[i] are image i's training boxes: zero-area and outside boxes
	// skipped, boxes partly outside clipped (Check), crowd regions left
	// out (Crowd).
	Objects [][]Object
	// Check counts the boxes skipped or clipped; Crowd the crowd regions
	// left out of Objects; NoBoxes the images left out of a training split
	// because none of their boxes is usable.
	Check          detection.TrainingCheck
	Crowd, NoBoxes int
}

// LoadOptions says how a split is read.
type LoadOptions struct {
	// Train leaves out the images without a usable box (a training split);
	// an evaluation split keeps every image.
	Train bool
	// Limit, when > 0, keeps a random subset of that many images (drawn
	// from Seed, in file order), with their annotations.
	Limit int
	Seed  uint64
}

// Load reads a split: the instances file annPath (detection.LoadCOCO: ids
// unique, every annotation's image and category listed), checked for
// training (detection.PrepareForTraining: an empty annotation list or
// image files missing from imageDir are errors naming the file; zero-area
// boxes and boxes outside their image are skipped, boxes partly outside
// clipped, and counted). Every category of the file must be one of COCO
// 2017's (CategoryIDs); an error names the file and the entry otherwise.
// The counts are logged with the file's name and kept in the Split.
func Load(annPath, imageDir string, o LoadOptions) (*Split, error) {
	d, err := detection.LoadCOCO(annPath)
	if err != nil {
		return nil, fmt.Errorf("cocoimg: %w", err)
	}
	for i, c := range d.Categories {
		if _, ok := LabelOf(c.ID); !ok {
			return nil, fmt.Errorf("cocoimg: %s: categories[%d].id: %d (%q) is not one of COCO 2017's 80 category ids (1..90 without 12, 26, 29, 30, 45, 66, 68, 69, 71, 83)", annPath, i, c.ID, c.Name)
		}
	}
	if o.Limit > 0 && o.Limit < len(d.Images) {
		d = subset(d, o.Limit, o.Seed)
	}
	clean, chk, err := detection.PrepareForTraining(annPath, d, imageDir)
	if err != nil {
		return nil, fmt.Errorf("cocoimg: %w", err)
	}
	s := &Split{Annotations: annPath, ImageDir: imageDir, GT: d, Check: chk}
	byImage := make(map[int64][]Object, len(d.Images))
	for _, a := range clean.Annotations {
		if a.IsCrowd {
			s.Crowd++
			continue
		}
		l, _ := LabelOf(a.CategoryID) // every category was checked above
		b := a.BBox
		byImage[a.ImageID] = append(byImage[a.ImageID], Object{X0: b.X, Y0: b.Y, X1: b.X + b.W, Y1: b.Y + b.H, Label: l})
	}
	for _, im := range d.Images {
		objs := byImage[im.ID]
		if o.Train && len(objs) == 0 {
			s.NoBoxes++
			continue
		}
		if im.Width <= 0 || im.Height <= 0 {
			return nil, fmt.Errorf("cocoimg: %s: image %d (%s): size %dx%d, want the width and height of the image", annPath, im.ID, im.FileName, im.Width, im.Height)
		}
		s.Images = append(s.Images, im)
		s.Objects = append(s.Objects, objs)
	}
	if len(s.Images) == 0 {
		return nil, fmt.Errorf("cocoimg: %s: no image with a usable box (%s; %d crowd regions)", annPath, chk, s.Crowd)
	}
	slog.Info("coco split", "file", annPath, "images", len(s.Images), "images_without_boxes_left_out", s.NoBoxes,
		"zero_area_skipped", chk.ZeroArea, "outside_skipped", chk.Outside, "clipped", chk.Clipped, "crowd_left_out", s.Crowd)
	return s, nil
}

// subset keeps n images of d drawn from seed (in file order) and their
// annotations.
func subset(d *detection.Dataset, n int, seed uint64) *detection.Dataset {
	pick := rand.New(rand.NewPCG(seed, 0xc0c0)).Perm(len(d.Images))[:n]
	sort.Ints(pick)
	out := &detection.Dataset{Categories: d.Categories}
	keep := make(map[int64]bool, n)
	for _, i := range pick {
		out.Images = append(out.Images, d.Images[i])
		keep[d.Images[i].ID] = true
	}
	for _, a := range d.Annotations {
		if keep[a.ImageID] {
			out.Annotations = append(out.Annotations, a)
		}
	}
	return out
}

// Len is the number of images.
func (s *Split) Len() int { return len(s.Images) }

// Path is image i's file.
func (s *Split) Path(i int) string { return filepath.Join(s.ImageDir, s.Images[i].FileName) }

// Decode reads image i (JPEG; PNG also accepted) and checks its size
// against the instances file, whose boxes are in its pixels.
func (s *Split) Decode(i int) (image.Image, error) {
	p := s.Path(i)
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("cocoimg: %w", err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("cocoimg: %s: %w", p, err)
	}
	im := s.Images[i]
	if b := img.Bounds(); b.Dx() != im.Width || b.Dy() != im.Height {
		return nil, fmt.Errorf("cocoimg: %s: decoded size %dx%d, but %s gives image %d as %dx%d", p, b.Dx(), b.Dy(), s.Annotations, im.ID, im.Width, im.Height)
	}
	return img, nil
}
