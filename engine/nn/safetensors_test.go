package nn

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/google/go-cmp/cmp"
)

// TestSafetensorsBytes pins the exact layout of a one-tensor file, built by
// hand from the format's definition.
func TestSafetensorsBytes(t *testing.T) {
	var buf bytes.Buffer
	err := WriteSafetensors(&buf, map[string]STensor{"w": {Shape: []int{2}, Data: []float32{1, -2}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	header := `{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	for len(header)%8 != 0 {
		header += " "
	}
	var want bytes.Buffer
	binary.Write(&want, binary.LittleEndian, uint64(len(header)))
	want.WriteString(header)
	binary.Write(&want, binary.LittleEndian, []float32{1, -2})
	if !bytes.Equal(buf.Bytes(), want.Bytes()) {
		t.Fatalf("bytes:\n got %q\nwant %q", buf.Bytes(), want.Bytes())
	}
}

func TestSafetensorsRoundTripParamSet(t *testing.T) {
	mk := func(seed float32) *ParamSet {
		s := NewParamSet()
		w := engine.NewTensor[float32](3, 2)
		for i := range w.Data() {
			w.Data()[i] = seed * float32(i+1)
		}
		p := s.Add("fc.weight", w, true)
		p.EnsureMask()[1] = 0
		s.Add("fc.bias", engine.FromSlice([]float32{seed, 2 * seed, 3 * seed}, 3), false)
		s.AddBuffer("bn.running_mean", engine.FromSlice([]float32{seed}, 1))
		return s
	}
	a, b := mk(1), mk(7)
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := a.SaveSafetensors(path, SafetensorsOptions{Masks: true, Meta: map[string]string{"model": "toy"}}); err != nil {
		t.Fatal(err)
	}
	if err := b.LoadSafetensors(path, false); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(a.Tensors(true), b.Tensors(true)); d != "" {
		t.Fatalf("round trip (-saved +loaded):\n%s", d)
	}
	raw, _ := os.ReadFile(path)
	_, meta, err := ReadSafetensors(path, raw)
	if err != nil || meta["model"] != "toy" {
		t.Fatalf("metadata %v, %v", meta, err)
	}
	// No temporary file is left beside it.
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Fatalf("folder holds %d entries, want 1", len(ents))
	}
}

func TestSafetensorsDTypes(t *testing.T) {
	// F64, F16, BF16, I64 are converted to float32.
	header := `{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[2],"data_offsets":[8,12]},"c":{"dtype":"BF16","shape":[1],"data_offsets":[12,14]},"d":{"dtype":"I64","shape":[],"data_offsets":[14,22]}}`
	var f bytes.Buffer
	binary.Write(&f, binary.LittleEndian, uint64(len(header)))
	f.WriteString(header)
	binary.Write(&f, binary.LittleEndian, 2.5)
	binary.Write(&f, binary.LittleEndian, []uint16{0x3c00, 0xc000}) // 1, -2 in binary16
	binary.Write(&f, binary.LittleEndian, uint16(math.Float32bits(-0.75)>>16))
	binary.Write(&f, binary.LittleEndian, int64(-3))
	ts, _, err := ReadSafetensors("x", f.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	got := []float32{ts["a"].Data[0], ts["b"].Data[0], ts["b"].Data[1], ts["c"].Data[0], ts["d"].Data[0]}
	if d := cmp.Diff([]float32{2.5, 1, -2, -0.75, -3}, got); d != "" {
		t.Fatal(d)
	}
}

func TestSafetensorsErrors(t *testing.T) {
	good := func() []byte {
		var b bytes.Buffer
		WriteSafetensors(&b, map[string]STensor{"w": {Shape: []int{2}, Data: []float32{1, 2}}}, nil)
		return b.Bytes()
	}
	withHeader := func(h string, data int) []byte {
		var b bytes.Buffer
		binary.Write(&b, binary.LittleEndian, uint64(len(h)))
		b.WriteString(h)
		b.Write(make([]byte, data))
		return b.Bytes()
	}
	cases := map[string]struct {
		b    []byte
		want string
	}{
		"short":       {[]byte{1, 2}, "no 8-byte header length"},
		"huge header": {append(binary.LittleEndian.AppendUint64(nil, 1<<40), good()[8:]...), "exceeds the file"},
		"bad json":    {withHeader(`{"w":`, 0), "header JSON"},
		"dtype":       {withHeader(`{"w":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}`, 8), `dtype "C64" not supported`},
		"offsets":     {withHeader(`{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, 8), "outside the 8 data bytes"},
		"shape":       {withHeader(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, 8), "needs 12"},
		"negative":    {withHeader(`{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}}`, 8), "negative or too large"},
		"meta":        {withHeader(`{"__metadata__":{"a":1}}`, 0), "__metadata__ must map strings"},
	}
	for name, c := range cases {
		_, _, err := ReadSafetensors("f.safetensors", c.b)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "f.safetensors: ") {
			t.Errorf("%s: error %v, want one naming the file and containing %q", name, err, c.want)
		}
	}
	// Shape and name mismatches against a parameter set name both sides.
	s := NewParamSet()
	s.Add("w", engine.NewTensor[float32](3), true)
	err := s.LoadTensors("src", map[string]STensor{"w": {Shape: []int{2}, Data: []float32{1, 2}}}, false)
	if err == nil || !strings.Contains(err.Error(), "shape [2], the model expects [3]") {
		t.Errorf("shape mismatch: %v", err)
	}
	err = s.LoadTensors("src", map[string]STensor{"w": {Shape: []int{3}, Data: make([]float32, 3)}, "v": {Shape: []int{}, Data: []float32{0}}}, false)
	if err == nil || !strings.Contains(err.Error(), "does not have: v") {
		t.Errorf("extra tensor: %v", err)
	}
	err = s.LoadTensors("src", map[string]STensor{}, false)
	if err == nil || !strings.Contains(err.Error(), `"w" missing`) {
		t.Errorf("missing tensor: %v", err)
	}
}

func FuzzReadSafetensors(f *testing.F) {
	var b bytes.Buffer
	WriteSafetensors(&b, map[string]STensor{"w": {Shape: []int{2, 1}, Data: []float32{1, 2}}}, map[string]string{"k": "v"})
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, _, err := ReadSafetensors("fuzz", data)
		if err != nil {
			return
		}
		for k, v := range ts {
			if len(v.Data) != shapeSize(v.Shape) {
				t.Fatalf("%s: %d values for shape %v", k, len(v.Data), v.Shape)
			}
		}
	})
}
