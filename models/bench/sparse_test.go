package bench

import (
	"fmt"
	"math"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/models"
)

// TestSparseTrainingMatchesDense trains small models for a few steps with
// fixed 80% masks, once through the dense kernels on the masked weights and
// once through the sparse kernels (both weight-gradient modes), and requires
// the losses and the final weights to agree to 1e-4 (float32 summation order
// is the only difference), the pruned weights to stay zero, and a repeated
// sparse run to give the same bits.
func TestSparseTrainingMatchesDense(t *testing.T) {
	for _, tc := range []struct {
		model string
		cfg   models.Config
		batch int
	}{
		{"resnet20", models.Config{WidthMult: 0.5, Height: 16, Width: 16}, 6},
		{"lenet5", models.Config{}, 5},
		{"resnet18", models.Config{WidthMult: 0.125, Height: 28, Width: 28, InChannels: 1, SmallStem: true}, 3},
	} {
		run := func(kern engine.KernelPolicy, wg engine.WeightGrad) ([]float32, map[string][]float32) {
			s, err := NewStepper(tc.model, tc.cfg, tc.batch, 2, 11)
			if err != nil {
				t.Fatal(err)
			}
			ps := s.Model.Params()
			if err := UniformMasks(ps, 0.8, 5); err != nil {
				t.Fatal(err)
			}
			if kern != engine.KernelDense {
				for _, p := range ps.Prunable() {
					if p.Mask != nil {
						if err := p.PrepareSparse(kern, wg); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			var losses []float32
			for i := 0; i < 4; i++ {
				l, err := s.Step()
				if err != nil {
					t.Fatal(err)
				}
				losses = append(losses, l)
			}
			return losses, ps.StateDict()
		}
		dl, dw := run(engine.KernelDense, engine.WeightGradDense)
		for _, wg := range []engine.WeightGrad{engine.WeightGradDense, engine.WeightGradMasked} {
			name := fmt.Sprintf("%s wgrad %d", tc.model, wg)
			sl, sw := run(engine.KernelSparse, wg)
			for i := range dl {
				if d := math.Abs(float64(sl[i] - dl[i])); d > 1e-4*math.Abs(float64(dl[i])) {
					t.Fatalf("%s: step %d loss %g (sparse) vs %g (dense)", name, i, sl[i], dl[i])
				}
			}
			for k, v := range dw {
				for i := range v {
					if d := math.Abs(float64(sw[k][i] - v[i])); d > 1e-4*(1+math.Abs(float64(v[i]))) {
						t.Fatalf("%s: %s[%d] = %g (sparse) vs %g (dense)", name, k, i, sw[k][i], v[i])
					}
				}
				if m, ok := dw[k+"_mask"]; ok {
					for i := range m {
						if m[i] == 0 && sw[k][i] != 0 {
							t.Fatalf("%s: pruned %s[%d] = %g", name, k, i, sw[k][i])
						}
					}
				}
			}
			sl2, sw2 := run(engine.KernelSparse, wg)
			for i := range sl {
				if sl2[i] != sl[i] {
					t.Fatalf("%s: repeated sparse run: loss %d %g vs %g", name, i, sl2[i], sl[i])
				}
			}
			for k, v := range sw {
				for i := range v {
					if sw2[k][i] != v[i] {
						t.Fatalf("%s: repeated sparse run: %s[%d] differs", name, k, i)
					}
				}
			}
		}
	}
}
