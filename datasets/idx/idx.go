// Package idx reads the IDX file format used by MNIST and Fashion-MNIST
// (http://yann.lecun.com/exdb/mnist/), plain or gzip-compressed, and finds
// the MNIST and Fashion-MNIST files that this machine ships.
package idx

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// TypeUint8 is the IDX type code of unsigned bytes, the only element
// type this package decodes.
const TypeUint8 = 0x08

// MaxElements bounds the element count that a header may announce; a
// larger count is reported as an error rather than attempted.
const MaxElements = 1 << 32

// File is a decoded IDX file of unsigned bytes.
type File struct {
	// Dims are the dimension sizes from the header, outermost first
	// (for MNIST images: count, rows, columns).
	Dims []int
	// Data holds the elements in row-major order; len(Data) is the
	// product of Dims.
	Data []uint8
}

// Read decodes an IDX stream of unsigned bytes. name is used in error
// messages only (usually the file path). The stream may be gzip
// compressed; this is detected from its first two bytes. Errors name the
// byte offset (in the uncompressed stream) where decoding failed.
func Read(r io.Reader, name string) (*File, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(2)
	if err == nil && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: gzip header: %w", name, err)
		}
		defer zr.Close()
		return decode(zr, name)
	}
	return decode(br, name)
}

// ReadFile opens and decodes the IDX file at path (see Read).
func ReadFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("idx: %w", err)
	}
	defer f.Close()
	return Read(f, path)
}

func decode(r io.Reader, name string) (*File, error) {
	var magic [4]byte
	if n, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, fmt.Errorf("%s: byte offset %d: truncated magic number (%d of 4 bytes): %w", name, n, n, readErr(err))
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, fmt.Errorf("%s: byte offset 0: bad magic number % x: first two bytes must be zero", name, magic[:])
	}
	if magic[2] != TypeUint8 {
		return nil, fmt.Errorf("%s: byte offset 2: unsupported element type 0x%02x (only 0x08, unsigned byte, is supported)", name, magic[2])
	}
	nd := int(magic[3])
	if nd == 0 {
		return nil, fmt.Errorf("%s: byte offset 3: zero dimensions", name)
	}
	dimBuf := make([]byte, 4*nd)
	if n, err := io.ReadFull(r, dimBuf); err != nil {
		return nil, fmt.Errorf("%s: byte offset %d: truncated header (%d dimensions announced): %w", name, 4+n, nd, readErr(err))
	}
	dims := make([]int, nd)
	total := uint64(1)
	for i := range dims {
		d := binary.BigEndian.Uint32(dimBuf[4*i:])
		dims[i] = int(d)
		total *= uint64(d)
		if total > MaxElements {
			return nil, fmt.Errorf("%s: byte offset %d: header announces more than %d elements", name, 4+4*i, uint64(MaxElements))
		}
	}
	hdr := int64(4 + 4*nd)
	// Read at most total bytes without trusting the header for the
	// allocation size: bytes.Buffer grows with what is actually there.
	var buf bytes.Buffer
	if total < 1<<26 {
		buf.Grow(int(total))
	}
	n, err := buf.ReadFrom(io.LimitReader(r, int64(total)))
	if err != nil {
		return nil, fmt.Errorf("%s: byte offset %d: %w", name, hdr+n, err)
	}
	if uint64(n) != total {
		return nil, fmt.Errorf("%s: byte offset %d: truncated data: got %d of %d bytes announced by dimensions %v", name, hdr+n, n, total, dims)
	}
	return &File{Dims: dims, Data: buf.Bytes()}, nil
}

func readErr(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Encode writes f in the (uncompressed) IDX format. It is used to build
// test fixtures.
func Encode(w io.Writer, f *File) error {
	if len(f.Dims) == 0 || len(f.Dims) > 255 {
		return fmt.Errorf("idx: encode: %d dimensions (want 1..255)", len(f.Dims))
	}
	total := 1
	for _, d := range f.Dims {
		total *= d
	}
	if total != len(f.Data) {
		return fmt.Errorf("idx: encode: dims %v hold %d elements, data has %d", f.Dims, total, len(f.Data))
	}
	hdr := make([]byte, 4+4*len(f.Dims))
	hdr[2] = TypeUint8
	hdr[3] = byte(len(f.Dims))
	for i, d := range f.Dims {
		binary.BigEndian.PutUint32(hdr[4+4*i:], uint32(d))
	}
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("idx: encode: %w", err)
	}
	if _, err := w.Write(f.Data); err != nil {
		return fmt.Errorf("idx: encode: %w", err)
	}
	return nil
}
