package detection

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
)

// LoadCOCO reads a COCO instances JSON file (see ParseCOCO), streaming: the
// file is decoded as it is read and only the fields the harness uses are
// kept (segmentations, captions and the like are skipped), so
// instances_train2017.json (448 MB) loads in a few hundred MB.
func LoadCOCO(path string) (*Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("detection: %w", err)
	}
	defer f.Close()
	d, err := decodeCOCO(f, path)
	var bad *badSyntax
	if errors.As(err, &bad) {
		// Not JSON: read it whole to name the line and column as
		// encoding/json's check of the whole document does.
		data, rerr := os.ReadFile(path)
		if rerr != nil {
			return nil, fmt.Errorf("detection: %w", rerr)
		}
		return nil, syntaxError(data, path, bad)
	}
	return d, err
}

// ParseCOCO decodes a COCO instances JSON document: "images" (id,
// file_name, width, height), "categories" (id, name) and "annotations"
// (id, image_id, category_id, bbox [x,y,w,h], optional area (default
// w*h), optional iscrowd (0/1 or boolean, default 0)). Other fields
// (segmentation, info, licenses) are ignored. Ids must be unique;
// annotations must name an existing image and category; boxes must have
// finite coordinates and non-negative sizes. Errors name the file and
// the element, e.g. "f.json: annotations[3].bbox: expected 4 numbers".
//
// The document is decoded as a stream (json.Decoder's tokens), keeping per
// element only the fields above, and the sections may come in any order
// (COCO's own files put categories last). The checks and their messages
// are those of the whole-document parser this replaced: a syntax error
// anywhere wins, then the top level, then the first error of images, of
// categories, of annotations, in that order, whatever the file's order.
func ParseCOCO(data []byte, name string) (*Dataset, error) {
	d, err := decodeCOCO(bytes.NewReader(data), name)
	var bad *badSyntax
	if errors.As(err, &bad) {
		return nil, syntaxError(data, name, bad)
	}
	return d, err
}

// badSyntax is a stream that is not one valid JSON document.
type badSyntax struct{ err error }

func (b *badSyntax) Error() string { return b.err.Error() }

// syntaxError names where data stops being JSON, as encoding/json's
// whole-document check reports it (with line and column); err is the
// stream's own error, used if that check finds nothing.
func syntaxError(data []byte, name string, bad *badSyntax) error {
	var v struct{}
	if err := json.Unmarshal(data, &v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("%s: %w", name, jsonErr(err, data))
		}
	}
	return fmt.Errorf("%s: %w", name, bad.err)
}

// Stages of an annotation's checks, in the order they run.
const (
	annID = iota
	annDuplicate
	annImageID
	annCategoryID
	annBox
	annArea
	annCrowd
)

// cocoSection is the state of one top-level array while it streams: its
// first error (later elements are skipped once there is one) and, for
// annotations, the stage at which that error came and the ids read
// before it (their references are checked once images and categories are
// known).
type cocoSection struct {
	present bool
	err     error
	// stage, imageID and categoryID: an annotation's failed check and the
	// ids it had read.
	stage               int
	imageID, categoryID int64
}

// cocoDecoder streams one instances document.
type cocoDecoder struct {
	dec  *json.Decoder
	name string
	// fields are an element's kept fields, bufs their reused buffers and
	// skip the buffer of the fields not kept.
	fields map[string]json.RawMessage
	bufs   map[string]*json.RawMessage
	skip   json.RawMessage

	d                          Dataset
	images, cats, anns         cocoSection
	seenImg, seenCat, seenAnns map[int64]struct{}
}

