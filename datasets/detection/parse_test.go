package detection

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const cocoGood = `{
 "info": {"year": 2017},
 "images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}, {"id": 2, "file_name": "b.jpg"}],
 "categories": [{"id": 3, "name": "cat"}, {"id": 7, "name": "dog"}],
 "annotations": [
  {"id": 10, "image_id": 1, "category_id": 3, "bbox": [1, 2, 3, 4], "area": 9.5, "iscrowd": 0, "segmentation": [[1,2,3,4]]},
  {"id": 11, "image_id": 2, "category_id": 7, "bbox": [0, 0, 5, 6], "iscrowd": 1}
 ]}`

func TestParseCOCO(t *testing.T) {
	d, err := ParseCOCO([]byte(cocoGood), "g.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Images) != 2 || d.Images[0].Width != 64 || d.Images[1].FileName != "b.jpg" || len(d.Categories) != 2 || d.Categories[1].Name != "dog" {
		t.Fatalf("%+v", d)
	}
	a, b := d.Annotations[0], d.Annotations[1]
	if a.BBox != (Box{1, 2, 3, 4}) || a.Area != 9.5 || a.IsCrowd || b.Area != 30 || !b.IsCrowd || b.CategoryID != 7 {
		t.Errorf("annotations %+v", d.Annotations)
	}
}

// parseCOCOErrorCases are bad instances documents and the error each gets.
var parseCOCOErrorCases = []struct{ in, want string }{
	{`{"images": [], "categories": []}`, "g.json: annotations: missing"},
	{`{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3]}]}`, "g.json: annotations[0].bbox: expected 4 numbers"},
	{`{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}, {"id": 2, "image_id": 1, "category_id": 1, "bbox": ["a", 2, 3, 4]}]}`, "annotations[1].bbox[0]: expected a number"},
	{`{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"id": 1, "image_id": 2, "category_id": 1, "bbox": [1, 2, 3, 4]}]}`, "annotations[0].image_id: image 2 not in images"},
	{`{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1, "category_id": 9, "bbox": [1, 2, 3, 4]}]}`, "annotations[0].category_id: category 9 not in categories"},
	{`{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}]}`, "annotations[0].id: missing"},
	{`{"images": [{"id": 1.5}], "categories": [], "annotations": []}`, "images[0].id: expected an integer"},
	{`{"images": [{"id": 1}, {"id": 1}], "categories": [], "annotations": []}`, "images[1].id: duplicate image id 1"},
	{`{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, -3, 4]}]}`, "negative width"},
	{`{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "iscrowd": 2}]}`, "annotations[0].iscrowd: expected 0, 1"},
	{"{\"images\": [\n{\"id\": 1,}]}", "g.json: line 2 column"},
	{`[1]`, "g.json: line 1: top level is an array, want a COCO instances object"},
	{`{"images": {}, "categories": [], "annotations": []}`, "images: expected an array"},
}

func TestParseCOCOErrors(t *testing.T) {
	for _, c := range parseCOCOErrorCases {
		_, err := ParseCOCO([]byte(c.in), "g.json")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\n error %v, want %q", c.in, err, c.want)
		}
	}
}

// annCase is a ground-truth document with one annotation whose fields are
// given as JSON text.
func annCase(fields string) string {
	return `{"images": [{"id": 1, "width": 10, "height": 10}], "categories": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, ` + fields + `}]}`
}

