package engine_test

// Shared helpers for the matmul, linear, conv, pool and norm tests.
//
// Tolerances: gradcheck.Check compares analytic gradients with central finite
// differences (step gradcheck.H = 1e-6) within gradcheck.AbsTol = 1e-7 plus
// gradcheck.RelTol = 1e-6 relative; gradcheck.CheckReference compares values and
// gradients with gorgonia within gradcheck.RefTol = 1e-10 (absolute and
// relative). Closed-form and naive-loop comparisons written here use closeTol =
// 1e-10 (float64, same formulas, different summation order). float32 results
// must agree with float64 within f32Tol = 1e-4 relative to the output's scale.

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/internal/gradcheck"
)

const (
	closeTol = 1e-10
	f32Tol   = 1e-4
)

// opFn is an op under test, written once generically and instantiated per type.
type opFn[T engine.Float] func(tp *engine.Tape[T], in []*engine.Var[T]) *engine.Var[T]

// weighted returns sum(out * w) recorded on tp.
func weighted[T engine.Float](tp *engine.Tape[T], out *engine.Var[T], w []float64) *engine.Var[T] {
	var s T
	for i, v := range out.Value.Data() {
		s += v * T(w[i])
	}
	val := tp.Alloc(1)
	val.Data()[0] = s
	return tp.Op(val, func(o *engine.Var[T]) {
		g := tp.GradOf(out)
		for i := range g.Data() {
			g.Data()[i] += o.Grad.Data()[0] * T(w[i])
		}
	}, out)
}

// runOp evaluates f on inputs converted to T with the given thread count and
// returns the output and the gradients of sum(out*w) (nil for noGrad inputs).
func runOp[T engine.Float](f opFn[T], inputs []*engine.Tensor[float64], w []float64, noGrad map[int]bool, threads int) ([]float64, [][]float64) {
	tp := engine.NewTape[T](threads)
	vars := make([]*engine.Var[T], len(inputs))
	for i, in := range inputs {
		t := engine.Convert[T](in)
		if noGrad[i] {
			vars[i] = tp.Const(t)
		} else {
			vars[i] = engine.NewParam("in", t)
		}
	}
	out := f(tp, vars)
	if w == nil {
		w = make([]float64, out.Value.Len())
		rng := rand.New(rand.NewPCG(7, 7))
		for i := range w {
			w[i] = rng.NormFloat64()
		}
	}
	if err := tp.Backward(weighted(tp, out, w)); err != nil {
		panic(err)
	}
	o := toF64(out.Value.Data())
	grads := make([][]float64, len(inputs))
	for i, v := range vars {
		if !noGrad[i] && v.Grad != nil {
			grads[i] = toF64(v.Grad.Data())
		}
	}
	return o, grads
}

func toF64[T engine.Float](x []T) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// scaledClose reports the first element where got and want differ by more than
// tol*(|want| + rms(want)), or "".
func scaledClose(got, want []float64, tol float64) string {
	var ss float64
	for _, v := range want {
		ss += v * v
	}
	rms := math.Sqrt(ss / float64(max(len(want), 1)))
	return gradcheck.Close(got, want, tol*rms, tol)
}

// checkF32 runs the op in float32 and float64 (2 threads) and requires the
// outputs and all gradients to agree within f32Tol.
func checkF32(t *testing.T, name string, f32 opFn[float32], f64 opFn[float64], inputs []*engine.Tensor[float64], noGrad map[int]bool) {
	t.Helper()
	o64, g64 := runOp(f64, inputs, nil, noGrad, 2)
	o32, g32 := runOp(f32, inputs, nil, noGrad, 2)
	if msg := scaledClose(o32, o64, f32Tol); msg != "" {
		t.Fatalf("%s: float32 output differs from float64: %s", name, msg)
	}
	for i := range inputs {
		if noGrad[i] {
			continue
		}
		if msg := scaledClose(g32[i], g64[i], f32Tol); msg != "" {
			t.Fatalf("%s: float32 gradient of input %d differs from float64: %s", name, i, msg)
		}
	}
}

// checkDeterministic runs the float32 op twice with 2 threads and requires
// bit-identical outputs and gradients.
func checkDeterministic(t *testing.T, name string, f opFn[float32], inputs []*engine.Tensor[float64]) {
	t.Helper()
	o1, g1 := runOp(f, inputs, nil, nil, 2)
	o2, g2 := runOp(f, inputs, nil, nil, 2)
	if msg := gradcheck.Close(o2, o1, 0, 0); msg != "" {
		t.Fatalf("%s: output not deterministic: %s", name, msg)
	}
	for i := range g1 {
		if msg := gradcheck.Close(g2[i], g1[i], 0, 0); msg != "" {
			t.Fatalf("%s: gradient %d not deterministic: %s", name, i, msg)
		}
	}
}

// expectClose fails t when got and want differ by more than closeTol.
func expectClose(t *testing.T, what string, got, want []float64) {
	t.Helper()
	if msg := gradcheck.Close(got, want, closeTol, closeTol); msg != "" {
		t.Fatalf("%s: %s", what, msg)
	}
}

// as64 adapts an opFn[float64] to gradcheck.Func.
func as64(f opFn[float64]) gradcheck.Func {
	return func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] { return f(tp, in) }
}

func tensors(ts ...*engine.Tensor[float64]) []*engine.Tensor[float64] { return ts }
