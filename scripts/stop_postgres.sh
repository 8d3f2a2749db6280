#!/usr/bin/env bash
# Stop the PostgreSQL server scripts/start_postgres.sh started in POSTGRES_DATA (its data stays).
# Only that server: a folder this script's partner did not create, or a server of anyone else, is
# never stopped.
#
#   POSTGRES_DATA   the server's data folder (default: /var/lib/postgresql/dask-timing)
set -euo pipefail

DATA="${POSTGRES_DATA:-/var/lib/postgresql/dask-timing}"
log() { echo "stop_postgres: $*" >&2; }

if [ ! -e "$DATA/started-by-dask-timing" ]; then
    log "no server started by start_postgres.sh in $DATA: nothing stopped"
    exit 0
fi
VERSION="$(cat "$DATA/PG_VERSION")"
PG_CTL="/usr/lib/postgresql/$VERSION/bin/pg_ctl"
if runuser -u postgres -- "$PG_CTL" -D "$DATA" status >/dev/null 2>&1; then
    runuser -u postgres -- "$PG_CTL" -D "$DATA" -m fast -w stop >/dev/null
    log "stopped the server in $DATA"
else
    log "the server in $DATA is not running: nothing stopped"
fi
