// Package idx reads the IDX file format used by MNIST and Fashion-MNIST
// (http://yann.lecun.com/exdb/mnist/), plain or gzip-compressed, and finds
// the MNIST and Fashion-MNIST files that this machine ships.
package idx

import (
	"bufio"
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
// larger count is reported as an error before any data is read. 1 GiB is
// twenty times the largest MNIST-like file (60000 images of 28x28).
const MaxElements = 1 << 30

// maxDeflateRatio is the largest expansion factor of DEFLATE (about
// 1032:1 for long runs of one byte); a gzip file whose header announces
// more data than its compressed size times this ratio cannot hold it.
const maxDeflateRatio = 1032

// growStep is how much decoded data is read before trusting the header
// with a larger allocation: memory grows with the bytes actually present,
// never with what a header claims.
const growStep = 16 << 20

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
// byte offset (in the uncompressed stream) where decoding failed. Data
// after the elements the header announces is an error.
func Read(r io.Reader, name string) (*File, error) {
	return read(r, name, -1)
}

// read is Read with the stream's size in bytes when known (size < 0:
// unknown), used to refuse headers that announce more than it can hold.
func read(r io.Reader, name string, size int64) (*File, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(2)
	if err == nil && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: gzip header: %w", name, err)
		}
		defer zr.Close()
		limit := int64(-1)
		if size >= 0 {
			limit = size * maxDeflateRatio
		}
		return decode(zr, name, limit, true)
	}
	return decode(br, name, size, false)
}

// ReadFile opens and decodes the IDX file at path (see Read). The file's
// size bounds what its header may announce: a plain file must hold
// exactly the announced bytes, a gzip file at most its size times
// DEFLATE's largest expansion ratio, so a decompression bomb is refused
// before it is inflated.
func ReadFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("idx: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("idx: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("idx: %s: is a folder, want an IDX file", path)
	}
	size := int64(-1)
	if st.Mode().IsRegular() {
		size = st.Size()
	}
	return read(f, path, size)
}

// decode reads the header and the data. limit, when >= 0, is the most
// uncompressed bytes the stream can hold (its size for a plain file).
func decode(r io.Reader, name string, limit int64, gz bool) (*File, error) {
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
	if limit >= 0 && int64(total)+hdr > limit {
		if gz {
			return nil, fmt.Errorf("%s: byte offset 4: dimensions %v announce %d bytes, more than a gzip file of %d bytes can hold (at most %d:1)", name, dims, total, limit/maxDeflateRatio, maxDeflateRatio)
		}
		return nil, fmt.Errorf("%s: byte offset %d: truncated data: dimensions %v announce %d bytes but the file holds %d after the header", name, limit, dims, total, limit-hdr)
	}
	// Memory grows with the bytes actually read, in steps of growStep, up
	// to the announced total: a lying header costs at most one step.
	data := make([]byte, 0, min(total, growStep))
	for uint64(len(data)) < total {
		if len(data) == cap(data) {
			next := min(total, uint64(cap(data))+max(uint64(cap(data)), growStep))
			grown := make([]byte, len(data), next)
			copy(grown, data)
			data = grown
		}
		n, err := r.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: byte offset %d: %w", name, hdr+int64(len(data)), err)
		}
	}
	if uint64(len(data)) != total {
		return nil, fmt.Errorf("%s: byte offset %d: truncated data: got %d of %d bytes announced by dimensions %v", name, hdr+int64(len(data)), len(data), total, dims)
	}
	// Nothing may follow; for gzip, reading to the end also checks the CRC.
	var one [1]byte
	for {
		n, err := r.Read(one[:])
		if n > 0 {
			return nil, fmt.Errorf("%s: byte offset %d: trailing data after the %d bytes announced by dimensions %v", name, hdr+int64(total), total, dims)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: byte offset %d: %w", name, hdr+int64(total), err)
		}
	}
	return &File{Dims: dims, Data: data}, nil
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
