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

// smNaiveLog returns log-softmax of x along axis, computed directly in float64.
func smNaiveLog(x *engine.Tensor[float64], axis int) []float64 {
	shape := x.Shape()
	if axis < 0 {
		axis += len(shape)
	}
	outer, n, inner := 1, shape[axis], 1
	for _, d := range shape[:axis] {
		outer *= d
	}
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	out := make([]float64, x.Len())
	for o := range outer {
		for j := range inner {
			m := math.Inf(-1)
			for c := range n {
				m = math.Max(m, x.Data()[(o*n+c)*inner+j])
			}
			var s float64
			for c := range n {
				s += math.Exp(x.Data()[(o*n+c)*inner+j] - m)
			}
			for c := range n {
				i := (o*n+c)*inner + j
				out[i] = x.Data()[i] - m - math.Log(s)
			}
		}
	}
	return out
}

func TestSoftmaxLogSoftmax(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 1))
	x := gradcheck.Random(rng, 3, 4, 5)
	for _, log := range []bool{false, true} {
		for _, axis := range []int{0, 1, 2, -1} {
			name := fmt.Sprintf("softmax log=%v axis %d", log, axis)
			f := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] {
				if log {
					return tp.LogSoftmax(in[0], axis)
				}
				return tp.Softmax(in[0], axis)
			}
			out := gradcheck.Check(t, name, f, ewTensors{x}, nil, 1)
			want := smNaiveLog(x, axis)
			if !log {
				for i := range want {
					want[i] = math.Exp(want[i])
				}
			}
			if msg := gradcheck.Close(out.Data(), want, ewTol, ewTol); msg != "" {
				t.Fatalf("%s: %s", name, msg)
			}
			if axis != 2 && axis != -1 {
				continue // gorgonia's SoftMax is compared along the last axis only
			}
			ref := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
				if log {
					return G.LogSoftMax(in[0], 2)
				}
				return G.SoftMax(in[0], 2)
			}
			gradcheck.CheckReference(t, name, f, ref, ewTensors{x}, nil, 2)
		}
	}
}

// TestSoftmaxStable checks huge logits do not overflow.
func TestSoftmaxStable(t *testing.T) {
	tp := engine.NewTape[float32](1)
	x := tp.Const(engine.FromSlice([]float32{1000, 1000, -1000, 3e38}, 1, 4))
	got := tp.Softmax(x, 1).Value.Data()
	if got[0] != 0 || got[3] != 1 {
		t.Fatalf("softmax of huge logits: %v", got)
	}
	lg := tp.LogSoftmax(tp.Const(engine.FromSlice([]float32{1000, 1000}, 2)), 0).Value.Data()
	if math.Abs(float64(lg[0])+math.Ln2) > 1e-6 {
		t.Fatalf("log-softmax(1000,1000) = %v", lg)
	}
}
