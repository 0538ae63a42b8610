package translation

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"unicode/utf8"
)

// maxLineBytes bounds one line of text input.
const maxLineBytes = 16 << 20

// ReadLines reads a UTF-8 text file as lines without their terminators
// ("\n" or "\r\n"); a final line without a newline counts, a trailing
// newline does not start an extra empty line. Invalid UTF-8 is an error
// naming the file and line.
func ReadLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read lines: %w", err)
	}
	defer f.Close()
	return ParseLines(f, path)
}

// ParseLines is ReadLines on a reader; name labels errors.
func ParseLines(r io.Reader, name string) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxLineBytes)
	var out []string
	for n := 1; sc.Scan(); n++ {
		b := bytes.TrimSuffix(sc.Bytes(), []byte("\r"))
		if !utf8.Valid(b) {
			return nil, fmt.Errorf("%s:%d: invalid UTF-8 (byte %d of the line)", name, n, invalidAt(b)+1)
		}
		out = append(out, string(b))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w (lines are limited to %d bytes)", name, len(out)+1, err, maxLineBytes)
	}
	return out, nil
}

func invalidAt(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}
