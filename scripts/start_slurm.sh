#!/usr/bin/env bash
# Install (if needed) and start a real single-node Slurm cluster on this machine.
#
# - Debian packages: slurmctld slurmd slurm-client munge (installed only if missing)
# - /etc/slurm/slurm.conf for one node named `hostname -s`, with nproc CPUs and
#   ~95% of the real memory, one partition (default: debug)
# - munged, slurmctld and slurmd are started directly as daemons (no systemd needed)
#
# Idempotent: running it again while everything is up changes nothing (if the
# generated slurm.conf differs from the installed one, the Slurm daemons it
# started are restarted).  Ends with:  slurm ready: node <name>, partition <p>, <n> CPUs
#
# Only what it started is its own: each daemon it starts is recorded (name and pid) in
# /run/dask-timing-slurm.started, and scripts/stop_slurm.sh stops those and nothing else.
# A Slurm controller already running that it did not start is reused as it is (said on
# standard error): its configuration is not rewritten and its daemons are never restarted.
#
# Environment overrides:
#   SLURM_PARTITION   partition name            (default: debug)
#   SLURM_CLUSTER     ClusterName               (default: dasktest)
#   SLURM_WAIT        seconds to wait for idle  (default: 30)
#
# Stop everything with scripts/stop_slurm.sh.
set -euo pipefail

PARTITION="${SLURM_PARTITION:-debug}"
CLUSTER="${SLURM_CLUSTER:-dasktest}"
WAIT_SECS="${SLURM_WAIT:-30}"

CONF_DIR=/etc/slurm
CONF="$CONF_DIR/slurm.conf"
LOG_DIR=/var/log/slurm
CTLD_LOG="$LOG_DIR/slurmctld.log"
SLURMD_LOG="$LOG_DIR/slurmd.log"
JOBCOMP_LOG="$LOG_DIR/jobcomp.log"
CTLD_STATE=/var/spool/slurmctld
SLURMD_SPOOL=/var/spool/slurmd
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid
MUNGE_KEY=/etc/munge/munge.key
MUNGE_PID=/run/munge/munged.pid
MUNGE_LOG=/var/log/munge/munged.log
STARTED=/run/dask-timing-slurm.started  # "name pid" of each daemon this script started

log() { echo "start_slurm: $*" >&2; }

# die MESSAGE [LOGFILE...]: print the message plus the tail of each log, exit 1.
die() {
    local msg=$1; shift
    echo "start_slurm: ERROR: $msg" >&2
    local f
    for f in "$@"; do
        if [ -f "$f" ]; then
            echo "----- last 25 lines of $f -----" >&2
            tail -n 25 "$f" >&2 || true
        fi
    done
    exit 1
}

[ "$(id -u)" -eq 0 ] || die "must run as root (packages, /etc/slurm, daemons)"

source "$(dirname "${BASH_SOURCE[0]}")/slurm_daemons.sh"

# started_here NAME PIDFILE: the daemon runs, and this script started it
started_here() {
    local pid
    pid="$(running_pids "$1" "$2" | head -n1)"
    [ -n "$pid" ] && grep -qx "$1 $pid" "$STARTED" 2>/dev/null
}
# remember NAME PIDFILE: record the daemon this script has just started
remember() { echo "$1 $(running_pids "$1" "$2" | head -n1)" >>"$STARTED"; }

if command -v slurmctld >/dev/null && [ -n "$(running_pids slurmctld "$CTLD_PID")" ] \
        && ! started_here slurmctld "$CTLD_PID"; then
    log "reusing the Slurm cluster already running here (not started by this script: stop_slurm.sh leaves it)"
    timeout 10 scontrol ping 2>/dev/null | grep -q "is UP" || die "the running slurmctld does not answer 'scontrol ping'"
    echo "slurm ready: reusing the running cluster, partitions $(timeout 10 sinfo -h -o %P 2>/dev/null | paste -sd, -)"
    exit 0
