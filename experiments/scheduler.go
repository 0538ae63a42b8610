package experiments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/gap-harness/gap/methods"
	"github.com/gap-harness/gap/results"
)

// Plan is a table to run at a profile with a number of seeds.
type Plan struct {
	Table    *Table
	Profile  Profile
	Seeds    int
	DataPath string
	// Rows, when non-empty, restricts the plan to these row keys.
	Rows []string
	// Registry resolves "gap" budgets (nil: methods.Default()).
	Registry *methods.Registry
}

// Specs expands the plan into one RunSpec per row and seed, skipping pending
// rows and resolving each row's budget to its base epochs (a row whose budget
// cannot be resolved gets an error from RunSpec.Validate).
func (p Plan) Specs() (specs []RunSpec, pending []Row) {
	want := map[string]bool{}
	for _, k := range p.Rows {
		want[k] = true
	}
	for _, r := range p.Table.Rows {
		if len(want) > 0 && !want[r.Key()] {
			continue
		}
		if r.Pending != "" {
			pending = append(pending, r)
			continue
		}
		epochs, err := p.RowEpochs(r)
		reg := p.Registry
		if reg == nil {
			reg = methods.Default()
		}
		given := (RunSpec{Row: r, Profile: p.Profile}).MethodParams()
		resolved, rerr := reg.Resolve(r.Method, given)
		if err == nil && rerr != nil {
			err = fmt.Errorf("row %s: %w", r.Key(), rerr)
		}
		rev, _ := reg.Revision(r.Method, given) // its error is Resolve's
		for s := 0; s < max(1, p.Seeds); s++ {
			spec := RunSpec{Table: p.Table.Name, Suite: p.Table.Suite, Metric: p.Table.Metric,
				Row: r, Profile: p.Profile, Seed: int64(s), DataPath: p.DataPath, DenseLayers: p.Table.DenseLayers,
				Epochs: epochs, MethodResolved: resolved, MethodRevision: rev}
			if err != nil {
				spec.budgetErr = err.Error()
			}
			specs = append(specs, spec)
		}
	}
	return specs, pending
}

// RowEpochs resolves a row's budget (Row.Budget) to its base epochs at the
// plan's profile.
func (p Plan) RowEpochs(r Row) (int, error) {
	if n, ok := budgetMultiple(r.Budget); ok {
		return n * p.Profile.Epochs, nil
	}
	if r.Budget != "gap" {
		return 0, fmt.Errorf("row %s: budget %q: expected x1, xN (N a positive integer) or gap", r.Key(), r.Budget)
	}
	reg := p.Registry
	if reg == nil {
		reg = methods.Default()
	}
	for _, g := range p.Table.Rows {
		if g.Method != "cgap" {
			continue
		}
		spec := RunSpec{Row: g, Profile: p.Profile}
		m, err := reg.New("cgap", spec.MethodParams())
		if err != nil {
			return 0, fmt.Errorf("row %s: budget gap: %w", r.Key(), err)
		}
		return m.Epochs(p.Profile.Epochs), nil
	}
	return 0, fmt.Errorf("row %s: budget gap: table %s has no C-GaP row to match", r.Key(), p.Table.Name)
}

// Options control how a plan is executed.
type Options struct {
	ResultsDir string // the results root; a table's runs go to <ResultsDir>/<table>
	Jobs       int    // runs at once (default: the number of cores)
	Repo       string
	Commit     string // the commit the binary was built from, if known
	Log        *slog.Logger
	Progress   func(Progress)
	Registry   *methods.Registry
	// Branches runs P-GaP branches outside this process (see Env.Branches).
	Branches BranchRunner
	// KeepCheckpoints keeps finished runs' checkpoint folders (see Env).
	KeepCheckpoints bool
	// SaveModels writes each finished run's final model (see Env).
	SaveModels bool
	// OnCheckpoint is called after every checkpoint write (see Env).
	OnCheckpoint func(path string)
	// Suites builds the Task of a table's suite (nil: DefaultSuites).
	Suites Suites
}

// jobsAndThreads is how many of n runs RunPlan trains at once when asked
// for jobs (0 = the number of cores), and the threads each gets.
func jobsAndThreads(n, jobs int) (int, int) {
	cores := runtime.GOMAXPROCS(0)
	if jobs <= 0 {
		jobs = cores
	}
	jobs = min(jobs, max(1, n))
	return jobs, max(1, cores/jobs)
}

// ExecutedSpecs are the plan's runs as RunPlan trains them with opt.Jobs:
// with the thread count it gives each run that does not set its own, which
// is part of a run's identity. Their IDs name the result files, so a
// progress count or a "finished?" check must use these, not Specs.
func (p Plan) ExecutedSpecs(jobs int) []RunSpec {
	specs, _ := p.Specs()
	_, threads := jobsAndThreads(len(specs), jobs)
	out := make([]RunSpec, len(specs))
	for i, s := range specs {
		if s.Threads == 0 {
			s.Threads = threads
		}
		out[i] = s
	}
	return out
}

// RunPlan executes every run of the plan, up to Jobs at once, with the cores
// shared out between them, skipping finished runs and resuming interrupted
// ones. It returns the finished runs in plan order; the first error stops the
// dispatch of new runs and is returned once the running ones end.
func RunPlan(ctx context.Context, plan Plan, opt Options) ([]*results.Run, error) {
	if plan.Registry == nil {
		plan.Registry = opt.Registry
	}
	// The specs as they are trained: each with its threads (part of its id).
	specs := plan.ExecutedSpecs(opt.Jobs)
	jobs, threads := jobsAndThreads(len(specs), opt.Jobs)
	env := Env{Dir: filepath.Join(opt.ResultsDir, plan.Table.Name), Threads: threads, Repo: opt.Repo, Commit: opt.Commit,
		Log: opt.Log, Registry: opt.Registry, Data: &DataCache{}, Progress: opt.Progress, Branches: opt.Branches,
		KeepCheckpoints: opt.KeepCheckpoints, SaveModels: opt.SaveModels, OnCheckpoint: opt.OnCheckpoint, Suites: opt.Suites}
	if env.Registry == nil {
		env.Registry = methods.Default()
	}
	// Finished runs are read here, once, and not dispatched. A folder
	// holding runs of another engine build is so refused before any run
	// starts: refused only when a worker reached such a run, a run trained
	// meanwhile by this build would already be in the folder.
	out := make([]*results.Run, len(specs))
	for i, s := range specs {
		path := env.ResultPath(s.ID())
		if _, err := os.Stat(path); err == nil {
			r, err := ReadFinished(path)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(specs))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < jobs; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r, err := Execute(ctx, specs[i], env)
				if err != nil {
					errs[i] = err
					cancel()
					continue
				}
				out[i] = r
			}
		}()
	}
dispatch:
	for i := range specs {
		if out[i] != nil {
			continue // finished
		}
		select {
		case next <- i:
		case <-ctx.Done():
			break dispatch
		}
	}
	close(next)
	wg.Wait()
	// The first real error, not a sibling's cancellation caused by it.
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return out, err
		}
	}
	if err := ctx.Err(); err != nil && opt.Progress == nil {
		return out, fmt.Errorf("interrupted: %w", err)
	}
	for i, r := range out {
		if r == nil {
			return out, fmt.Errorf("run %s did not finish", specs[i].ID())
		}
	}
	return out, nil
}
