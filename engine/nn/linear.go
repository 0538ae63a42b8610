package nn

import (
	"math/rand/v2"

	"github.com/gap-harness/gap/engine"
)

// Linear is y = x W^T + b (nn.Linear), W [out, in].
type Linear struct {
	// W is the weight [out, in] (prunable); B the bias [out] or nil.
	W, B *Param
	// In and Out are the feature sizes.
	In, Out int
}

// NewLinear registers name+".weight" (and name+".bias" when bias) in ps with
// PyTorch's default init, and sets the weight's FwdFLOPs to 2*in*out.
func NewLinear(ps *ParamSet, name string, in, out int, bias bool, rng *rand.Rand) *Linear {
	w := engine.NewTensor[float32](out, in)
	DefaultWeight(w, rng)
	l := &Linear{W: ps.Add(name+".weight", w, true), In: in, Out: out}
	l.W.FwdFLOPs = 2 * float64(in) * float64(out)
	if bias {
		b := engine.NewTensor[float32](out)
		DefaultBias(b, in, rng)
		l.B = ps.Add(name+".bias", b, false)
	}
	return l
}

// Forward applies the layer to x [..., in], through SparseLinear when the
// weight has a prepared sparse pattern.
func (l *Linear) Forward(tp *engine.Tape[float32], x *engine.Var[float32]) *engine.Var[float32] {
	if l.W.Sparse != nil {
		return tp.SparseLinear(x, l.W.V, varOf(l.B), l.W.Sparse)
	}
	return tp.Linear(x, l.W.V, varOf(l.B))
}

func varOf(p *Param) *engine.Var[float32] {
	if p == nil {
		return nil
	}
	return p.V
}
