package optim

import (
	"fmt"
	"math"
	"sort"
)

// Schedule gives the learning rate of a step (0-based: the rate the optimiser
// uses for its step-th update).
type Schedule interface {
	LR(step int64) float64
}

// Constant is a fixed learning rate.
type Constant struct {
	// Base is the rate.
	Base float64
}

// LR returns Base.
func (s Constant) LR(int64) float64 { return s.Base }

// MultiStep multiplies Base by Gamma at each milestone step passed
// (torch.optim.lr_scheduler.MultiStepLR): lr = Base * Gamma^(number of
// milestones <= step).
type MultiStep struct {
	// Base is the rate before the first milestone.
	Base float64
	// Milestones are the steps at which the rate is multiplied by Gamma.
	Milestones []int64
	// Gamma is the factor per milestone.
	Gamma float64
}

// LR returns the rate at step.
func (s MultiStep) LR(step int64) float64 {
	lr := s.Base
	for _, m := range s.Milestones {
		if step >= m {
			lr *= s.Gamma
		}
	}
	return lr
}

// StepDecay multiplies Base by Gamma every Every steps and never goes below
// Floor (torch.optim.lr_scheduler.StepLR with a lower clip, as PointNet++'s
// recipe: lr = max(Base * Gamma^floor(step/Every), Floor)).
type StepDecay struct {
	// Base is the rate of the first Every steps; Floor the lowest rate.
	Base, Floor float64
	// Gamma is the factor applied every Every steps.
	Gamma float64
	// Every is the decay period in steps (<= 0: no decay).
	Every int64
}

// LR returns the rate at step.
func (s StepDecay) LR(step int64) float64 {
	if s.Every <= 0 || step < s.Every {
		return math.Max(s.Base, s.Floor)
	}
	return math.Max(s.Base*math.Pow(s.Gamma, float64(step/s.Every)), s.Floor)
}

// Cosine anneals from Base to Floor over Total steps along half a cosine
// (CosineAnnealingLR with eta_min = Floor, closed form), and stays at Floor
// afterwards.
type Cosine struct {
	// Base is the rate at step 0; Floor the rate from step Total on.
	Base, Floor float64
	// Total is the length of the annealing in steps.
	Total int64
}

// LR returns the rate at step.
func (s Cosine) LR(step int64) float64 {
	if s.Total <= 0 || step >= s.Total {
		return s.Floor
	}
	if step < 0 {
		step = 0
	}
	return s.Floor + (s.Base-s.Floor)*(1+math.Cos(math.Pi*float64(step)/float64(s.Total)))/2
}

// Warmup multiplies an inner schedule by a factor rising linearly from
// StartFactor at step 0 to 1 at step Steps (torch's LinearLR chained with the
// inner schedule): lr = Inner.LR(step) * (StartFactor + (1-StartFactor) *
// min(step, Steps)/Steps). The inner schedule sees the absolute step, so its
// milestones and totals count the warm-up steps too.
type Warmup struct {
	// Steps is the length of the warm-up.
	Steps int64
	// StartFactor is the factor at step 0 (0 starts from a zero rate).
	StartFactor float64
	// Inner is the schedule being warmed up.
	Inner Schedule
}

// LR returns the rate at step.
func (s Warmup) LR(step int64) float64 {
	lr := s.Inner.LR(step)
	if step >= s.Steps || s.Steps <= 0 {
		return lr
	}
	f := s.StartFactor + (1-s.StartFactor)*float64(max(step, 0))/float64(s.Steps)
	return lr * f
}

// InverseSqrt is fairseq's inverse_sqrt schedule: a linear warm-up from
// InitLR to Peak over WarmupSteps updates, then Peak*sqrt(WarmupSteps/step).
// step is fairseq's num_updates.
type InverseSqrt struct {
	// Peak is the rate reached at the end of the warm-up (fairseq's --lr).
	Peak float64
	// InitLR is the rate at step 0 (fairseq's warmup_init_lr; 0 by default
	// there when warming up).
	InitLR float64
	// WarmupSteps is fairseq's warmup_updates (> 0).
	WarmupSteps int64
}

// LR returns the rate at step.
func (s InverseSqrt) LR(step int64) float64 {
	if s.WarmupSteps <= 0 {
		if step <= 0 {
			return s.Peak
		}
		return s.Peak / math.Sqrt(float64(step))
	}
	if step < s.WarmupSteps {
		return s.InitLR + float64(step)*(s.Peak-s.InitLR)/float64(s.WarmupSteps)
	}
	decay := s.Peak * math.Sqrt(float64(s.WarmupSteps))
	return decay * math.Pow(float64(step), -0.5)
}

// NewMultiStep checks and sorts milestones and returns a MultiStep schedule.
func NewMultiStep(base, gamma float64, milestones ...int64) (MultiStep, error) {
	ms := append([]int64(nil), milestones...)
	sort.Slice(ms, func(i, j int) bool { return ms[i] < ms[j] })
	for i, m := range ms {
		if m < 0 || (i > 0 && m == ms[i-1]) {
			return MultiStep{}, fmt.Errorf("optim: MultiStep: bad milestones %v", milestones)
		}
	}
	return MultiStep{Base: base, Milestones: ms, Gamma: gamma}, nil
}
