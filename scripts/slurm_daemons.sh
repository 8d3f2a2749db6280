# Shared by start_slurm.sh and stop_slurm.sh: find and stop the Slurm and munge daemons.
# Sourced, not run; the caller defines log().

# pid_alive PIDFILE NAME: true if PIDFILE names a live process called NAME
pid_alive() {
    local pidfile=$1 name=$2 pid
    [ -s "$pidfile" ] || return 1
    pid="$(cat "$pidfile" 2>/dev/null)" || return 1
    [ -n "$pid" ] || return 1
    ps -p "$pid" -o stat=,comm= 2>/dev/null | awk -v n="$name" '$2 == n && $1 !~ /^Z/ {f=1} END {exit !f}'
}

# running_pids NAME PIDFILE: pid(s) of the daemon (pid file first, then exact name)
running_pids() {
    local name=$1 pidfile=$2
    if pid_alive "$pidfile" "$name"; then cat "$pidfile"; return 0; fi
    # exact name, skipping zombies (PID 1 here may not reap them)
    ps -eo pid=,stat=,comm= | awk -v n="$name" '$3 == n && $2 !~ /^Z/ {print $1}'
}

# stop_daemon NAME PIDFILE: stop the daemon (start_slurm.sh's, restarted for a new configuration)
stop_daemon() {
    local name=$1 pidfile=$2 pids
    pids="$(running_pids "$name" "$pidfile")"
    [ -z "$pids" ] || stop_pid "$name" $pids
    rm -f "$pidfile"
}

# stop_pid NAME PID...: SIGTERM these processes (only while they are still called NAME), up to 15 s, then SIGKILL
stop_pid() {
    local name=$1 pid left i
    shift
    log "stopping $name ($*)"
    for pid in "$@"; do kill "$pid" 2>/dev/null || true; done
    for i in $(seq 1 75); do
        left=""
        for pid in "$@"; do
            ps -p "$pid" -o stat=,comm= 2>/dev/null | awk -v n="$name" '$2 == n && $1 !~ /^Z/ {f=1} END {exit !f}' \
                && left="$left $pid"
        done
        [ -z "$left" ] && return 0
        sleep 0.2
    done
    log "$name still running after 15s; sending SIGKILL"
    kill -9 $left 2>/dev/null || true
}
