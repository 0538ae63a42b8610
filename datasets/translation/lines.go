package translation

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"
)

// bom is the UTF-8 encoding of U+FEFF, the byte-order mark.
var bom = []byte{0xef, 0xbb, 0xbf}

// maxLineBytes bounds one line of text input.
const maxLineBytes = 16 << 20

// ReadLines reads a UTF-8 text file as lines without their terminators
// ("\n" or "\r\n"); a final line without a newline counts, a trailing
// newline does not start an extra empty line. Invalid UTF-8 is an error
// naming the file and line, and so is a NUL byte (a binary file); a UTF-8
// byte-order mark at the start of the file is dropped, as sacreBLEU
// does. A folder is refused by name.
func ReadLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read lines: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, fmt.Errorf("%s: is a folder, want a text file of one segment per line", path)
	}
	return ParseLines(f, path)
}

// ParseLines is ReadLines on a reader; name labels errors.
func ParseLines(r io.Reader, name string) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxLineBytes)
	var out []string
	for n := 1; sc.Scan(); n++ {
		b := bytes.TrimSuffix(sc.Bytes(), []byte("\r"))
		if n == 1 {
			b = bytes.TrimPrefix(b, bom)
		}
		if !utf8.Valid(b) {
			return nil, fmt.Errorf("%s:%d: invalid UTF-8 (byte %d of the line)", name, n, invalidAt(b)+1)
		}
		if i := bytes.IndexByte(b, 0); i >= 0 {
			return nil, fmt.Errorf("%s:%d: NUL byte at byte %d of the line (a binary file?), want UTF-8 text", name, n, i+1)
		}
		out = append(out, string(b))
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s:%d: line longer than %d bytes", name, len(out)+1, maxLineBytes)
		}
		return nil, fmt.Errorf("%s:%d: %w", name, len(out)+1, err)
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
