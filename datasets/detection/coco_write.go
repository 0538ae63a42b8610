package detection

import (
	"encoding/json"
	"fmt"

	"github.com/gap-harness/gap/internal/atomicfile"
)

type jsonDet struct {
	ImageID    int64      `json:"image_id"`
	CategoryID int64      `json:"category_id"`
	BBox       [4]float64 `json:"bbox"`
	Score      float64    `json:"score"`
}

// WriteDetections writes dets as a COCO results file (a JSON array of
// {image_id, category_id, bbox [x,y,w,h], score}), the format LoadDetections
// and `gap score map -pred` read, atomically (temp file, then rename).
func WriteDetections(path string, dets []Detection) error {
	arr := make([]jsonDet, len(dets))
	for i, d := range dets {
		arr[i] = jsonDet{d.ImageID, d.CategoryID, [4]float64{d.BBox.X, d.BBox.Y, d.BBox.W, d.BBox.H}, d.Score}
	}
	return writeJSON(path, arr)
}

// WriteCOCO writes d as a COCO instances file (images, categories,
// annotations with bbox, area, iscrowd), the format LoadCOCO and `gap score
// map -gt` read, atomically.
func WriteCOCO(path string, d *Dataset) error {
	type img struct {
		ID       int64  `json:"id"`
		FileName string `json:"file_name"`
		Width    int    `json:"width"`
		Height   int    `json:"height"`
	}
	type cat struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	type ann struct {
		ID         int64      `json:"id"`
		ImageID    int64      `json:"image_id"`
		CategoryID int64      `json:"category_id"`
		BBox       [4]float64 `json:"bbox"`
		Area       float64    `json:"area"`
		IsCrowd    int        `json:"iscrowd"`
	}
	doc := struct {
		Images      []img `json:"images"`
		Categories  []cat `json:"categories"`
		Annotations []ann `json:"annotations"`
	}{Images: []img{}, Categories: []cat{}, Annotations: []ann{}}
	for _, i := range d.Images {
		doc.Images = append(doc.Images, img{i.ID, i.FileName, i.Width, i.Height})
	}
	for _, c := range d.Categories {
		doc.Categories = append(doc.Categories, cat{c.ID, c.Name})
	}
	for _, a := range d.Annotations {
		crowd := 0
		if a.IsCrowd {
			crowd = 1
		}
		doc.Annotations = append(doc.Annotations, ann{a.ID, a.ImageID, a.CategoryID, [4]float64{a.BBox.X, a.BBox.Y, a.BBox.W, a.BBox.H}, a.Area, crowd})
	}
	return writeJSON(path, doc)
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("detection: %s: %w", path, err)
	}
	if err := atomicfile.WriteBytes(path, b); err != nil {
		return fmt.Errorf("detection: %w", err)
	}
	return nil
}
