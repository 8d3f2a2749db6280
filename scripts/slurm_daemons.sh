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

# stop_daemon NAME PIDFILE: SIGTERM, up to 15 s, then SIGKILL
stop_daemon() {
    local name=$1 pidfile=$2 pids i
    pids="$(running_pids "$name" "$pidfile")"
    if [ -z "$pids" ]; then rm -f "$pidfile"; return 0; fi
    log "stopping $name ($(echo $pids))"
    kill $pids 2>/dev/null || true
    for i in $(seq 1 75); do
        pids="$(running_pids "$name" "$pidfile")"
        [ -z "$pids" ] && break
        sleep 0.2
    done
    if [ -n "$pids" ]; then
        log "$name still running after 15s; sending SIGKILL"
        kill -9 $pids 2>/dev/null || true
    fi
    rm -f "$pidfile"
}
