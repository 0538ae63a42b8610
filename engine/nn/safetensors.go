package nn

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/gap-harness/gap/internal/atomicfile"
)

// The safetensors format (Hugging Face): an 8-byte little-endian header
// length N, N bytes of JSON mapping each tensor name to its dtype, shape and
// [begin, end) byte offsets into the data section that follows (plus an
// optional "__metadata__" map of strings), then the raw little-endian data.
// It is what PyTorch users load with safetensors.torch.load_file, so weights
// move between the harness and PyTorch without pickle.

// maxSafetensorsHeader bounds the JSON header (the reference implementation
// refuses headers over 100 MB as well).
const maxSafetensorsHeader = 100 << 20

// STensor is one tensor of a safetensors file, held as float32 (F32 data as
// is; F64, F16, BF16 and integer data converted).
type STensor struct {
	// Shape is the tensor's shape ([] for a scalar).
	Shape []int
	// Data holds prod(Shape) values in row-major order.
	Data []float32
	// DType is the dtype the file stored ("F32", "F64", "I64", ...).
	DType string
}

type stEntry struct {
	DType   string   `json:"dtype"`
	Shape   []int    `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// WriteSafetensors writes tensors (name -> tensor, stored as F32 in sorted
// name order) and optional string metadata to w.
func WriteSafetensors(w io.Writer, tensors map[string]STensor, meta map[string]string) error {
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		if n == "" || n == "__metadata__" {
			return fmt.Errorf("safetensors: invalid tensor name %q", n)
		}
		names = append(names, n)
	}
	sort.Strings(names)
	header := map[string]any{}
	if len(meta) > 0 {
		header["__metadata__"] = meta
	}
	var off int64
	for _, n := range names {
		t := tensors[n]
		if got, want := len(t.Data), shapeSize(t.Shape); got != want {
			return fmt.Errorf("safetensors: tensor %q has %d values, shape %v needs %d", n, got, t.Shape, want)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		size := int64(len(t.Data)) * 4
		header[n] = stEntry{DType: "F32", Shape: shape, Offsets: [2]int64{off, off + size}}
		off += size
	}
	h, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("safetensors: header: %w", err)
	}
	// Pad the header with spaces so the data starts 8-byte aligned.
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(h)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	if _, err := w.Write(h); err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	buf := make([]byte, 0, 1<<16)
	for _, n := range names {
		for _, v := range tensors[n].Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			if len(buf) >= 1<<16 {
				if _, err := w.Write(buf); err != nil {
					return fmt.Errorf("safetensors: write: %w", err)
				}
				buf = buf[:0]
			}
		}
	}
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	return nil
}

// ReadSafetensors parses a whole safetensors file held in b. name is used in
// error messages (the file's path). Every offset, shape and dtype is checked
// against the data before anything is converted.
func ReadSafetensors(name string, b []byte) (map[string]STensor, map[string]string, error) {
	if len(b) < 8 {
		return nil, nil, fmt.Errorf("%s: safetensors: file of %d bytes has no 8-byte header length", name, len(b))
	}
	hlen := binary.LittleEndian.Uint64(b[:8])
	if hlen > maxSafetensorsHeader || hlen > uint64(len(b)-8) {
		return nil, nil, fmt.Errorf("%s: safetensors: header length %d exceeds the file (%d bytes) or the %d-byte limit", name, hlen, len(b), maxSafetensorsHeader)
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b[8 : 8+hlen]))
	if err := dec.Decode(&raw); err != nil {
		return nil, nil, fmt.Errorf("%s: safetensors: header JSON: %w", name, err)
	}
	data := b[8+hlen:]
	var meta map[string]string
	out := make(map[string]STensor, len(raw))
	for k, v := range raw {
		if k == "__metadata__" {
			if err := json.Unmarshal(v, &meta); err != nil {
				return nil, nil, fmt.Errorf("%s: safetensors: __metadata__ must map strings to strings: %w", name, err)
			}
			continue
		}
		var e stEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, nil, fmt.Errorf("%s: safetensors: tensor %q: %w", name, k, err)
		}
		t, err := decodeST(e, data)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: safetensors: tensor %q: %w", name, k, err)
		}
		out[k] = t
	}
	return out, meta, nil
}

func decodeST(e stEntry, data []byte) (STensor, error) {
	width := map[string]int{"F32": 4, "F64": 8, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}[e.DType]
	if width == 0 {
		return STensor{}, fmt.Errorf("dtype %q not supported (want F32, F64, F16, BF16, I64, I32, I16, I8, U8 or BOOL)", e.DType)
	}
	n := 1
	for _, d := range e.Shape {
		if d < 0 || (d > 0 && n > math.MaxInt32/d) {
			return STensor{}, fmt.Errorf("shape %v is negative or too large", e.Shape)
		}
		n *= d
	}
	lo, hi := e.Offsets[0], e.Offsets[1]
	if lo < 0 || hi < lo || hi > int64(len(data)) {
		return STensor{}, fmt.Errorf("data_offsets [%d, %d) outside the %d data bytes", lo, hi, len(data))
	}
	if hi-lo != int64(n*width) {
		return STensor{}, fmt.Errorf("data_offsets span %d bytes, shape %v of %s needs %d", hi-lo, e.Shape, e.DType, n*width)
	}
	src := data[lo:hi]
	v := make([]float32, n)
	for i := range v {
		p := src[i*width:]
		switch e.DType {
		case "F32":
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(p))
		case "F64":
			v[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(p)))
		case "F16":
			v[i] = half(binary.LittleEndian.Uint16(p))
		case "BF16":
			v[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(p)) << 16)
		case "I64":
			v[i] = float32(int64(binary.LittleEndian.Uint64(p)))
		case "I32":
			v[i] = float32(int32(binary.LittleEndian.Uint32(p)))
		case "I16":
			v[i] = float32(int16(binary.LittleEndian.Uint16(p)))
		case "I8":
			v[i] = float32(int8(p[0]))
		case "U8", "BOOL":
			v[i] = float32(p[0])
		}
	}
	shape := e.Shape
	if shape == nil {
		shape = []int{}
	}
	return STensor{Shape: shape, Data: v, DType: e.DType}, nil
}

// half converts an IEEE 754 binary16 value to float32.
func half(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := int(h>>10) & 0x1f
	frac := uint32(h & 0x3ff)
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		f := float32(frac) / 1024 * float32(math.Pow(2, -14))
		if sign != 0 {
			return -f
		}
		return f
	case exp == 31:
		if frac == 0 {
			return math.Float32frombits(sign | 0x7f800000)
		}
		return float32(math.NaN())
	}
	return math.Float32frombits(sign | uint32(exp-15+127)<<23 | frac<<13)
}

func shapeSize(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// SafetensorsOptions chooses what SaveSafetensors writes beside the
// parameters and buffers.
type SafetensorsOptions struct {
	// Masks adds each masked parameter's mask as "<name>_mask" (the key
	// torch.nn.utils.prune uses), so a pruned model can be re-masked in
	// PyTorch.
	Masks bool
	// Meta is stored as the file's "__metadata__" (e.g. model name, run id).
	Meta map[string]string
}

// Tensors returns every parameter and buffer of the set as safetensors
// tensors (copies), keyed by name; with masks, "<name>_mask" too.
func (s *ParamSet) Tensors(masks bool) map[string]STensor {
	out := map[string]STensor{}
	for _, p := range s.params {
		out[p.Name] = STensor{Shape: append([]int{}, p.Shape()...), Data: append([]float32{}, p.V.Value.Data()...), DType: "F32"}
		if masks && p.Mask != nil {
			out[p.Name+"_mask"] = STensor{Shape: append([]int{}, p.Shape()...), Data: append([]float32{}, p.Mask...), DType: "F32"}
		}
	}
	for _, b := range s.buffers {
		out[b.Name] = STensor{Shape: append([]int{}, b.T.Shape()...), Data: append([]float32{}, b.T.Data()...), DType: "F32"}
	}
	return out
}

// SaveSafetensors writes the set's parameters and buffers to path
// atomically (a temporary file in the same folder, renamed on success).
func (s *ParamSet) SaveSafetensors(path string, o SafetensorsOptions) error {
	if err := atomicfile.Write(path, func(w io.Writer) error { return WriteSafetensors(w, s.Tensors(o.Masks), o.Meta) }); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}

// LoadSafetensors reads path and copies every parameter and buffer of the
// set from it (and "<name>_mask" into masks when present). Every name of the
// set must be in the file with the same shape; file tensors the set doesn't
// know are an error too, unless allowExtra. Nothing is changed on error.
func (s *ParamSet) LoadSafetensors(path string, allowExtra bool) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	ts, _, err := ReadSafetensors(path, b)
	if err != nil {
		return err
	}
	return s.LoadTensors(path, ts, allowExtra)
}

// LoadTensors copies named tensors into the set's parameters, buffers and
// masks (see LoadSafetensors); src names the source in error messages.
func (s *ParamSet) LoadTensors(src string, ts map[string]STensor, allowExtra bool) error {
	check := func(name string, shape []int) error {
		t, ok := ts[name]
		if !ok {
			return fmt.Errorf("%s: tensor %q missing (the model has it with shape %v)", src, name, shape)
		}
		if !equalShape(t.Shape, shape) {
			return fmt.Errorf("%s: tensor %q has shape %v, the model expects %v", src, name, t.Shape, shape)
		}
		return nil
	}
	used := map[string]bool{}
	for _, p := range s.params {
		if err := check(p.Name, p.Shape()); err != nil {
			return err
		}
		used[p.Name] = true
		if _, ok := ts[p.Name+"_mask"]; ok {
			if err := check(p.Name+"_mask", p.Shape()); err != nil {
				return err
			}
			used[p.Name+"_mask"] = true
		}
	}
	for _, b := range s.buffers {
		if err := check(b.Name, b.T.Shape()); err != nil {
			return err
		}
		used[b.Name] = true
	}
	if !allowExtra {
		var extra []string
		for k := range ts {
			if !used[k] {
				extra = append(extra, k)
			}
		}
		if len(extra) > 0 {
			sort.Strings(extra)
			return fmt.Errorf("%s: tensors the model does not have: %s", src, strings.Join(extra, ", "))
		}
	}
	for _, p := range s.params {
		copy(p.V.Value.Data(), ts[p.Name].Data)
		if m, ok := ts[p.Name+"_mask"]; ok {
			copy(p.EnsureMask(), m.Data)
		}
	}
	for _, b := range s.buffers {
		copy(b.T.Data(), ts[b.Name].Data)
	}
	return nil
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
