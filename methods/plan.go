package methods

import (
	"fmt"
	"strings"
)

// A method declares its schedule as data, a Plan: the phases it trains in
// order (name, epochs, the partition grown, where a fresh optimiser starts)
// and when its per-layer targets are fixed. The answers the runner needs
// (Epochs, Phase, RestartsOptimizerAt, TargetsAtInit) are derived from the
// plan once, by Base, instead of being written per method; a method writes
// only what differs: its scores and its mask rule (Init, Update, EpochEnd).
// This is jaxpruner's split between an updater (what the mask becomes) and
// its scheduler (when), at the granularity of epochs and phases; the
// step-level schedules (RigL's every delta_t steps, GMP's every freq steps)
// stay with the mask rule that uses them.

// Targets says when a method fixes its per-layer target sparsities.
type Targets int

const (
	// TargetsNone: the method never prunes (dense training).
	TargetsNone Targets = iota
	// TargetsInit: fixed at Init, sparse from the first step (C-GaP,
	// P-GaP, static, SNIP, RigL, SET). For the "global" distribution,
	// whose ratios come from the weights, the runner trains the model
	// dense for the profile's warm-up first, so that the ratios come from
	// trained weights.
	TargetsInit
	// TargetsInitialWeights: fixed at Init from the weights as
	// initialised, with no warm-up: pruning the initial weights is the
	// method (magnitude-oneshot).
	TargetsInitialWeights
	// TargetsFirstPrune: fixed at the schedule's first prune, from the
	// weights trained so far (GMP, prune-from-pretrained, iterative).
	TargetsFirstPrune
)

// String names the rule as plans print it.
func (t Targets) String() string {
	switch t {
	case TargetsNone:
		return "none (never pruned)"
	case TargetsInit:
		return "at init (after the dense warm-up for global)"
	case TargetsInitialWeights:
		return "at init, from the initial weights"
	case TargetsFirstPrune:
		return "at the first prune, from trained weights"
	}
	return fmt.Sprintf("Targets(%d)", int(t))
}

// PlanPhase is one phase of a plan.
type PlanPhase struct {
	// Name is one of "dense", "sparse", "prune", "grow", "branch",
	// "finetune" (see Phase).
	Name string
	// Epochs is the phase's length; phases of 0 epochs are left out.
	Epochs int
	// Partition is the partition grown to dense in a "grow" phase, -1
	// when none (or not known before Init: C-GaP's random order).
	Partition int
	// Step is the phase's ordinal as Phase reports it (GaP step index).
	Step int
	// Restart starts a fresh optimiser (and the learning-rate warm-up) at
	// the phase's first epoch, as the reference code starts a new process
	// there (each GaP step, the fine-tune after a prune). Ignored on the
	// first phase.
	Restart bool
}

// Plan is a method's schedule as data: its phases in order and when its
// targets are fixed. Build one with Then.
type Plan struct {
	Phases  []PlanPhase
	Targets Targets
}

// Then appends a phase (none when epochs <= 0) and returns the plan.
func (p Plan) Then(name string, epochs, partition, step int, restart bool) Plan {
	if epochs > 0 {
		p.Phases = append(p.Phases, PlanPhase{Name: name, Epochs: epochs, Partition: partition, Step: step, Restart: restart})
	}
	return p
}

// OnePhase is the plan of a method that trains epochs in one phase.
func OnePhase(name string, epochs int, t Targets) Plan {
	return Plan{Targets: t}.Then(name, epochs, -1, 0, false)
}

// Epochs is the plan's length, the sum of its phases.
func (p Plan) Epochs() int {
	n := 0
	for _, ph := range p.Phases {
		n += ph.Epochs
	}
	return n
}

// at returns the index of the phase epoch is in and the phase's first
// epoch; epochs past the end are in the last phase; -1 for an empty plan.
func (p Plan) at(epoch int) (i, start int) {
	for i, ph := range p.Phases {
		if epoch < start+ph.Epochs || i == len(p.Phases)-1 {
			return i, start
		}
		start += ph.Epochs
	}
	return -1, 0
}

// PhaseAt is the phase epoch is in ("sparse" for an empty plan).
func (p Plan) PhaseAt(epoch int) Phase {
	i, _ := p.at(epoch)
	if i < 0 {
		return Phase{Name: "sparse", Partition: -1}
	}
	ph := p.Phases[i]
	return Phase{Name: ph.Name, Partition: ph.Partition, Step: ph.Step}
}

