package nn

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gap-harness/gap/engine"
)

// Param is one named trainable tensor with its sparse-training metadata.
type Param struct {
	// Name is the PyTorch-like hierarchical name ("layer1.0.conv1.weight").
	Name string
	// V is the engine parameter (its name equals Name).
	V *engine.Var[float32]
	// Mask is 1 where the weight is kept and 0 where pruned; nil = dense.
	Mask []float32
	// Prunable marks conv and linear weights (never biases or norms).
	Prunable bool
	// FirstOrLast marks the first conv (or first layer) and the last linear,
	// which tables usually keep dense.
	FirstOrLast bool
	// Partition is the GaP partition of a prunable tensor, -1 for none.
	Partition int
	// FwdFLOPs is the dense forward FLOPs per example of this weight's op
	// (multiply-adds x 2); 0 for biases and norms.
	FwdFLOPs float64
	// Groups is the convolution groups of a conv weight (0 or 1 otherwise).
	Groups int
	// Sparse, when non-nil, is the weight's prepared sparsity pattern: the
	// layer owning it runs SparseConv2D / SparseLinear (see PrepareSparse).
	// It must be cleared or prepared again whenever Mask changes.
	Sparse *engine.SparseWeight[float32]
}

// PrepareSparse sets p.Sparse to the pattern of p.Mask (of the weight's
// nonzeros when the mask is nil) with the given kernel policy and weight
// gradient. Call it when the mask is fixed for a while (an epoch), and again
// (or ClearSparse) after the mask changes.
func (p *Param) PrepareSparse(policy engine.KernelPolicy, wg engine.WeightGrad) error {
	s, err := engine.NewSparseWeight(p.Name, p.V.Value, p.Mask, max(p.Groups, 1))
	if err != nil {
		return fmt.Errorf("nn: %w", err)
	}
	s.Policy, s.WeightGrad = policy, wg
	p.Sparse = s
	return nil
}

// ClearSparse drops the prepared pattern: the layer runs the dense kernels.
func (p *Param) ClearSparse() { p.Sparse = nil }

// Len is the number of elements.
func (p *Param) Len() int { return p.V.Value.Len() }

// Shape is the tensor's shape.
func (p *Param) Shape() []int { return p.V.Value.Shape() }

// EnsureMask returns the parameter's mask, first setting it to all ones
// (dense) when it is nil.
func (p *Param) EnsureMask() []float32 {
	if p.Mask == nil {
		p.Mask = make([]float32, p.Len())
		for i := range p.Mask {
			p.Mask[i] = 1
		}
	}
	return p.Mask
}

// Buffer is a named non-trainable tensor saved with the model (e.g. a
// batch-norm running mean).
type Buffer struct {
	// Name is the hierarchical name ("bn1.running_mean").
	Name string
	// T is the tensor.
	T *engine.Tensor[float32]
}

// ParamSet holds a model's parameters in registration order (stable) and its
// buffers. It is not safe for concurrent modification.
type ParamSet struct {
	params  []*Param
	byName  map[string]*Param
	buffers []*Buffer
	bufName map[string]*Buffer
}

// NewParamSet returns an empty set.
func NewParamSet() *ParamSet {
	return &ParamSet{byName: map[string]*Param{}, bufName: map[string]*Buffer{}}
}

// Add registers a parameter tensor under name and returns it; it panics on a
// duplicate name, which is a model-building bug.
func (s *ParamSet) Add(name string, value *engine.Tensor[float32], prunable bool) *Param {
	s.checkFree(name)
	p := &Param{Name: name, V: engine.NewParam(name, value), Prunable: prunable, Partition: -1}
	s.params = append(s.params, p)
	s.byName[name] = p
	return p
}

// AddBuffer registers a buffer under name; it panics on a duplicate name.
func (s *ParamSet) AddBuffer(name string, t *engine.Tensor[float32]) *Buffer {
	s.checkFree(name)
	b := &Buffer{Name: name, T: t}
	s.buffers = append(s.buffers, b)
	s.bufName[name] = b
	return b
}

func (s *ParamSet) checkFree(name string) {
	if name == "" {
		panic("nn: empty parameter name")
	}
	if s.byName[name] != nil || s.bufName[name] != nil {
		panic(fmt.Sprintf("nn: duplicate parameter name %q", name))
	}
}

// Get returns the parameter named name, or nil.
func (s *ParamSet) Get(name string) *Param { return s.byName[name] }

// Buffer returns the buffer named name, or nil.
func (s *ParamSet) Buffer(name string) *Buffer { return s.bufName[name] }

// All returns every parameter in registration order (the slice is shared).
func (s *ParamSet) All() []*Param { return s.params }

