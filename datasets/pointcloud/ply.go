package pointcloud

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// ReadPLY reads a PLY file (see ParsePLY).
func ReadPLY(path string) (*Mesh, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read ply: %w", err)
	}
	defer f.Close()
	return ParsePLY(f, path)
}

type plyProp struct {
	name     string
	typ      string // scalar type, or item type of a list
	list     bool
	countTyp string
}

type plyElement struct {
	name  string
	count int
	props []plyProp
}

var plySizes = map[string]int{
	"char": 1, "int8": 1, "uchar": 1, "uint8": 1,
	"short": 2, "int16": 2, "ushort": 2, "uint16": 2,
	"int": 4, "int32": 4, "uint": 4, "uint32": 4,
	"float": 4, "float32": 4, "double": 8, "float64": 8,
}

// maxPLYList bounds the length of one list property (a face's vertices).
const maxPLYList = 1 << 16

// ParsePLY parses a PLY file in ascii, binary_little_endian or
// binary_big_endian format. From the "vertex" element it takes x, y, z,
// the normals nx, ny, nz when all three are present, and a per-vertex label
// from a property named "label" (or "scalar_label", "class"); from the
// "face" element the list "vertex_indices" (or "vertex_index"), fan
// triangulated. Vertex positions must be finite and face indices of an
// integer type. Other elements and properties are read and ignored. Errors
// name the file and the header line, body line (ascii) or byte offset
// (binary) and what was expected.
func ParsePLY(r io.Reader, name string) (*Mesh, error) {
	br := bufio.NewReader(r)
	var elems []plyElement
	format := ""
	offset := 0
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadString('\n')
		offset += len(line)
		if err != nil && (err != io.EOF || line == "") {
			return nil, fmt.Errorf("ply: %s:%d: header ends before end_header: %w", name, lineNo, orEOF(err))
		}
		f := strings.Fields(line)
		bad := func(want string) error {
			return fmt.Errorf("ply: %s:%d: %q, want %s", name, lineNo, strings.TrimSpace(line), want)
		}
		if lineNo == 1 {
			if len(f) != 1 || f[0] != "ply" {
				return nil, bad(`"ply"`)
			}
			continue
		}
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "comment", "obj_info":
		case "format":
			if len(f) < 2 || (f[1] != "ascii" && f[1] != "binary_little_endian" && f[1] != "binary_big_endian") {
				return nil, bad("format ascii|binary_little_endian|binary_big_endian 1.0")
			}
			format = f[1]
		case "element":
			if len(f) != 3 {
				return nil, bad("element NAME COUNT")
			}
			n, err := strconv.Atoi(f[2])
			if err != nil || n < 0 {
				return nil, bad("element NAME COUNT with a non-negative count")
			}
			elems = append(elems, plyElement{name: f[1], count: n})
		case "property":
			if len(elems) == 0 {
				return nil, bad("element before property")
			}
			e := &elems[len(elems)-1]
			switch {
			case len(f) == 3 && plySizes[f[1]] > 0:
				e.props = append(e.props, plyProp{name: f[2], typ: f[1]})
			case len(f) == 5 && f[1] == "list" && plySizes[f[2]] > 0 && plySizes[f[3]] > 0 && !isFloatType(f[2]):
				e.props = append(e.props, plyProp{name: f[4], typ: f[3], list: true, countTyp: f[2]})
			default:
				return nil, bad("property TYPE NAME or property list INTTYPE TYPE NAME")
			}
		case "end_header":
			if format == "" {
				return nil, bad("a format line before end_header")
			}
			var src plySource
			if format == "ascii" {
				src = &plyASCII{r: br, name: name, line: lineNo + 1}
			} else {
				var order binary.ByteOrder = binary.LittleEndian
				if format == "binary_big_endian" {
					order = binary.BigEndian
				}
				src = &plyBinary{r: br, name: name, off: offset, order: order}
			}
			return readPLYBody(src, elems, name)
		default:
			// Some writers (Blender 2.47, see assimp's Wuson.ply) put free
			// text in the header without "comment"; skip such lines.
		}
		if err == io.EOF {
			return nil, fmt.Errorf("ply: %s:%d: header ends before end_header", name, lineNo)
		}
	}
}

func orEOF(err error) error {
	if err == nil {
		return io.ErrUnexpectedEOF
	}
	return err
}

func isFloatType(t string) bool {
	return t == "float" || t == "float32" || t == "double" || t == "float64"
}