// RestartsAt reports whether a fresh optimiser starts at epoch: the first
// epoch of a phase, not the first, that says Restart.
func (p Plan) RestartsAt(epoch int) bool {
	if epoch <= 0 || epoch >= p.Epochs() {
		return false
	}
	i, start := p.at(epoch)
	return i > 0 && start == epoch && p.Phases[i].Restart
}

// String lists the plan, one phase a line ("epochs 0-2  grow[0]#0"),
// runs of phases that differ only by partition and step folded.
func (p Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d epochs; targets fixed %s\n", p.Epochs(), p.Targets)
	start := 0
	for i := 0; i < len(p.Phases); {
		ph := p.Phases[i]
		j := i + 1
		for j < len(p.Phases) && p.Phases[j].Name == ph.Name && p.Phases[j].Epochs == ph.Epochs && p.Phases[j].Restart == ph.Restart {
			j++
		}
		n := j - i
		end := start + n*ph.Epochs
		what := Phase{Name: ph.Name, Partition: ph.Partition, Step: ph.Step}.String()
		if n > 1 {
			what = fmt.Sprintf("%d x %s (%d epochs each, steps %d..%d)", n, ph.Name, ph.Epochs, ph.Step, p.Phases[j-1].Step)
			if ph.Partition >= 0 {
				parts := make([]string, n)
				for k := range parts {
					parts[k] = fmt.Sprint(p.Phases[i+k].Partition)
				}
				what += ", growing partitions " + strings.Join(parts, ",")
			}
		}
		restart := ""
		switch {
		case !ph.Restart || (i == 0 && n == 1):
		case n == 1:
			restart = "; fresh optimiser"
		case i == 0:
			restart = "; fresh optimiser at each start after the first"
		default:
			restart = "; fresh optimiser at each start"
		}
		fmt.Fprintf(&b, "  epochs %d-%d  %s%s\n", start, end-1, what, restart)
		start, i = end, j
	}
	return b.String()
}

// Summary is the plan on one line: "dense 2, finetune 2 (restart)", runs
// of equal phases folded ("13 x grow 1 (restart)").
func (p Plan) Summary() string {
	var parts []string
	for i := 0; i < len(p.Phases); {
		ph := p.Phases[i]
		j := i + 1
		for j < len(p.Phases) && p.Phases[j].Name == ph.Name && p.Phases[j].Epochs == ph.Epochs && p.Phases[j].Restart == ph.Restart {
			j++
		}
		s := fmt.Sprintf("%s %d", ph.Name, ph.Epochs)
		if j-i > 1 {
			s = fmt.Sprintf("%d x %s", j-i, s)
		}
		if ph.Restart && (i > 0 || j-i > 1) {
			s += " (restart)"
		}
		parts = append(parts, s)
		i = j
	}
	return strings.Join(parts, ", ")
}

// Planner is implemented by every method that declares its plan (all
// methods that embed Base). Plan, like Epochs, fixes the schedule's
// defaults relative to the base budget.
type Planner interface {
	Plan(base int) Plan
}

// PlanOf is a method's plan for the base budget: its own (Planner), or
// for a method that only implements the hooks, the plan its Epochs, Phase,
// Restarter and TargetsAtInit answers describe (one phase per run of
// equal Phase values).
func PlanOf(m Method, base int) Plan {
	if p, ok := m.(Planner); ok {
		return p.Plan(base)
	}
	n := m.Epochs(base)
	var p Plan
	p.Targets = TargetsInitialWeights
	if t, ok := m.(TargetsAtInit); ok && t.TargetsAtInit() {
		p.Targets = TargetsInit
	}
	r, _ := m.(Restarter)
	for e := 0; e < n; e++ {
		ph := m.Phase(e)
		restart := r != nil && r.RestartsOptimizerAt(e)
		if k := len(p.Phases) - 1; k >= 0 && !restart {
			last := p.Phases[k]
			if last.Name == ph.Name && last.Partition == ph.Partition && last.Step == ph.Step {
				p.Phases[k].Epochs++
				continue
			}
		}
		p = p.Then(ph.Name, 1, ph.Partition, ph.Step, restart)
	}
	return p
}
