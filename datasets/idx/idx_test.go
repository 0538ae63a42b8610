package idx

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func encode(t testing.TB, f *File) []byte {
	var b bytes.Buffer
	if err := Encode(&b, f); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestRoundTripPlainAndGzip(t *testing.T) {
	f := &File{Dims: []int{2, 2, 3}, Data: []uint8{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}}
	raw := encode(t, f)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	for name, in := range map[string][]byte{"plain": raw, "gzip": gz.Bytes()} {
		got, err := Read(bytes.NewReader(in), name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got.Dims) != 3 || got.Dims[0] != 2 || got.Dims[1] != 2 || got.Dims[2] != 3 {
			t.Errorf("%s: dims %v", name, got.Dims)
		}
		if !bytes.Equal(got.Data, f.Data) {
			t.Errorf("%s: data %v", name, got.Data)
		}
	}
}

func TestErrors(t *testing.T) {
	good := encode(t, &File{Dims: []int{3, 2}, Data: []uint8{1, 2, 3, 4, 5, 6}})
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "byte offset 0: truncated magic"},
		{"badmagic", []byte{1, 0, 8, 1, 0, 0, 0, 0}, "byte offset 0: bad magic"},
		{"float", []byte{0, 0, 0x0d, 1, 0, 0, 0, 0}, "unsupported element type 0x0d"},
		{"nodims", []byte{0, 0, 8, 0}, "zero dimensions"},
		{"shortheader", good[:9], "byte offset 9: truncated header"},
		{"shortdata", good[:len(good)-2], "byte offset 16: truncated data: got 4 of 6"},
		{"huge", []byte{0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2}, "more than"},
	}
	for _, c := range cases {
		_, err := Read(bytes.NewReader(c.in), "f.idx")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "f.idx: ") {
			t.Errorf("%s: error %v, want it to contain %q and name the file", c.name, err, c.want)
		}
	}
}

func TestNewSplitChecks(t *testing.T) {
	im := &File{Dims: []int{2, 1, 1}, Data: []uint8{0, 255}}
	if _, err := NewSplit(im, &File{Dims: []int{2}, Data: []uint8{1, 10}}, "i", "l", 10); err == nil || !strings.Contains(err.Error(), "l: byte offset 9: label 10 of example 1 out of range") {
		t.Errorf("label range: %v", err)
	}
	if _, err := NewSplit(im, &File{Dims: []int{1}, Data: []uint8{1}}, "i", "l", 10); err == nil || !strings.Contains(err.Error(), "1 labels for 2 images") {
		t.Errorf("count mismatch: %v", err)
	}
	s, err := NewSplit(im, &File{Dims: []int{2}, Data: []uint8{1, 9}}, "i", "l", 10)
	if err != nil || s.N != 2 || s.Rows != 1 || s.Cols != 1 {
		t.Errorf("good split: %+v %v", s, err)
	}
}

func TestEscapeModulePath(t *testing.T) {
	got, err := escapeModulePath(MNISTModule)
	if err != nil || got != "github.com/petar/!go!m!n!i!s!t" {
		t.Errorf("got %q %v", got, err)
	}
}

// counts checks the split's size and that every class 0..9 is present
// with a plausible count (each MNIST/Fashion-MNIST class has 5421..7877
// training and 892..1135 test examples).
func checkSplit(t *testing.T, s *Split, n int, exact map[int]int) {
	t.Helper()
	if s.N != n || s.Rows != 28 || s.Cols != 28 || len(s.Pix) != n*784 || len(s.Labels) != n {
		t.Fatalf("split %d x %d x %d, want %d x 28 x 28", s.N, s.Rows, s.Cols, n)
	}
	var c [10]int
	for _, l := range s.Labels {
		c[l]++
	}
	for k, v := range exact {
		if c[k] != v {
			t.Errorf("class %d: %d examples, want %d (all counts %v)", k, c[k], v, c)
		}
	}
}

func TestRealMNIST(t *testing.T) {
	dir, err := FindMNIST("")
	if err != nil {
		t.Skipf("MNIST module not in the module cache: %v", err)
	}
	tr, err := LoadSplit(dir, true, 10)
	if err != nil {
		t.Fatal(err)
	}
	// Canonical MNIST training label counts.
	checkSplit(t, tr, 60000, map[int]int{0: 5923, 1: 6742, 2: 5958, 3: 6131, 4: 5842, 5: 5421, 6: 5918, 7: 6265, 8: 5851, 9: 5949})
	te, err := LoadSplit(dir, false, 10)
	if err != nil {
		t.Fatal(err)
	}
	checkSplit(t, te, 10000, map[int]int{0: 980, 1: 1135, 2: 1032, 3: 1010, 4: 982, 5: 892, 6: 958, 7: 1028, 8: 974, 9: 1009})
}

