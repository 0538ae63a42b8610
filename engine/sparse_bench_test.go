package engine_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gap-harness/gap/engine"
)

// Representative ResNet-50 (224x224) convolutions: c -> o channels, kernel k,
// input size hw, stride s.
var resnet50Convs = []struct{ c, o, k, hw, s int }{
	{64, 64, 3, 56, 1},
	{256, 64, 1, 56, 1},
	{128, 128, 3, 28, 1},
	{512, 128, 1, 28, 1},
	{256, 256, 3, 14, 1},
	{1024, 256, 1, 14, 1},
	{512, 512, 3, 7, 1},
	{2048, 512, 1, 7, 1},
	{256, 256, 3, 28, 2},
}

// BenchmarkSparseConvForward times the forward convolution of ResNet-50
// layer shapes at 90% and 80% uniform sparsity, batch 8, through the dense
// kernels on the masked weight and through the CSR kernels (cpu-ms/op is the
// process CPU time, steadier than wall time on a shared machine).
func BenchmarkSparseConvForward(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	const batch = 8
	for _, l := range resnet50Convs {
		for _, sp := range []float64{0.9, 0.8} {
			x := randTensor(rng, batch, l.c, l.hw, l.hw)
			w := randTensor(rng, l.o, l.c, l.k, l.k)
			mask := make([]float32, w.Len())
			for i := range mask {
				if rng.Float64() >= sp {
					mask[i] = 1
				}
				w.Data()[i] *= mask[i]
			}
			o := engine.ConvOpts{StrideH: l.s, StrideW: l.s, PadH: l.k / 2, PadW: l.k / 2}
			for _, pol := range []engine.KernelPolicy{engine.KernelDense, engine.KernelSparse} {
				name := fmt.Sprintf("c%d_o%d_k%d_hw%d_s%d/sparsity%.0f/%v", l.c, l.o, l.k, l.hw, l.s, sp*100, pol)
				b.Run(name, func(b *testing.B) {
					s, err := engine.NewSparseWeight("w", w, mask, 1)
					if err != nil {
						b.Fatal(err)
					}
					s.Policy = pol
					tp := engine.NewTape[float32](1)
					tp.SetNoGrad(true)
					wv := tp.Const(w)
					xv := tp.Const(x)
					tp.SparseConv2D(xv, wv, nil, o, s)
					c := startCPU(b)
					for i := 0; i < b.N; i++ {
						tp.Reset()
						tp.SparseConv2D(xv, wv, nil, o, s)
					}
					c.report(b)
				})
			}
		}
	}
}

// convTrainVariant is one way a masked convolution trains in the benchmarks:
// its kernel policy and weight gradient.
type convTrainVariant struct {
	name string
	pol  engine.KernelPolicy
	wg   engine.WeightGrad
}

// BenchmarkSparseConvTrain times forward and backward (input and weight
// gradients) of ResNet-50 and ResNet-18/8-proxy layer shapes at 90%, batch 8,
// 1 thread: dense-masked, sparse with the dense weight gradient, and sparse
// with the masked (sampled) weight gradient.
func BenchmarkSparseConvTrain(b *testing.B) {
	benchConvTrain(b, rand.New(rand.NewPCG(2, 2)), []struct{ c, o, k, hw, s int }{
		{64, 64, 3, 56, 1}, {128, 128, 3, 28, 1}, {512, 128, 1, 28, 1}, {256, 256, 3, 14, 1},
		{16, 16, 3, 28, 1}, {64, 64, 3, 4, 1},
	}, 8, 1, []convTrainVariant{{"dense", engine.KernelDense, engine.WeightGradDense},
		{"sparse_dW", engine.KernelSparse, engine.WeightGradDense}, {"sparse_maskeddW", engine.KernelSparse, engine.WeightGradMasked}})
}

// benchConvTrain times one forward and backward (input and weight gradient,
// the loss the sum of the output) of each layer c -> o channels, kernel k,
// input size hw, stride s, 90% sparse (uniform random mask), at the batch
// and thread count, in each variant; cpu-ms/op is the process CPU time.
func benchConvTrain(b *testing.B, rng *rand.Rand, layers []struct{ c, o, k, hw, s int }, batch, threads int, variants []convTrainVariant) {
	for _, l := range layers {
		x := randTensor(rng, batch, l.c, l.hw, l.hw)
		w := randTensor(rng, l.o, l.c, l.k, l.k)
		mask := make([]float32, w.Len())
		for i := range mask {
			if rng.Float64() >= 0.9 {
				mask[i] = 1
			}
			w.Data()[i] *= mask[i]
		}
		o := engine.ConvOpts{StrideH: l.s, StrideW: l.s, PadH: l.k / 2, PadW: l.k / 2}
		for _, v := range variants {
			b.Run(fmt.Sprintf("c%d_o%d_k%d_hw%d_s%d/%s", l.c, l.o, l.k, l.hw, l.s, v.name), func(b *testing.B) {
				s, err := engine.NewSparseWeight("w", w, mask, 1)
				if err != nil {
					b.Fatal(err)
				}
				s.Policy, s.WeightGrad = v.pol, v.wg
				tp := engine.NewTape[float32](threads)
				wv := engine.NewParam("w", w)
				step := func() {
					tp.Reset()
					wv.ZeroGrad()
					xv := tp.Input(x)
					y := tp.SparseConv2D(xv, wv, nil, o, s)
					if err := tp.Backward(tp.SumAll(y)); err != nil {
						b.Fatal(err)
					}
				}
				step()
				c := startCPU(b)
				for i := 0; i < b.N; i++ {
					step()
				}
				c.report(b)
			})
		}
	}
}

// proxyConvs are the convolutions of the imagenet table's default proxy
// (ResNet-18 at 1/8 width on 28x28, small stem): c -> o channels, kernel k,
// input size hw, stride s.
var proxyConvs = []struct{ c, o, k, hw, s int }{
	{8, 8, 3, 28, 1},
	{8, 16, 3, 28, 2},
	{8, 16, 1, 28, 2},
	{16, 16, 3, 14, 1},
	{16, 32, 3, 14, 2},
	{32, 32, 3, 7, 1},
	{32, 64, 3, 7, 2},
	{64, 64, 3, 4, 1},
}

// BenchmarkSparseConvTrainProxy times forward and backward of the default
// proxy's convolutions as the imagenet table trains them (batch 64, 2
// threads, 90%): dense-masked against the sparse kernels with the masked
// weight gradient (what static layers and C-GaP's masked partitions use).
func BenchmarkSparseConvTrainProxy(b *testing.B) {
	benchConvTrain(b, rand.New(rand.NewPCG(3, 3)), proxyConvs, 64, 2, []convTrainVariant{
		{"dense", engine.KernelDense, engine.WeightGradDense}, {"sparse_maskeddW", engine.KernelSparse, engine.WeightGradMasked}})
}
