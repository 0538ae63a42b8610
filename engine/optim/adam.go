package optim

import (
	"fmt"
	"math"

	"github.com/gap-harness/gap/engine"
)

// AdamConfig configures Adam and AdamW. Zero Beta1, Beta2 and Eps take
// PyTorch's defaults (0.9, 0.999, 1e-8).
type AdamConfig struct {
	// LR is the initial learning rate.
	LR float64
	// Beta1 and Beta2 are the moment decay rates.
	Beta1, Beta2 float64
	// Eps is added to the bias-corrected square root of the second moment.
	Eps float64
	// WeightDecay is L2 added to the gradient (Adam) or decoupled decay
	// w *= 1-lr*wd (AdamW).
	WeightDecay float64
	// Decay reports whether a parameter is decayed; nil decays all.
	Decay func(name string) bool
	// Threads bounds the goroutines one update uses (>= 1).
	Threads int
}

func (c *AdamConfig) defaults() error {
	if c.Beta1 == 0 {
		c.Beta1 = 0.9
	}
	if c.Beta2 == 0 {
		c.Beta2 = 0.999
	}
	if c.Eps == 0 {
		c.Eps = 1e-8
	}
	if c.Beta1 < 0 || c.Beta1 >= 1 || c.Beta2 < 0 || c.Beta2 >= 1 || c.Eps < 0 {
		return fmt.Errorf("optim: Adam: bad betas (%g, %g) or eps %g", c.Beta1, c.Beta2, c.Eps)
	}
	return nil
}

// Adam is torch.optim.Adam (amsgrad off), or torch.optim.AdamW when
// decoupled:
//
//	w *= 1 - lr*wd                  (AdamW only)
//	g = grad + wd*w                 (Adam only)
//	m = b1*m + (1-b1)*g
//	v = b2*v + (1-b2)*g*g
//	w -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
//
// t is the optimiser's step counter (shared by all parameters; PyTorch keeps
// one per parameter, which differs only for parameters that sometimes get no
// gradient). State keys: "exp_avg", "exp_avg_sq".
type Adam struct {
	base
	cfg       AdamConfig
	decoupled bool
}

// NewAdam returns torch.optim.Adam over params.
func NewAdam(params []*engine.Var[float32], cfg AdamConfig) (*Adam, error) {
	return newAdam("Adam", params, cfg, false)
}

// NewAdamW returns torch.optim.AdamW over params (decoupled weight decay).
// PyTorch's AdamW default weight decay is 0.01; here 0 means none.
func NewAdamW(params []*engine.Var[float32], cfg AdamConfig) (*Adam, error) {
	return newAdam("AdamW", params, cfg, true)
}

func newAdam(kind string, params []*engine.Var[float32], cfg AdamConfig, decoupled bool) (*Adam, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	b, err := newBase(kind, params, []string{"exp_avg", "exp_avg_sq"}, cfg.LR, cfg.Threads, cfg.Decay)
	if err != nil {
		return nil, err
	}
	return &Adam{base: b, cfg: cfg, decoupled: decoupled}, nil
}

// Config returns the optimiser's configuration, defaults filled in.
func (o *Adam) Config() AdamConfig { return o.cfg }

// Step applies one Adam(W) update to every parameter with a gradient.
func (o *Adam) Step() {
	t := float64(o.steps + 1)
	b1, b2 := o.cfg.Beta1, o.cfg.Beta2
	stepSize := float32(o.lr / (1 - math.Pow(b1, t)))
	bc2sqrt := float32(math.Sqrt(1 - math.Pow(b2, t)))
	eps := float32(o.cfg.Eps)
	fb1, fb2 := float32(b1), float32(b2)
	ob1, ob2 := float32(1-b1), float32(1-b2)
	for i, p := range o.params {
		if p.Grad == nil {
			continue
		}
		w, g := p.Value.Data(), p.Grad.Data()
		m, v := o.state[i]["exp_avg"], o.state[i]["exp_avg_sq"]
		var l2, shrink float32 = 0, 1
		if o.decay[i] && o.cfg.WeightDecay != 0 {
			if o.decoupled {
				shrink = float32(1 - o.lr*o.cfg.WeightDecay)
			} else {
				l2 = float32(o.cfg.WeightDecay)
			}
		}
		engine.Parallel(o.threads, len(w), grain, func(lo, hi int) {
			w, g, m, v := w[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi]
			for j := range w {
				x := w[j] * shrink
				d := g[j] + l2*x
				mj := fb1*m[j] + ob1*d
				vj := fb2*v[j] + ob2*d*d
				m[j], v[j] = mj, vj
				den := float32(math.Sqrt(float64(vj)))/bc2sqrt + eps
				w[j] = x - stepSize*(mj/den)
			}
		})
	}
	o.steps++
}
