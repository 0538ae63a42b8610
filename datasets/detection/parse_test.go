package detection

import (
	"bytes"
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

func TestParseCOCOErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"images": [], "categories": []}`, "g.json: annotations: missing"},
		{`{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3]}]}`, "g.json: annotations[0].bbox: expected 4 numbers"},
		{`{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}, {"id": 2, "image_id": 1, "category_id": 1, "bbox": ["a", 2, 3, 4]}]}`, "annotations[1].bbox: expected 4 numbers"},
		{`{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"id": 1, "image_id": 2, "category_id": 1, "bbox": [1, 2, 3, 4]}]}`, "annotations[0].image_id: image 2 not in images"},
		{`{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1, "category_id": 9, "bbox": [1, 2, 3, 4]}]}`, "annotations[0].category_id: category 9 not in categories"},
		{`{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}]}`, "annotations[0].id: missing"},
		{`{"images": [{"id": 1.5}], "categories": [], "annotations": []}`, "images[0].id: expected an integer"},
		{`{"images": [{"id": 1}, {"id": 1}], "categories": [], "annotations": []}`, "images[1].id: duplicate image id 1"},
		{`{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, -3, 4]}]}`, "negative width"},
		{`{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "iscrowd": 2}]}`, "annotations[0].iscrowd: expected 0, 1"},
		{"{\"images\": [\n{\"id\": 1,}]}", "g.json: line 2 column"},
		{`[1]`, "g.json: json: cannot unmarshal array"},
		{`{"images": {}, "categories": [], "annotations": []}`, "images: expected an array"},
	}
	for _, c := range cases {
		_, err := ParseCOCO([]byte(c.in), "g.json")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\n error %v, want %q", c.in, err, c.want)
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
		`{}`:  "expected a JSON array",
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
