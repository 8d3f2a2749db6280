#!/usr/bin/env bash
# Stop the PostgreSQL server scripts/start_postgres.sh started (its data stays).
set -euo pipefail
command -v pg_lsclusters >/dev/null || exit 0
pg_lsclusters -h | while read -r version name _ status _; do
    if [ "$name" = "main" ] && [ "$status" = "online" ]; then
        pg_ctlcluster "$version" main stop
        echo "stop_postgres: stopped cluster $version/main" >&2
    fi
done