fi
[ -n "$(running_pids slurmctld "$CTLD_PID")" ] || rm -f "$STARTED"  # what an earlier run started is gone

# ---------------------------------------------------------------- packages
PKGS=(slurmctld slurmd slurm-client munge)
missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]} ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/tmp/start_slurm.apt.log 2>&1 \
        || die "apt-get update failed" /tmp/start_slurm.apt.log
    apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/start_slurm.apt.log 2>&1 \
        || die "apt-get install ${missing[*]} failed" /tmp/start_slurm.apt.log
fi
for b in munged slurmctld slurmd sinfo scontrol; do
    command -v "$b" >/dev/null || die "$b not found after installing packages"
done

# ---------------------------------------------------------------- node facts
NODE="$(hostname -s)"
[ -n "$NODE" ] || die "hostname -s is empty"
CPUS="$(nproc)"
MEM_TOTAL_MB=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 ))
REAL_MEM_MB=$(( MEM_TOTAL_MB - MEM_TOTAL_MB / 20 ))       # ~95% of total
[ "$REAL_MEM_MB" -gt 0 ] || die "could not read MemTotal from /proc/meminfo"
DEF_MEM_PER_CPU=$(( REAL_MEM_MB / CPUS ))                 # jobs without --mem
if getent passwd slurm >/dev/null; then SLURM_USER=slurm; else SLURM_USER=root; fi

# ---------------------------------------------------------------- directories
mkdir -p "$CONF_DIR" "$LOG_DIR" "$CTLD_STATE" "$SLURMD_SPOOL"
chown "$SLURM_USER": "$LOG_DIR" "$CTLD_STATE"
chmod 0755 "$LOG_DIR" "$CTLD_STATE"
chmod 0755 "$SLURMD_SPOOL"
touch "$JOBCOMP_LOG"
chown "$SLURM_USER": "$JOBCOMP_LOG"

# ---------------------------------------------------------------- slurm.conf
# NodeAddr/SlurmctldHost carry an explicit 127.0.0.1 so nothing depends on
# the hostname resolving via DNS or /etc/hosts.
NEW_CONF="$(mktemp)"
trap 'rm -f "$NEW_CONF"' EXIT
cat >"$NEW_CONF" <<EOF
# Generated by scripts/start_slurm.sh -- single-node test cluster. Do not edit:
# re-running the script overwrites this file.
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=$SLURM_USER
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
MailProg=/bin/true
SwitchType=switch/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$CTLD_LOG
SlurmdLogFile=$SLURMD_LOG
SlurmctldDebug=info
SlurmdDebug=info
StateSaveLocation=$CTLD_STATE
SlurmdSpoolDir=$SLURMD_SPOOL
# timers (short, for a test cluster)
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
MinJobAge=300
Waittime=0
# scheduling: several 1-CPU jobs share the node
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$DEF_MEM_PER_CPU
# accounting: no slurmdbd; finished jobs are recorded in a text file
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$JOBCOMP_LOG
# node + partition
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$NODE CPUs=$CPUS RealMemory=$REAL_MEM_MB State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF

CONF_CHANGED=0
if [ ! -f "$CONF" ] || ! cmp -s "$NEW_CONF" "$CONF"; then
    [ -f "$CONF" ] && cp -p "$CONF" "$CONF.bak"
    install -m 0644 -o root -g root "$NEW_CONF" "$CONF"
    CONF_CHANGED=1
    log "wrote $CONF (node $NODE, $CPUS CPUs, RealMemory=$REAL_MEM_MB MB)"
fi

# ---------------------------------------------------------------- munge
if [ ! -s "$MUNGE_KEY" ]; then
    log "creating $MUNGE_KEY"
    mkdir -p /etc/munge
    if command -v mungekey >/dev/null; then
        mungekey --create --keyfile="$MUNGE_KEY" --force
    else
        dd if=/dev/urandom bs=1 count=1024 of="$MUNGE_KEY" status=none
    fi
