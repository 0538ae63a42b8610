#!/usr/bin/env bash
# start.sh - a one-node Slurm cluster on this machine, for the tests
# (make test-slurm) and for trying `gap` on Slurm without a real cluster.
#
# Debian 12 (slurm 22.05 + munge), as root. The daemons are started by hand
# (no systemd needed): a private munged, slurmctld and slurmd, all under
# $GAP_SLURM_DIR, which also holds slurm.conf and env.sh. Afterwards:
#
#   . "$GAP_SLURM_DIR/env.sh"        # exports SLURM_CONF
#   sbatch --wrap 'hostname'; squeue
#   scripts/slurm/stop.sh            # stops exactly what this started
#
# Environment:
#   GAP_SLURM_DIR      where everything lives      (default /tmp/gap-slurm)
#   GAP_SLURM_PORT     slurmctld port; slurmd uses the next one (default 6817)
#   GAP_SLURM_CPUS     CPUs the node offers        (default: all, from slurmd -C)
#   GAP_SLURM_INSTALL  0: never run apt-get; fail if packages are missing (default 1)
#   GAP_SLURM_WAIT     seconds to wait for the node to come up (default 60)
#   GAP_SLURM_MAX_ARRAY  MaxArraySize (default 100001)
#   GAP_SLURM_CRED_EXPIRE  job credential lifetime in seconds, which is also how
#                      long a requeued job waits to start again (Slurm's default 120)
#
# Exit status: 0 ready; 1 error; 3 packages missing and could not be installed.
set -euo pipefail

dir=${GAP_SLURM_DIR:-/tmp/gap-slurm}
port=${GAP_SLURM_PORT:-6817}
dport=$((port + 1))
wait_s=${GAP_SLURM_WAIT:-60}

say() { printf 'start.sh: %s\n' "$*" >&2; }
fail() { say "error: $*"; exit "${2:-1}"; }

[ "$(id -u)" -eq 0 ] || fail "needs root (the daemons run as root and munged as user munge)"
t0=$(date +%s%N)

# Packages. The minimal set is enough: daemons, client commands, munge.
missing=()
for want in slurmctld:/usr/sbin/slurmctld slurmd:/usr/sbin/slurmd slurm-client:/usr/bin/sbatch munge:/usr/sbin/munged; do
	[ -x "${want#*:}" ] || missing+=("${want%%:*}")
done
if [ ${#missing[@]} -gt 0 ]; then
	[ "${GAP_SLURM_INSTALL:-1}" = 1 ] && command -v apt-get >/dev/null ||
		fail "missing packages: ${missing[*]} (apt-get install --no-install-recommends ${missing[*]})" 3
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
		apt-get update -qq >/dev/null 2>&1 || true
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
			fail "apt-get install ${missing[*]} failed" 3
	fi
fi
id munge >/dev/null 2>&1 || fail "no user 'munge' (did the munge package install cleanly?)"

# Refuse to start a second copy over a running one, or on busy ports.
for pidfile in "$dir/run/slurmctld.pid" "$dir/run/slurmd.pid" "$dir/munge/munged.pid"; do
	if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
		fail "already running: $pidfile holds live pid $(cat "$pidfile"); stop it with scripts/slurm/stop.sh"
	fi
done
if command -v ss >/dev/null; then
	for p in "$port" "$dport"; do
		if ss -Hltn "sport = :$p" | grep -q .; then fail "TCP port $p is in use (set GAP_SLURM_PORT)"; fi
	done
fi

# Layout. munged is strict: its socket directory must be traversable by all,
# its key owned by munge with mode 0400.
mkdir -p "$dir"
chmod 755 "$dir"
rm -rf "$dir/state" "$dir/spool" "$dir/log" "$dir/run"
mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/run" "$dir/munge"
chmod 755 "$dir/state" "$dir/spool" "$dir/log" "$dir/run"
chmod 711 "$dir/munge"
[ -s "$dir/munge/munge.key" ] || head -c 1024 /dev/urandom >"$dir/munge/munge.key"
chmod 400 "$dir/munge/munge.key"
chown -R munge:munge "$dir/munge"
rm -f "$dir/munge/munge.socket" "$dir/munge/munge.socket.lock"
sock=$dir/munge/munge.socket

runuser -u munge -- /usr/sbin/munged --socket="$sock" --key-file="$dir/munge/munge.key" \
	--log-file="$dir/munge/munged.log" --pid-file="$dir/munge/munged.pid" \
	--seed-file="$dir/munge/munged.seed" || fail "munged did not start; see $dir/munge/munged.log"
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
munge -n --socket="$sock" | unmunge --socket="$sock" >/dev/null ||
	fail "munge credential round trip failed; see $dir/munge/munged.log"

# slurm.conf. The node's geometry comes from `slurmd -C`, with RealMemory
# 512 MB under what it reports (a node claiming more than it has drains).
hw=$(/usr/sbin/slurmd -C | head -n 1)
field() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$hw"; }
mem=$(field RealMemory)
[ "$mem" -gt 1024 ] && mem=$((mem - 512))
if [ -n "${GAP_SLURM_CPUS:-}" ]; then
	node="CPUs=$GAP_SLURM_CPUS"
else
	node="CPUs=$(field CPUs) Boards=$(field Boards) SocketsPerBoard=$(field SocketsPerBoard) CoresPerSocket=$(field CoresPerSocket) ThreadsPerCore=$(field ThreadsPerCore)"
fi
# Scheduler: the default batch_sched_delay of 3 s makes a queue of short jobs
# start one every 3 s; these settings start them as soon as a CPU is free.
cat >"$dir/slurm.conf" <<CONF
# Written by scripts/slurm/start.sh; a throw-away one-node cluster.
ClusterName=gap
SlurmctldHost=localhost
SlurmUser=root
SlurmctldPort=$port
SlurmdPort=$dport
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock${GAP_SLURM_CRED_EXPIRE:+,cred_expire=$GAP_SLURM_CRED_EXPIRE}
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=512
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=100000,bf_interval=5
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
MinJobAge=3600
MaxArraySize=${GAP_SLURM_MAX_ARRAY:-100001}
MaxJobCount=200000
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
NodeName=localhost $node RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
printf 'export SLURM_CONF=%s\n' "$dir/slurm.conf" >"$dir/env.sh"
export SLURM_CONF=$dir/slurm.conf

/usr/sbin/slurmctld -f "$SLURM_CONF" || fail "slurmctld did not start; see $dir/log/slurmctld.log"
/usr/sbin/slurmd -f "$SLURM_CONF" || fail "slurmd did not start; see $dir/log/slurmd.log"

# Ready when the controller answers and the node is schedulable.
deadline=$(($(date +%s) + wait_s))
state=
until scontrol ping 2>/dev/null | grep -q 'is UP' &&
	state=$(sinfo -h -n localhost -o %T 2>/dev/null | head -n 1) &&
	case $state in idle | mixed | allocated) true ;; *) false ;; esac; do
	if [ "$(date +%s)" -ge "$deadline" ]; then
		tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
		fail "node not ready after ${wait_s}s (state '$state')"
	fi
	sleep 0.1
done
say "ready in $(( ($(date +%s%N) - t0) / 1000000 )) ms: node localhost $state; run: . $dir/env.sh"
