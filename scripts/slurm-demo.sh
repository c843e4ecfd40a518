#!/usr/bin/env bash
# Proves that a sweep spreads over a Slurm job array, on this one machine: installs Debian's
# slurm-wlm and munge if missing, starts a one-node cluster on localhost (munged, slurmctld,
# slurmd; private config, ports, state and logs in a temporary directory), submits the sweep as
# `sbatch --array=0-1` (two shards), waits, merges the shards with `dfsim merge`, and checks that
# the merge equals the same sweep run unsharded (every column but wall_s). Stops the daemons it
# started on exit, whatever happens. Leaves the system's own Slurm / munge setup untouched.
#
#   scripts/slurm-demo.sh            # DFSIM=path/to/dfsim to use another build
#   KEEP=1 scripts/slurm-demo.sh     # keep the temporary directory (logs, shards, merge)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

fail() {
  echo "slurm-demo: FAILED: $*" >&2
  exit 1
}

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

# --- packages --------------------------------------------------------------------------------
missing=()
for package in slurm-wlm munge; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if ((${#missing[@]})); then
  echo "slurm-demo: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# slurmd must run as root to start jobs as the submitting user; the rest of the demo as well,
# since its private munged and Slurm daemons are started here, not by systemd.
[ "$(id -u)" -eq 0 ] || fail "run as root (sudo scripts/slurm-demo.sh): slurmd starts jobs as root"

dfsim=${DFSIM:-$root/build/dfsim}
if [ ! -x "$dfsim" ]; then
  scripts/setup.sh
  dfsim=$root/build/dfsim
fi

# --- a one-node cluster in a temporary directory ---------------------------------------------
work=$(mktemp -d /tmp/dfsim-slurm-demo.XXXXXX)
chmod 711 "$work"  # munged wants its socket directory traversable
pids=()
stop_daemons() {
  local status=$?
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ]; then
    echo "slurm-demo: logs kept in $work (slurmctld.log, slurmd.log, munged.log, shard-*.log)" >&2
  elif [ -z "${KEEP:-}" ]; then
    rm -rf "$work"
  else
    echo "slurm-demo: kept $work"
  fi
}
trap stop_daemons EXIT
trap 'exit 130' INT TERM

# munged with a private key and socket, so an existing munge setup is neither used nor disturbed.
dd if=/dev/urandom of="$work/munge.key" bs=1024 count=1 status=none
chmod 600 "$work/munge.key"
munged --foreground --force --key-file="$work/munge.key" --socket="$work/munge.socket" \
  --pid-file="$work/munged.pid" --log-file="$work/munged.log" --seed-file="$work/munged.seed" \
  >"$work/munged.stderr" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$work/munge.socket" ] && break; sleep 0.1; done
[ -S "$work/munge.socket" ] || fail "munged did not start (see $work/munged.log)"
munge --socket="$work/munge.socket" -n | unmunge --socket="$work/munge.socket" >/dev/null ||
  fail "munge cannot encode and decode a credential"

node=$(hostname -s)
# The node as slurmd sees it (CPUs, sockets, cores, memory), so it never registers as invalid.
node_line=$(slurmd -C | head -1)
mkdir -p "$work/state" "$work/spool"
cat >"$work/slurm.conf" <<EOF
ClusterName=dfsim-demo
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge.socket
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups in containers: plain process tracking, no task binding, no accounting.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MaxArraySize=1001
$node_line State=UNKNOWN NodeAddr=127.0.0.1
PartitionName=demo Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$work/slurm.conf

slurmctld -D -i -f "$SLURM_CONF" >>"$work/slurmctld.log" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" >>"$work/slurmd.log" 2>&1 &
pids+=($!)

state=""
for _ in $(seq 60); do
  state=$(sinfo -h -n "$node" -o %T 2>/dev/null || true)
  [ "$state" = idle ] && break
  if ! kill -0 "${pids[1]}" 2>/dev/null; then fail "slurmctld exited (see $work/slurmctld.log)"; fi
  if ! kill -0 "${pids[2]}" 2>/dev/null; then fail "slurmd exited (see $work/slurmd.log)"; fi
  sleep 1
done
[ "$state" = idle ] || fail "node $node is '${state:-unknown}', not idle, after 60 s (see $work/slurmd.log)"
echo "slurm-demo: one-node cluster up ($(sinfo -h -o '%P %D node(s) %c CPUs %T'))"

# --- the sweep, as a job array ---------------------------------------------------------------
# 200 points: Llama 3.1 8B decode on one SN40L socket over HBM bandwidth x batch x looping.
sweep_args=(--model llama3.1-8b --hw sn40l --set phase.tokens=4
            --grid hw.hbm.bandwidth=1TB/s:2.8TB/s:0.2TB/s --grid phase.batch=1..512*2
            --grid looping=off,on)
quoted_args=$(printf '%q ' "${sweep_args[@]}")
cat >"$work/sweep.sbatch" <<EOF
#!/bin/bash
#SBATCH --job-name=dfsim-sweep
#SBATCH --array=0-1
#SBATCH --cpus-per-task=1
#SBATCH --output=$work/shard-%a.log
# Each array task runs its slice of the points; --resume makes a requeued task continue.
exec "$dfsim" sweep $quoted_args\\
  --shard \$SLURM_ARRAY_TASK_ID/\$SLURM_ARRAY_TASK_COUNT -j \$SLURM_CPUS_PER_TASK \\
  --out "$work/shard-\$SLURM_ARRAY_TASK_ID.csv" --resume
EOF
job=$(sbatch --parsable "$work/sweep.sbatch")
echo "slurm-demo: submitted job array $job (2 shards): $work/sweep.sbatch"
for _ in $(seq 600); do
  [ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break
  sleep 1
done
[ -z "$(squeue -h -j "$job" 2>/dev/null)" ] || fail "job $job still queued or running after 600 s"
for task in 0 1; do
  [ -s "$work/shard-$task.csv" ] || fail "shard $task wrote nothing (see $work/shard-$task.log)"
  sed 's/^/  shard '"$task"': /' "$work/shard-$task.log"
done

"$dfsim" merge "$work/shard-0.csv" "$work/shard-1.csv" -o "$work/merged.csv" ||
  fail "dfsim merge reports missing points"

# --- the same sweep, unsharded, here -----------------------------------------------------------
"$dfsim" sweep "${sweep_args[@]}" --out "$work/unsharded.csv"
"$dfsim" merge "$work/unsharded.csv" -o "$work/unsharded-sorted.csv" 2>/dev/null
# wall_s, the last column, is the only one that depends on the run.
strip_wall() { sed 's/,[^,]*$//' "$1"; }
if ! diff <(strip_wall "$work/merged.csv") <(strip_wall "$work/unsharded-sorted.csv") >"$work/diff.txt"; then
  fail "the merged shards differ from the unsharded sweep (see $work/diff.txt)"
fi
rows=$(($(wc -l <"$work/merged.csv") - 1))
echo "slurm-demo: OK: 2 Slurm array tasks, $rows points merged, identical to the unsharded sweep"
