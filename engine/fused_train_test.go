package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"syscall"
	"testing"
)

// trainingData returns n values of random sign with exact zeros, negative
// zeros and repeated values mixed in, so that a ReLU mask, a -0 gradient
// and +0 + -0 all occur.
func trainingData[T Float](rng *rand.Rand, n int) []T {
	d := make([]T, n)
	for i := range d {
		switch rng.IntN(10) {
		case 0:
			d[i] = 0
		case 1:
			d[i] = T(math.Copysign(0, -1))
		default:
			d[i] = T(rng.NormFloat64())
		}
	}
	return d
}

// sameBits reports the first index where a and b differ in their bits.
func sameBits[T Float](t *testing.T, what string, a, b []T) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: lengths %d and %d", what, len(a), len(b))
	}
	for i := range a {
		if math.Float64bits(float64(a[i])) != math.Float64bits(float64(b[i])) || math.Signbit(float64(a[i])) != math.Signbit(float64(b[i])) {
			t.Fatalf("%s: element %d: %v (fused) vs %v (two ops)", what, i, a[i], b[i])
		}
	}
}

// fusedCase runs build (fused or not) on fresh copies of the inputs, seeds
// the output gradient with dz (through an op that adds it), optionally
// gives x a gradient contribution first (pre, to test accumulation into an
// existing buffer), and returns the output, x's and the parameters'
// gradients.
func runFusedCase[T Float](t *testing.T, threads int, xs []int, xd, dz []T, pre bool,
	build func(tp *Tape[T], x *Var[T]) *Var[T], params ...*Var[T]) (out []T, grads [][]T) {
	t.Helper()
	tp := NewTape[T](threads)
	for _, p := range params {
		p.ZeroGrad()
	}
	x0 := tp.Input(FromSlice(append([]T(nil), xd...), xs...))
	// x is an op output (so its gradient is pooled and can be fresh), and
	// with pre it has a second consumer recorded before the fused op, whose
	// backward runs after it.
	x := tp.Op(FromSlice(append([]T(nil), xd...), xs...), func(o *Var[T]) {
		g := tp.GradOf(x0).data
		for i, v := range o.Grad.data {
			g[i] += v
		}
	}, x0)
	var side *Var[T]
	if pre {
		side = tp.Scale(x, 0.5)
	}
	y := build(tp, x)
	l := tp.Op(tp.Alloc(1), func(o *Var[T]) {
		g := tp.GradOf(y).data
		for i := range g {
			g[i] += dz[i]
		}
		if side != nil {
			gs := tp.GradOf(side).data
			for i := range gs {
				gs[i] += dz[i%len(dz)] * 0.25
			}
		}
	}, y, side)
	if err := tp.Backward(l); err != nil {
		t.Fatal(err)
	}
	out = append([]T(nil), y.Value.data...)
	grads = append(grads, append([]T(nil), x0.Grad.data...))
	for _, p := range params {
		if p.Grad == nil {
			grads = append(grads, nil)
			continue
		}
		grads = append(grads, append([]T(nil), p.Grad.data...))
	}
	return out, grads
}