// decodeCOCO reads an instances document from r; a *badSyntax error when
// r is not valid JSON.
func decodeCOCO(r io.Reader, name string) (*Dataset, error) {
	c := &cocoDecoder{dec: json.NewDecoder(r), name: name, fields: map[string]json.RawMessage{}, bufs: map[string]*json.RawMessage{}}
	c.dec.UseNumber()
	for _, k := range []string{"id", "file_name", "width", "height", "name", "image_id", "category_id", "bbox", "area", "iscrowd"} {
		c.bufs[k] = new(json.RawMessage)
	}
	tok, err := c.token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('{') {
		kind := tokenKind(tok)
		if err := c.skipRest(tok); err != nil {
			return nil, err
		}
		if err := c.end(); err != nil {
			return nil, err
		}
		hint := ""
		if kind == "an array" {
			hint = " (an array is a results file: pass it as -pred)"
		}
		return nil, fmt.Errorf("%s: line 1: top level is %s, want a COCO instances object {\"images\": [...], \"categories\": [...], \"annotations\": [...]}%s", name, kind, hint)
	}
	for c.dec.More() {
		tok, err := c.token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var sec *cocoSection
		var elem func(i int) error
		switch key {
		case "images":
			// A key given twice: the last one counts, as in a map.
			c.images, c.d.Images, c.seenImg = cocoSection{present: true}, nil, map[int64]struct{}{}
			sec, elem = &c.images, c.image
		case "categories":
			c.cats, c.d.Categories, c.seenCat = cocoSection{present: true}, nil, map[int64]struct{}{}
			sec, elem = &c.cats, c.category
		case "annotations":
			c.anns, c.d.Annotations, c.seenAnns = cocoSection{present: true}, nil, map[int64]struct{}{}
			sec, elem = &c.anns, c.annotation
		default:
			if err := c.dec.Decode(&c.skip); err != nil {
				return nil, &badSyntax{err}
			}
			continue
		}
		if err := c.section(key, sec, elem); err != nil {
			return nil, err
		}
	}
	if _, err := c.token(); err != nil { // the closing brace
		return nil, err
	}
	if err := c.end(); err != nil {
		return nil, err
	}
	return c.result()
}

// token is the next token; any error is bad syntax.
func (c *cocoDecoder) token() (json.Token, error) {
	tok, err := c.dec.Token()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, &badSyntax{err}
	}
	return tok, nil
}

// end checks that nothing but white space follows the document.
func (c *cocoDecoder) end() error {
	if tok, err := c.dec.Token(); err != io.EOF {
		if err == nil {
			err = fmt.Errorf("%v after the top-level value", tok)
		}
		return &badSyntax{err}
	}
	return nil
}

// skipRest skips the rest of a value whose first token was tok.
func (c *cocoDecoder) skipRest(tok json.Token) error {
	depth := 0
	for {
		switch tok {
		case json.Delim('['), json.Delim('{'):
			depth++
		case json.Delim(']'), json.Delim('}'):
			depth--
		}
		if depth == 0 {
			return nil
		}
		var err error
		if tok, err = c.token(); err != nil {
			return err
		}
	}
}

// section reads one top-level array, calling elem for each element until
// the first error (kept in sec), and skipping the rest.
func (c *cocoDecoder) section(key string, sec *cocoSection, elem func(i int) error) error {
	tok, err := c.token()
	if err != nil {
		return err
	}
	if tok != json.Delim('[') {
		sec.err = fmt.Errorf("%s: %s: expected an array, got %s", c.name, key, tokenKind(tok))
		return c.skipRest(tok)
	}
	for i := 0; c.dec.More(); i++ {
		if sec.err != nil {
			if err := c.dec.Decode(&c.skip); err != nil {
				return &badSyntax{err}
			}
			continue
		}
		tok, err := c.token()
		if err != nil {
			return err
		}
		if tok != json.Delim('{') {
			sec.err = fmt.Errorf("%s: expected an object, got %s", jobj{prefix: c.name + ": " + key, idx: i}.where(), tokenKind(tok))
			if err := c.skipRest(tok); err != nil {
				return err
			}
			continue
		}
		if err := c.object(); err != nil {
			return err
		}
		if err := elem(i); err != nil {
			sec.err = err
		}
	}
	_, err = c.token() // the closing bracket
	return err
}

