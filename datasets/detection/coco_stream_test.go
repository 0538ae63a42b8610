package detection

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// kv is one key of a generated JSON object with its raw value.
type kv struct{ k, v string }

// genDoc is a generated instances document, section by section, each
// element an ordered list of keys, so that tests can damage it.
type genDoc struct {
	order    []string // top-level keys in file order
	sections map[string][][]kv
	raw      map[string]string // top-level values written as they are (info, licenses, or a damaged section)
}

// genConfig sizes a generated document.
type genConfig struct {
	Images, Annotations, Categories int
	// Segmentation writes COCO-like polygons (10..40 vertices; run-length
	// counts for crowd regions), which make up most of a real file.
	Segmentation bool
}

// generate builds a COCO-like instances document in COCO's own key order
// (info, licenses, images, annotations, categories).
func generate(cfg genConfig, rng *rand.Rand) *genDoc {
	d := &genDoc{order: []string{"info", "licenses", "images", "annotations", "categories"}, sections: map[string][][]kv{},
		raw: map[string]string{"info": `{"description": "generated", "year": 2017}`, "licenses": `[{"id": 1, "name": "x", "url": "http://x"}]`}}
	type size struct{ w, h int }
	sizes := make([]size, cfg.Images)
	for i := range cfg.Images {
		w, h := 320+rng.IntN(321), 240+rng.IntN(241)
		sizes[i] = size{w, h}
		d.sections["images"] = append(d.sections["images"], []kv{{"license", "1"}, {"file_name", fmt.Sprintf("%q", fmt.Sprintf("%012d.jpg", i+1))},
			{"coco_url", `"http://images.cocodataset.org/train2017/x.jpg"`}, {"height", strconv.Itoa(h)}, {"width", strconv.Itoa(w)},
			{"date_captured", `"2013-11-14 16:28:13"`}, {"id", strconv.Itoa(i + 1)}})
	}
	for c := range cfg.Categories {
		d.sections["categories"] = append(d.sections["categories"], []kv{{"supercategory", `"thing"`}, {"id", strconv.Itoa(c + 1)}, {"name", fmt.Sprintf(`"cat%d"`, c+1)}})
	}
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	var sb strings.Builder
	for a := range cfg.Annotations {
		img := rng.IntN(cfg.Images)
		s := sizes[img]
		w, h := 1+rng.Float64()*float64(s.w-1), 1+rng.Float64()*float64(s.h-1)
		x, y := rng.Float64()*(float64(s.w)-w), rng.Float64()*(float64(s.h)-h)
		crowd := rng.IntN(100) == 0
		e := []kv{}
		if cfg.Segmentation {
			sb.Reset()
			if crowd {
				sb.WriteString(`{"counts": [`)
				for k := range 100 + rng.IntN(200) {
					if k > 0 {
						sb.WriteByte(',')
					}
					sb.WriteString(strconv.Itoa(rng.IntN(400)))
				}
				fmt.Fprintf(&sb, `], "size": [%d, %d]}`, s.h, s.w)
			} else {
				sb.WriteString("[[")
				for k := range 2 * (10 + rng.IntN(31)) {
					if k > 0 {
						sb.WriteByte(',')
					}
					sb.WriteString(num(rng.Float64() * float64(s.w)))
				}
				sb.WriteString("]]")
			}
			e = append(e, kv{"segmentation", sb.String()})
		}
		e = append(e, kv{"area", num(w * h * 0.7)}, kv{"iscrowd", map[bool]string{true: "1", false: "0"}[crowd]},
			kv{"image_id", strconv.Itoa(img + 1)}, kv{"bbox", "[" + num(x) + "," + num(y) + "," + num(w) + "," + num(h) + "]"},
			kv{"category_id", strconv.Itoa(1 + rng.IntN(cfg.Categories))}, kv{"id", strconv.Itoa(1000000 + a)})
		d.sections["annotations"] = append(d.sections["annotations"], e)
	}
	return d
}

// write writes the document as COCO does: one line.
func (d *genDoc) write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	bw.WriteByte('{')
	for i, k := range d.order {
		if i > 0 {
			bw.WriteString(", ")
		}
		fmt.Fprintf(bw, "%q: ", k)
		if r, ok := d.raw[k]; ok {
			bw.WriteString(r)
			continue
		}
		bw.WriteByte('[')
		for j, e := range d.sections[k] {
			if j > 0 {
				bw.WriteString(", ")
			}
			if len(e) == 1 && e[0].k == "" { // a damaged element written as it is
				bw.WriteString(e[0].v)
				continue
			}
			bw.WriteByte('{')
			for n, f := range e {
				if n > 0 {
					bw.WriteString(", ")
				}
				fmt.Fprintf(bw, "%q: %s", f.k, f.v)
			}
			bw.WriteByte('}')
		}
		bw.WriteByte(']')
	}
	bw.WriteByte('}')
	return bw.Flush()
}

