package optim

import (
	"math"

	"github.com/gap-harness/gap/engine"
)

// ClipGradNorm scales the gradients of params so that their global 2-norm is
// at most maxNorm, as torch.nn.utils.clip_grad_norm_ does (coefficient
// maxNorm/(norm+1e-6), applied only when below 1), and returns the norm before
// clipping. Parameters without a gradient are skipped. The norm is summed in
// float64 in parameter order, so it is deterministic. maxNorm <= 0 or +Inf only
// measures.
func ClipGradNorm(params []*engine.Var[float32], maxNorm float64) float64 {
	var ss float64
	for _, p := range params {
		if p.Grad == nil {
			continue
		}
		for _, g := range p.Grad.Data() {
			ss += float64(g) * float64(g)
		}
	}
	norm := math.Sqrt(ss)
	if maxNorm <= 0 || math.IsInf(maxNorm, 1) {
		return norm
	}
	coef := maxNorm / (norm + 1e-6)
	if coef < 1 {
		c := float32(coef)
		for _, p := range params {
			if p.Grad == nil {
				continue
			}
			g := p.Grad.Data()
			for i := range g {
				g[i] *= c
			}
		}
	}
	return norm
}
