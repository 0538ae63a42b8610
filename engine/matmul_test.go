package engine_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/internal/gradcheck"
	G "gorgonia.org/gorgonia"
)

func matmulOp[T engine.Float](ta, tb bool) opFn[T] {
	return func(tp *engine.Tape[T], in []*engine.Var[T]) *engine.Var[T] {
		return tp.MatMulTrans(in[0], in[1], ta, tb)
	}
}

// shapeFor returns the stored shape of a [r,c] operand (swapped when trans),
// behind the batch dimensions.
func shapeFor(batch []int, r, c int, trans bool) []int {
	if trans {
		r, c = c, r
	}
	return append(append([]int(nil), batch...), r, c)
}

func TestMatMul2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			name := fmt.Sprintf("matmul ta=%v tb=%v", ta, tb)
			a := gradcheck.Random(rng, shapeFor(nil, 3, 4, ta)...)
			b := gradcheck.Random(rng, shapeFor(nil, 4, 5, tb)...)
			f := as64(matmulOp[float64](ta, tb))
			gradcheck.Check(t, name, f, tensors(a, b), nil, 1)
			ref := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
				x, y := in[0], in[1]
				var err error
				if ta {
					if x, err = G.Transpose(x); err != nil {
						return nil, err
					}
				}
				if tb {
					if y, err = G.Transpose(y); err != nil {
						return nil, err
					}
				}
				return G.Mul(x, y)
			}
			gradcheck.CheckReference(t, name, f, ref, tensors(a, b), nil, 2)
			checkF32(t, name, matmulOp[float32](ta, tb), matmulOp[float64](ta, tb), tensors(a, b), nil)
		}
	}
}

func TestMatMulBatched(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			name := fmt.Sprintf("batched matmul ta=%v tb=%v", ta, tb)
			a := gradcheck.Random(rng, shapeFor([]int{3}, 2, 4, ta)...)
			b := gradcheck.Random(rng, shapeFor([]int{3}, 4, 5, tb)...)
			f := as64(matmulOp[float64](ta, tb))
			gradcheck.Check(t, name, f, tensors(a, b), nil, 1)
			ref := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
				return G.BatchedMatMul(in[0], in[1], ta, tb)
			}
			gradcheck.CheckReference(t, name, f, ref, tensors(a, b), nil, 2)
			checkF32(t, name, matmulOp[float32](ta, tb), matmulOp[float64](ta, tb), tensors(a, b), nil)
		}
	}
}

// TestMatMul4DAndShared checks 4-D batches and a shared 2-D right operand with
// finite differences, and their forward values against 2-D products.
func TestMatMul4DAndShared(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		name   string
		batch  []int
		shared bool
		ta, tb bool
	}{
		{"4-D", []int{2, 3}, false, false, true},
		{"4-D transA", []int{2, 2}, false, true, false},
		{"shared", []int{2, 3}, true, false, false},
		{"shared transB", []int{4}, true, false, true},
		{"shared transA", []int{3}, true, true, false},
		{"shared transA transB", []int{2}, true, true, true},
	} {
		a := gradcheck.Random(rng, shapeFor(tc.batch, 3, 4, tc.ta)...)
		bb := tc.batch
		if tc.shared {
			bb = nil
		}
		b := gradcheck.Random(rng, shapeFor(bb, 4, 2, tc.tb)...)
		f := as64(matmulOp[float64](tc.ta, tc.tb))
		out := gradcheck.Check(t, tc.name, f, tensors(a, b), nil, 1)
		nb := a.Len() / 12
		for i := 0; i < nb; i++ {
			ai := engine.FromSlice(a.Data()[i*12:(i+1)*12], shapeFor(nil, 3, 4, tc.ta)...)
			boff := i * 8
			if tc.shared {
				boff = 0
			}
			bi := engine.FromSlice(b.Data()[boff:boff+8], shapeFor(nil, 4, 2, tc.tb)...)
			tp := engine.NewTape[float64](1)
			want := tp.MatMulTrans(tp.Const(ai), tp.Const(bi), tc.ta, tc.tb).Value.Data()
			expectClose(t, tc.name+" forward", out.Data()[i*6:(i+1)*6], want)
		}
		checkF32(t, tc.name, matmulOp[float32](tc.ta, tc.tb), matmulOp[float64](tc.ta, tc.tb), tensors(a, b), nil)
	}
}

// TestMatMulLarge exercises the split (multi-goroutine) gemm paths, comparing
// float32 with float64 and checking determinism.
func TestMatMulLarge(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	a := gradcheck.Random(rng, 200, 150)
	b := gradcheck.Random(rng, 150, 180)
	checkF32(t, "large matmul", matmulOp[float32](false, false), matmulOp[float64](false, false), tensors(a, b), nil)
	checkDeterministic(t, "large matmul", matmulOp[float32](false, false), tensors(a, b))
	// Thread counts 1 and 2 agree to rounding.
	bt := gradcheck.Random(rng, 180, 150)
	o1, g1 := runOp(matmulOp[float64](false, true), tensors(a, bt), nil, nil, 1)
	o2, g2 := runOp(matmulOp[float64](false, true), tensors(a, bt), nil, nil, 2)
	expectClose(t, "threads 1 vs 2 forward", o2, o1)
	for i := range g1 {
		expectClose(t, "threads 1 vs 2 gradient", g2[i], g1[i])
	}
}