func (d *genDoc) bytes(t testing.TB) []byte {
	var b bytes.Buffer
	if err := d.write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// damage applies one random change that the parsers must refuse or
// handle alike: a field removed, set to a wrong value, repeated, an id
// made a duplicate or a dangling reference, an element that is not an
// object, a section missing, repeated, moved or not an array.
func (d *genDoc) damage(rng *rand.Rand) string {
	secs := []string{"images", "categories", "annotations"}
	sec := secs[rng.IntN(3)]
	es := d.sections[sec]
	bad := []string{"null", `"x"`, "1.5", "-3", "[1, 2]", "{}", "true", "1e400", "[1, 2, 3, 4]", "[0, 0, -1, 2]", "2", "0", "1073741825",
		" [ 1 , 2.5e1 , 3 , 4 ] ", "[1e400, 0, 1, 1]", "[null, 1, 2, 3]", `["1", 2, 3, 4]`, "[1, 2, 3, 4, 5]", "[1, [2], 3, 4]", "[-0, 1E2, 0.5, 7]", "[1073741824, 0, 1, 0]", "-1e-400"}
	switch op := rng.IntN(10); {
	case op < 5 && len(es) > 0:
		e := es[rng.IntN(len(es))]
		if len(e) == 1 && e[0].k == "" {
			return "nothing"
		}
		n := rng.IntN(len(e))
		switch rng.IntN(4) {
		case 0:
			copy(e[n:], e[n+1:])
			es[rng.IntN(len(es))] = e[:len(e)-1]
			return "removed " + sec + " field"
		case 1:
			e[n].v = bad[rng.IntN(len(bad))]
			return "bad value " + sec + "." + e[n].k + " " + e[n].v
		case 2:
			for i := range e {
				if e[i].k == "id" || e[i].k == "image_id" || e[i].k == "category_id" {
					e[i].v = strconv.Itoa(rng.IntN(6) + 1)
				}
			}
			return "ids of an " + sec + " element changed"
		default:
			// A key repeated: the last one counts in both.
			es[rng.IntN(len(es))] = append(e, kv{e[n].k, bad[rng.IntN(len(bad))]})
			return "repeated key in " + sec
		}
	case op < 6 && len(es) > 0:
		es[rng.IntN(len(es))] = []kv{{"", bad[rng.IntN(7)]}}
		return "element of " + sec + " not an object"
	case op < 7:
		for i, k := range d.order {
			if k == sec {
				d.order = append(d.order[:i], d.order[i+1:]...)
				return "section " + sec + " missing"
			}
		}
	case op < 8:
		d.raw[sec] = bad[rng.IntN(7)]
		return "section " + sec + " not an array"
	case op < 9:
		rng.Shuffle(len(d.order), func(i, j int) { d.order[i], d.order[j] = d.order[j], d.order[i] })
		return "sections shuffled"
	default:
		d.order = append(d.order, "info")
		return "info repeated"
	}
	return "nothing"
}

// sameResult compares the two parsers' outputs.
func sameResult(t *testing.T, what string, doc []byte) {
	t.Helper()
	want, werr := parseCOCOTree(doc, "g.json")
	got, gerr := ParseCOCO(doc, "g.json")
	if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
		t.Fatalf("%s:\n doc %.300s\n streaming error %v\n whole-document error %v", what, doc, gerr, werr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: streaming result differs from the whole-document parser's:\n %+v\n %+v", what, got, want)
	}
}

// TestStreamingParserMatchesTree: the streaming ParseCOCO gives exactly
// the whole-document parser's result, data set or error message, on the
// hand-written fixtures, on generated COCO-like documents and on 3000
// documents damaged by one to three random changes (syntax cuts among
// them), and LoadCOCO (from the file) the same as ParseCOCO.
func TestStreamingParserMatchesTree(t *testing.T) {
	sameResult(t, "cocoGood", []byte(cocoGood))
	for _, c := range parseCOCOErrorCases {
		sameResult(t, c.in, []byte(c.in))
	}
	for _, in := range []string{"", " ", "{}", "[]", "null", "3", `"s"`, "{} {}", `{"images": [], "categories": [], "annotations": []} x`,
		`{"images": [], "categories": [], "annotations": []}`, `{"images": [], "images": [{"id": 1}], "categories": [], "annotations": []}`,
		`{"annotations": [{"id": 1, "image_id": 1, "category_id": 2, "bbox": [0, 0, 1, 1]}], "categories": [{"id": 2}], "images": [{"id": 1}]}`,
		`{"annotations": [{"id": 1, "image_id": 1, "category_id": 2, "bbox": [0, 0, 1, 1]}], "categories": [{"id": 3}], "images": [{"id": 1}]}`,
		`{"annotations": [{"id": 1, "image_id": 5, "category_id": 2, "bbox": [0, 0, -1, 1]}], "categories": [{"id": 2}], "images": [{"id": 1}]}`,
		`{"annotations": [{"id": 1, "image_id": 1, "category_id": 2, "bbox": [0, 0, 1, 1]}, {"id": 1}], "categories": [{"id": 2}], "images": [{"id": 1}, {"id": "a"}]}`,
		`{"images": [{"id": 1, "ID": 2}], "categories": [], "annotations": []}`,
		// Within an annotation, a dangling image or category comes before
		// any later check of that annotation, and after the earlier ones.
		`{"annotations": [{"id": 1, "image_id": 1, "category_id": 9, "bbox": [0, 0, -1, 1]}], "categories": [{"id": 2}], "images": [{"id": 1}]}`,
		`{"annotations": [{"id": 1, "image_id": 1, "category_id": 9, "bbox": [0, 0, 1, 1], "area": -1}], "categories": [{"id": 2}], "images": [{"id": 1}]}`,
		`{"annotations": [{"id": 1, "image_id": 1, "category_id": 9, "bbox": [0, 0, 1, 1], "iscrowd": 3}], "categories": [{"id": 2}], "images": [{"id": 1}]}`,
		`{"annotations": [{"id": 1, "image_id": 7, "category_id": "x", "bbox": [0, 0, 1, 1]}], "categories": [{"id": 2}], "images": [{"id": 1}]}`,
		`{"annotations": [{"id": 1, "image_id": 7, "bbox": [0, 0, 1, 1]}], "categories": [{"id": 2}], "images": [{"id": 1}]}`,
		`{"annotations": [{"id": 1, "image_id": "7", "category_id": 9}], "categories": [{"id": 2}], "images": [{"id": 1}]}`,
		`{"annotations": [{"id": 1, "image_id": 1, "category_id": 2, "bbox": [0, 0, 1, 1]}, {"id": 1, "image_id": 8}], "categories": [{"id": 2}], "images": [{"id": 1}]}`,
		`{"annotations": [{"id": 1, "image_id": 1, "category_id": 9, "bbox": [0, 0, 1, 1]}, {"id": 1, "image_id": 8}], "categories": [{"id": 2}], "images": [{"id": 1}]}`,
		`{"images": [{"Id": 1}], "categories": [], "annotations": []}`,
		"{\"images\": [\n{\"id\": 1}], \"categories\": [], \"annotations\": [\n{\"id\": 1,]}",
	} {
		sameResult(t, in, []byte(in))
	}
	for _, box := range []string{" [ 1 , 2.5e1 , 3 , 4 ] ", "[1e400, 0, 1, 1]", "[null, 1, 2, 3]", `["1", 2, 3, 4]`, "[1, 2, 3, 4, 5]",
		"[1, [2], 3, 4]", "[-0, 1E2, 0.5, 7]", "[1073741824, 0, 1, 0]", "[1,2,3]", "[]", `[1, 2, 3, "4,5"]`, "[0.1,0.2,0.3,0.4]"} {
		in := `{"images": [{"id": 1}], "categories": [{"id": 2}], "annotations": [{"id": 1, "image_id": 1, "category_id": 2, "area": -0, "iscrowd": 1.0, "bbox": ` + box + `}]}`
		sameResult(t, in, []byte(in))
	}
	rng := rand.New(rand.NewPCG(12, 1))
	clean := generate(genConfig{Images: 30, Annotations: 200, Categories: 5, Segmentation: true}, rng)
	doc := clean.bytes(t)
	sameResult(t, "generated", doc)
	path := filepath.Join(t.TempDir(), "instances.json")
	if err := os.WriteFile(path, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	fromFile, err := LoadCOCO(path)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := ParseCOCO(doc, path); !reflect.DeepEqual(fromFile, want) || len(fromFile.Annotations) != 200 {
		t.Fatal("LoadCOCO differs from ParseCOCO")
	}
	kinds := map[bool]int{}
	for n := range 3000 {
		d := generate(genConfig{Images: 4, Annotations: 6, Categories: 3, Segmentation: n%2 == 0}, rng)
		var what []string
		for range 1 + rng.IntN(3) {
			what = append(what, d.damage(rng))
		}
		b := d.bytes(t)
		if rng.IntN(8) == 0 {
			cut := rng.IntN(len(b))
			b = append(b[:cut:cut], "]}"[:rng.IntN(3)]...)
			what = append(what, fmt.Sprintf("cut at byte %d", cut))
		}
		sameResult(t, strings.Join(what, ", "), b)
		_, err := ParseCOCO(b, "g.json")
		kinds[err == nil]++
	}
	if kinds[true] < 100 || kinds[false] < 1000 {
		t.Errorf("damaged documents: %d parsed, %d refused; want both kinds", kinds[true], kinds[false])
	}
	// From a file, a syntax error names the line and column as before.
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte("{\"images\": [\n{\"id\": 1,}]}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCOCO(bad); err == nil || !strings.Contains(err.Error(), bad+": line 2 column 11") {
		t.Errorf("LoadCOCO of a syntax error: %v", err)
	}
}

// TestCOCOParserPeakMemory measures a parser's peak heap on a generated
// instances file of COCO train2017's size (GAP_COCO_MEM=path: the file,
// written there first if missing, never committed; GAP_COCO_PARSER=tree
// or stream, default stream; GAP_COCO_MEM_IMAGES and _ANNOTATIONS size it,
// default 100000 and 800000). Run it in a process of its own per parser
// under /usr/bin/time -v for the maximum RSS as well.
func TestCOCOParserPeakMemory(t *testing.T) {
	path := os.Getenv("GAP_COCO_MEM")
	if path == "" {
		t.Skip("GAP_COCO_MEM=path not set (a memory measurement, not a test)")
	}
	atoi := func(k string, def int) int {
		if v, err := strconv.Atoi(os.Getenv(k)); err == nil {
			return v
		}
		return def
	}
	if _, err := os.Stat(path); err != nil {
		cfg := genConfig{Images: atoi("GAP_COCO_MEM_IMAGES", 100000), Annotations: atoi("GAP_COCO_MEM_ANNOTATIONS", 800000), Categories: 80, Segmentation: true}
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := generate(cfg, rand.New(rand.NewPCG(1, 2))).write(f); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		runtime.GC()
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	var d *Dataset
	switch p := os.Getenv("GAP_COCO_PARSER"); p {
	case "tree":
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		d, err = parseCOCOTree(b, path)
		if err != nil {
			t.Fatal(err)
		}
	case "", "stream":
		if d, err = LoadCOCO(path); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("GAP_COCO_PARSER=%q: want tree or stream", p)
	}
	wall := time.Since(start)
	close(stop)
	<-done
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	t.Logf("parser %s: file %.0f MB, %d images, %d annotations: peak heap %.0f MB (sampled every 20 ms), live after GC %.0f MB, total allocated %.0f MB, %d GCs, wall %.1fs",
		os.Getenv("GAP_COCO_PARSER"), float64(fi.Size())/1e6, len(d.Images), len(d.Annotations), float64(peak.Load())/1e6,
		float64(after.HeapAlloc)/1e6, float64(after.TotalAlloc-before.TotalAlloc)/1e6, after.NumGC-before.NumGC, wall.Seconds())
	runtime.KeepAlive(d)
}

// FuzzParseCOCOStreamingMatchesTree compares the streaming parser with the
// whole-document one on arbitrary input (`make fuzz`): the same data set
// or the same error.
func FuzzParseCOCOStreamingMatchesTree(f *testing.F) {
	f.Add([]byte(cocoGood))
	for _, c := range parseCOCOErrorCases {
		f.Add([]byte(c.in))
	}
	f.Add(generate(genConfig{Images: 2, Annotations: 3, Categories: 2, Segmentation: true}, rand.New(rand.NewPCG(1, 1))).bytes(f))
	f.Fuzz(func(t *testing.T, doc []byte) {
		want, werr := parseCOCOTree(doc, "f.json")
		got, gerr := ParseCOCO(doc, "f.json")
		if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
			t.Fatalf("doc %q:\n streaming error %v\n whole-document error %v", doc, gerr, werr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("doc %q: streaming result %+v, whole-document %+v", doc, got, want)
		}
	})
}
