package detection

import (
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// VOCObject is one <object> of a Pascal VOC annotation. Corners are as
// written in the file (VOC's 1-based inclusive pixel indices).
type VOCObject struct {
	Name                   string
	Difficult, Truncated   bool
	XMin, YMin, XMax, YMax float64
}

// VOCAnnotation is one Pascal VOC annotation file.
type VOCAnnotation struct {
	Filename             string
	Width, Height, Depth int
	Objects              []VOCObject
}

type vocXML struct {
	XMLName  xml.Name `xml:"annotation"`
	Filename string   `xml:"filename"`
	Size     struct {
		Width  string `xml:"width"`
		Height string `xml:"height"`
		Depth  string `xml:"depth"`
	} `xml:"size"`
	Objects []struct {
		Name      *string `xml:"name"`
		Difficult string  `xml:"difficult"`
		Truncated string  `xml:"truncated"`
		BndBox    *struct {
			XMin *string `xml:"xmin"`
			YMin *string `xml:"ymin"`
			XMax *string `xml:"xmax"`
			YMax *string `xml:"ymax"`
		} `xml:"bndbox"`
	} `xml:"object"`
}

// LoadVOC reads one Pascal VOC annotation file (see ParseVOC).
func LoadVOC(path string) (*VOCAnnotation, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("detection: %w", err)
	}
	defer f.Close()
	return ParseVOC(f, path)
}

// ParseVOC decodes a Pascal VOC annotation: <filename>, <size>, and per
// <object> its <name>, <difficult> (0/1, default 0), <truncated> and
// <bndbox> xmin/ymin/xmax/ymax (numbers, 0 <= xmin <= xmax, 0 <= ymin <=
// ymax, and inside the image when <size> gives it).
// Errors name the file and the element, e.g. "a.xml: object[1].bndbox.xmax:
// missing".
func ParseVOC(r io.Reader, name string) (*VOCAnnotation, error) {
	var v vocXML
	dec := xml.NewDecoder(r)
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s: malformed VOC XML (near byte offset %d): %w", name, dec.InputOffset(), err)
	}
	a := &VOCAnnotation{Filename: strings.TrimSpace(v.Filename)}
	var err error
	if a.Width, err = optInt(v.Size.Width, name+": size.width"); err != nil {
		return nil, err
	}
	if a.Height, err = optInt(v.Size.Height, name+": size.height"); err != nil {
		return nil, err
	}
	if a.Depth, err = optInt(v.Size.Depth, name+": size.depth"); err != nil {
		return nil, err
	}
	if a.Width < 0 || a.Height < 0 || a.Width > maxCoord || a.Height > maxCoord || a.Depth < 0 {
		return nil, fmt.Errorf("%s: size: %dx%dx%d, want non-negative width, height and depth (width and height at most %d)", name, a.Width, a.Height, a.Depth, maxCoord)
	}
	for i, o := range v.Objects {
		where := fmt.Sprintf("%s: object[%d]", name, i)
		if o.Name == nil || strings.TrimSpace(*o.Name) == "" {
			return nil, fmt.Errorf("%s.name: missing", where)
		}
		obj := VOCObject{Name: strings.TrimSpace(*o.Name)}
		d, err := optInt(o.Difficult, where+".difficult")
		if err != nil {
			return nil, err
		}
		obj.Difficult = d != 0
		t, err := optInt(o.Truncated, where+".truncated")
		if err != nil {
			return nil, err
		}
		obj.Truncated = t != 0
		if o.BndBox == nil {
			return nil, fmt.Errorf("%s.bndbox: missing", where)
		}
		for _, c := range []struct {
			s   *string
			dst *float64
			tag string
		}{{o.BndBox.XMin, &obj.XMin, "xmin"}, {o.BndBox.YMin, &obj.YMin, "ymin"}, {o.BndBox.XMax, &obj.XMax, "xmax"}, {o.BndBox.YMax, &obj.YMax, "ymax"}} {
			if c.s == nil {
				return nil, fmt.Errorf("%s.bndbox.%s: missing", where, c.tag)
			}
			f, err := strconv.ParseFloat(strings.TrimSpace(*c.s), 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("%s.bndbox.%s: expected a number, got %q", where, c.tag, *c.s)
			}
			*c.dst = f
		}
		if obj.XMax < obj.XMin || obj.YMax < obj.YMin {
			return nil, fmt.Errorf("%s.bndbox: max corner (%g,%g) before min corner (%g,%g)", where, obj.XMax, obj.YMax, obj.XMin, obj.YMin)
		}
		if obj.XMin < 0 || obj.YMin < 0 || obj.XMax > maxCoord || obj.YMax > maxCoord {
			return nil, fmt.Errorf("%s.bndbox: (%g,%g)-(%g,%g) outside 0..%d", where, obj.XMin, obj.YMin, obj.XMax, obj.YMax, maxCoord)
		}
		// VOC corners are 1-based pixel indices, so xmax = width is the last
		// column; 0 is tolerated as some VOC2012 files use it.
		if a.Width > 0 && a.Height > 0 && (obj.XMax > float64(a.Width) || obj.YMax > float64(a.Height)) {
			return nil, fmt.Errorf("%s.bndbox: box (%g,%g)-(%g,%g) extends outside the %dx%d image", where, obj.XMin, obj.YMin, obj.XMax, obj.YMax, a.Width, a.Height)
		}
		a.Objects = append(a.Objects, obj)
	}
	return a, nil
}

