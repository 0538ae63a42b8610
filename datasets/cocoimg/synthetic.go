package cocoimg

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/gap-harness/gap/internal/atomicfile"
)

// SyntheticConfig sizes a generated COCO-layout data set.
type SyntheticConfig struct {
	// Train and Val are the image counts of train2017/ and val2017/.
	Train, Val int
	// Width and Height are the images' size (default 96 x 72).
	Width, Height int
	// Categories are the category ids used (default 1, 3, 90: the first,
	// a middle and the last of CategoryIDs).
	Categories []int64
	Seed       uint64
}

// SyntheticBox is one generated object: its category's colour is
// SyntheticColour(category).
type SyntheticBox struct {
	Category   int64
	X, Y, W, H int
}

// SyntheticColour is the colour of a category's rectangles.
func SyntheticColour(cat int64) color.RGBA {
	return color.RGBA{R: uint8(40 + 70*(cat%3)), G: uint8(60 + 50*(cat%4)), B: uint8(200 - 60*(cat%2)), A: 255}
}

// WriteSynthetic writes a small data set in COCO 2017's layout under root:
// train2017/ and val2017/ of JPEGs (a grey background with one to three
// filled rectangles, one colour per category) and
// annotations/instances_train2017.json and instances_val2017.json with
// their boxes. It is a test and smoke-run fixture for the full profile's
// pipeline, not a benchmark. It returns the boxes per split and image.
func WriteSynthetic(root string, c SyntheticConfig) (map[string][][]SyntheticBox, error) {
	if c.Width <= 0 {
		c.Width = 96
	}
	if c.Height <= 0 {
		c.Height = 72
	}
	if len(c.Categories) == 0 {
		c.Categories = []int64{1, 3, 90}
	}
	rng := rand.New(rand.NewPCG(c.Seed, 0x5e7))
	out := map[string][][]SyntheticBox{}
	annID := int64(1)
	for si, sp := range []struct {
		name string
		n    int
	}{{"train2017", c.Train}, {"val2017", c.Val}} {
		dir := filepath.Join(root, sp.name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("cocoimg: %w", err)
		}
		type jimg struct {
			ID       int64  `json:"id"`
			FileName string `json:"file_name"`
			Width    int    `json:"width"`
			Height   int    `json:"height"`
		}
		type jann struct {
			ID         int64      `json:"id"`
			ImageID    int64      `json:"image_id"`
			CategoryID int64      `json:"category_id"`
			BBox       [4]float64 `json:"bbox"`
			Area       float64    `json:"area"`
			IsCrowd    int        `json:"iscrowd"`
		}
		type jcat struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		}
		doc := struct {
			Images      []jimg `json:"images"`
			Annotations []jann `json:"annotations"`
			Categories  []jcat `json:"categories"`
		}{Images: []jimg{}, Annotations: []jann{}}
		for _, cat := range c.Categories {
			doc.Categories = append(doc.Categories, jcat{ID: cat, Name: fmt.Sprintf("category%d", cat)})
		}
		for i := 0; i < sp.n; i++ {
			id := int64(100000*si + i + 1)
			name := fmt.Sprintf("%012d.jpg", id)
			img := image.NewRGBA(image.Rect(0, 0, c.Width, c.Height))
			draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{R: 128, G: 128, B: 128, A: 255}), image.Point{}, draw.Src)
			var boxes []SyntheticBox
			for k := 0; k < 1+rng.IntN(3); k++ {
				w, h := c.Width/6+rng.IntN(c.Width/3), c.Height/6+rng.IntN(c.Height/3)
				b := SyntheticBox{Category: c.Categories[rng.IntN(len(c.Categories))], X: rng.IntN(c.Width - w), Y: rng.IntN(c.Height - h), W: w, H: h}
				draw.Draw(img, image.Rect(b.X, b.Y, b.X+w, b.Y+h), image.NewUniform(SyntheticColour(b.Category)), image.Point{}, draw.Src)
				boxes = append(boxes, b)
				doc.Annotations = append(doc.Annotations, jann{ID: annID, ImageID: id, CategoryID: b.Category,
					BBox: [4]float64{float64(b.X), float64(b.Y), float64(w), float64(h)}, Area: float64(w * h)})
				annID++
			}
			if err := atomicfile.Write(filepath.Join(dir, name), func(w io.Writer) error {
				return jpeg.Encode(w, img, &jpeg.Options{Quality: 95})
			}); err != nil {
				return nil, fmt.Errorf("cocoimg: %w", err)
			}
			doc.Images = append(doc.Images, jimg{ID: id, FileName: name, Width: c.Width, Height: c.Height})
			out[sp.name] = append(out[sp.name], boxes)
		}
		b, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("cocoimg: %w", err)
		}
		ann := filepath.Join(root, "annotations", "instances_"+sp.name+".json")
		if err := os.MkdirAll(filepath.Dir(ann), 0o755); err != nil {
			return nil, fmt.Errorf("cocoimg: %w", err)
		}
		if err := atomicfile.WriteBytes(ann, b); err != nil {
			return nil, fmt.Errorf("cocoimg: %w", err)
		}
	}
	return out, nil
}
