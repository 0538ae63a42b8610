package optim

import (
	"fmt"
	"sort"

	"github.com/gap-harness/gap/engine"
)

// Optimizer updates a fixed set of named parameters from their gradients.
type Optimizer interface {
	// Step applies one update to every parameter that has a gradient, at the
	// current learning rate, and advances the step counter.
	Step()
	// LR returns the learning rate the next Step uses.
	LR() float64
	// SetLR sets the learning rate for the following steps.
	SetLR(lr float64)
	// Steps returns how many steps have been taken (Adam's bias correction
	// uses it).
	Steps() int64
	// SetSteps restores the step counter (from a checkpoint).
	SetSteps(n int64)
	// StateKeys lists the per-parameter state buffers, e.g. "exp_avg" and
	// "exp_avg_sq" for Adam; empty for SGD without momentum.
	StateKeys() []string
	// State returns the named parameter's state buffers by key; the slices are
	// live views (copy them to checkpoint). Nil for an unknown name.
	State(name string) map[string][]float32
	// SetState copies saved buffers into the named parameter's state.
	SetState(name string, st map[string][]float32) error
	// ZeroState zeroes every state buffer of the named parameter at the given
	// element indices (e.g. weights just regrown).
	ZeroState(name string, idx []int)
	// ZeroWhereMasked zeroes every state buffer of the named parameter where
	// mask[i] == 0 (pruned weights).
	ZeroWhereMasked(name string, mask []float32)
}

// grain is the number of elements below which an update runs on one goroutine.
const grain = 1 << 15

// base holds what every optimiser shares: the parameters, their state buffers,
// the learning rate and the step counter.
type base struct {
	params  []*engine.Var[float32]
	index   map[string]int
	keys    []string
	state   []map[string][]float32
	decay   []bool
	lr      float64
	steps   int64
	threads int
}

func newBase(kind string, params []*engine.Var[float32], keys []string, lr float64, threads int, decay func(string) bool) (base, error) {
	b := base{index: map[string]int{}, keys: keys, lr: lr, threads: max(threads, 1)}
	for i, p := range params {
		if p == nil {
			return base{}, fmt.Errorf("optim: %s: parameter %d is nil", kind, i)
		}
		name := p.Name()
		if name == "" {
			return base{}, fmt.Errorf("optim: %s: parameter %d has no name", kind, i)
		}
		if _, dup := b.index[name]; dup {
			return base{}, fmt.Errorf("optim: %s: duplicate parameter name %q", kind, name)
		}
		b.index[name] = i
		st := map[string][]float32{}
		for _, k := range keys {
			st[k] = make([]float32, p.Value.Len())
		}
		b.params = append(b.params, p)
		b.state = append(b.state, st)
		b.decay = append(b.decay, decay == nil || decay(name))
	}
	return b, nil
}

// LR returns the learning rate the next Step uses.
func (b *base) LR() float64 { return b.lr }

// SetLR sets the learning rate for the following steps.
func (b *base) SetLR(lr float64) { b.lr = lr }

// Steps returns how many steps have been taken.
func (b *base) Steps() int64 { return b.steps }

// SetSteps restores the step counter.
func (b *base) SetSteps(n int64) { b.steps = n }

// StateKeys lists the per-parameter state buffers.
func (b *base) StateKeys() []string { return append([]string(nil), b.keys...) }

// State returns the named parameter's live state buffers, or nil.
func (b *base) State(name string) map[string][]float32 {
	i, ok := b.index[name]
	if !ok {
		return nil
	}
	return b.state[i]
}

// SetState copies saved buffers into the named parameter's state. Every key
// of the optimiser must be present with the parameter's length.
func (b *base) SetState(name string, st map[string][]float32) error {
	i, ok := b.index[name]
	if !ok {
		return fmt.Errorf("optim: SetState: unknown parameter %q", name)
	}
	for _, k := range b.keys {
		src, ok := st[k]
		if !ok {
			return fmt.Errorf("optim: SetState %q: missing %q", name, k)
		}
		dst := b.state[i][k]
		if len(src) != len(dst) {
			return fmt.Errorf("optim: SetState %q: %q has %d elements, want %d", name, k, len(src), len(dst))
		}
		copy(dst, src)
	}
	return nil
}

// ZeroState zeroes the named parameter's state at the given indices. Unknown
// names are ignored (a parameter this optimiser does not own has no state).
func (b *base) ZeroState(name string, idx []int) {
	i, ok := b.index[name]
	if !ok {
		return
	}
	for _, buf := range b.state[i] {
		for _, j := range idx {
			buf[j] = 0
		}
	}
}

// ZeroWhereMasked zeroes the named parameter's state where mask is 0.
func (b *base) ZeroWhereMasked(name string, mask []float32) {
	i, ok := b.index[name]
	if !ok {
		return
	}
	for _, buf := range b.state[i] {
		n := min(len(buf), len(mask))
		for j := 0; j < n; j++ {
			if mask[j] == 0 {
				buf[j] = 0
			}
		}
	}
}

// ZeroPruned is ZeroWhereMasked under the name methods.OptState uses, so an
// optimiser can be handed to a sparsification method as is.
func (b *base) ZeroPruned(name string, mask []float32) { b.ZeroWhereMasked(name, mask) }

// ZeroIndices is ZeroState under the name methods.OptState uses.
func (b *base) ZeroIndices(name string, idx []int) { b.ZeroState(name, idx) }

// StateDict flattens an optimiser's state into "param.key" entries (copies),
// plus "__steps__" holding the step counter split into two exact float32
// halves, for checkpoints.
func StateDict(o Optimizer, names []string) map[string][]float32 {
	out := map[string][]float32{}
	for _, n := range names {
		for k, v := range o.State(n) {
			out[n+"."+k] = append([]float32(nil), v...)
		}
	}
	s := o.Steps()
	out[stepsKey] = []float32{float32(s >> 24), float32(s & (1<<24 - 1))}
	return out
}

const stepsKey = "__steps__"

// LoadStateDict restores what StateDict saved for the given parameter names.
func LoadStateDict(o Optimizer, names []string, d map[string][]float32) error {
	keys := o.StateKeys()
	sort.Strings(keys)
	for _, n := range names {
		st := map[string][]float32{}
		for _, k := range keys {
			v, ok := d[n+"."+k]
			if !ok {
				return fmt.Errorf("optim: LoadStateDict: missing %q", n+"."+k)
			}
			st[k] = v
		}
		if err := o.SetState(n, st); err != nil {
			return fmt.Errorf("optim: LoadStateDict: %w", err)
		}
	}
	s, ok := d[stepsKey]
	if !ok || len(s) != 2 {
		return fmt.Errorf("optim: LoadStateDict: missing or bad %q", stepsKey)
	}
	o.SetSteps(int64(s[0])<<24 | int64(s[1]))
	return nil
}
