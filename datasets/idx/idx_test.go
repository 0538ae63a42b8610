package idx

import (
	"bytes"
	"compress/gzip"
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
