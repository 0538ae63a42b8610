package experiments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"

	"github.com/gap-harness/gap/methods"
)

// One stage per process: the seam an external executor (a Slurm job array,
// experiments/slurm) drives. A run's spec is written into its checkpoint
// folder first (WriteSpecs); each stage then runs as
//
//	gap run-stage -results DIR -table T -id RUNID -stage S
//
// with S "main" for a serial method (the whole run, writing <id>.arrow) and,
// for P-GaP, "round-0" (the init, with its warm-up), "branch-R-B", "round-N"
// (N >= 1: the merge of round N-1) and "finetune" (writing <id>.arrow). A
// stage whose checkpoint is complete, or of a run whose result exists, is
// not run again.

// PlannedRun is one run of a plan as an executor sees it.
type PlannedRun struct {
	Spec RunSpec
	// ID is the run's identity; its result is Result (<dir>/<id>.arrow).
	ID     string
	Result string
	// Parallel is true for a P-GaP run: its stages are round-0, Rounds x
	// (Kappa branches, merge) and finetune; else the run is the one stage
	// "main".
	Parallel      bool
	Rounds, Kappa int
}

// Stages lists the run's stages in order, each inner slice a set that can run
// at once (a round's branches).
func (r PlannedRun) Stages() [][]string {
	if !r.Parallel {
		return [][]string{{"main"}}
	}
	out := [][]string{{roundID(0)}}
	for i := 0; i < r.Rounds; i++ {
		var br []string
		for b := 0; b < r.Kappa; b++ {
			br = append(br, branchID(i, b))
		}
		out = append(out, br, []string{roundID(i + 1)})
	}
	return append(out, []string{"finetune"})
}

// Runs lists the plan's runs for the results folder dir (<results>/<table>),
// each with threads kernel threads (its identity depends on them): id,
// result path and shape, P-GaP's rounds and kappa resolved. It fails on a run
// that cannot start (a bad budget, an unknown method), naming it.
func (p Plan) Runs(dir string, threads int) ([]PlannedRun, error) {
	if threads < 1 {
		return nil, fmt.Errorf("plan runs: threads %d: expected >= 1", threads)
	}
	reg := p.Registry
	if reg == nil {
		reg = methods.Default()
	}
	specs, _ := p.Specs()
	env := Env{Dir: dir}
	var out []PlannedRun
	for _, s := range specs {
		s.Threads = threads
		if err := s.Validate(); err != nil {
			return nil, err
		}
		m, err := reg.New(s.Row.Method, s.MethodParams())
		if err != nil {
			return nil, fmt.Errorf("row %s: %w", s.Row.Key(), err)
		}
		r := PlannedRun{Spec: s, ID: s.ID(), Result: env.ResultPath(s.ID())}
		if _, ok := m.(methods.Parallel); ok {
			pl, err := resolvePGaP(s, parallelFactory(reg, s))
			if err != nil {
				return nil, fmt.Errorf("row %s: %w", s.Row.Key(), err)
			}
			r.Parallel, r.Rounds, r.Kappa = true, pl.rounds, pl.kappa
		}
		out = append(out, r)
	}
	return out, nil
}

// WriteSpecs writes each run's spec to <dir>/ckpt/<id>/spec.json (atomically)
// so that a stage started on another machine knows the whole run; a run
// already finished gets none.
func WriteSpecs(dir string, runs []PlannedRun) error {
	env := Env{Dir: dir}
	for _, r := range runs {
		if _, err := os.Stat(r.Result); err == nil {
			continue
		}
		if err := writeSpec(env.ckptDir(r.ID), r.Spec); err != nil {
			return fmt.Errorf("run %s: %w", r.ID, err)
		}
	}
	return nil
}

// readSpec reads the spec WriteSpecs wrote for run id.
func readSpec(dir, id string) (RunSpec, error) {
	path := specPath(Env{Dir: dir}.ckptDir(id))
	raw, err := os.ReadFile(path)
	if err != nil {
		return RunSpec{}, fmt.Errorf("run %s: %w (its spec is written when the run is submitted)", id, err)
	}
	var spec RunSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return RunSpec{}, fmt.Errorf("run %s: %s: %w", id, path, err)
	}
	if got := spec.ID(); got != id {
		return RunSpec{}, fmt.Errorf("run %s: %s holds run %s", id, path, got)
	}
	return spec, nil
}

var (
	branchRe = regexp.MustCompile(`^branch-(\d+)-(\d+)$`)
	roundRe  = regexp.MustCompile(`^round-(\d+)$`)
)

