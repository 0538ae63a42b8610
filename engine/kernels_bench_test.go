package engine_test

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/blas"
)

// ResNet-20 (CIFAR) layer shapes at batch 128: c -> o channels, input size hw,
// stride s, and how many such convolutions the network has.
var resnet20Convs = []struct {
	c, o, hw, s, count int
}{
	{3, 16, 32, 1, 1},
	{16, 16, 32, 1, 6},
	{16, 32, 32, 2, 1},
	{32, 32, 16, 1, 5},
	{32, 64, 16, 2, 1},
	{64, 64, 8, 1, 5},
}

const benchBatch = 128

// cpuTimer reports, as the metric cpu-ms/op, the process CPU time per
// iteration: on a shared machine it is less disturbed than wall time (with 2
// threads an undisturbed op shows about twice its wall time).
type cpuTimer struct{ start time.Duration }

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU(b *testing.B) cpuTimer {
	b.ResetTimer()
	return cpuTimer{processCPU()}
}

func (c cpuTimer) report(b *testing.B) {
	b.ReportMetric(float64(processCPU()-c.start)/1e6/float64(b.N), "cpu-ms/op")
}

func randTensor(rng *rand.Rand, shape ...int) *engine.Tensor[float32] {
	t := engine.NewTensor[float32](shape...)
	for i := range t.Data() {
		t.Data()[i] = float32(rng.NormFloat64())
	}
	return t
}

// seedGrad runs backward from out with a gradient of ones (through a sum op).
func seedGrad(b *testing.B, tp *engine.Tape[float32], out *engine.Var[float32]) {
	val := tp.Alloc(1)
	l := tp.Op(val, func(o *engine.Var[float32]) {
		g := tp.GradOf(out).Data()
		for i := range g {
			g[i] += 1
		}
	}, out)
	if err := tp.Backward(l); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkConvResNet20 times one 3x3 convolution forward and backward (float32,
// 2 threads, no bias as in ResNet) for each of ResNet-20's layer shapes.
func BenchmarkConvResNet20(b *testing.B) {
	for _, l := range resnet20Convs {
		b.Run(fmt.Sprintf("c%d_o%d_hw%d_s%d", l.c, l.o, l.hw, l.s), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			x := randTensor(rng, benchBatch, l.c, l.hw, l.hw)
			w := engine.NewParam("w", randTensor(rng, l.o, l.c, 3, 3))
			tp := engine.NewTape[float32](2)
			o := engine.ConvOpts{StrideH: l.s, StrideW: l.s, PadH: 1, PadW: 1}
			ct := startCPU(b)
			for range b.N {
				var xv *engine.Var[float32]
				if l.c == 3 {
					xv = tp.Const(x) // the stem needs no input gradient
				} else {
					xv = tp.Input(x)
				}
				seedGrad(b, tp, tp.Conv2D(xv, w, nil, o))
				tp.Reset()
			}
			ct.report(b)
		})
	}
}

// BenchmarkBatchNormResNet20 times training-mode batch norm forward and backward
// on ResNet-20's three activation shapes.
func BenchmarkBatchNormResNet20(b *testing.B) {
	for _, l := range []struct{ c, hw int }{{16, 32}, {32, 16}, {64, 8}} {
		b.Run(fmt.Sprintf("c%d_hw%d", l.c, l.hw), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			x := randTensor(rng, benchBatch, l.c, l.hw, l.hw)
			g := engine.NewParam("g", randTensor(rng, l.c))
			be := engine.NewParam("b", randTensor(rng, l.c))
			st := engine.NewBNState[float32](l.c)
			tp := engine.NewTape[float32](2)
			ct := startCPU(b)
			for range b.N {
				seedGrad(b, tp, tp.BatchNorm(tp.Input(x), g, be, st, true))
				tp.Reset()
			}
			ct.report(b)
		})
	}
}

// BenchmarkResNet20ConvBN times the 19 convolutions and 19 batch norms of one
// ResNet-20 training step (forward and backward, batch 128, float32, 2
// threads): the bulk of the step's time.
func BenchmarkResNet20ConvBN(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	type layer struct {
		w, g, be *engine.Var[float32]
		st       *engine.BNState[float32]
		s        int
	}
	var layers []layer
	for _, l := range resnet20Convs {
		for i := 0; i < l.count; i++ {
			c := l.c
			if i > 0 {
				c = l.o
			}
			layers = append(layers, layer{
				w:  engine.NewParam("w", randTensor(rng, l.o, c, 3, 3)),
				g:  engine.NewParam("g", randTensor(rng, l.o)),
				be: engine.NewParam("b", randTensor(rng, l.o)),
				st: engine.NewBNState[float32](l.o), s: l.s,
			})
		}
	}
	x := randTensor(rng, benchBatch, 3, 32, 32)
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads%d", threads), func(b *testing.B) {
			tp := engine.NewTape[float32](threads)
			ct := startCPU(b)
			for range b.N {
				h := tp.Const(x)
				for _, l := range layers {
					h = tp.Conv2D(h, l.w, nil, engine.ConvOpts{StrideH: l.s, StrideW: l.s, PadH: 1, PadW: 1})
					h = tp.BatchNorm(h, l.g, l.be, l.st, true)
				}
				seedGrad(b, tp, h)
				tp.Reset()
			}
			ct.report(b)
		})
	}
}

// BenchmarkConvThreading compares the two ways to use 2 cores for ResNet-20's
// first-stage convolution: images split over 2 goroutines with single-threaded
// BLAS (the engine's design), against one goroutine whose gemms OpenBLAS
// threads itself (only meaningful with -tags openblas).
func BenchmarkConvThreading(b *testing.B) {
	for _, mode := range []string{"goroutines", "blas-threads"} {
		b.Run(mode, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			x := randTensor(rng, benchBatch, 16, 32, 32)
			w := engine.NewParam("w", randTensor(rng, 16, 16, 3, 3))
			threads := 2
			if mode == "blas-threads" {
				threads = 1
				blas.SetThreads(2)
				defer blas.SetThreads(1)
			}
			tp := engine.NewTape[float32](threads)
			o := engine.ConvOpts{PadH: 1, PadW: 1}
			ct := startCPU(b)
			for range b.N {
				seedGrad(b, tp, tp.Conv2D(tp.Input(x), w, nil, o))
				tp.Reset()
			}
			ct.report(b)
		})
	}
}