fi
chown munge:munge /etc/munge "$MUNGE_KEY"
chmod 0700 /etc/munge
chmod 0400 "$MUNGE_KEY"
mkdir -p /run/munge /var/lib/munge /var/log/munge
chown munge:munge /run/munge /var/lib/munge /var/log/munge
chmod 0755 /run/munge
chmod 0700 /var/lib/munge /var/log/munge

if ! pid_alive "$MUNGE_PID" munged || ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    if [ -z "$(running_pids munged "$MUNGE_PID")" ]; then
        log "starting munged"
        runuser -u munge -- /usr/sbin/munged --force \
            || die "munged failed to start" "$MUNGE_LOG"
        sleep 0.5
        remember munged "$MUNGE_PID"
    fi
    ok=0
    for i in $(seq 1 50); do
        if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then ok=1; break; fi
        sleep 0.2
    done
    [ "$ok" -eq 1 ] || die "munge credential test (munge -n | unmunge) failed" "$MUNGE_LOG"
fi

# ---------------------------------------------------------------- slurm daemons
if [ "$CONF_CHANGED" -eq 1 ]; then
    # daemons started with an older config must re-read it
    stop_daemon slurmd "$SLURMD_PID"
    stop_daemon slurmctld "$CTLD_PID"
fi

if [ -z "$(running_pids slurmctld "$CTLD_PID")" ]; then
    log "starting slurmctld"
    /usr/sbin/slurmctld -f "$CONF" >>"$CTLD_LOG" 2>&1 \
        || die "slurmctld failed to start" "$CTLD_LOG"
    CTLD_STARTED=1
fi
ok=0
started=$(date +%s)
while [ $(( $(date +%s) - started )) -lt "$WAIT_SECS" ]; do
    sleep 0.2
    # a daemon that failed at startup (bad config, port in use...) exits quickly
    if [ -z "$(running_pids slurmctld "$CTLD_PID")" ]; then
        sleep 1
        [ -n "$(running_pids slurmctld "$CTLD_PID")" ] || die "slurmctld exited" "$CTLD_LOG"
    fi
    if timeout 5 scontrol ping 2>/dev/null | grep -q "is UP"; then ok=1; break; fi
done
[ "$ok" -eq 1 ] || die "slurmctld not answering 'scontrol ping' after ${WAIT_SECS}s" "$CTLD_LOG"
[ "${CTLD_STARTED:-0}" -eq 0 ] || remember slurmctld "$CTLD_PID"

if [ -z "$(running_pids slurmd "$SLURMD_PID")" ]; then
    log "starting slurmd"
    /usr/sbin/slurmd -f "$CONF" >>"$SLURMD_LOG" 2>&1 \
        || die "slurmd failed to start" "$SLURMD_LOG"
    sleep 0.5
    remember slurmd "$SLURMD_PID"
fi

# ---------------------------------------------------------------- wait for node
state=""
resumed=0
deadline=$(( $(date +%s) + WAIT_SECS ))
while :; do
    state="$(timeout 10 sinfo -h -n "$NODE" -o %T 2>/dev/null | head -n1 || true)"
    case "$state" in
        idle|mixed|allocated|completing) break ;;
        down*|drain*|fail*)
            if [ "$resumed" -eq 0 ]; then
                log "node $NODE is '$state'; resuming"
                timeout 10 scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true
                resumed=1
            fi ;;
    esac
    if [ -z "$(running_pids slurmd "$SLURMD_PID")" ]; then
        die "slurmd is not running" "$SLURMD_LOG"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
        reason="$(timeout 10 sinfo -h -n "$NODE" -o '%T %E' 2>/dev/null || true)"
        die "node $NODE not idle after ${WAIT_SECS}s (state: ${reason:-unknown})" \
            "$SLURMD_LOG" "$CTLD_LOG"
    fi
    sleep 0.5
done

ncpus="$(timeout 10 sinfo -h -n "$NODE" -o %c 2>/dev/null | head -n1)"
echo "slurm ready: node $NODE, partition $PARTITION, ${ncpus:-$CPUS} CPUs"