// object reads the rest of an element's object into c.fields (the kept
// fields only; the last of a repeated key counts, as in a map).
func (c *cocoDecoder) object() error {
	clear(c.fields)
	for c.dec.More() {
		tok, err := c.token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		buf, keep := c.bufs[key]
		if !keep {
			buf = &c.skip
		}
		if err := c.dec.Decode(buf); err != nil {
			return &badSyntax{err}
		}
		if keep {
			c.fields[key] = *buf
		}
	}
	_, err := c.token() // the closing brace
	return err
}

func (c *cocoDecoder) image(i int) error {
	o := jobj{m: c.fields, prefix: c.name + ": images", idx: i}
	var im ImageInfo
	var err error
	if im.ID, err = o.int("id", true); err != nil {
		return err
	}
	if _, dup := c.seenImg[im.ID]; dup {
		return fmt.Errorf("%s.id: duplicate image id %d", o.where(), im.ID)
	}
	c.seenImg[im.ID] = struct{}{}
	if im.FileName, err = o.str("file_name"); err != nil {
		return err
	}
	w, err := o.int("width", false)
	if err != nil {
		return err
	}
	h, err := o.int("height", false)
	if err != nil {
		return err
	}
	if w < 0 || h < 0 || w > maxCoord || h > maxCoord {
		return fmt.Errorf("%s: size %dx%d, want width and height in 0..%d", o.where(), w, h, int64(maxCoord))
	}
	im.Width, im.Height = int(w), int(h)
	c.d.Images = append(c.d.Images, im)
	return nil
}

func (c *cocoDecoder) category(i int) error {
	o := jobj{m: c.fields, prefix: c.name + ": categories", idx: i}
	var cat Category
	var err error
	if cat.ID, err = o.int("id", true); err != nil {
		return err
	}
	if _, dup := c.seenCat[cat.ID]; dup {
		return fmt.Errorf("%s.id: duplicate category id %d", o.where(), cat.ID)
	}
	c.seenCat[cat.ID] = struct{}{}
	if cat.Name, err = o.str("name"); err != nil {
		return err
	}
	c.d.Categories = append(c.d.Categories, cat)
	return nil
}

// annotation checks an annotation's own fields; whether its image and
// category exist is checked in result, once the file is read.
func (c *cocoDecoder) annotation(i int) error {
	o := jobj{m: c.fields, prefix: c.name + ": annotations", idx: i}
	fail := func(stage int, a Annotation, err error) error {
		c.anns.stage, c.anns.imageID, c.anns.categoryID = stage, a.ImageID, a.CategoryID
		return err
	}
	var a Annotation
	var err error
	if a.ID, err = o.int("id", true); err != nil {
		return fail(annID, a, err)
	}
	if _, dup := c.seenAnns[a.ID]; dup {
		return fail(annDuplicate, a, fmt.Errorf("%s.id: duplicate annotation id %d", o.where(), a.ID))
	}
	c.seenAnns[a.ID] = struct{}{}
	if a.ImageID, err = o.int("image_id", true); err != nil {
		return fail(annImageID, a, err)
	}
	if a.CategoryID, err = o.int("category_id", true); err != nil {
		return fail(annCategoryID, a, err)
	}
	if a.BBox, err = o.box("bbox"); err != nil {
		return fail(annBox, a, err)
	}
	a.Area = a.BBox.Area()
	if _, ok := o.m["area"]; ok {
		if a.Area, err = o.float("area"); err != nil {
			return fail(annArea, a, err)
		}
		if a.Area < 0 || a.Area > maxCoord*maxCoord {
			return fail(annArea, a, fmt.Errorf("%s.area: %g, want a number in 0..%g", o.where(), a.Area, float64(maxCoord*maxCoord)))
		}
	}
	if a.IsCrowd, err = o.flag("iscrowd"); err != nil {
		return fail(annCrowd, a, err)
	}
	c.d.Annotations = append(c.d.Annotations, a)
	return nil
}

