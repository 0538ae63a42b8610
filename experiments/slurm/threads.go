package slurm

import (
	"os"
	"strconv"
	"strings"
)

// Threads is the number of CPUs Slurm gave this task: SLURM_CPUS_PER_TASK
// when the job asked for --cpus-per-task, else SLURM_CPUS_ON_NODE (the CPUs
// allocated to the job on this node). ok is false outside a Slurm job, where
// the caller keeps its own default. Without cgroups Slurm does not stop a
// process from using more cores than it was given, so a trainer must size
// its thread pool from this rather than from the machine.
func Threads() (n int, ok bool) { return threadsFrom(os.Getenv) }

func threadsFrom(getenv func(string) string) (int, bool) {
	for _, k := range []string{"SLURM_CPUS_PER_TASK", "SLURM_CPUS_ON_NODE"} {
		v := strings.TrimSpace(getenv(k))
		// Heterogeneous forms such as "2(x3)" start with the count.
		if i := strings.IndexByte(v, '('); i > 0 {
			v = v[:i]
		}
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return n, true
		}
	}
	return 0, false
}
