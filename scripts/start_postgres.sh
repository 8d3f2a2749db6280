#!/usr/bin/env bash
# Install (if needed) and start a PostgreSQL server of this project's own: its own data folder and
# its own port, listening on 127.0.0.1 only, with a role and a database for the history tests.
#
# - Debian's postgresql package (installed only if missing)
# - a server of its own in POSTGRES_DATA (created with initdb if there is none), on a free port
#   chosen when the folder is created and kept in it; no other server on the machine is used,
#   changed or stopped (a cluster of the package, another job's server)
# - a role that may create databases (each test gets a database of its own) and a database,
#   both named dask_timing
#
# Idempotent: run again while its server is up, it says it reuses that server and changes nothing.
# Its one line on standard output is the database's SQLAlchemy URL, so CI can do
#   DASK_TIMING_TEST_POSTGRES="$(bash scripts/start_postgres.sh)"   # (set -e stops here if it fails)
#   export DASK_TIMING_TEST_POSTGRES
# Progress and errors go to standard error.
#
# Environment overrides:
#   POSTGRES_DATA       the server's data folder (default: /var/lib/postgresql/dask-timing)
#   POSTGRES_PORT       its port, when the folder is created (default: a free port)
#   POSTGRES_ROLE       role and database name   (default: dask_timing)
#   POSTGRES_PASSWORD   the role's password      (default: dask_timing; a local test server)
#   POSTGRES_WAIT       seconds to wait for it   (default: 30)
#
# Stop it with scripts/stop_postgres.sh (the same POSTGRES_DATA): it stops this server only.
set -euo pipefail

DATA="${POSTGRES_DATA:-/var/lib/postgresql/dask-timing}"
ROLE="${POSTGRES_ROLE:-dask_timing}"
PASSWORD="${POSTGRES_PASSWORD:-dask_timing}"
WAIT_SECS="${POSTGRES_WAIT:-30}"
APT_LOG=/tmp/start_postgres.apt.log

log() { echo "start_postgres: $*" >&2; }
die() { echo "start_postgres: ERROR: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (packages, a server run as the postgres user)"
[[ "$ROLE" =~ ^[a-z_][a-z0-9_]*$ ]] || die "POSTGRES_ROLE must be a plain lower-case name"
[[ "$DATA" = /* ]] || die "POSTGRES_DATA must be an absolute path"

# ---------------------------------------------------------------- packages
if ! dpkg-query -W -f='${Status}' postgresql 2>/dev/null | grep -q "install ok installed"; then
    log "installing postgresql ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >"$APT_LOG" 2>&1 || { tail -n 25 "$APT_LOG" >&2; die "apt-get update failed"; }
    apt-get install -y -qq --no-install-recommends postgresql >>"$APT_LOG" 2>&1 \
        || { tail -n 25 "$APT_LOG" >&2; die "apt-get install postgresql failed"; }
fi
VERSION="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
[ -n "$VERSION" ] || die "no PostgreSQL server version under /usr/lib/postgresql"
BIN="/usr/lib/postgresql/$VERSION/bin"
as_postgres() { runuser -u postgres -- "$@"; }

# ---------------------------------------------------------------- the server of its own
if [ ! -s "$DATA/PG_VERSION" ]; then
    if [ -e "$DATA" ] && [ -n "$(ls -A "$DATA" 2>/dev/null)" ]; then
        die "$DATA exists and is not a PostgreSQL data folder: give another POSTGRES_DATA"
    fi
    PORT="${POSTGRES_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
    [[ "$PORT" =~ ^[0-9]+$ ]] || die "POSTGRES_PORT must be a number"
    log "creating a server of its own in $DATA (port $PORT)"
    install -d -o postgres -g postgres -m 0700 "$DATA"
    as_postgres "$BIN/initdb" -D "$DATA" -U postgres -A peer --auth-host=scram-sha-256 >/dev/null \
        || die "initdb -D $DATA failed"
    # its own port and socket folder, the loopback address only: nothing shared with another server
    printf "port = %s\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\n" "$PORT" "$DATA" \
        | as_postgres tee -a "$DATA/postgresql.conf" >/dev/null
    touch "$DATA/started-by-dask-timing"
fi
[ -e "$DATA/started-by-dask-timing" ] || die "$DATA holds a server this script did not create: give another POSTGRES_DATA"
PORT="$(awk -F'[ =]+' '$1 == "port" {p = $2} END {print p}' "$DATA/postgresql.conf")"
[ -n "$PORT" ] || die "no port in $DATA/postgresql.conf"

if as_postgres "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    log "reusing the server this script started in $DATA (port $PORT)"
else
    log "starting the server in $DATA on 127.0.0.1:$PORT"
    as_postgres "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t "$WAIT_SECS" start >/dev/null \
        || { tail -n 25 "$DATA/server.log" >&2 2>/dev/null; die "the server in $DATA did not start"; }
fi

psql_admin() { runuser -u postgres -- psql --no-psqlrc -h "$DATA" -p "$PORT" -v ON_ERROR_STOP=1 -qAt "$@"; }

ok=0
for _ in $(seq 1 $(( WAIT_SECS * 5 ))); do
    if psql_admin -c "select 1" >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.2
done
[ "$ok" -eq 1 ] || { tail -n 25 "$DATA/server.log" >&2 2>/dev/null; die "server not answering after ${WAIT_SECS}s"; }

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
log "ready: PostgreSQL $VERSION in $DATA on 127.0.0.1:$PORT, database $ROLE"
echo "$URL"
