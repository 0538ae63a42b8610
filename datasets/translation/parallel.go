package translation

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// Pair is one aligned sentence pair.
type Pair struct {
	Src string // source sentence
	Tgt string // target sentence
}

// ReadParallel reads two aligned UTF-8 files, one sentence per line. Line
// counts that differ are an error naming both files and both counts.
func ReadParallel(srcPath, tgtPath string) ([]Pair, error) {
	src, err := ReadLines(srcPath)
	if err != nil {
		return nil, fmt.Errorf("read parallel: %w", err)
	}
	tgt, err := ReadLines(tgtPath)
	if err != nil {
		return nil, fmt.Errorf("read parallel: %w", err)
	}
	return zipLines(src, tgt, srcPath, tgtPath)
}

// ParseParallel is ReadParallel on two readers named srcName and tgtName.
func ParseParallel(src, tgt io.Reader, srcName, tgtName string) ([]Pair, error) {
	s, err := ParseLines(src, srcName)
	if err != nil {
		return nil, fmt.Errorf("read parallel: %w", err)
	}
	t, err := ParseLines(tgt, tgtName)
	if err != nil {
		return nil, fmt.Errorf("read parallel: %w", err)
	}
	return zipLines(s, t, srcName, tgtName)
}

func zipLines(src, tgt []string, srcName, tgtName string) ([]Pair, error) {
	if len(src) != len(tgt) {
		return nil, fmt.Errorf("read parallel: %s has %d lines but %s has %d lines; the files must be aligned line by line",
			srcName, len(src), tgtName, len(tgt))
	}
	out := make([]Pair, len(src))
	for i := range src {
		out[i] = Pair{Src: src[i], Tgt: tgt[i]}
	}
	return out, nil
}

// ReadTSV reads a parallel corpus stored as one "source<TAB>target" pair per
// line. A line without exactly one tab is an error naming the file and line.
func ReadTSV(path string) ([]Pair, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read tsv: %w", err)
	}
	defer f.Close()
	return ParseTSV(f, path)
}

// ParseTSV is ReadTSV on a reader; name labels errors.
func ParseTSV(r io.Reader, name string) ([]Pair, error) {
	lines, err := ParseLines(r, name)
	if err != nil {
		return nil, fmt.Errorf("read tsv: %w", err)
	}
	out := make([]Pair, len(lines))
	for i, l := range lines {
		src, tgt, ok := strings.Cut(l, "\t")
		if !ok {
			return nil, fmt.Errorf("read tsv: %s:%d: no tab; want \"source<TAB>target\"", name, i+1)
		}
		if strings.Contains(tgt, "\t") {
			return nil, fmt.Errorf("read tsv: %s:%d: %d tabs; want exactly one (source<TAB>target)", name, i+1, strings.Count(l, "\t"))
		}
		out[i] = Pair{Src: src, Tgt: tgt}
	}
	return out, nil
}

// WriteTSV writes pairs as "source<TAB>target" lines. Sentences must not
// contain tabs or newlines.
func WriteTSV(w io.Writer, pairs []Pair) error {
	for i, p := range pairs {
		if strings.ContainsAny(p.Src, "\t\n\r") || strings.ContainsAny(p.Tgt, "\t\n\r") {
			return fmt.Errorf("write tsv: pair %d contains a tab or newline", i)
		}
		if _, err := io.WriteString(w, p.Src+"\t"+p.Tgt+"\n"); err != nil {
			return fmt.Errorf("write tsv: %w", err)
		}
	}
	return nil
}