// TestParseCOCONullsAndRanges: null where a number, string, flag or array
// belongs, non-finite-in-practice boxes, negative areas and image sizes are
// refused with the element named (encoding/json reads null as 0).
func TestParseCOCONullsAndRanges(t *testing.T) {
	cases := []struct{ in, want string }{
		{annCase(`"bbox": [1, 2, 3, 4], "area": null`), "g.json: annotations[0].area: expected a number, got null"},
		{annCase(`"bbox": [1, 2, 3, 4], "area": -5`), "g.json: annotations[0].area: -5, want a number in 0.."},
		{annCase(`"bbox": [1, 2, 3, 4], "iscrowd": null`), "annotations[0].iscrowd: expected 0, 1, true or false, got null"},
		{annCase(`"bbox": [1, null, 3, 4]`), "annotations[0].bbox[1]: expected a number, got null"},
		{annCase(`"bbox": null`), "annotations[0].bbox: expected 4 numbers"},
		{annCase(`"bbox": [1e308, 2, 1e308, 4]`), "annotations[0].bbox: x = 1e+308, want within"},
		{annCase(`"bbox": [1, 2, 3e300, 4e300]`), "annotations[0].bbox: width = 3e+300"},
		{strings.Replace(annCase(`"bbox": [1, 2, 3, 4]`), `"image_id": 1`, `"image_id": null`, 1), "annotations[0].image_id: expected an integer, got null"},
		{`{"images": [{"id": 1, "width": -640, "height": 480}], "categories": [], "annotations": []}`, "g.json: images[0]: size -640x480, want width and height in 0.."},
		{`{"images": [{"id": null}], "categories": [], "annotations": []}`, "images[0].id: expected an integer, got null"},
		{`{"images": [{"id": 1, "file_name": null}], "categories": [], "annotations": []}`, "images[0].file_name: expected a string, got null"},
		{`{"images": null, "categories": [], "annotations": []}`, "g.json: images: expected an array, got null"},
		{`{"images": [null], "categories": [], "annotations": []}`, "g.json: images[0]: expected an object, got null"},
		{`null`, "g.json: line 1: top level is null"},
		{`"x"`, "g.json: line 1: top level is a string"},
	}
	for _, c := range cases {
		_, err := ParseCOCO([]byte(c.in), "g.json")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\n error %v, want %q", c.in, err, c.want)
		}
	}
}

