package detection

import (
	"encoding/json"
	"fmt"
	"math"
)

// parseCOCOTree is the parser ParseCOCO replaced (kept as the reference of
// TestStreamingParserMatchesTree): it holds the whole document, a
// json.RawMessage per element and a map per element. It decodes a COCO instances JSON document: "images" (id,
// file_name, width, height), "categories" (id, name) and "annotations"
// (id, image_id, category_id, bbox [x,y,w,h], optional area (default
// w*h), optional iscrowd (0/1 or boolean, default 0)). Other fields
// (segmentation, info, licenses) are ignored. Ids must be unique;
// annotations must name an existing image and category; boxes must have
// finite coordinates and non-negative sizes. Errors name the file and
// the element, e.g. "f.json: annotations[3].bbox: expected 4 numbers".
func parseCOCOTree(data []byte, name string) (*Dataset, error) {
	if err := json.Unmarshal(data, new(json.RawMessage)); err != nil {
		return nil, fmt.Errorf("%s: %w", name, jsonErr(err, data))
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil || top == nil {
		kind := jsonKind(data)
		hint := ""
		if kind == "an array" {
			hint = " (an array is a results file: pass it as -pred)"
		}
		return nil, fmt.Errorf("%s: line 1: top level is %s, want a COCO instances object {\"images\": [...], \"categories\": [...], \"annotations\": [...]}%s", name, kind, hint)
	}
	var d Dataset
	imgs, err := array(top, "images", name)
	if err != nil {
		return nil, err
	}
	seenImg := map[int64]bool{}
	for i, raw := range imgs {
		o, err := object(raw, name+": images", i)
		if err != nil {
			return nil, err
		}
		var im ImageInfo
		if im.ID, err = o.intTree("id", true); err != nil {
			return nil, err
		}
		if seenImg[im.ID] {
			return nil, fmt.Errorf("%s.id: duplicate image id %d", o.where(), im.ID)
		}
		seenImg[im.ID] = true
		if im.FileName, err = o.str("file_name"); err != nil {
			return nil, err
		}
		w, err := o.intTree("width", false)
		if err != nil {
			return nil, err
		}
		h, err := o.intTree("height", false)
		if err != nil {
			return nil, err
		}
		if w < 0 || h < 0 || w > maxCoord || h > maxCoord {
			return nil, fmt.Errorf("%s: size %dx%d, want width and height in 0..%d", o.where(), w, h, int64(maxCoord))
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
		o, err := object(raw, name+": categories", i)
		if err != nil {
			return nil, err
		}
		var c Category
		if c.ID, err = o.intTree("id", true); err != nil {
			return nil, err
		}
		if seenCat[c.ID] {
			return nil, fmt.Errorf("%s.id: duplicate category id %d", o.where(), c.ID)
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
		o, err := object(raw, name+": annotations", i)
		if err != nil {
			return nil, err
		}
		var a Annotation
		if a.ID, err = o.intTree("id", true); err != nil {
			return nil, err
		}
		if seenAnn[a.ID] {
			return nil, fmt.Errorf("%s.id: duplicate annotation id %d", o.where(), a.ID)
		}
		seenAnn[a.ID] = true
		if a.ImageID, err = o.intTree("image_id", true); err != nil {
			return nil, err
		}
		if !seenImg[a.ImageID] {
			return nil, fmt.Errorf("%s.image_id: image %d not in images", o.where(), a.ImageID)
		}
		if a.CategoryID, err = o.intTree("category_id", true); err != nil {
			return nil, err
		}
		if !seenCat[a.CategoryID] {
			return nil, fmt.Errorf("%s.category_id: category %d not in categories", o.where(), a.CategoryID)
		}
		if a.BBox, err = o.boxTree("bbox"); err != nil {
			return nil, err
		}
		a.Area = a.BBox.Area()
		if _, ok := o.m["area"]; ok {
			if a.Area, err = o.floatTree("area"); err != nil {
				return nil, err
			}
			if a.Area < 0 || a.Area > maxCoord*maxCoord {
				return nil, fmt.Errorf("%s.area: %g, want a number in 0..%g", o.where(), a.Area, float64(maxCoord*maxCoord))
			}
		}
		if a.IsCrowd, err = o.flagTree("iscrowd"); err != nil {
			return nil, err
		}
		d.Annotations = append(d.Annotations, a)
	}
	return &d, nil
}

// array is the reference parser's section reader.
func array(top map[string]json.RawMessage, key, name string) ([]json.RawMessage, error) {
	raw, ok := top[key]
	if !ok {
		return nil, fmt.Errorf("%s: %s: missing", name, key)
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(raw, &arr); err != nil || arr == nil {
		return nil, fmt.Errorf("%s: %s: expected an array, got %s", name, key, jsonKind(raw))
	}
	return arr, nil
}

// The reference's field readers, as they were (json.Unmarshal for every
// number and box).

// number decodes raw as a JSON number; null, strings and the rest are
// errors (encoding/json would leave a float at 0 for null).
func numberTree(raw json.RawMessage) (float64, bool) {
	var f float64
	if isNull(raw) || json.Unmarshal(raw, &f) != nil {
		return 0, false
	}
	return f, true
}

func (o jobj) intTree(key string, required bool) (int64, error) {
	raw, ok := o.m[key]
	if !ok {
		if required {
			return 0, fmt.Errorf("%s.%s: missing", o.where(), key)
		}
		return 0, nil
	}
	f, ok := numberTree(raw)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("%s.%s: expected an integer, got %.40s", o.where(), key, raw)
	}
	return int64(f), nil
}

func (o jobj) floatTree(key string) (float64, error) {
	f, ok := numberTree(o.m[key])
	if !ok {
		return 0, fmt.Errorf("%s.%s: expected a number, got %.40s", o.where(), key, o.m[key])
	}
	return f, nil
}

func (o jobj) flagTree(key string) (bool, error) {
	raw, ok := o.m[key]
	if !ok {
		return false, nil
	}
	var b bool
	if !isNull(raw) && json.Unmarshal(raw, &b) == nil {
		return b, nil
	}
	if f, ok := numberTree(raw); ok && (f == 0 || f == 1) {
		return f == 1, nil
	}
	return false, fmt.Errorf("%s.%s: expected 0, 1, true or false, got %.40s", o.where(), key, raw)
}

// box decodes [x, y, w, h]: four numbers (not null), w and h >= 0, every
// value and the far corner within ±maxCoord.
func (o jobj) boxTree(key string) (Box, error) {
	raw, ok := o.m[key]
	if !ok {
		return Box{}, fmt.Errorf("%s.%s: missing", o.where(), key)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || len(items) != 4 {
		return Box{}, fmt.Errorf("%s.%s: expected 4 numbers [x, y, width, height], got %.60s", o.where(), key, raw)
	}
	var v [4]float64
	for i, it := range items {
		f, ok := numberTree(it)
		if !ok {
			return Box{}, fmt.Errorf("%s.%s[%d]: expected a number, got %.40s", o.where(), key, i, it)
		}
		v[i] = f
	}
	if v[2] < 0 || v[3] < 0 {
		return Box{}, fmt.Errorf("%s.%s: negative width or height %v", o.where(), key, v)
	}
	for i, x := range []float64{v[0], v[1], v[2], v[3], v[0] + v[2], v[1] + v[3]} {
		if math.Abs(x) > maxCoord {
			what := [...]string{"x", "y", "width", "height", "x+width", "y+height"}[i]
			return Box{}, fmt.Errorf("%s.%s: %s = %g, want within ±%d pixels", o.where(), key, what, x, int64(maxCoord))
		}
	}
	return Box{X: v[0], Y: v[1], W: v[2], H: v[3]}, nil
}