func TestRealFashionMNIST(t *testing.T) {
	dir, err := FindFashionMNIST("")
	if err != nil {
		t.Skipf("Fashion-MNIST not installed: %v", err)
	}
	tr, err := LoadSplit(dir, true, 10)
	if err != nil {
		t.Fatal(err)
	}
	// Fashion-MNIST is balanced: 6000 per class in train, 1000 in test.
	all := func(v int) map[int]int {
		m := map[int]int{}
		for k := 0; k < 10; k++ {
			m[k] = v
		}
		return m
	}
	checkSplit(t, tr, 60000, all(6000))
	te, err := LoadSplit(dir, false, 10)
	if err != nil {
		t.Fatal(err)
	}
	checkSplit(t, te, 10000, all(1000))
}

func FuzzRead(f *testing.F) {
	f.Add(encode(f, &File{Dims: []int{2, 2}, Data: []uint8{1, 2, 3, 4}}))
	f.Add([]byte{0, 0, 8, 1, 0, 0, 0, 5, 1})
	f.Add([]byte{0x1f, 0x8b, 0, 0})
	f.Add([]byte{0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := Read(bytes.NewReader(in), "fuzz")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		n := 1
		for _, d := range got.Dims {
			n *= d
		}
		if n != len(got.Data) {
			t.Fatalf("dims %v but %d bytes", got.Dims, len(got.Data))
		}
	})
}

func gzipped(t testing.TB, b []byte) []byte {
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(b)
	zw.Close()
	return gz.Bytes()
}

// TestTrailingData: bytes after the announced elements are refused, in
// plain and gzip files.
func TestTrailingData(t *testing.T) {
	good := encode(t, &File{Dims: []int{3, 2}, Data: []uint8{1, 2, 3, 4, 5, 6}})
	bad := append(append([]byte(nil), good...), 9, 9, 9)
	for name, in := range map[string][]byte{"plain": bad, "gzip": gzipped(t, bad)} {
		_, err := Read(bytes.NewReader(in), "f.idx")
		if err == nil || !strings.Contains(err.Error(), "f.idx: byte offset 18: trailing data") {
			t.Errorf("%s: error %v, want trailing data at byte offset 18", name, err)
		}
	}
}

// TestBombRefusedBeforeInflating writes a gzip file whose header announces
// 900 MB (within MaxElements) while the file is a few kB: ReadFile must
// refuse it from the sizes alone, and Read (size unknown) must fail at the
// real end of the data without allocating the announced size.
func TestBombRefusedBeforeInflating(t *testing.T) {
	hdr := []byte{0, 0, 8, 3, 0, 0, 0x4, 0x4c, 0, 0, 0x3, 0x84, 0, 0, 0x3, 0x84} // 1100 x 900 x 900
	payload := append(hdr, make([]byte, 4<<20)...)
	gz := gzipped(t, payload)
	path := filepath.Join(t.TempDir(), "bomb.gz")
	if err := os.WriteFile(path, gz, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(path)
	if err == nil || !strings.Contains(err.Error(), "more than a gzip file of") || !strings.HasPrefix(err.Error(), path+": byte offset 4") {
		t.Fatalf("ReadFile: %v, want the header refused against the file size", err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err = Read(bytes.NewReader(gz), "bomb")
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "truncated data") {
		t.Fatalf("Read: %v, want truncated data", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Errorf("Read allocated %d MB for %d MB of real data; want memory bounded by the data", grew>>20, len(payload)>>20)
	}
}

// TestPlainSizeChecked: a plain file shorter than its header announces is
// refused before reading.
func TestPlainSizeChecked(t *testing.T) {
	good := encode(t, &File{Dims: []int{3, 2}, Data: []uint8{1, 2, 3, 4, 5, 6}})
	path := filepath.Join(t.TempDir(), "short.idx")
	os.WriteFile(path, good[:len(good)-1], 0o644)
	if _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), "truncated data") {
		t.Errorf("short file: %v", err)
	}
	if _, err := ReadFile(t.TempDir()); err == nil || !strings.Contains(err.Error(), "is a folder") {
		t.Errorf("folder: %v", err)
	}
}

// TestEmptySplitRefused: a split of 0 images (or 0x0 pixels) is an error.
func TestEmptySplitRefused(t *testing.T) {
	if _, err := NewSplit(&File{Dims: []int{0, 28, 28}}, &File{Dims: []int{0}}, "i", "l", 10); err == nil || !strings.Contains(err.Error(), "i: byte offset 4: images file holds 0 images") {
		t.Errorf("0 images: %v", err)
	}
	if _, err := NewSplit(&File{Dims: []int{2, 0, 28}}, &File{Dims: []int{2}, Data: []uint8{1, 2}}, "i", "l", 10); err == nil || !strings.Contains(err.Error(), "0x28 pixels") {
		t.Errorf("0 rows: %v", err)
	}
}
