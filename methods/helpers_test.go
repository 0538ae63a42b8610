package methods

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// fakeOpt is an optimiser state of one momentum slot per element, all 1 at
// the start, recording what was zeroed.
type fakeOpt struct {
	state   map[string][]float32
	indices map[string][][]int
}

func newFakeOpt(ts []*Tensor) *fakeOpt {
	o := &fakeOpt{state: map[string][]float32{}, indices: map[string][][]int{}}
	for _, t := range ts {
		s := make([]float32, t.Size())
		for i := range s {
			s[i] = 1
		}
		o.state[t.Name] = s
	}
	return o
}

func (o *fakeOpt) ZeroPruned(name string, mask []float32) {
	for i, m := range mask {
		if m == 0 {
			o.state[name][i] = 0
		}
	}
}

func (o *fakeOpt) ZeroIndices(name string, idx []int) {
	o.indices[name] = append(o.indices[name], append([]int(nil), idx...))
	for _, i := range idx {
		o.state[name][i] = 0
	}
}

// spec describes one fake tensor.
type spec struct {
	shape     []int
	partition int
	dense     bool
}

// fakeModel is a small model: a dense first layer, partitioned middle
// layers and a dense last layer, plus one tensor in no partition.
func fakeSpecs() []spec {
	return []spec{
		{[]int{8, 3, 3, 3}, -1, true},
		{[]int{16, 8, 3, 3}, 0, false},
		{[]int{16, 16, 3, 3}, 0, false},
		{[]int{32, 16, 3, 3}, 1, false},
		{[]int{32, 32, 3, 3}, 1, false},
		{[]int{64, 32}, 2, false},
		{[]int{64, 64}, 2, false},
		{[]int{48, 64}, -1, false},
		{[]int{10, 48}, -1, true},
	}
}

func newCtx(seed uint64, specs []spec, sparsity float64, dist string) *Context {
	rng := rand.New(rand.NewPCG(seed, 7))
	var ts []*Tensor
	for i, s := range specs {
		n := 1
		for _, d := range s.shape {
			n *= d
		}
		t := &Tensor{Name: fmt.Sprintf("layer%d.weight", i), Shape: s.shape, Partition: s.partition, Dense: s.dense,
			W: make([]float32, n), G: make([]float32, n), M: make([]float32, n), FwdFLOPs: float64(2 * n)}
		for j := range t.W {
			t.W[j] = float32(rng.NormFloat64())
			t.G[j] = float32(rng.NormFloat64())
			t.M[j] = 1
		}
		ts = append(ts, t)
	}
	return &Context{Tensors: ts, Opt: newFakeOpt(ts), RNG: rand.New(rand.NewPCG(seed, 11)),
		StepsPerEpoch: 10, Sparsity: sparsity, Distribution: dist}
}

// train emulates a runner's optimiser step: every weight moves (dense
// gradient step), then masks are applied.
func train(ctx *Context) {
	for _, t := range ctx.Tensors {
		for i := range t.W {
			t.W[i] += 0.1 * float32(ctx.RNG.NormFloat64())
		}
	}
	ApplyMasks(ctx)
}

// checkMasked fails unless every pruned weight is 0 with zero optimiser
// state, and every Dense tensor is fully unmasked.
func checkMasked(t *testing.T, ctx *Context, where string) {
	t.Helper()
	o := ctx.Opt.(*fakeOpt)
	for _, x := range ctx.Tensors {
		for i, m := range x.M {
			if m == 0 && (x.W[i] != 0 || o.state[x.Name][i] != 0) {
				t.Fatalf("%s: %s[%d] pruned but W=%v state=%v", where, x.Name, i, x.W[i], o.state[x.Name][i])
			}
			if x.Dense && m != 1 {
				t.Fatalf("%s: Dense tensor %s has mask %v at %d", where, x.Name, m, i)
			}
		}
	}
}

// checkTargets fails unless every non-Dense tensor's kept count equals its
// target keep count (per layer), and for global the overall count is exact.
func checkTargets(t *testing.T, ctx *Context, where string) {
	t.Helper()
	s, err := ResolveTargets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	total, ones := 0, 0
	for i, x := range ctx.Tensors {
		if x.Dense {
			continue
		}
		if got, want := CountOnes(x.M), KeepCount(x.Size(), s[i]); got != want {
			t.Fatalf("%s: %s keeps %d, want %d (sparsity %.4f)", where, x.Name, got, want, s[i])
		}
		if ctx.Distribution == Uniform && s[i] != ctx.Sparsity {
			t.Fatalf("%s: uniform target of %s is %v", where, x.Name, s[i])
		}
		total += x.Size()
		ones += CountOnes(x.M)
	}
	if ctx.Distribution == Global && ones != KeepCount(total, ctx.Sparsity) {
		t.Fatalf("%s: global keeps %d of %d, want %d", where, ones, total, KeepCount(total, ctx.Sparsity))
	}
	if ctx.Distribution == ERK {
		if d := ones - KeepCount(total, ctx.Sparsity); d > len(ctx.Tensors) || d < -len(ctx.Tensors) {
			t.Fatalf("%s: erk keeps %d of %d, want %d within rounding", where, ones, total, KeepCount(total, ctx.Sparsity))
		}
	}
}

func pow(a, b float64) float64 { return math.Pow(a, b) }

// maskUpdate runs a method's mask-update hook for the current step: Update,
// then AfterStep for methods that update after the optimiser step (SET).
func maskUpdate(m Method, ctx *Context) error {
	if err := m.Update(ctx); err != nil {
		return err
	}
	if as, ok := m.(AfterStepper); ok {
		return as.AfterStep(ctx)
	}
	return nil
}
