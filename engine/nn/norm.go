package nn

import (
	"math/rand/v2"

	"github.com/gap-harness/gap/engine"
)

// BatchNorm is nn.BatchNorm1d/2d: affine weight (ones) and bias (zeros), and
// running_mean/running_var buffers (PyTorch: momentum 0.1, eps 1e-5, unbiased
// running variance).
type BatchNorm struct {
	// Weight (gamma) and Bias (beta), never prunable.
	Weight, Bias *Param
	// State holds the running statistics and the momentum and eps.
	State *engine.BNState[float32]
}

// NewBatchNorm registers name+".weight", ".bias", ".running_mean" and
// ".running_var" for c channels.
func NewBatchNorm(ps *ParamSet, name string, c int) *BatchNorm {
	g := engine.NewTensor[float32](c)
	g.Fill(1)
	rm, rv := engine.NewTensor[float32](c), engine.NewTensor[float32](c)
	rv.Fill(1)
	bn := &BatchNorm{
		Weight: ps.Add(name+".weight", g, false),
		Bias:   ps.Add(name+".bias", engine.NewTensor[float32](c), false),
		State:  &engine.BNState[float32]{RunningMean: rm, RunningVar: rv, Momentum: 0.1, Eps: 1e-5},
	}
	ps.AddBuffer(name+".running_mean", rm)
	ps.AddBuffer(name+".running_var", rv)
	return bn
}

// Forward normalises x [N,C], [N,C,L] or [N,C,H,W]: batch statistics (and a
// running-statistics update) when training, running statistics otherwise.
func (b *BatchNorm) Forward(tp *engine.Tape[float32], x *engine.Var[float32], training bool) *engine.Var[float32] {
	return tp.BatchNorm(x, b.Weight.V, b.Bias.V, b.State, training)
}

// ForwardReLU is ReLU(Forward(x)) in one fused op with the same bits.
func (b *BatchNorm) ForwardReLU(tp *engine.Tape[float32], x *engine.Var[float32], training bool) *engine.Var[float32] {
	return tp.BatchNormReLU(x, b.Weight.V, b.Bias.V, b.State, training)
}

// LayerNorm is nn.LayerNorm over the last dimension, weight ones, bias zeros.
type LayerNorm struct {
	// Weight and Bias are the affine parameters.
	Weight, Bias *Param
	// Eps is added to the variance (PyTorch default 1e-5).
	Eps float64
}

// NewLayerNorm registers name+".weight" and ".bias" for dim features.
func NewLayerNorm(ps *ParamSet, name string, dim int, eps float64) *LayerNorm {
	g := engine.NewTensor[float32](dim)
	g.Fill(1)
	return &LayerNorm{
		Weight: ps.Add(name+".weight", g, false),
		Bias:   ps.Add(name+".bias", engine.NewTensor[float32](dim), false),
		Eps:    eps,
	}
}

// Forward normalises x over its last dimension.
func (l *LayerNorm) Forward(tp *engine.Tape[float32], x *engine.Var[float32]) *engine.Var[float32] {
	return tp.LayerNorm(x, l.Weight.V, l.Bias.V, l.Eps)
}

// Embedding is nn.Embedding: a [num, dim] table initialised N(0, 1).
type Embedding struct {
	// W is the table; prunable is the caller's choice (false by default).
	W *Param
}

// NewEmbedding registers name+".weight" of shape [num, dim].
func NewEmbedding(ps *ParamSet, name string, num, dim int, rng *rand.Rand) *Embedding {
	w := engine.NewTensor[float32](num, dim)
	Normal(w, 0, 1, rng)
	return &Embedding{W: ps.Add(name+".weight", w, false)}
}

// Forward looks up ids: [len(ids), dim].
func (e *Embedding) Forward(tp *engine.Tape[float32], ids []int32) *engine.Var[float32] {
	return tp.Embedding(e.W.V, ids)
}