func testBatchNormReLUBits[T Float](t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 2))
	for _, sh := range [][]int{{6, 5, 7, 9}, {4, 3, 1, 1}, {5, 8}, {3, 4, 10}} {
		for _, training := range []bool{true, false} {
			for _, pre := range []bool{false, true} {
				for _, threads := range []int{1, 3} {
					name := fmt.Sprintf("%v/training=%v/pre=%v/threads=%d", sh, training, pre, threads)
					n := 1
					for _, d := range sh {
						n *= d
					}
					c := sh[1]
					xd, dz := trainingData[T](rng, n), trainingData[T](rng, n)
					gd, bd := trainingData[T](rng, c), trainingData[T](rng, c)
					rm, rv := trainingData[T](rng, c), trainingData[T](rng, c)
					for i := range rv {
						rv[i] = T(math.Abs(float64(rv[i]))) + 0.5
					}
					run := func(fused bool) ([]T, [][]T, []T) {
						g := NewParam("g", FromSlice(append([]T(nil), gd...), c))
						b := NewParam("b", FromSlice(append([]T(nil), bd...), c))
						st := &BNState[T]{RunningMean: FromSlice(append([]T(nil), rm...), c),
							RunningVar: FromSlice(append([]T(nil), rv...), c), Momentum: 0.1, Eps: 1e-5}
						out, grads := runFusedCase(t, threads, sh, xd, dz, pre, func(tp *Tape[T], x *Var[T]) *Var[T] {
							if fused {
								return tp.BatchNormReLU(x, g, b, st, training)
							}
							return tp.ReLU(tp.BatchNorm(x, g, b, st, training))
						}, g, b)
						return out, grads, append(append([]T(nil), st.RunningMean.data...), st.RunningVar.data...)
					}
					fo, fg, fs := run(true)
					uo, ug, us := run(false)
					sameBits(t, name+" output", fo, uo)
					sameBits(t, name+" running stats", fs, us)
					for i := range fg {
						sameBits(t, fmt.Sprintf("%s gradient %d", name, i), fg[i], ug[i])
					}
				}
			}
		}
	}
}

// TestBatchNormReLUBits checks that the fused BatchNormReLU gives the bits
// of ReLU(BatchNorm) in its output, running statistics and the gradients
// of x, gamma and beta: training and evaluation, 2-, 3- and 4-D inputs,
// into a fresh and into an already accumulated input gradient, 1 and 3
// threads, float32 and float64, on data with zeros and negative zeros.
func TestBatchNormReLUBits(t *testing.T) {
	t.Run("float32", testBatchNormReLUBits[float32])
	t.Run("float64", testBatchNormReLUBits[float64])
}

func testAddReLUBits[T Float](t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 2))
	for _, sh := range [][]int{{3, 4, 5, 6}, {1000}, {70001}} {
		for _, pre := range []bool{false, true} {
			for _, same := range []bool{false, true} {
				name := fmt.Sprintf("%v/pre=%v/same=%v", sh, pre, same)
				n := 1
				for _, d := range sh {
					n *= d
				}
				xd, bd, dz := trainingData[T](rng, n), trainingData[T](rng, n), trainingData[T](rng, n)
				run := func(fused bool) ([]T, [][]T) {
					b := NewParam("b", FromSlice(append([]T(nil), bd...), sh...))
					return runFusedCase(t, 2, sh, xd, dz, pre, func(tp *Tape[T], x *Var[T]) *Var[T] {
						other := b
						if same {
							other = x
						}
						if fused {
							return tp.AddReLU(x, other)
						}
						return tp.ReLU(tp.Add(x, other))
					}, b)
				}
				fo, fg := run(true)
				uo, ug := run(false)
				sameBits(t, name+" output", fo, uo)
				for i := range fg {
					sameBits(t, fmt.Sprintf("%s gradient %d", name, i), fg[i], ug[i])
				}
			}
		}
	}
}

// TestAddReLUBits checks that AddReLU gives the bits of ReLU(Add) in its
// output and both inputs' gradients, fresh and accumulated, with a == b.
func TestAddReLUBits(t *testing.T) {
	t.Run("float32", testAddReLUBits[float32])
	t.Run("float64", testAddReLUBits[float64])
}

// TestFreshGradKernels checks the write-instead-of-accumulate kernels
// against their accumulating twins run on a cleared buffer, bit for bit
// (-0 results become +0 in both).
func TestFreshGradKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 2))
	n := 1003
	g, x, dy := trainingData[float32](rng, n), trainingData[float32](rng, n), trainingData[float32](rng, n)
	x[0], x[1] = float32(math.NaN()), float32(math.Inf(-1))
	want, got := make([]float32, n), make([]float32, n)
	for i := range got {
		got[i] = 42 // must be overwritten
	}
	reluBackward(want, g, x)
	reluBackwardSet(got, g, x)
	sameBits(t, "reluBackwardSet", got, want)
	for _, abc := range [][3]float32{{1.5, -0.25, 0.125}, {0, 0, float32(math.Copysign(0, -1))}, {-1, 0, 0}} {
		clear(want)
		normGrad(want[:n-2], dy, x[2:], abc[0], abc[1], abc[2])
		normGradSet(got[:n-2], dy, x[2:], abc[0], abc[1], abc[2])
		sameBits(t, fmt.Sprintf("normGradSet %v", abc), got[:n-2], want[:n-2])
	}
	d := make([]float32, n)
	addGrad(d, g, true)
	w := make([]float32, n)
	for i := range w {
		w[i] += g[i]
	}
	sameBits(t, "addGrad", d, w)
}

