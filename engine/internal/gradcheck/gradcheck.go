// Package gradcheck checks the engine's operations in float64: analytic gradients
// against central finite differences, and values and gradients against gorgonia,
// the independent reference (see gorgonia.go).
package gradcheck

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gap-harness/gap/engine"
)

// Func builds a computation on tp from the given input Vars and returns its output
// (any shape). Check reduces the output to a scalar with fixed random weights.
type Func func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64]

// Tolerances used by Check. Central differences with step H have truncation error
// O(H^2) and rounding error O(eps/H); with H = 1e-6 both are near 1e-10 for
// smooth functions of O(1) inputs, so 1e-6 relative leaves room for curvature.
const (
	H      = 1e-6
	RelTol = 1e-6
	AbsTol = 1e-7
)

// Random returns a tensor of the given shape with N(0,1) entries.
func Random(rng *rand.Rand, shape ...int) *engine.Tensor[float64] {
	t := engine.NewTensor[float64](shape...)
	for i := range t.Data() {
		t.Data()[i] = rng.NormFloat64()
	}
	return t
}

// Weights returns fixed random weights of n elements used to reduce an output to a
// scalar loss L = sum(out * w), so every output element's gradient is exercised.
func Weights(rng *rand.Rand, n int) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	return w
}

// Loss evaluates f on inputs (no recording) and returns sum(out * w).
func loss(f Func, inputs []*engine.Tensor[float64], w []float64) float64 {
	tp := engine.NewTape[float64](1)
	tp.SetNoGrad(true)
	vars := make([]*engine.Var[float64], len(inputs))
	for i, t := range inputs {
		vars[i] = tp.Const(t)
	}
	out := f(tp, vars).Value.Data()
	var s float64
	for i, v := range out {
		s += v * w[i]
	}
	return s
}

// Analytic runs f with recording on and returns its output and the gradients of
// sum(out * w) with respect to each input (nil for inputs in noGrad).
func Analytic(f Func, inputs []*engine.Tensor[float64], w []float64, noGrad map[int]bool) (*engine.Tensor[float64], []*engine.Tensor[float64], error) {
	tp := engine.NewTape[float64](2)
	vars := make([]*engine.Var[float64], len(inputs))
	for i, t := range inputs {
		if noGrad[i] {
			vars[i] = tp.Const(t)
		} else {
			vars[i] = engine.NewParam("in", t) // params keep their gradients after Backward
		}
	}
	out := f(tp, vars)
	if out.Value.Len() != len(w) {
		return nil, nil, fmt.Errorf("output has %d elements, weights %d", out.Value.Len(), len(w))
	}
	wt := engine.FromSlice(append([]float64(nil), w...), out.Shape()...)
	l := weightedSum(tp, out, wt)
	if err := tp.Backward(l); err != nil {
		return nil, nil, err
	}
	grads := make([]*engine.Tensor[float64], len(inputs))
	for i, v := range vars {
		if !noGrad[i] {
			if v.Grad == nil {
				grads[i] = engine.NewTensor[float64](inputs[i].Shape()...)
			} else {
				grads[i] = v.Grad.Clone()
			}
		}
	}
	return out.Value.Clone(), grads, nil
}

// weightedSum is sum(out * w) recorded on tp, written here so the checker does not
// depend on the operations it checks.
func weightedSum(tp *engine.Tape[float64], out *engine.Var[float64], w *engine.Tensor[float64]) *engine.Var[float64] {
	var s float64
	for i, v := range out.Value.Data() {
		s += v * w.Data()[i]
	}
	val := tp.Alloc(1)
	val.Data()[0] = s
	return tp.Op(val, func(o *engine.Var[float64]) {
		g := tp.GradOf(out)
		for i := range g.Data() {
			g.Data()[i] += o.Grad.Data()[0] * w.Data()[i]
		}
	}, out)
}

// Numeric returns the central-difference gradient of sum(f(inputs) * w) with
// respect to input i.
func Numeric(f Func, inputs []*engine.Tensor[float64], w []float64, i int) *engine.Tensor[float64] {
	x := inputs[i].Data()
	g := engine.NewTensor[float64](inputs[i].Shape()...)
	for j := range x {
		orig := x[j]
		x[j] = orig + H
		lp := loss(f, inputs, w)
		x[j] = orig - H
		lm := loss(f, inputs, w)
		x[j] = orig
		g.Data()[j] = (lp - lm) / (2 * H)
	}
	return g
}

// Close reports the first element where got and want differ by more than
// abs + rel*|want|, or "" when all are close.
func Close(got, want []float64, abs, rel float64) string {
	if len(got) != len(want) {
		return fmt.Sprintf("length %d, want %d", len(got), len(want))
	}
	for i := range got {
		if math.IsNaN(got[i]) != math.IsNaN(want[i]) || math.Abs(got[i]-want[i]) > abs+rel*math.Abs(want[i]) {
			return fmt.Sprintf("element %d: got %.12g want %.12g (diff %.3g)", i, got[i], want[i], got[i]-want[i])
		}
	}
	return ""
}

// T is the subset of testing.TB that Check uses.
type T interface {
	Helper()
	Fatalf(format string, args ...any)
}

// Check compares the analytic gradient of f with central differences for every
// input not in noGrad, and fails t on the first mismatch. It returns the forward
// output for further checks.
func Check(t T, name string, f Func, inputs []*engine.Tensor[float64], noGrad map[int]bool, seed uint64) *engine.Tensor[float64] {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 99))
	tp := engine.NewTape[float64](1)
	vars := make([]*engine.Var[float64], len(inputs))
	for i, in := range inputs {
		vars[i] = tp.Const(in)
	}
	n := f(tp, vars).Value.Len()
	w := Weights(rng, n)
	out, grads, err := Analytic(f, inputs, w, noGrad)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for i := range inputs {
		if noGrad[i] {
			continue
		}
		num := Numeric(f, inputs, w, i)
		if msg := Close(grads[i].Data(), num.Data(), AbsTol, RelTol); msg != "" {
			t.Fatalf("%s: gradient of input %d differs from finite differences: %s", name, i, msg)
		}
	}
	return out
}

func newRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 99)) }
