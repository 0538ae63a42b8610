#!/usr/bin/env bash
# stop.sh - stop the cluster scripts/slurm/start.sh started, and nothing else:
# the jobs still in its queue, then slurmd, slurmctld and munged, each by the
# pid in its pid file (checked against the process name, so a recycled pid is
# left alone). Safe to run when nothing is running.
#
#   GAP_SLURM_DIR   the start script's folder (default /tmp/gap-slurm)
#   GAP_SLURM_PURGE=1  also delete that folder
set -uo pipefail
dir=${GAP_SLURM_DIR:-/tmp/gap-slurm}
say() { printf 'stop.sh: %s\n' "$*" >&2; }
[ "$(id -u)" -eq 0 ] || { say "error: needs root"; exit 1; }
export SLURM_CONF=$dir/slurm.conf

live() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
pidof_file() { [ -s "$1" ] && cat "$1"; }

# Jobs first: slurmd going away does not end the jobs it started.
ctld=$(pidof_file "$dir/run/slurmctld.pid")
if [ -f "$SLURM_CONF" ] && live "$ctld"; then
	jobs=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')
	if [ -n "${jobs// /}" ]; then
		say "cancelling jobs $jobs"
		# shellcheck disable=SC2086
		scancel $jobs 2>/dev/null
		for _ in $(seq 100); do
			[ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
			sleep 0.1
		done
	fi
fi

halt() { # name pidfile
	local pid comm
	pid=$(pidof_file "$2") || { say "$1: not started here (no $2)"; return 0; }
	if ! live "$pid"; then
		rm -f "$2"
		return 0
	fi
	comm=$(cat "/proc/$pid/comm" 2>/dev/null)
	case $comm in
	"$1"*) ;;
	*)
		say "$1: pid $pid is now '$comm', not ours; left alone"
		return 0
		;;
	esac
	kill -TERM "$pid"
	for _ in $(seq 100); do live "$pid" || break; sleep 0.05; done
	if live "$pid"; then
		say "$1: still alive after 5 s, SIGKILL $pid"
		kill -KILL "$pid"
	fi
	rm -f "$2"
	say "$1 ($pid) stopped"
}
halt slurmd "$dir/run/slurmd.pid"
halt slurmctld "$dir/run/slurmctld.pid"
halt munged "$dir/munge/munged.pid"

# Job processes that outlived their slurmstepd (killed daemons) would be
# children of init; slurmstepd processes of ours are found by the config path.
for pid in $(pgrep -x slurmstepd 2>/dev/null); do
	if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "SLURM_CONF=$SLURM_CONF"; then
		say "slurmstepd $pid left over, SIGKILL"
		kill -KILL "$pid" 2>/dev/null
	fi
done
[ "${GAP_SLURM_PURGE:-0}" = 1 ] && rm -rf "$dir"
exit 0