// BenchmarkBatchNormReLU times training-mode BN + ReLU forward and backward
// on ResNet-20's first-stage activation, fused and as two ops.
func BenchmarkBatchNormReLU(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, c, hw = 128, 16, 32
	xt := NewTensor[float32](n, c, hw, hw)
	for i := range xt.data {
		xt.data[i] = float32(rng.NormFloat64())
	}
	g := NewParam("g", NewTensor[float32](c))
	g.Value.Fill(1)
	be := NewParam("b", NewTensor[float32](c))
	st := NewBNState[float32](c)
	for _, fused := range []bool{false, true} {
		b.Run(fmt.Sprintf("fused=%v", fused), func(b *testing.B) {
			tp := NewTape[float32](2)
			var ru0, ru1 syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			b.ResetTimer()
			for range b.N {
				x := tp.Input(xt)
				var y *Var[float32]
				if fused {
					y = tp.BatchNormReLU(x, g, be, st, true)
				} else {
					y = tp.ReLU(tp.BatchNorm(x, g, be, st, true))
				}
				l := tp.Op(tp.Alloc(1), func(o *Var[float32]) {
					gy := tp.GradOf(y).data
					for i := range gy {
						gy[i] += 1
					}
				}, y)
				if err := tp.Backward(l); err != nil {
					b.Fatal(err)
				}
				tp.Reset()
			}
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			cpu := ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
			b.ReportMetric(float64(cpu)/1e6/float64(b.N), "cpu-ms/op")
		})
	}
}

// TestElemKernelsAVX2Bits checks each batch-norm and ReLU kernel (AVX2
// assembly where the CPU has it, plus the Go tail) against its pure-Go
// loop, bit for bit, at every length from 0 to 70 and on unaligned slices,
// with zeros, negative zeros, infinities and large values mixed in.
func TestElemKernelsAVX2Bits(t *testing.T) {
	if !haveAVX2 {
		t.Log("no AVX2 kernels in this build or on this CPU: the Go loops run, compared with themselves")
	}
	rng := rand.New(rand.NewPCG(8, 2))
	for n := 0; n <= 70; n++ {
		for _, off := range []int{0, 1, 3} {
			x := trainingData[float32](rng, n+off)[off:]
			dy := trainingData[float32](rng, n+off)[off:]
			g0 := trainingData[float32](rng, n+off)[off:]
			if n > 2 {
				x[1], dy[2] = float32(math.Inf(1)), 3e38
			}
			k, mu := rng.NormFloat64(), rng.NormFloat64()
			a1, b1 := normShiftedSums(x, k)
			a2, b2 := normShiftedSumsGo(x, k)
			sameBits(t, fmt.Sprintf("normShiftedSums n=%d", n), []float64{a1, b1}, []float64{a2, b2})
			a1, b1 = normGradSums(dy, x, mu)
			a2, b2 = normGradSumsGo(dy, x, mu)
			sameBits(t, fmt.Sprintf("normGradSums n=%d", n), []float64{a1, b1}, []float64{a2, b2})
			a, b, c := float32(rng.NormFloat64()), float32(rng.NormFloat64()), float32(rng.NormFloat64())
			got, want := make([]float32, n), make([]float32, n)
			normAffine(got, x, a, b)
			normAffineGo(want, x, a, b)
			sameBits(t, fmt.Sprintf("normAffine n=%d", n), got, want)
			normAffineReLU(got, x, a, b)
			normAffineReLUGo(want, x, a, b)
			sameBits(t, fmt.Sprintf("normAffineReLU n=%d", n), got, want)
			copy(got, g0)
			copy(want, g0)
			normGrad(got, dy, x, a, b, c)
			normGradGo(want, dy, x, a, b, c)
			sameBits(t, fmt.Sprintf("normGrad n=%d", n), got, want)
			normGradSet(got, dy, x, a, b, c)
			normGradSetGo(want, dy, x, a, b, c)
			sameBits(t, fmt.Sprintf("normGradSet n=%d", n), got, want)
			copy(got, g0)
			copy(want, g0)
			reluBackward(got, dy, x)
			reluBackwardGo(want, dy, x)
			sameBits(t, fmt.Sprintf("reluBackward n=%d", n), got, want)
			reluBackwardSet(got, dy, x)
			reluBackwardSetGo(want, dy, x)
			sameBits(t, fmt.Sprintf("reluBackwardSet n=%d", n), got, want)
			reluForward(got, x, nil)
			for i := range want {
				want[i] = max(x[i], 0)
			}
			sameBits(t, fmt.Sprintf("relu n=%d", n), got, want)
			reluForward(got, x, dy)
			for i := range want {
				want[i] = max(x[i]+dy[i], 0)
			}
			sameBits(t, fmt.Sprintf("add+relu n=%d", n), got, want)
		}
	}
}

