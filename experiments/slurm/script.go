package slurm

// BatchScript is task.sh, the batch script of every array: sbatch runs it as
// `task.sh MANIFEST`. It takes line SLURM_ARRAY_TASK_ID+1 of the manifest
// ("ID<TAB>argv"), records which job runs the task (tasks/<id>.start), runs
// the argv with its output appended to logs/<id>.log, passes SIGTERM on to it
// (Slurm's warning before a kill, a preemption or a time limit), and records
// its exit status (tasks/<id>.exit) before exiting with it. The folder of the
// manifest is the slurm folder of the results.
const BatchScript = `#!/bin/bash
# Written by gap (experiments/slurm). Runs one element of a gap job array:
# line SLURM_ARRAY_TASK_ID+1 of the manifest given as $1, "ID<TAB>argv".
set -u
manifest=${1:?usage: task.sh MANIFEST}
if [ ! -r "$manifest" ]; then
	echo "gap task: cannot read $manifest on $(hostname): the results folder must be on a file system shared by the submitting host and every node" >&2
	exit 2
fi
dir=$(dirname "$manifest")
i=${SLURM_ARRAY_TASK_ID:?gap task: SLURM_ARRAY_TASK_ID unset, not an array task}
line=$(sed -n "$((i + 1))p" "$manifest")
if [ -z "$line" ]; then
	echo "gap task: $manifest has no line $((i + 1)) for array index $i" >&2
	exit 2
fi
id=${line%%$'\t'*}
argv=${line#*$'\t'}
f=${id//\//__}
log=$dir/logs/$f.log
job=${SLURM_ARRAY_JOB_ID:-$SLURM_JOB_ID}_$i
mark() { # name content: write tasks/<id>.<name> atomically
	printf '%s\n' "$2" >"$dir/tasks/.$f.$1.$$" && mv -f "$dir/tasks/.$f.$1.$$" "$dir/tasks/$f.$1"
}
rm -f "$dir/tasks/$f.exit"
mark start "$job ${SLURM_JOB_ID:-} $(hostname) $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "=== gap task $id: job $job (Slurm job ${SLURM_JOB_ID:-}, restart ${SLURM_RESTART_COUNT:-0}) on $(hostname) at $(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$log"
eval "set -- $argv"
"$@" >>"$log" 2>&1 &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM INT
wait "$child"
rc=$?
while kill -0 "$child" 2>/dev/null; do
	wait "$child"
	rc=$?
done
mark exit "$rc"
echo "=== gap task $id: exit status $rc at $(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$log"
exit "$rc"
`