// Buffers returns every buffer in registration order (the slice is shared).
func (s *ParamSet) Buffers() []*Buffer { return s.buffers }

// Prunable returns the prunable parameters in registration order.
func (s *ParamSet) Prunable() []*Param {
	var out []*Param
	for _, p := range s.params {
		if p.Prunable {
			out = append(out, p)
		}
	}
	return out
}

// Vars returns the engine variables of every parameter, for an optimiser.
func (s *ParamSet) Vars() []*engine.Var[float32] {
	out := make([]*engine.Var[float32], len(s.params))
	for i, p := range s.params {
		out[i] = p.V
	}
	return out
}

// Names returns every parameter name in registration order.
func (s *ParamSet) Names() []string {
	out := make([]string, len(s.params))
	for i, p := range s.params {
		out[i] = p.Name
	}
	return out
}

// NumParams counts the elements of all parameters (not buffers), as
// sum(p.numel() for p in model.parameters()) does.
func (s *ParamSet) NumParams() int {
	n := 0
	for _, p := range s.params {
		n += p.Len()
	}
	return n
}

// ApplyMasks sets W = W*M for every parameter with a mask.
func (s *ParamSet) ApplyMasks() {
	for _, p := range s.params {
		if p.Mask == nil {
			continue
		}
		w := p.V.Value.Data()
		for i, m := range p.Mask {
			w[i] *= m
		}
	}
}

// KernelChoices returns the kernel choices of every parameter with a prepared
// sparse pattern, in registration order (for the run's record).
func (s *ParamSet) KernelChoices() []engine.KernelChoice {
	var out []engine.KernelChoice
	for _, p := range s.params {
		if p.Sparse != nil {
			out = append(out, p.Sparse.Choices()...)
		}
	}
	return out
}

// ZeroGrad zeroes every parameter's gradient.
func (s *ParamSet) ZeroGrad() {
	for _, p := range s.params {
		p.V.ZeroGrad()
	}
}

// MaskSuffix is appended to a parameter's name for its mask in a state dict
// (as torch.nn.utils.prune names it: "conv1.weight_mask").
const MaskSuffix = "_mask"

// StateDict returns copies of every parameter, buffer and mask by name.
func (s *ParamSet) StateDict() map[string][]float32 {
	out := make(map[string][]float32, len(s.params)+len(s.buffers))
	for _, p := range s.params {
		out[p.Name] = append([]float32(nil), p.V.Value.Data()...)
		if p.Mask != nil {
			out[p.Name+MaskSuffix] = append([]float32(nil), p.Mask...)
		}
	}
	for _, b := range s.buffers {
		out[b.Name] = append([]float32(nil), b.T.Data()...)
	}
	return out
}

// LoadStateDict copies values from d into every parameter and buffer; all must
// be present with matching sizes. A mask entry sets the parameter's mask; a
// parameter without one becomes dense (nil mask). Unknown keys are an error;
// on error the set may be partly loaded.
func (s *ParamSet) LoadStateDict(d map[string][]float32) error {
	used := 0
	load := func(name string, dst []float32) error {
		src, ok := d[name]
		if !ok {
			return fmt.Errorf("nn: LoadStateDict: missing %q", name)
		}
		if len(src) != len(dst) {
			return fmt.Errorf("nn: LoadStateDict: %q has %d elements, want %d", name, len(src), len(dst))
		}
		used++
		copy(dst, src)
		return nil
	}
	for _, p := range s.params {
		if err := load(p.Name, p.V.Value.Data()); err != nil {
			return err
		}
		if m, ok := d[p.Name+MaskSuffix]; ok {
			if len(m) != p.Len() {
				return fmt.Errorf("nn: LoadStateDict: mask %q has %d elements, want %d", p.Name, len(m), p.Len())
			}
			p.Mask = append(p.Mask[:0], m...)
			used++
		} else {
			p.Mask = nil
		}
		p.Sparse = nil // the mask may have changed
	}
	for _, b := range s.buffers {
		if err := load(b.Name, b.T.Data()); err != nil {
			return err
		}
	}
	if used != len(d) {
		var extra []string
		for k := range d {
			if !s.known(k) {
				extra = append(extra, k)
			}
		}
		sort.Strings(extra)
		return fmt.Errorf("nn: LoadStateDict: unknown keys %v", extra)
	}
	return nil
}

// known reports whether k names a parameter, a buffer or a parameter's mask.
func (s *ParamSet) known(k string) bool {
	if s.byName[k] != nil || s.bufName[k] != nil {
		return true
	}
	base, ok := strings.CutSuffix(k, MaskSuffix)
	return ok && s.byName[base] != nil
}
