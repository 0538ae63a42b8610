package optim

import (
	"fmt"

	"github.com/gap-harness/gap/engine"
)

// SGDConfig configures SGD. The zero value is plain SGD at learning rate 0.
type SGDConfig struct {
	// LR is the initial learning rate.
	LR float64
	// Momentum is the momentum factor (0: none).
	Momentum float64
	// Dampening scales the new gradient in the momentum buffer by 1-Dampening
	// (PyTorch: not applied on the first step).
	Dampening float64
	// Nesterov uses Nesterov momentum (needs Momentum > 0 and Dampening 0).
	Nesterov bool
	// WeightDecay adds WeightDecay*w to the gradient (L2, coupled).
	WeightDecay float64
	// Decay reports whether a parameter is decayed; nil decays all.
	Decay func(name string) bool
	// Threads bounds the goroutines one update uses (>= 1).
	Threads int
}

// SGD is stochastic gradient descent with PyTorch's torch.optim.SGD semantics:
//
//	g = grad + wd*w
//	buf = g (first step), else buf = momentum*buf + (1-dampening)*g
//	g = g + momentum*buf (Nesterov) or g = buf
//	w -= lr*g
//
// Its per-parameter state is "momentum" (absent when Momentum is 0).
type SGD struct {
	base
	cfg SGDConfig
}

// NewSGD returns an SGD optimiser over params (named engine parameters).
func NewSGD(params []*engine.Var[float32], cfg SGDConfig) (*SGD, error) {
	if cfg.Nesterov && (cfg.Momentum <= 0 || cfg.Dampening != 0) {
		return nil, fmt.Errorf("optim: SGD: Nesterov needs momentum > 0 and dampening 0")
	}
	var keys []string
	if cfg.Momentum != 0 {
		keys = []string{"momentum"}
	}
	b, err := newBase("SGD", params, keys, cfg.LR, cfg.Threads, cfg.Decay)
	if err != nil {
		return nil, err
	}
	return &SGD{base: b, cfg: cfg}, nil
}

// Step applies one SGD update to every parameter with a gradient.
func (o *SGD) Step() {
	lr := float32(o.lr)
	mom := float32(o.cfg.Momentum)
	damp := float32(1 - o.cfg.Dampening)
	if o.steps == 0 {
		damp = 1
	}
	nest := o.cfg.Nesterov
	for i, p := range o.params {
		if p.Grad == nil {
			continue
		}
		w, g := p.Value.Data(), p.Grad.Data()
		wd := float32(0)
		if o.decay[i] {
			wd = float32(o.cfg.WeightDecay)
		}
		var buf []float32
		if mom != 0 {
			buf = o.state[i]["momentum"]
		}
		engine.Parallel(o.threads, len(w), grain, func(lo, hi int) {
			switch {
			case buf == nil:
				for j := lo; j < hi; j++ {
					w[j] -= lr * (g[j] + wd*w[j])
				}
			case nest:
				for j := lo; j < hi; j++ {
					d := g[j] + wd*w[j]
					b := mom*buf[j] + damp*d
					buf[j] = b
					w[j] -= lr * (d + mom*b)
				}
			default:
				for j := lo; j < hi; j++ {
					d := g[j] + wd*w[j]
					b := mom*buf[j] + damp*d
					buf[j] = b
					w[j] -= lr * b
				}
			}
		})
	}
	o.steps++
}