func readPLYBody(src plySource, elems []plyElement, name string) (*Mesh, error) {
	m := &Mesh{}
	nv := -1
	for _, e := range elems {
		idx := map[string]int{}
		for i, p := range e.props {
			idx[p.name] = i
		}
		vals := make([]float64, len(e.props))
		var lists [][]int64
		if e.name == "vertex" {
			if nv >= 0 {
				return nil, fmt.Errorf("ply: %s: two vertex elements", name)
			}
			nv = e.count
			for _, p := range []string{"x", "y", "z"} {
				if i, ok := idx[p]; !ok || e.props[i].list {
					return nil, fmt.Errorf("ply: %s: vertex element has no scalar property %q", name, p)
				}
			}
		}
		_, nx := idx["nx"]
		_, ny := idx["ny"]
		_, nz := idx["nz"]
		hasN := e.name == "vertex" && nx && ny && nz
		labelAt := -1
		for _, l := range []string{"label", "scalar_label", "class"} {
			if i, ok := idx[l]; ok && !e.props[i].list && labelAt < 0 {
				labelAt = i
			}
		}
		faceAt := -1
		for _, l := range []string{"vertex_indices", "vertex_index"} {
			if i, ok := idx[l]; ok && e.props[i].list && faceAt < 0 {
				faceAt = i
			}
		}
		if e.name == "face" && faceAt >= 0 && isFloatType(e.props[faceAt].typ) {
			return nil, fmt.Errorf("ply: %s: header: face property %s is a list of %s, want an integer type (vertex indices)", name, e.props[faceAt].name, e.props[faceAt].typ)
		}
		if e.name == "vertex" {
			m.Vertices = make([]float32, 0, capHint(3*e.count))
			if hasN {
				m.Normals = make([]float32, 0, capHint(3*e.count))
			}
			if labelAt >= 0 {
				m.Labels = make([]int32, 0, capHint(e.count))
			}
		}
		lists = make([][]int64, len(e.props))
		if len(e.props) == 0 {
			continue // nothing to read, whatever the count
		}
		for k := 0; k < e.count; k++ {
			for i, p := range e.props {
				if p.list {
					n, err := src.scalar(p.countTyp)
					if err != nil {
						return nil, fmt.Errorf("%w (element %s %d, list %s count)", err, e.name, k, p.name)
					}
					if n < 0 || n > maxPLYList || n != math.Trunc(n) {
						return nil, fmt.Errorf("ply: %s: element %s %d: list %s length %v, want 0..%d", name, e.name, k, p.name, n, maxPLYList)
					}
					lists[i] = lists[i][:0]
					for j := 0; j < int(n); j++ {
						v, err := src.scalar(p.typ)
						if err != nil {
							return nil, fmt.Errorf("%w (element %s %d, list %s item %d)", err, e.name, k, p.name, j)
						}
						lists[i] = append(lists[i], int64(v))
					}
					continue
				}
				v, err := src.scalar(p.typ)
				if err != nil {
					return nil, fmt.Errorf("%w (element %s %d, property %s)", err, e.name, k, p.name)
				}
				vals[i] = v
			}
			switch e.name {
			case "vertex":
				// Positions must be finite; normals are kept as read (scans
				// such as assimp's pond.0.ply carry NaN normals).
				for _, p := range []string{"x", "y", "z"} {
					if v := float32(vals[idx[p]]); math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						return nil, fmt.Errorf("ply: %s: vertex %d: %s = %v, want a finite number", name, k, p, vals[idx[p]])
					}
				}
				m.Vertices = append(m.Vertices, float32(vals[idx["x"]]), float32(vals[idx["y"]]), float32(vals[idx["z"]]))
				if hasN {
					m.Normals = append(m.Normals, float32(vals[idx["nx"]]), float32(vals[idx["ny"]]), float32(vals[idx["nz"]]))
				}
				if labelAt >= 0 {
					m.Labels = append(m.Labels, int32(vals[labelAt]))
				}
			case "face":
				if faceAt < 0 {
					continue
				}
				if nv < 0 {
					return nil, fmt.Errorf("ply: %s: face element before vertex element", name)
				}
				poly := make([]int32, len(lists[faceAt]))
				for j, v := range lists[faceAt] {
					if v < 0 || v > math.MaxInt32 {
						v = -1
					}
					poly[j] = int32(v)
				}
				if err := m.addPolygon(poly, nv); err != nil {
					return nil, fmt.Errorf("ply: %s: face %d: %v", name, k, err)
				}
			}
		}
	}
	if nv < 0 {
		return nil, fmt.Errorf("ply: %s: no vertex element", name)
	}
	return m, nil
}

// plySource yields the scalar values of a PLY body in order.
type plySource interface {
	scalar(typ string) (float64, error)
}

type plyASCII struct {
	r     *bufio.Reader
	name  string
	line  int
	words []string
}

func (p *plyASCII) scalar(typ string) (float64, error) {
	for len(p.words) == 0 {
		l, err := p.r.ReadString('\n')
		if l == "" && err != nil {
			return 0, fmt.Errorf("ply: %s:%d: file ends, want a %s value: %w", p.name, p.line, typ, orEOF(errNilEOF(err)))
		}
		p.words = strings.Fields(l)
		if len(p.words) == 0 {
			p.line++
			continue
		}
		p.line++
	}
	w := p.words[0]
	p.words = p.words[1:]
	line := p.line - 1
	if isFloatType(typ) {
		v, err := strconv.ParseFloat(w, 64)
		if err != nil {
			return 0, fmt.Errorf("ply: %s:%d: %q, want a %s", p.name, line, w, typ)
		}
		return v, nil
	}
	v, err := strconv.ParseInt(w, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("ply: %s:%d: %q, want an integer (%s)", p.name, line, w, typ)
	}
	return float64(v), nil
}

func errNilEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

type plyBinary struct {
	r     *bufio.Reader
	name  string
	off   int
	order binary.ByteOrder
	buf   [8]byte
}

func (p *plyBinary) scalar(typ string) (float64, error) {
	n := plySizes[typ]
	b := p.buf[:n]
	if _, err := io.ReadFull(p.r, b); err != nil {
		return 0, fmt.Errorf("ply: %s: byte %d: want %d bytes of %s: %w", p.name, p.off, n, typ, errNilEOF(err))
	}
	p.off += n
	switch typ {
	case "char", "int8":
		return float64(int8(b[0])), nil
	case "uchar", "uint8":
		return float64(b[0]), nil
	case "short", "int16":
		return float64(int16(p.order.Uint16(b))), nil
	case "ushort", "uint16":
		return float64(p.order.Uint16(b)), nil
	case "int", "int32":
		return float64(int32(p.order.Uint32(b))), nil
	case "uint", "uint32":
		return float64(p.order.Uint32(b)), nil
	case "float", "float32":
		return float64(math.Float32frombits(p.order.Uint32(b))), nil
	}
	return math.Float64frombits(p.order.Uint64(b)), nil
}
