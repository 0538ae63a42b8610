package detection

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
)

// LoadCOCO reads a COCO instances JSON file (see ParseCOCO).
func LoadCOCO(path string) (*Dataset, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("detection: %w", err)
	}
	return ParseCOCO(b, path)
}

// ParseCOCO decodes a COCO instances JSON document: "images" (id,
// file_name, width, height), "categories" (id, name) and "annotations"
// (id, image_id, category_id, bbox [x,y,w,h], optional area (default
// w*h), optional iscrowd (0/1 or boolean, default 0)). Other fields
// (segmentation, info, licenses) are ignored. Ids must be unique;
// annotations must name an existing image and category; boxes must have
// finite coordinates and non-negative sizes. Errors name the file and
// the element, e.g. "f.json: annotations[3].bbox: expected 4 numbers".
func ParseCOCO(data []byte, name string) (*Dataset, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("%s: %w", name, jsonErr(err, data))
	}
	var d Dataset
	imgs, err := array(top, "images", name)
	if err != nil {
		return nil, err
	}
	seenImg := map[int64]bool{}
	for i, raw := range imgs {
		o, err := object(raw, fmt.Sprintf("%s: images[%d]", name, i))
		if err != nil {
			return nil, err
		}
		var im ImageInfo
		if im.ID, err = o.int("id", true); err != nil {
			return nil, err
		}
		if seenImg[im.ID] {
			return nil, fmt.Errorf("%s.id: duplicate image id %d", o.where, im.ID)
		}
		seenImg[im.ID] = true
		if im.FileName, err = o.str("file_name"); err != nil {
			return nil, err
		}
		w, err := o.int("width", false)
		if err != nil {
			return nil, err
		}
		h, err := o.int("height", false)
		if err != nil {
			return nil, err
		}
		im.Width, im.Height = int(w), int(h)
		d.Images = append(d.Images, im)
	}
	cats, err := array(top, "categories", name)
	if err != nil {
		return nil, err
	}
	seenCat := map[int64]bool{}
	for i, raw := range cats {
		o, err := object(raw, fmt.Sprintf("%s: categories[%d]", name, i))
		if err != nil {
			return nil, err
		}
		var c Category
		if c.ID, err = o.int("id", true); err != nil {
			return nil, err
		}
		if seenCat[c.ID] {
			return nil, fmt.Errorf("%s.id: duplicate category id %d", o.where, c.ID)
		}
		seenCat[c.ID] = true
		if c.Name, err = o.str("name"); err != nil {
			return nil, err
		}
		d.Categories = append(d.Categories, c)
	}
	anns, err := array(top, "annotations", name)
	if err != nil {
		return nil, err
	}
	seenAnn := map[int64]bool{}
	for i, raw := range anns {
		o, err := object(raw, fmt.Sprintf("%s: annotations[%d]", name, i))
		if err != nil {
			return nil, err
		}
		var a Annotation
		if a.ID, err = o.int("id", true); err != nil {
			return nil, err
		}
		if seenAnn[a.ID] {
			return nil, fmt.Errorf("%s.id: duplicate annotation id %d", o.where, a.ID)
		}
		seenAnn[a.ID] = true
		if a.ImageID, err = o.int("image_id", true); err != nil {
			return nil, err
		}
		if !seenImg[a.ImageID] {
			return nil, fmt.Errorf("%s.image_id: image %d not in images", o.where, a.ImageID)
		}
		if a.CategoryID, err = o.int("category_id", true); err != nil {
			return nil, err
		}
		if !seenCat[a.CategoryID] {
			return nil, fmt.Errorf("%s.category_id: category %d not in categories", o.where, a.CategoryID)
		}
		if a.BBox, err = o.box("bbox"); err != nil {
			return nil, err
		}
		a.Area = a.BBox.Area()
		if _, ok := o.m["area"]; ok {
			if a.Area, err = o.float("area"); err != nil {
				return nil, err
			}
		}
		if a.IsCrowd, err = o.flag("iscrowd"); err != nil {
			return nil, err
		}
		d.Annotations = append(d.Annotations, a)
	}
	return &d, nil
}

// LoadDetections reads a COCO results JSON file (see ParseDetections).
func LoadDetections(path string, gt *Dataset) ([]Detection, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("detection: %w", err)
	}
	return ParseDetections(b, path, gt)
}

