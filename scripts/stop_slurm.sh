#!/usr/bin/env bash
# Stop the single-node Slurm cluster started by scripts/start_slurm.sh:
# cancel all jobs, then stop slurmd, slurmctld and munged.
# Config, state and logs are left in place; start_slurm.sh restarts quickly.
#
#   KEEP_MUNGE=1 bash scripts/stop_slurm.sh   # leave munged running
set -uo pipefail

log() { echo "stop_slurm: $*" >&2; }

[ "$(id -u)" -eq 0 ] || { log "ERROR: must run as root"; exit 1; }

source "$(dirname "${BASH_SOURCE[0]}")/slurm_daemons.sh"

# Cancel all jobs while slurmctld/slurmd are still there to do it.
if command -v scontrol >/dev/null && scontrol ping 2>/dev/null | grep -q "is UP"; then
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

stop_daemon slurmd /run/slurmd.pid
stop_daemon slurmctld /run/slurmctld.pid
if [ "${KEEP_MUNGE:-0}" != "1" ]; then
    stop_daemon munged /run/munge/munged.pid
fi
log "slurm stopped"
