package engine_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/internal/gradcheck"
	G "gorgonia.org/gorgonia"
)

// bnOp is batch norm with a fresh PyTorch-default state per call (so finite
// differences see no state drift); in evaluation the running statistics are
// fixed tensors given by rm and rv.
func bnOp[T engine.Float](training bool, rm, rv []float64) opFn[T] {
	return func(tp *engine.Tape[T], in []*engine.Var[T]) *engine.Var[T] {
		st := engine.NewBNState[T](in[0].Shape()[1])
		if rm != nil {
			st.RunningMean = engine.Convert[T](engine.FromSlice(rm, len(rm)))
			st.RunningVar = engine.Convert[T](engine.FromSlice(rv, len(rv)))
		}
		return tp.BatchNorm(in[0], in[1], in[2], st, training)
	}
}

func bnShape(shape []int) []int {
	s := make([]int, len(shape))
	for i := range s {
		s[i] = 1
	}
	s[1] = shape[1]
	return s
}

// TestBatchNormTraining checks training-mode batch norm for [N,C], [N,C,L] and
// [N,C,H,W] against finite differences (x, gamma, beta), gorgonia's BatchNorm
// (values and gradients; for rank 2 and 4, the ranks it supports) and float32.
func TestBatchNormTraining(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for _, shape := range [][]int{{6, 3}, {4, 3, 5}, {3, 2, 4, 5}} {
		name := fmt.Sprintf("batchnorm train %v", shape)
		c := shape[1]
		x := gradcheck.Random(rng, shape...)
		for i := range x.Data() {
			x.Data()[i] = 2*x.Data()[i] + 0.5
		}
		in := tensors(x, gradcheck.Random(rng, c), gradcheck.Random(rng, c))
		f := as64(bnOp[float64](true, nil, nil))
		gradcheck.Check(t, name, f, in, nil, 1)
		if len(shape) != 3 {
			ref := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
				sc, err := G.Reshape(in[1], bnShape(shape))
				if err != nil {
					return nil, err
				}
				bi, err := G.Reshape(in[2], bnShape(shape))
				if err != nil {
					return nil, err
				}
				y, _, _, _, err := G.BatchNorm(in[0], sc, bi, 0.1, 1e-5)
				return y, err
			}
			gradcheck.CheckReference(t, name, f, ref, in, nil, 2)
		}
		checkF32(t, name, bnOp[float32](true, nil, nil), bnOp[float64](true, nil, nil), in, nil)
	}
}

// TestBatchNormRunningStats checks the running-statistics update against the
// hand formulas r = 0.9 r + 0.1 stat (unbiased variance), over two steps, and
// that evaluation mode uses the running statistics:
// y = (x-rm)/sqrt(rv+eps)*gamma + beta, with its gradients checked by finite
// differences.
func TestBatchNormRunningStats(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	n, c, s := 4, 3, 6
	x := gradcheck.Random(rng, n, c, 2, 3)
	gamma, beta := gradcheck.Random(rng, c), gradcheck.Random(rng, c)
	st := engine.NewBNState[float64](c)
	tp := engine.NewTape[float64](2)
	wantM, wantV := make([]float64, c), make([]float64, c)
	for i := range wantV {
		wantV[i] = 1
	}
	for step := 0; step < 2; step++ {
		tp.BatchNorm(tp.Const(x), tp.Const(gamma), tp.Const(beta), st, true)
		for ch := 0; ch < c; ch++ {
			var sum, ss float64
			for i := 0; i < n; i++ {
				for j := 0; j < s; j++ {
					sum += x.Data()[(i*c+ch)*s+j]
				}
			}
			mu := sum / float64(n*s)
			for i := 0; i < n; i++ {
				for j := 0; j < s; j++ {
					d := x.Data()[(i*c+ch)*s+j] - mu
					ss += d * d
				}
			}
			wantM[ch] = 0.9*wantM[ch] + 0.1*mu
			wantV[ch] = 0.9*wantV[ch] + 0.1*ss/float64(n*s-1)
		}
		expectClose(t, "running mean", st.RunningMean.Data(), wantM)
		expectClose(t, "running var", st.RunningVar.Data(), wantV)
		tp.Reset()
	}
	y := tp.BatchNorm(tp.Const(x), tp.Const(gamma), tp.Const(beta), st, false).Value.Data()
	want := make([]float64, x.Len())
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			for j := 0; j < s; j++ {
				k := (i*c+ch)*s + j
				want[k] = (x.Data()[k]-wantM[ch])/math.Sqrt(wantV[ch]+1e-5)*gamma.Data()[ch] + beta.Data()[ch]
			}
		}
	}
	expectClose(t, "batchnorm eval forward", y, want)
	expectClose(t, "eval leaves running mean", st.RunningMean.Data(), wantM)
	rm, rv := append([]float64(nil), wantM...), append([]float64(nil), wantV...)
	in := tensors(x, gamma, beta)
	gradcheck.Check(t, "batchnorm eval", as64(bnOp[float64](false, rm, rv)), in, nil, 1)
	checkF32(t, "batchnorm eval", bnOp[float32](false, rm, rv), bnOp[float64](false, rm, rv), in, nil)
	checkDeterministic(t, "batchnorm", bnOp[float32](true, nil, nil), in)
}

func lnOp[T engine.Float](affine bool) opFn[T] {
	return func(tp *engine.Tape[T], in []*engine.Var[T]) *engine.Var[T] {
		if affine {
			return tp.LayerNorm(in[0], in[1], in[2], 1e-5)
		}
		return tp.LayerNorm(in[0], nil, nil, 1e-5)
	}
}

// TestLayerNorm checks layer norm against a direct implementation, finite
// differences (x, gamma, beta) and float32.
func TestLayerNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 46))
	d := 7
	x := gradcheck.Random(rng, 2, 3, d)
	gamma, beta := gradcheck.Random(rng, d), gradcheck.Random(rng, d)
	in := tensors(x, gamma, beta)
	f := as64(lnOp[float64](true))
	out := gradcheck.Check(t, "layernorm", f, in, nil, 1)
	want := make([]float64, 0, x.Len())
	for r := 0; r < 6; r++ {
		row := x.Data()[r*d : (r+1)*d]
		var mu, v float64
		for _, e := range row {
			mu += e / float64(d)
		}
		for _, e := range row {
			v += (e - mu) * (e - mu) / float64(d)
		}
		for j, e := range row {
			want = append(want, (e-mu)/math.Sqrt(v+1e-5)*gamma.Data()[j]+beta.Data()[j])
		}
	}
	expectClose(t, "layernorm forward vs direct", out.Data(), want)
	gradcheck.Check(t, "layernorm no affine", as64(lnOp[float64](false)), in[:1], nil, 2)
	checkF32(t, "layernorm", lnOp[float32](true), lnOp[float64](true), in, nil)
	big := tensors(gradcheck.Random(rng, 300, 40), gradcheck.Random(rng, 40), gradcheck.Random(rng, 40))
	checkF32(t, "large layernorm", lnOp[float32](true), lnOp[float64](true), big, nil)
	checkDeterministic(t, "layernorm", lnOp[float32](true), big)
}