// result reports the first error in the whole-document parser's order
// (images, categories, annotations; within an annotation: id, its
// duplicate, image_id, the image's existence, category_id, the category's
// existence, bbox, area, iscrowd), or the data set.
func (c *cocoDecoder) result() (*Dataset, error) {
	for _, s := range []struct {
		key string
		sec *cocoSection
	}{{"images", &c.images}, {"categories", &c.cats}, {"annotations", &c.anns}} {
		if !s.sec.present {
			return nil, fmt.Errorf("%s: %s: missing", c.name, s.key)
		}
		if s.sec.err != nil && s.key != "annotations" {
			return nil, s.sec.err
		}
	}
	ref := func(i int, imageID, categoryID int64, stage int) error {
		o := jobj{prefix: c.name + ": annotations", idx: i}
		if stage > annImageID {
			if _, ok := c.seenImg[imageID]; !ok {
				return fmt.Errorf("%s.image_id: image %d not in images", o.where(), imageID)
			}
		}
		if stage > annCategoryID {
			if _, ok := c.seenCat[categoryID]; !ok {
				return fmt.Errorf("%s.category_id: category %d not in categories", o.where(), categoryID)
			}
		}
		return nil
	}
	for i, a := range c.d.Annotations {
		if err := ref(i, a.ImageID, a.CategoryID, annCrowd+1); err != nil {
			return nil, err
		}
	}
	if s := c.anns; s.err != nil {
		if err := ref(len(c.d.Annotations), s.imageID, s.categoryID, s.stage); err != nil {
			return nil, err
		}
		return nil, s.err
	}
	d := c.d
	return &d, nil
}