// TestParseDetectionsNulls: a null score or coordinate is refused, not
// scored as 0.
func TestParseDetectionsNulls(t *testing.T) {
	gt, _ := ParseCOCO([]byte(cocoGood), "g.json")
	for in, want := range map[string]string{
		`[{"image_id": 1, "category_id": 3, "bbox": [1, 2, 3, 4], "score": null}]`:    "p.json: [0].score: expected a number, got null",
		`[{"image_id": 1, "category_id": 3, "bbox": [1, 2, 3, 4], "score": "0.9"}]`:   "p.json: [0].score: expected a number",
		`[{"image_id": 1, "category_id": null, "bbox": [1, 2, 3, 4], "score": 0.5}]`:  "p.json: [0].category_id: expected an integer, got null",
		`[{"image_id": 1, "category_id": 3, "bbox": [1, 2, null, 4], "score": 0.5}]`:  "p.json: [0].bbox[2]: expected a number, got null",
		`[{"image_id": 1, "category_id": 3, "bbox": [1, 2, 1e308, 4], "score": 0.5}]`: "p.json: [0].bbox: width = 1e+308",
		`{"images": []}`: "p.json: line 1: top level is an object, want a JSON array of detections",
		`null`:           "p.json: line 1: top level is null, want a JSON array of detections",
		`[null]`:         "p.json: [0]: expected an object, got null",
	} {
		if _, err := ParseDetections([]byte(in), "p.json", gt); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}

func TestParseDetections(t *testing.T) {
	gt, _ := ParseCOCO([]byte(cocoGood), "g.json")
	d, err := ParseDetections([]byte(`[{"image_id": 1, "category_id": 3, "bbox": [1, 2, 3, 4], "score": 0.5}]`), "p.json", gt)
	if err != nil || len(d) != 1 || d[0].Score != .5 || d[0].BBox.W != 3 {
		t.Fatalf("%+v %v", d, err)
	}
	for in, want := range map[string]string{
		`[{"image_id": 5, "category_id": 3, "bbox": [1, 2, 3, 4], "score": 0.5}]`: "p.json: [0].image_id: image 5 is not in the ground truth",
		`[{"image_id": 1, "category_id": 3, "bbox": [1, 2, 3, 4]}]`:               "p.json: [0].score: missing",
		`[{"image_id": 1, "category_id": 3, "score": 1}]`:                         "[0].bbox: missing",
		`{}`:  "want a JSON array",
		`[3]`: "[0]: expected an object",
	} {
		if _, err := ParseDetections([]byte(in), "p.json", gt); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}

const vocGood = `<annotation>
	<folder>VOC2007</folder>
	<filename>000005.jpg</filename>
	<size><width>500</width><height>375</height><depth>3</depth></size>
	<object><name>chair</name><pose>Rear</pose><truncated>0</truncated><difficult>0</difficult>
		<bndbox><xmin>263</xmin><ymin>211</ymin><xmax>324</xmax><ymax>339</ymax></bndbox></object>
	<object><name>chair</name><truncated>1</truncated><difficult>1</difficult>
		<bndbox><xmin>5.5</xmin><ymin>6</ymin><xmax>7</xmax><ymax>8</ymax></bndbox></object>
</annotation>`

func TestParseVOC(t *testing.T) {
	a, err := ParseVOC(strings.NewReader(vocGood), "000005.xml")
	if err != nil {
		t.Fatal(err)
	}
	if a.Filename != "000005.jpg" || a.Width != 500 || a.Height != 375 || a.Depth != 3 || len(a.Objects) != 2 {
		t.Fatalf("%+v", a)
	}
	o := a.Objects[1]
	if o.Name != "chair" || !o.Difficult || !o.Truncated || o.XMin != 5.5 || o.YMax != 8 || a.Objects[0].Difficult {
		t.Errorf("objects %+v", a.Objects)
	}
	d, err := VOCToDataset([]*VOCAnnotation{a}, []string{"000005.xml"}, VOCClasses)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Categories) != 20 || d.Annotations[0].CategoryID != 9 || d.Annotations[0].BBox != (Box{263, 211, 61, 128}) || !d.Annotations[1].Difficult {
		t.Errorf("dataset %+v", d.Annotations)
	}
	if _, err := VOCToDataset([]*VOCAnnotation{a}, []string{"000005.xml"}, []string{"dog"}); err == nil || !strings.Contains(err.Error(), `000005.xml: object[0].name: unknown class "chair"`) {
		t.Errorf("unknown class: %v", err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "x.xml")
	os.WriteFile(p, []byte(vocGood), 0o644)
	if _, err := LoadVOC(p); err != nil {
		t.Error(err)
	}
}

func TestParseVOCErrors(t *testing.T) {
	obj := func(s string) string { return "<annotation><object>" + s + "</object></annotation>" }
	cases := map[string]string{
		"<annotation><object>": "malformed VOC XML",
		"<notvoc/>":            "malformed VOC XML",
		obj("<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox>"): "object[0].name: missing",
		obj("<name>a</name>"): "object[0].bndbox: missing",
		obj("<name>a</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax></bndbox>"):               "object[0].bndbox.ymax: missing",
		obj("<name>a</name><bndbox><xmin>x</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox>"): "object[0].bndbox.xmin: expected a number",
		obj("<name>a</name><bndbox><xmin>3</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox>"): "object[0].bndbox: max corner",
		obj("<name>a</name><difficult>maybe</difficult>"):                                              "object[0].difficult: expected an integer",
	}
	for in, want := range cases {
		_, err := ParseVOC(strings.NewReader(in), "v.xml")
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "v.xml: ") {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}

// TestParseVOCBounds: boxes outside the image and negative sizes are refused.
func TestParseVOCBounds(t *testing.T) {
	box := func(size, bb string) string {
		return "<annotation><size>" + size + "</size><object><name>a</name><bndbox>" + bb + "</bndbox></object></annotation>"
	}
	wh := "<width>100</width><height>50</height>"
	cases := map[string]string{
		box(wh, "<xmin>10</xmin><ymin>10</ymin><xmax>120</xmax><ymax>20</ymax>"):                                  "v.xml: object[0].bndbox: box (10,10)-(120,20) extends outside the 100x50 image",
		box(wh, "<xmin>10</xmin><ymin>10</ymin><xmax>20</xmax><ymax>51</ymax>"):                                   "outside the 100x50 image",
		box(wh, "<xmin>-5</xmin><ymin>10</ymin><xmax>20</xmax><ymax>20</ymax>"):                                   "v.xml: object[0].bndbox: (-5,10)-(20,20) outside",
		box("", "<xmin>1</xmin><ymin>1</ymin><xmax>1e308</xmax><ymax>20</ymax>"):                                  "outside 0..",
		box("<width>-100</width><height>50</height>", "<xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax>"): "v.xml: size: -100x50x0",
	}
	for in, want := range cases {
		_, err := ParseVOC(strings.NewReader(in), "v.xml")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
	if _, err := ParseVOC(strings.NewReader(box(wh, "<xmin>0</xmin><ymin>1</ymin><xmax>100</xmax><ymax>50</ymax>")), "v.xml"); err != nil {
		t.Errorf("box on the image border refused: %v", err)
	}
}

func FuzzParseCOCO(f *testing.F) {
	f.Add([]byte(cocoGood))
	f.Add([]byte(`{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3]}]}`))
	f.Add([]byte(`[{"image_id": 1, "category_id": 3, "bbox": [1, 2, 3, 4], "score": 0.5}]`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, in []byte) {
		gt, err := ParseCOCO(in, "fuzz")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		dets, err := ParseDetections(in, "fuzz", gt)
		if err == nil {
			// Evaluation must not panic on anything the parsers accept.
			EvaluateCOCO(gt, dets, DefaultCOCOParams())
			EvaluateVOC(gt, dets, VOCOptions{})
		}
		for _, a := range gt.Annotations {
			if a.BBox.W < 0 || a.BBox.H < 0 {
				t.Fatalf("negative box accepted: %+v", a)
			}
		}
	})
}

func FuzzParseVOC(f *testing.F) {
	f.Add([]byte(vocGood))
	f.Add([]byte("<annotation><object><name>a</name></object></annotation>"))
	f.Add([]byte("<annotation><size><width>1e3</width></size></annotation>"))
	f.Fuzz(func(t *testing.T, in []byte) {
		a, err := ParseVOC(bytes.NewReader(in), "fuzz")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, o := range a.Objects {
			if o.XMax < o.XMin || o.YMax < o.YMin || o.Name == "" {
				t.Fatalf("bad object accepted: %+v", o)
			}
		}
		if _, err := VOCToDataset([]*VOCAnnotation{a}, nil, nil); err != nil {
			t.Fatal(err)
		}
	})
}

// cocoFields are the positions FuzzCOCOFieldTypes fills with an arbitrary
// JSON value, and what each must hold to be accepted.
var cocoFields = []struct{ tmpl, kind string }{
	{`{"images": [{"id": %s}], "categories": [{"id": 1}], "annotations": []}`, "int"},
	{`{"images": [{"id": 1, "width": %s}], "categories": [], "annotations": []}`, "int"},
	{`{"images": [{"id": 1, "file_name": %s}], "categories": [], "annotations": []}`, "string"},
	{`{"images": [{"id": 1}], "categories": [{"id": 1, "name": %s}], "annotations": []}`, "string"},
	{annCase(`"bbox": [1, 2, 3, 4], "area": %s`), "number"},
	{annCase(`"bbox": [1, 2, 3, 4], "iscrowd": %s`), "flag"},
	{annCase(`"bbox": [%s, 2, 3, 4]`), "number"},
	{annCase(`"bbox": [1, 2, 3, %s]`), "number"},
	{annCase(`"bbox": %s`), "box"},
	{`{"images": %s, "categories": [], "annotations": []}`, "array"},
	{`[{"image_id": 1, "category_id": 3, "bbox": [1, 2, 3, 4], "score": %s}]`, "number"},
	{`[{"image_id": 1, "category_id": %s, "bbox": [1, 2, 3, 4], "score": 0.5}]`, "int"},
	{`[{"image_id": 1, "category_id": 3, "bbox": [1, %s, 3, 4], "score": 0.5}]`, "number"},
}

// FuzzCOCOFieldTypes puts an arbitrary JSON value (null, strings, objects,
// huge numbers, ...) in each field of a ground-truth or results document:
// whatever is accepted must have been a value of the field's type, never a
// null or another type read as 0, and every accepted box must be finite.
func FuzzCOCOFieldTypes(f *testing.F) {
	for _, v := range []string{"null", "1", "-1", "1.5", `"1"`, "true", "[]", "{}", "1e308", "-1e308", "[1,2,3,4]", "0"} {
		for k := range cocoFields {
			f.Add(uint8(k), v)
		}
	}
	gt, err := ParseCOCO([]byte(cocoGood), "g.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, k uint8, val string) {
		c := cocoFields[int(k)%len(cocoFields)]
		var probe any
		if json.Unmarshal([]byte(val), &probe) != nil {
			return // not one JSON value: the document is malformed anyway
		}
		doc := []byte(fmt.Sprintf(c.tmpl, val))
		var accepted bool
		var boxes []Box
		if bytes.HasPrefix(doc, []byte("[")) {
			dets, err := ParseDetections(doc, "f.json", gt)
			if err != nil && !strings.HasPrefix(err.Error(), "f.json: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			accepted = err == nil
			for _, d := range dets {
				boxes = append(boxes, d.BBox)
				if math.IsNaN(d.Score) || math.IsInf(d.Score, 0) {
					t.Fatalf("score %v accepted", d.Score)
				}
			}
		} else {
			d, err := ParseCOCO(doc, "f.json")
			if err != nil && !strings.HasPrefix(err.Error(), "f.json: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			accepted = err == nil
			if d != nil {
				for _, a := range d.Annotations {
					boxes = append(boxes, a.BBox)
					if !(a.Area >= 0) || math.IsInf(a.Area, 0) {
						t.Fatalf("area %v accepted", a.Area)
					}
				}
				for _, im := range d.Images {
					if im.Width < 0 || im.Height < 0 {
						t.Fatalf("image size %dx%d accepted", im.Width, im.Height)
					}
				}
			}
		}
		for _, b := range boxes {
			if math.IsInf(b.Area(), 0) || math.IsNaN(b.Area()) || b.W < 0 || b.H < 0 {
				t.Fatalf("box %+v accepted", b)
			}
		}
		if !accepted {
			return
		}
		switch p := probe.(type) {
		case nil:
			t.Fatalf("%s: null accepted in %s", doc, c.kind)
		case float64:
			if c.kind == "string" || c.kind == "array" || c.kind == "box" {
				t.Fatalf("%s: number accepted as %s", doc, c.kind)
			}
			if c.kind == "int" && p != math.Trunc(p) {
				t.Fatalf("%s: fraction accepted as an integer", doc)
			}
		case string:
			if c.kind != "string" {
				t.Fatalf("%s: string accepted as %s", doc, c.kind)
			}
		case bool:
			if c.kind != "flag" {
				t.Fatalf("%s: boolean accepted as %s", doc, c.kind)
			}
		case []any:
			if c.kind != "array" && c.kind != "box" {
				t.Fatalf("%s: array accepted as %s", doc, c.kind)
			}
		case map[string]any:
			t.Fatalf("%s: object accepted as %s", doc, c.kind)
		}
	})
}

// FuzzVOCFieldTypes puts arbitrary text in each numeric element of a VOC
// file: whatever is accepted must be a finite number and a box inside the
// image.
func FuzzVOCFieldTypes(f *testing.F) {
	const tmpl = "<annotation><size><width>%s</width><height>%s</height></size><object><name>a</name><difficult>%s</difficult><bndbox><xmin>%s</xmin><ymin>%s</ymin><xmax>%s</xmax><ymax>%s</ymax></bndbox></object></annotation>"
	for _, v := range []string{"", "1", "-1", "1e308", "NaN", "Inf", "0x10", "1.5", " 7 ", "null", "&amp;"} {
		for k := 0; k < 7; k++ {
			f.Add(uint8(k), v)
		}
	}
	f.Fuzz(func(t *testing.T, k uint8, val string) {
		vals := []any{"100", "50", "0", "1", "2", "30", "40"}
		vals[int(k)%len(vals)] = val
		a, err := ParseVOC(strings.NewReader(fmt.Sprintf(tmpl, vals...)), "v.xml")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "v.xml: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, o := range a.Objects {
			for _, x := range []float64{o.XMin, o.YMin, o.XMax, o.YMax} {
				if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
					t.Fatalf("coordinate %v accepted from %q", x, val)
				}
			}
			if a.Width > 0 && a.Height > 0 && (o.XMax > float64(a.Width) || o.YMax > float64(a.Height)) {
				t.Fatalf("box outside the %dx%d image accepted: %+v", a.Width, a.Height, o)
			}
		}
		if a.Width < 0 || a.Height < 0 {
			t.Fatalf("size %dx%d accepted", a.Width, a.Height)
		}
	})
}
