#!/usr/bin/env bash
# Install (if needed) and start a real PostgreSQL server on this machine, listening on
# 127.0.0.1 only, with a role and a database for the history tests.
#
# - Debian's postgresql package (installed only if missing)
# - the package's default cluster (created if there is none), started with
#   pg_ctlcluster: no systemd needed, works as root in a fresh container
# - a role that may create databases (each test gets a database of its own) and a
#   database, both named dask_timing
#
# Idempotent: running it again while the server is up changes nothing.
# Its one line on standard output is the database's SQLAlchemy URL, so CI can do
#   DASK_TIMING_TEST_POSTGRES="$(bash scripts/start_postgres.sh)"   # (set -e stops here if it fails)
#   export DASK_TIMING_TEST_POSTGRES
# Progress and errors go to standard error.
#
# Environment overrides:
#   POSTGRES_ROLE       role and database name   (default: dask_timing)
#   POSTGRES_PASSWORD   the role's password      (default: dask_timing; a local test server)
#   POSTGRES_WAIT       seconds to wait for it   (default: 30)
#
# Stop it with scripts/stop_postgres.sh.
set -euo pipefail

ROLE="${POSTGRES_ROLE:-dask_timing}"
PASSWORD="${POSTGRES_PASSWORD:-dask_timing}"
WAIT_SECS="${POSTGRES_WAIT:-30}"
APT_LOG=/tmp/start_postgres.apt.log

log() { echo "start_postgres: $*" >&2; }
die() { echo "start_postgres: ERROR: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (packages, daemons)"
[[ "$ROLE" =~ ^[a-z_][a-z0-9_]*$ ]] || die "POSTGRES_ROLE must be a plain lower-case name"

# ---------------------------------------------------------------- packages
if ! dpkg-query -W -f='${Status}' postgresql 2>/dev/null | grep -q "install ok installed"; then
    log "installing postgresql ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >"$APT_LOG" 2>&1 || { tail -n 25 "$APT_LOG" >&2; die "apt-get update failed"; }
    apt-get install -y -qq --no-install-recommends postgresql >>"$APT_LOG" 2>&1 \
        || { tail -n 25 "$APT_LOG" >&2; die "apt-get install postgresql failed"; }
fi
command -v pg_lsclusters >/dev/null || die "pg_lsclusters not found after installing postgresql"

# ---------------------------------------------------------------- the cluster
# pg_lsclusters -h: "version name port status owner datadir logfile", one line per cluster.
VERSION="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
[ -n "$VERSION" ] || die "no PostgreSQL server version under /usr/lib/postgresql"
if ! pg_lsclusters -h | awk -v v="$VERSION" '$1 == v && $2 == "main"' | grep -q .; then
    log "creating cluster $VERSION/main"
    pg_createcluster "$VERSION" main >&2 || die "pg_createcluster $VERSION main failed"
fi
read -r _ _ PORT STATUS _ _ LOGFILE < <(pg_lsclusters -h | awk -v v="$VERSION" '$1 == v && $2 == "main"')
if [ "$STATUS" != "online" ]; then
    log "starting cluster $VERSION/main on 127.0.0.1:$PORT"
    # listen on the loopback address only, whatever the cluster's configuration says
    pg_ctlcluster "$VERSION" main start -o "-c listen_addresses=127.0.0.1" >&2 \
        || { tail -n 25 "$LOGFILE" >&2 2>/dev/null; die "pg_ctlcluster $VERSION main start failed"; }
fi

psql_admin() { runuser -u postgres -- psql --no-psqlrc -p "$PORT" -v ON_ERROR_STOP=1 -qAt "$@"; }

ok=0
for _ in $(seq 1 $(( WAIT_SECS * 5 ))); do
    if psql_admin -c "select 1" >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.2
done
[ "$ok" -eq 1 ] || { tail -n 25 "$LOGFILE" >&2 2>/dev/null; die "server not answering after ${WAIT_SECS}s"; }

# ---------------------------------------------------------------- role and database
if [ "$(psql_admin -c "select 1 from pg_roles where rolname = '$ROLE'")" != "1" ]; then
    log "creating role $ROLE"
    psql_admin -c "create role $ROLE login createdb password '$PASSWORD'" >/dev/null
fi
if [ "$(psql_admin -c "select 1 from pg_database where datname = '$ROLE'")" != "1" ]; then
    log "creating database $ROLE"
    psql_admin -c "create database $ROLE owner $ROLE" >/dev/null
fi

URL="postgresql+psycopg://$ROLE:$PASSWORD@127.0.0.1:$PORT/$ROLE"
PGPASSWORD="$PASSWORD" psql --no-psqlrc -h 127.0.0.1 -p "$PORT" -U "$ROLE" -d "$ROLE" -qAt -c "select 1" >/dev/null \
    || die "cannot log in as $ROLE over TCP on 127.0.0.1:$PORT"
log "ready: PostgreSQL $VERSION on 127.0.0.1:$PORT, database $ROLE"
echo "$URL"