// tokenKind names the JSON type of a value by its first token, as jsonKind
// does by its first byte.
func tokenKind(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			return "an array"
		}
		return "an object"
	case string:
		return "a string"
	case nil:
		return "null"
	case bool:
		return "a boolean"
	}
	return "a number"
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
	if err := json.Unmarshal(data, new(json.RawMessage)); err != nil {
		return nil, fmt.Errorf("%s: expected a JSON array of detections: %w", name, jsonErr(err, data))
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(data, &arr); err != nil || arr == nil {
		return nil, fmt.Errorf("%s: line 1: top level is %s, want a JSON array of detections [{\"image_id\", \"category_id\", \"bbox\", \"score\"}, ...]", name, jsonKind(data))
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
		o, err := object(raw, name+": ", i)
		if err != nil {
			return nil, err
		}
		var d Detection
		if d.ImageID, err = o.int("image_id", true); err != nil {
			return nil, err
		}
		if imgs != nil && !imgs[d.ImageID] {
			return nil, fmt.Errorf("%s.image_id: image %d is not in the ground truth", o.where(), d.ImageID)
		}
		if d.CategoryID, err = o.int("category_id", true); err != nil {
			return nil, err
		}
		if d.BBox, err = o.box("bbox"); err != nil {
			return nil, err
		}
		if _, ok := o.m["score"]; !ok {
			return nil, fmt.Errorf("%s.score: missing", o.where())
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

// maxCoord bounds box coordinates, sizes and image sizes (pixels): 2^30,
// far beyond any image, small enough that areas and corners stay exact.
const maxCoord = 1 << 30

// jsonKind names the JSON type of a valid document by its first byte.
func jsonKind(data []byte) string {
	t := bytes.TrimLeft(data, " \t\r\n")
	if len(t) == 0 {
		return "empty"
	}
	switch t[0] {
	case '[':
		return "an array"
	case '{':
		return "an object"
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

func isNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// jobj is one element's fields, m, and where it is: element idx of
// prefix (named in errors only, so it is formatted only then).
type jobj struct {
	m      map[string]json.RawMessage
	prefix string
	idx    int
}

// where names the element, e.g. "f.json: annotations[3]".
func (o jobj) where() string { return fmt.Sprintf("%s[%d]", o.prefix, o.idx) }

// object decodes element idx of prefix as an object.
func object(raw json.RawMessage, prefix string, idx int) (jobj, error) {
	var m map[string]json.RawMessage
	o := jobj{m: m, prefix: prefix, idx: idx}
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return jobj{}, fmt.Errorf("%s: expected an object, got %s", o.where(), jsonKind(raw))
	}
	o.m = m
	return o, nil
}

// number decodes raw as a JSON number; null, strings and the rest are
// errors (encoding/json would leave a float at 0 for null).
//
// raw is one valid JSON value (both parsers only see such), so a value
// that starts with '-' or a digit is a number literal, which
// strconv.ParseFloat reads as encoding/json does (an out-of-range one is
// an error in both); anything else is not a number.
func number(raw json.RawMessage) (float64, bool) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || (t[0] != '-' && (t[0] < '0' || t[0] > '9')) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(t), 64)
	return f, err == nil
}

// fourNumbers reads a box written plainly, "[n, n, n, n]" (four number
// literals, nothing else): ok false for anything else, which box then
// decodes the general way (and names what is wrong).
func fourNumbers(raw json.RawMessage) (v [4]float64, ok bool) {
	t := bytes.TrimSpace(raw)
	if len(t) < 2 || t[0] != '[' || t[len(t)-1] != ']' {
		return v, false
	}
	t = t[1 : len(t)-1]
	for i := range 4 {
		end := bytes.IndexByte(t, ',')
		if i == 3 {
			end = len(t)
		}
		if end < 0 {
			return v, false
		}
		f, ok := number(t[:end])
		if !ok {
			return v, false
		}
		v[i] = f
		if i < 3 {
			t = t[end+1:]
		}
	}
	return v, true
}

func (o jobj) int(key string, required bool) (int64, error) {
	raw, ok := o.m[key]
	if !ok {
		if required {
			return 0, fmt.Errorf("%s.%s: missing", o.where(), key)
		}
		return 0, nil
	}
	f, ok := number(raw)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("%s.%s: expected an integer, got %.40s", o.where(), key, raw)
	}
	return int64(f), nil
}

func (o jobj) float(key string) (float64, error) {
	f, ok := number(o.m[key])
	if !ok {
		return 0, fmt.Errorf("%s.%s: expected a number, got %.40s", o.where(), key, o.m[key])
	}
	return f, nil
}

func (o jobj) str(key string) (string, error) {
	raw, ok := o.m[key]
	if !ok {
		return "", nil
	}
	var s string
	if isNull(raw) || json.Unmarshal(raw, &s) != nil {
		return "", fmt.Errorf("%s.%s: expected a string, got %.40s", o.where(), key, raw)
	}
	return s, nil
}

func (o jobj) flag(key string) (bool, error) {
	raw, ok := o.m[key]
	if !ok {
		return false, nil
	}
	var b bool
	if !isNull(raw) && json.Unmarshal(raw, &b) == nil {
		return b, nil
	}
	if f, ok := number(raw); ok && (f == 0 || f == 1) {
		return f == 1, nil
	}
	return false, fmt.Errorf("%s.%s: expected 0, 1, true or false, got %.40s", o.where(), key, raw)
}

// box decodes [x, y, w, h]: four numbers (not null), w and h >= 0, every
// value and the far corner within ±maxCoord.
func (o jobj) box(key string) (Box, error) {
	raw, ok := o.m[key]
	if !ok {
		return Box{}, fmt.Errorf("%s.%s: missing", o.where(), key)
	}
	v, plain := fourNumbers(raw)
	if !plain {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil || len(items) != 4 {
			return Box{}, fmt.Errorf("%s.%s: expected 4 numbers [x, y, width, height], got %.60s", o.where(), key, raw)
		}
		for i, it := range items {
			f, ok := number(it)
			if !ok {
				return Box{}, fmt.Errorf("%s.%s[%d]: expected a number, got %.40s", o.where(), key, i, it)
			}
			v[i] = f
		}
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
