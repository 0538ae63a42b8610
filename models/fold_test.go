package models

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gap-harness/gap/engine"
)

// TestFoldMatchesEval checks that a ResNet's folded inference copy (batch
// norm folded into the convolutions, bias, residual and ReLU fused) gives
// the evaluation-mode logits of the unfolded model to float32 tolerance,
// through the dense kernels and the sparse ones, with random masks on the
// prunable weights and random batch-norm statistics and affine parameters.
func TestFoldMatchesEval(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"resnet20", Config{Seed: 3}},
		{"resnet18", Config{Seed: 4, WidthMult: 0.125, Height: 28, Width: 28, InChannels: 1, SmallStem: true}},
		{"resnet50", Config{Seed: 5, WidthMult: 0.125, Height: 48, Width: 48}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(tc.name, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(tc.cfg.Seed, 9))
			ps := m.Params()
			for _, p := range ps.All() {
				if p.Prunable && !p.FirstOrLast {
					p.Mask = make([]float32, p.Len())
					for i := range p.Mask {
						if rng.Float64() >= 0.8 {
							p.Mask[i] = 1
						}
					}
				}
				if !p.Prunable { // batch-norm affine parameters and biases
					for i := range p.V.Value.Data() {
						p.V.Value.Data()[i] = float32(0.5 + rng.Float64())
					}
				}
			}
			ps.ApplyMasks()
			for _, b := range ps.Buffers() { // running statistics
				for i := range b.T.Data() {
					b.T.Data()[i] = float32(0.2 + rng.Float64())
				}
			}
			c, h, w := m.InputShape()
			x := engine.NewTensor[float32](3, c, h, w)
			for i := range x.Data() {
				x.Data()[i] = float32(rng.NormFloat64())
			}
			tp := engine.NewTape[float32](2)
			tp.SetNoGrad(true)
			want := append([]float32(nil), m.Forward(tp, tp.Const(x), false).Value.Data()...)
			inf, err := m.(Folder).Fold()
			if err != nil {
				t.Fatal(err)
			}
			for _, pol := range []engine.KernelPolicy{-1, engine.KernelSparse, engine.KernelAuto} {
				for _, p := range inf.Masked() {
					p.ClearSparse()
					if pol >= 0 {
						if err := p.PrepareSparse(pol, engine.WeightGradDense); err != nil {
							t.Fatal(err)
						}
					}
				}
				tp.Reset()
				got := inf.Forward(tp, tp.Const(x)).Value.Data()
				var maxAbs, maxDiff float64
				for i, v := range want {
					maxAbs = max(maxAbs, math.Abs(float64(v)))
					maxDiff = max(maxDiff, math.Abs(float64(got[i]-v)))
				}
				if maxDiff > 1e-4*maxAbs {
					t.Errorf("policy %d: max |folded - eval| %g, max |eval| %g", pol, maxDiff, maxAbs)
				}
				t.Logf("policy %d: max rel diff %.1e", pol, maxDiff/maxAbs)
			}
			for _, p := range ps.All() {
				p.ClearSparse()
			}
		})
	}
}
