package engine_test

import (
	"math/rand/v2"
	"testing"

	"github.com/gap-harness/gap/engine"
)

// Elementwise benchmarks at ResNet-20 CIFAR sizes (batch 128, first stage
// [128,16,32,32], float32, two threads). Run with
//
//	go test -run '^$' -bench 'Elem' -benchtime 20x ./engine/
//
// SetBytes counts the bytes the forward reads and writes once, so MB/s compares
// with memory bandwidth.

var ewBenchShape = []int{128, 16, 32, 32}

func ewBenchTensor(shape ...int) *engine.Tensor[float32] {
	rng := rand.New(rand.NewPCG(1, 1))
	t := engine.NewTensor[float32](shape...)
	for i := range t.Data() {
		t.Data()[i] = float32(rng.NormFloat64())
	}
	return t
}

func ewBenchBinary(b *testing.B, bShape []int, op func(tp *engine.Tape[float32], x, y *engine.Var[float32]) *engine.Var[float32], backward bool) {
	x, y := engine.NewParam("x", ewBenchTensor(ewBenchShape...)), engine.NewParam("y", ewBenchTensor(bShape...))
	tp := engine.NewTape[float32](2)
	b.SetBytes(int64(3 * 4 * x.Value.Len()))
	b.ResetTimer()
	for range b.N {
		out := op(tp, x, y)
		if backward {
			if err := tp.Backward(tp.SumAll(out)); err != nil {
				b.Fatal(err)
			}
		}
		tp.Reset()
	}
}

func BenchmarkElemAddSameShape(b *testing.B) {
	ewBenchBinary(b, ewBenchShape, (*engine.Tape[float32]).Add, false)
}

func BenchmarkElemAddChannel(b *testing.B) {
	ewBenchBinary(b, []int{1, 16, 1, 1}, (*engine.Tape[float32]).Add, false)
}

func BenchmarkElemMulChannel(b *testing.B) {
	ewBenchBinary(b, []int{1, 16, 1, 1}, (*engine.Tape[float32]).Mul, false)
}

func BenchmarkElemAddSameShapeBackward(b *testing.B) {
	ewBenchBinary(b, ewBenchShape, (*engine.Tape[float32]).Add, true)
}

func BenchmarkElemAddChannelBackward(b *testing.B) {
	ewBenchBinary(b, []int{1, 16, 1, 1}, (*engine.Tape[float32]).Add, true)
}

func BenchmarkElemMulSameShapeBackward(b *testing.B) {
	ewBenchBinary(b, ewBenchShape, (*engine.Tape[float32]).Mul, true)
}

func ewBenchUnary(b *testing.B, op func(tp *engine.Tape[float32], x *engine.Var[float32]) *engine.Var[float32]) {
	x := engine.NewParam("x", ewBenchTensor(ewBenchShape...))
	tp := engine.NewTape[float32](2)
	b.SetBytes(int64(2 * 4 * x.Value.Len()))
	b.ResetTimer()
	for range b.N {
		op(tp, x)
		tp.Reset()
	}
}

func BenchmarkElemReLU(b *testing.B) { ewBenchUnary(b, (*engine.Tape[float32]).ReLU) }

func BenchmarkElemScale(b *testing.B) {
	ewBenchUnary(b, func(tp *engine.Tape[float32], x *engine.Var[float32]) *engine.Var[float32] { return tp.Scale(x, 0.5) })
}

func BenchmarkElemGELU(b *testing.B) { ewBenchUnary(b, (*engine.Tape[float32]).GELU) }

func BenchmarkElemSumAll(b *testing.B) { ewBenchUnary(b, (*engine.Tape[float32]).SumAll) }

func BenchmarkElemSumNHW(b *testing.B) {
	ewBenchUnary(b, func(tp *engine.Tape[float32], x *engine.Var[float32]) *engine.Var[float32] {
		return tp.Sum(x, []int{0, 2, 3}, false)
	})
}

func BenchmarkElemCrossEntropy(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	x := engine.NewParam("x", ewBenchTensor(128, 1000))
	labels := make([]int32, 128)
	for i := range labels {
		labels[i] = int32(rng.IntN(1000))
	}
	tp := engine.NewTape[float32](2)
	b.ResetTimer()
	for range b.N {
		if err := tp.Backward(tp.CrossEntropy(x, labels, engine.CEOpts{LabelSmoothing: 0.1})); err != nil {
			b.Fatal(err)
		}
		tp.Reset()
	}
}

func BenchmarkElemReLUBackward(b *testing.B) {
	x := engine.NewParam("x", ewBenchTensor(ewBenchShape...))
	tp := engine.NewTape[float32](2)
	b.SetBytes(int64(3 * 4 * x.Value.Len()))
	b.ResetTimer()
	for range b.N {
		if err := tp.Backward(tp.SumAll(tp.ReLU(x))); err != nil {
			b.Fatal(err)
		}
		tp.Reset()
	}
}

// BenchmarkElemSoftmaxAttention is an attention-sized softmax along the last axis.
func BenchmarkElemSoftmaxAttention(b *testing.B) {
	x := engine.NewParam("x", ewBenchTensor(64, 128, 128))
	tp := engine.NewTape[float32](2)
	b.SetBytes(int64(2 * 4 * x.Value.Len()))
	b.ResetTimer()
	for range b.N {
		tp.Softmax(x, -1)
		tp.Reset()
	}
}
