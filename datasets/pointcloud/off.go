package pointcloud

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// ReadOFF reads an OFF mesh file (see ParseOFF).
func ReadOFF(path string) (*Mesh, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read off: %w", err)
	}
	defer f.Close()
	return ParseOFF(bufio.NewReader(f), path)
}

// ParseOFF parses the Object File Format: a header keyword (OFF, or a
// variant such as COFF, NOFF, CNOFF whose N means per-vertex normals), the
// counts "V F [E]", V vertex lines "x y z [...]" and F face lines
// "n i1 ... in [...]". It accepts ModelNet40's quirk of the counts on the
// header line ("OFF490 518 0" or "OFF 490 518 0"), '#' comments and blank
// lines. Extra per-vertex or per-face values (colours) are ignored.
// Polygons are triangulated as fans. name labels errors.
func ParseOFF(r io.Reader, name string) (*Mesh, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxLine)
	lineNo := 0
	next := func() ([]string, bool) {
		for sc.Scan() {
			lineNo++
			l := sc.Text()
			if i := strings.IndexByte(l, '#'); i >= 0 {
				l = l[:i]
			}
			if f := strings.Fields(l); len(f) > 0 {
				return f, true
			}
		}
		return nil, false
	}
	errf := func(format string, a ...any) error {
		return fmt.Errorf("off: %s:%d: %s", name, lineNo, fmt.Sprintf(format, a...))
	}
	f, ok := next()
	if !ok {
		return nil, scanErr(sc, name, "off", lineNo+1, "empty file, want header \"OFF\"")
	}
	head := f[0]
	k := strings.Index(head, "OFF")
	if k < 0 || strings.Trim(head[:k], "CNST4") != "" {
		return nil, errf("header %q, want OFF", head)
	}
	hasNormals := strings.Contains(head[:k], "N")
	rest := append([]string(nil), f[1:]...)
	if tail := head[k+3:]; tail != "" {
		rest = append([]string{tail}, rest...)
	}
	if len(rest) == 0 {
		if f, ok = next(); !ok {
			return nil, scanErr(sc, name, "off", lineNo+1, "missing counts line \"V F E\"")
		}
		rest = f
	}
	if len(rest) < 2 {
		return nil, errf("counts %q, want \"V F [E]\"", strings.Join(rest, " "))
	}
	nv, err1 := strconv.Atoi(rest[0])
	nf, err2 := strconv.Atoi(rest[1])
	if err1 != nil || err2 != nil || nv < 0 || nf < 0 {
		return nil, errf("counts %q, want non-negative integers \"V F [E]\"", strings.Join(rest, " "))
	}
	m := &Mesh{Vertices: make([]float32, 0, capHint(3*nv))}
	if hasNormals {
		m.Normals = make([]float32, 0, capHint(3*nv))
	}
	for i := 0; i < nv; i++ {
		f, ok := next()
		if !ok {
			return nil, scanErr(sc, name, "off", lineNo+1, fmt.Sprintf("file ends after %d of %d vertices", i, nv))
		}
		want := 3
		if hasNormals {
			want = 6
		}
		if len(f) < want {
			return nil, errf("vertex %d has %d values, want %d", i, len(f), want)
		}
		for j := 0; j < want; j++ {
			v, err := strconv.ParseFloat(f[j], 32)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, errf("vertex %d value %d: %q, want a finite number", i, j+1, f[j])
			}
			if j < 3 {
				m.Vertices = append(m.Vertices, float32(v))
			} else {
				m.Normals = append(m.Normals, float32(v))
			}
		}
	}
	var poly []int32
	for i := 0; i < nf; i++ {
		f, ok := next()
		if !ok {
			return nil, scanErr(sc, name, "off", lineNo+1, fmt.Sprintf("file ends after %d of %d faces", i, nf))
		}
		n, err := strconv.Atoi(f[0])
		if err != nil || n < 1 || len(f) < n+1 {
			return nil, errf("face %d: %q, want \"n i1 ... in\"", i, strings.Join(f, " "))
		}
		poly = poly[:0]
		for _, s := range f[1 : n+1] {
			v, err := strconv.ParseInt(s, 10, 32)
			if err != nil {
				return nil, errf("face %d: index %q is not an integer", i, s)
			}
			poly = append(poly, int32(v))
		}
		if err := m.addPolygon(poly, nv); err != nil {
			return nil, errf("face %d: %v", i, err)
		}
	}
	return m, nil
}

// scanErr reports why a scanner stopped at line (1-based): a read error, a
// line over the scanner's limit, or msg when the input simply ended.
func scanErr(sc *bufio.Scanner, name, format string, line int, msg string) error {
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("%s: %s:%d: line longer than %d bytes", format, name, line, maxLine)
		}
		return fmt.Errorf("%s: %s:%d: %w", format, name, line, err)
	}
	return fmt.Errorf("%s: %s: %s", format, name, msg)
}

// maxLine bounds one line of a text point-cloud or mesh file.
const maxLine = 1 << 20
