#!/usr/bin/env bash
# Stop the single-node Slurm cluster started by scripts/start_slurm.sh:
# cancel all jobs, then stop slurmd, slurmctld and munged.
# Config, state and logs are left in place; start_slurm.sh restarts quickly.
#
#   KEEP_MUNGE=1 bash scripts/stop_slurm.sh   # leave munged running
set -uo pipefail

log() { echo "stop_slurm: $*" >&2; }

[ "$(id -u)" -eq 0 ] || { log "ERROR: must run as root"; exit 1; }

# pids NAME PIDFILE: pid from the pid file if it is alive and has that name,
# else processes whose name is exactly NAME.
pids() {
    local name=$1 pidfile=$2 pid
    if [ -s "$pidfile" ]; then
        pid="$(cat "$pidfile" 2>/dev/null)"
        if [ -n "$pid" ] && ps -p "$pid" -o stat=,comm= 2>/dev/null \
                | awk -v n="$name" '$2 == n && $1 !~ /^Z/ {f=1} END {exit !f}'; then
            echo "$pid"; return 0
        fi
    fi
    # exact name, skipping zombies (PID 1 here may not reap them)
    ps -eo pid=,stat=,comm= | awk -v n="$name" '$3 == n && $2 !~ /^Z/ {print $1}'
}

stop_daemon() {    # stop_daemon NAME PIDFILE
    local name=$1 pidfile=$2 p i
    p="$(pids "$name" "$pidfile")"
    if [ -z "$p" ]; then log "$name not running"; rm -f "$pidfile"; return 0; fi
    log "stopping $name ($(echo $p))"
    kill $p 2>/dev/null || true
    for i in $(seq 1 75); do
        p="$(pids "$name" "$pidfile")"
        [ -z "$p" ] && break
        sleep 0.2
    done
    if [ -n "$p" ]; then
        log "$name still running after 15s; sending SIGKILL"
        kill -9 $p 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

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
