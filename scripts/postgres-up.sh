#!/usr/bin/env bash
# Starts the local PostgreSQL that the tests use (Debian's cluster, 127.0.0.1:5432) if
# it is down, and makes sure the test role exists. Idempotent. Prints the admin URL.
set -euo pipefail

PORT="${EDDY_TEST_PG_PORT:-5432}"
ROLE=eddy
PASSWORD=eddy

if ! pg_isready -h 127.0.0.1 -p "$PORT" -q; then
  ver="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
  if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$ver main"; then
    pg_createcluster "$ver" main --port "$PORT" >&2
  fi
  pg_ctlcluster "$ver" main start >&2 || true
  for _ in $(seq 1 60); do
    pg_isready -h 127.0.0.1 -p "$PORT" -q && break
    sleep 0.5
  done
  pg_isready -h 127.0.0.1 -p "$PORT" -q || { echo "PostgreSQL did not start on port $PORT" >&2; exit 1; }
fi

as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; else su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; fi
}
if ! as_postgres psql -p "$PORT" -tAc "SELECT 1 FROM pg_roles WHERE rolname='$ROLE'" | grep -q 1; then
  as_postgres psql -p "$PORT" -qc "CREATE ROLE $ROLE LOGIN SUPERUSER PASSWORD '$PASSWORD'" >&2
fi
echo "postgres://$ROLE:$PASSWORD@127.0.0.1:$PORT/postgres"
