package detection

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// TrainingCheck counts what PrepareForTraining skipped or changed.
type TrainingCheck struct {
	// ZeroArea counts boxes with zero (or negative) width or height,
	// skipped; Outside boxes wholly outside their image, skipped; Clipped
	// boxes partly outside, clipped to the image.
	ZeroArea, Outside, Clipped int
	// NoSize counts images without width/height, whose boxes could not be
	// checked against the image.
	NoSize int
}

// String is a one-line summary naming the counts.
func (c TrainingCheck) String() string {
	return fmt.Sprintf("%d zero-area boxes skipped, %d boxes outside their image skipped, %d boxes clipped to their image, %d images without a size",
		c.ZeroArea, c.Outside, c.Clipped, c.NoSize)
}

// PrepareForTraining checks a COCO ground truth read from name before a
// detector trains on it and returns a cleaned copy: an empty annotation
// list is an error; when imageDir is not empty, every image's file must
// exist there (an error names the first missing files and the count); a
// box of zero area or wholly outside its image is skipped and a box partly
// outside is clipped, each counted (unknown category ids are already
// refused by ParseCOCO). Nothing of d is modified.
func PrepareForTraining(name string, d *Dataset, imageDir string) (*Dataset, TrainingCheck, error) {
	var chk TrainingCheck
	if len(d.Annotations) == 0 {
		return nil, chk, fmt.Errorf("%s: annotations: empty list, nothing to train on", name)
	}
	if imageDir != "" {
		var missing []string
		n := 0
		for _, im := range d.Images {
			if _, err := os.Stat(filepath.Join(imageDir, im.FileName)); err != nil {
				if !errors.Is(err, os.ErrNotExist) {
					return nil, chk, fmt.Errorf("%s: image %d: %w", name, im.ID, err)
				}
				n++
				if len(missing) < 5 {
					missing = append(missing, im.FileName)
				}
			}
		}
		if n > 0 {
			return nil, chk, fmt.Errorf("%s: %d of %d images missing in %s (first: %s)", name, n, len(d.Images), imageDir, strings.Join(missing, ", "))
		}
	}
	size := make(map[int64][2]float64, len(d.Images))
	for _, im := range d.Images {
		if im.Width <= 0 || im.Height <= 0 {
			chk.NoSize++
			continue
		}
		size[im.ID] = [2]float64{float64(im.Width), float64(im.Height)}
	}
	out := &Dataset{Images: d.Images, Categories: d.Categories, Annotations: make([]Annotation, 0, len(d.Annotations))}
	for _, a := range d.Annotations {
		b := a.BBox
		if b.W <= 0 || b.H <= 0 {
			chk.ZeroArea++
			continue
		}
		if wh, ok := size[a.ImageID]; ok {
			x0, y0 := max(b.X, 0), max(b.Y, 0)
			x1, y1 := min(b.X+b.W, wh[0]), min(b.Y+b.H, wh[1])
			if x1 <= x0 || y1 <= y0 {
				chk.Outside++
				continue
			}
			if x0 != b.X || y0 != b.Y || x1 != b.X+b.W || y1 != b.Y+b.H {
				chk.Clipped++
				a.BBox = Box{X: x0, Y: y0, W: x1 - x0, H: y1 - y0}
			}
		}
		out.Annotations = append(out.Annotations, a)
	}
	if len(out.Annotations) == 0 {
		return nil, chk, fmt.Errorf("%s: no usable box left (%s)", name, chk)
	}
	return out, chk, nil
}
