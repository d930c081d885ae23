#!/usr/bin/env bash
# `make bench`: benchmarks on PostgreSQL (database dgd_bench) when it is reachable, else on SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export DGD_VAR_DIR=${DGD_VAR_DIR:-$PWD/var/bench}
mkdir -p "$DGD_VAR_DIR"
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='dgd_bench'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE dgd_bench ENCODING 'UTF8' TEMPLATE template0" >/dev/null
  export DATABASE_URL=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/dgd_bench}
else
  echo "!! PostgreSQL is not reachable: benchmarking on SQLite" >&2
fi
$PY manage.py migrate --noinput -v 0
$PY -m bench.catalogue