// ErrStageDone reports that RunStage found nothing to do.
var ErrStageDone = errors.New("stage already complete")

// RunStage runs exactly one stage of run id of the results folder dir
// (<results>/<table>), from the spec WriteSpecs wrote, and returns. It
// returns ErrStageDone at once, running nothing, when the run's result exists
// or the stage's checkpoint is complete. env.Threads is used only when the
// spec fixes none (a spec's thread count is part of the run's identity);
// P-GaP's branches get the run's threads divided by kappa, as in a local run.
func RunStage(ctx context.Context, dir, id, stageID string, env Env) error {
	env.Dir = dir
	if _, err := os.Stat(env.ResultPath(id)); err == nil {
		return ErrStageDone
	}
	spec, err := readSpec(dir, id)
	if err != nil {
		return err
	}
	if spec.Threads == 0 {
		spec.Threads = max(1, env.Threads)
	}
	env.Threads = spec.Threads
	if env.Registry == nil {
		env.Registry = methods.Default()
	}
	if env.Data == nil {
		env.Data = &DataCache{}
	}
	m, err := env.Registry.New(spec.Row.Method, spec.MethodParams())
	if err != nil {
		return fmt.Errorf("run %s: %w", id, err)
	}
	pm, parallel := m.(methods.Parallel)
	if !parallel {
		if stageID != "main" {
			return fmt.Errorf("run %s (%s) is serial: its one stage is main, not %q", id, spec.Row.Method, stageID)
		}
		_, err := Execute(ctx, spec, env)
		return err
	}
	newMethod := parallelFactory(env.Registry, spec)
	plan, err := resolvePGaP(spec, newMethod)
	if err != nil {
		return err
	}
	done := func(path string, epoch int) (bool, error) {
		c, err := LoadCheckpoint(path)
		return c != nil && c.Epoch >= epoch, err
	}
	wrap := func(err error) error {
		if err != nil {
			return fmt.Errorf("run %s stage %s: %w", id, stageID, err)
		}
		return nil
	}
	switch {
	case stageID == "finetune":
		last := env.stagePath(id, roundID(plan.rounds))
		if ok, err := done(last, plan.w+plan.rounds*plan.T); err != nil || !ok {
			return wrap(errors.Join(err, fmt.Errorf("%s is missing: run the stages before it", last)))
		}
		env.Branches = func(context.Context, string, string, int, int, int) error {
			return errors.New("a branch is missing") // never reached: every round is merged
		}
		_, err := Execute(ctx, spec, env)
		return err
	case stageID == roundID(0):
		if ok, err := done(env.stagePath(id, roundID(0)), plan.w); err != nil || ok {
			return wrap(errors.Join(err, doneErr(ok)))
		}
		return wrap(pgapInit(ctx, spec, env, pm, plan))
	case branchRe.MatchString(stageID):
		sm := branchRe.FindStringSubmatch(stageID)
		r, _ := strconv.Atoi(sm[1])
		b, _ := strconv.Atoi(sm[2])
		if r >= plan.rounds || b >= plan.kappa {
			return fmt.Errorf("run %s: stage %s: the run has %d rounds of %d branches", id, stageID, plan.rounds, plan.kappa)
		}
		if ok, err := done(env.stagePath(id, stageID), plan.w+(r+1)*plan.T); err != nil || ok {
			return wrap(errors.Join(err, doneErr(ok)))
		}
		return wrap(RunBranch(ctx, dir, id, r, b, max(1, spec.Threads/plan.kappa), env))
	case roundRe.MatchString(stageID):
		n, _ := strconv.Atoi(roundRe.FindStringSubmatch(stageID)[1])
		if n > plan.rounds {
			return fmt.Errorf("run %s: stage %s: the run has %d rounds", id, stageID, plan.rounds)
		}
		if ok, err := done(env.stagePath(id, stageID), plan.w+n*plan.T); err != nil || ok {
			return wrap(errors.Join(err, doneErr(ok)))
		}
		cur, err := LoadCheckpoint(env.stagePath(id, roundID(n-1)))
		if err != nil {
			return wrap(err)
		}
		if cur == nil {
			return wrap(fmt.Errorf("%s is missing", env.stagePath(id, roundID(n-1))))
		}
		return wrap(mergeRound(ctx, spec, env, newMethod, cur, plan, n-1))
	}
	return fmt.Errorf("run %s: unknown stage %q (P-GaP: round-0, branch-R-B, round-N, finetune)", id, stageID)
}

func doneErr(ok bool) error {
	if ok {
		return ErrStageDone
	}
	return nil
}