func optInt(s, where string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		// Some VOC files write sizes and flags as "500.0".
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<31 {
			return 0, fmt.Errorf("%s: expected an integer, got %q", where, s)
		}
		n = int(f)
	}
	return n, nil
}

// VOCClasses are the 20 Pascal VOC classes in the devkit's order.
var VOCClasses = []string{"aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
	"diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor"}

// VOCToDataset converts VOC annotations to a Dataset: image i gets id
// i+1, class classes[k] category id k+1 (nil classes: the sorted object
// names found), annotations ids from 1. A box becomes X=xmin, Y=ymin,
// W=xmax-xmin, H=ymax-ymin (use VOCOptions.PixelInclusive for the
// devkit's +1 convention). Difficult flags are kept. An object name not in
// classes is an error.
func VOCToDataset(anns []*VOCAnnotation, names []string, classes []string) (*Dataset, error) {
	if classes == nil {
		set := map[string]bool{}
		for _, a := range anns {
			for _, o := range a.Objects {
				set[o.Name] = true
			}
		}
		for c := range set {
			classes = append(classes, c)
		}
		sort.Strings(classes)
	}
	idx := map[string]int64{}
	d := &Dataset{}
	for k, c := range classes {
		idx[c] = int64(k + 1)
		d.Categories = append(d.Categories, Category{ID: int64(k + 1), Name: c})
	}
	var id int64
	for i, a := range anns {
		fn := a.Filename
		if fn == "" && i < len(names) {
			fn = strings.TrimSuffix(filepath.Base(names[i]), ".xml") + ".jpg"
		}
		d.Images = append(d.Images, ImageInfo{ID: int64(i + 1), FileName: fn, Width: a.Width, Height: a.Height})
		for j, o := range a.Objects {
			c, ok := idx[o.Name]
			if !ok {
				where := fmt.Sprint("annotation ", i)
				if i < len(names) {
					where = names[i]
				}
				return nil, fmt.Errorf("%s: object[%d].name: unknown class %q", where, j, o.Name)
			}
			id++
			b := Box{X: o.XMin, Y: o.YMin, W: o.XMax - o.XMin, H: o.YMax - o.YMin}
			d.Annotations = append(d.Annotations, Annotation{ID: id, ImageID: int64(i + 1), CategoryID: c, BBox: b, Area: b.Area(), Difficult: o.Difficult})
		}
	}
	return d, nil
}
