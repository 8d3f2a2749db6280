#!/usr/bin/env bash
# Stop the daemons scripts/start_slurm.sh started (recorded in /run/dask-timing-slurm.started):
# cancel the jobs of the controller it started, then stop its slurmd, slurmctld and munged.
# A daemon it did not start (a Slurm cluster it reused, another job's munged) is never stopped.
# Config, state and logs are left in place; start_slurm.sh restarts quickly.
#
#   KEEP_MUNGE=1 bash scripts/stop_slurm.sh   # leave munged running
set -uo pipefail

STARTED=/run/dask-timing-slurm.started
log() { echo "stop_slurm: $*" >&2; }

[ "$(id -u)" -eq 0 ] || { log "ERROR: must run as root"; exit 1; }

source "$(dirname "${BASH_SOURCE[0]}")/slurm_daemons.sh"

if [ ! -s "$STARTED" ]; then
    log "start_slurm.sh started no daemon that runs: nothing stopped"
    exit 0
fi
# ours NAME: the pid of the daemon NAME start_slurm.sh started, if it still runs
ours() {
    local pid
    pid="$(awk -v n="$1" '$1 == n {print $2}' "$STARTED" | tail -n1)"
    [ -n "$pid" ] && ps -p "$pid" -o stat=,comm= 2>/dev/null | awk -v n="$1" '$2 == n && $1 !~ /^Z/ {f=1} END {exit !f}' \
        && echo "$pid"
}

# Cancel the jobs while the controller it started and its slurmd are still there to do it.
if [ -n "$(ours slurmctld)" ] && scontrol ping 2>/dev/null | grep -q "is UP"; then
    jobs="$(squeue -h -o %i 2>/dev/null || true)"
    if [ -n "$jobs" ]; then
        log "cancelling jobs: $(echo $jobs)"
        scancel --full $jobs 2>/dev/null || scancel $jobs 2>/dev/null || true
        for i in $(seq 1 60); do
            [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
            sleep 0.5
        done
        left="$(squeue -h -o '%i %T' 2>/dev/null || true)"
        [ -z "$left" ] || log "jobs still listed after 30s: $(echo $left)"
    fi
fi

daemons=(slurmd slurmctld)
[ "${KEEP_MUNGE:-0}" = "1" ] || daemons+=(munged)
for name in "${daemons[@]}"; do
    pid="$(ours "$name")"
    [ -n "$pid" ] && stop_pid "$name" "$pid"
done
rm -f "$STARTED"
log "slurm stopped (what start_slurm.sh started)"