// TestConv2DReLUBits checks that Conv2DReLU gives the bits of
// ReLU(Conv2D) in its output and the gradients of x, w and b, over
// strides, padding, groups, 1x1 kernels, with and without bias, fresh and
// accumulated input gradients, 1 and 2 threads.
func TestConv2DReLUBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 2))
	type geo struct {
		n, c, h, w, o, k int
		o2               ConvOpts
		bias             bool
	}
	for _, gm := range []geo{
		{3, 4, 9, 8, 6, 3, ConvOpts{PadH: 1, PadW: 1}, false},
		{2, 4, 9, 9, 6, 3, ConvOpts{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}, true},
		{4, 6, 5, 7, 4, 1, ConvOpts{}, true},
		{2, 6, 6, 6, 4, 3, ConvOpts{PadH: 1, PadW: 1, Groups: 2}, false},
		{5, 3, 12, 12, 8, 5, ConvOpts{PadH: 2, PadW: 2}, true},
	} {
		for _, pre := range []bool{false, true} {
			for _, threads := range []int{1, 2} {
				name := fmt.Sprintf("%+v/pre=%v/threads=%d", gm, pre, threads)
				xs := []int{gm.n, gm.c, gm.h, gm.w}
				xd := trainingData[float32](rng, gm.n*gm.c*gm.h*gm.w)
				wd := trainingData[float32](rng, gm.o*gm.c/max(gm.o2.Groups, 1)*gm.k*gm.k)
				bd := trainingData[float32](rng, gm.o)
				probe := NewTape[float32](1)
				oshape := probe.Conv2D(probe.Const(FromSlice(xd, xs...)), probe.Const(FromSlice(wd, gm.o, gm.c/max(gm.o2.Groups, 1), gm.k, gm.k)), nil, gm.o2).Shape()
				on := 1
				for _, d := range oshape {
					on *= d
				}
				dz := trainingData[float32](rng, on)
				run := func(fused bool) ([]float32, [][]float32) {
					w := NewParam("w", FromSlice(append([]float32(nil), wd...), gm.o, gm.c/max(gm.o2.Groups, 1), gm.k, gm.k))
					var b *Var[float32]
					params := []*Var[float32]{w}
					if gm.bias {
						b = NewParam("b", FromSlice(append([]float32(nil), bd...), gm.o))
						params = append(params, b)
					}
					return runFusedCase(t, threads, xs, xd, dz, pre, func(tp *Tape[float32], x *Var[float32]) *Var[float32] {
						if fused {
							return tp.Conv2DReLU(x, w, b, gm.o2)
						}
						return tp.ReLU(tp.Conv2D(x, w, b, gm.o2))
					}, params...)
				}
				fo, fg := run(true)
				uo, ug := run(false)
				sameBits(t, name+" output", fo, uo)
				for i := range fg {
					sameBits(t, fmt.Sprintf("%s gradient %d", name, i), fg[i], ug[i])
				}
			}
		}
	}
}