// ParseDetections decodes a COCO results document: a JSON array of
// {image_id, category_id, bbox [x,y,w,h], score}. When gt is not nil,
// every image_id must be one of its images (pycocotools asserts the
// same); detections of categories absent from gt are kept and, as in
// pycocotools, never evaluated.
func ParseDetections(data []byte, name string, gt *Dataset) ([]Detection, error) {
	var arr []json.RawMessage
	if err := json.Unmarshal(data, &arr); err != nil {
		return nil, fmt.Errorf("%s: expected a JSON array of detections: %w", name, jsonErr(err, data))
	}
	var imgs map[int64]bool
	if gt != nil {
		imgs = make(map[int64]bool, len(gt.Images))
		for _, im := range gt.Images {
			imgs[im.ID] = true
		}
	}
	out := make([]Detection, 0, len(arr))
	for i, raw := range arr {
		o, err := object(raw, fmt.Sprintf("%s: [%d]", name, i))
		if err != nil {
			return nil, err
		}
		var d Detection
		if d.ImageID, err = o.int("image_id", true); err != nil {
			return nil, err
		}
		if imgs != nil && !imgs[d.ImageID] {
			return nil, fmt.Errorf("%s.image_id: image %d is not in the ground truth", o.where, d.ImageID)
		}
		if d.CategoryID, err = o.int("category_id", true); err != nil {
			return nil, err
		}
		if d.BBox, err = o.box("bbox"); err != nil {
			return nil, err
		}
		if _, ok := o.m["score"]; !ok {
			return nil, fmt.Errorf("%s.score: missing", o.where)
		}
		if d.Score, err = o.float("score"); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// jsonErr adds the line and column of a syntax error.
func jsonErr(err error, data []byte) error {
	if se, ok := err.(*json.SyntaxError); ok {
		off := int(se.Offset)
		if off > len(data) {
			off = len(data)
		}
		line := 1 + bytes.Count(data[:off], []byte("\n"))
		col := off - bytes.LastIndexByte(data[:off], '\n')
		return fmt.Errorf("line %d column %d (byte offset %d): %w", line, col, se.Offset, err)
	}
	return err
}

func array(top map[string]json.RawMessage, key, name string) ([]json.RawMessage, error) {
	raw, ok := top[key]
	if !ok {
		return nil, fmt.Errorf("%s: %s: missing", name, key)
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(raw, &arr); err != nil {
		return nil, fmt.Errorf("%s: %s: expected an array", name, key)
	}
	return arr, nil
}

type jobj struct {
	m     map[string]json.RawMessage
	where string
}

func object(raw json.RawMessage, where string) (jobj, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return jobj{}, fmt.Errorf("%s: expected an object", where)
	}
	return jobj{m: m, where: where}, nil
}

func (o jobj) int(key string, required bool) (int64, error) {
	raw, ok := o.m[key]
	if !ok {
		if required {
			return 0, fmt.Errorf("%s.%s: missing", o.where, key)
		}
		return 0, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return 0, fmt.Errorf("%s.%s: expected an integer, got %.40s", o.where, key, raw)
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("%s.%s: expected an integer, got %.40s", o.where, key, raw)
	}
	return int64(f), nil
}

func (o jobj) float(key string) (float64, error) {
	var f float64
	if err := json.Unmarshal(o.m[key], &f); err != nil {
		return 0, fmt.Errorf("%s.%s: expected a number, got %.40s", o.where, key, o.m[key])
	}
	return f, nil
}

func (o jobj) str(key string) (string, error) {
	raw, ok := o.m[key]
	if !ok {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%s.%s: expected a string, got %.40s", o.where, key, raw)
	}
	return s, nil
}

func (o jobj) flag(key string) (bool, error) {
	raw, ok := o.m[key]
	if !ok {
		return false, nil
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b, nil
	}
	var f float64
	if json.Unmarshal(raw, &f) == nil && (f == 0 || f == 1) {
		return f == 1, nil
	}
	return false, fmt.Errorf("%s.%s: expected 0, 1, true or false, got %.40s", o.where, key, raw)
}

func (o jobj) box(key string) (Box, error) {
	raw, ok := o.m[key]
	if !ok {
		return Box{}, fmt.Errorf("%s.%s: missing", o.where, key)
	}
	var v []float64
	if err := json.Unmarshal(raw, &v); err != nil || len(v) != 4 {
		return Box{}, fmt.Errorf("%s.%s: expected 4 numbers", o.where, key)
	}
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return Box{}, fmt.Errorf("%s.%s: non-finite coordinate", o.where, key)
		}
	}
	if v[2] < 0 || v[3] < 0 {
		return Box{}, fmt.Errorf("%s.%s: negative width or height %v", o.where, key, v)
	}
	return Box{X: v[0], Y: v[1], W: v[2], H: v[3]}, nil
}
