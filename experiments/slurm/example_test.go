package slurm_test

import (
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/gap-harness/gap/experiments/slurm"
)

// A table's plan as the stage runner would build it: serial runs in one
// array, each P-GaP run as a chain of init, a branch array and a merge per
// round, and the fine-tune. Each task runs one stage through gap; the run's
// result file marks every one of its stages done.
func Example() {
	gap, tableDir := "/shared/bin/gap", "/shared/results/lenet"
	stage := func(run, s string) slurm.Task {
		return slurm.Task{
			ID:        run + "/" + s,
			Argv:      []string{gap, "run-stage", "-results", tableDir, "-id", run, "-stage", s},
			DoneIfAny: []string{run + ".arrow"},
		}
	}
	plan := slurm.Plan{Groups: []slurm.Group{{Name: "serial", Tasks: []slurm.Task{stage("3f2a", "main"), stage("9c01", "main")}}}}
	const run, kappa, rounds = "b7e4", 3, 2
	stages := [][]slurm.Task{{stage(run, "round-0")}}
	for r := 0; r < rounds; r++ {
		var branches []slurm.Task
		for b := 0; b < kappa; b++ {
			branches = append(branches, stage(run, fmt.Sprintf("branch-%d-%d", r, b)))
		}
		stages = append(stages, branches, []slurm.Task{stage(run, "round-"+strconv.Itoa(r+1))})
	}
	stages = append(stages, []slurm.Task{stage(run, "finetune")})
	plan.Groups = append(plan.Groups, slurm.Chain("pgap-"+run, stages...)...)
	if err := plan.Validate(); err != nil {
		panic(err)
	}
	for _, g := range plan.Groups {
		fmt.Printf("%s after %v: %d task(s), first %s\n", g.Name, g.After, len(g.Tasks), filepath.Base(g.Tasks[0].ID))
	}
	// Output:
	// serial after []: 2 task(s), first main
	// pgap-b7e4-0 after []: 1 task(s), first round-0
	// pgap-b7e4-1 after [pgap-b7e4-0]: 3 task(s), first branch-0-0
	// pgap-b7e4-2 after [pgap-b7e4-1]: 1 task(s), first round-1
	// pgap-b7e4-3 after [pgap-b7e4-2]: 3 task(s), first branch-1-0
	// pgap-b7e4-4 after [pgap-b7e4-3]: 1 task(s), first round-2
	// pgap-b7e4-5 after [pgap-b7e4-4]: 1 task(s), first finetune
}
