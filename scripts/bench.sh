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
# The researchers' inbox (bench/sources.py): 200 watched sources × 50 items on loopback, one job per host.
$PY -m bench.sources --sources "${BENCH_SOURCES:-200}" --items "${BENCH_SOURCE_ITEMS:-50}"
# Digest fan-out (bench/digests.py) needs Postfix's smtp-sink: Debian's postfix, installed without starting.
if [ ! -x /usr/sbin/smtp-sink ]; then
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo"
  echo "postfix postfix/main_mailer_type select No configuration" | $sudo_ debconf-set-selections
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -q postfix >/dev/null
fi
$PY -m bench.digests
# The sales library at a million entries (bench/library.py). Its data lives in a database of its own,
# dgd_lib_bench, kept between runs (the catalogue benchmark above deletes dgd_bench's entries on every run);
# seeding it the first time takes about four minutes. jit off and 64 MB work_mem, as docs/library.md explains.
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='dgd_lib_bench'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE dgd_lib_bench ENCODING 'UTF8' TEMPLATE template0" >/dev/null
  psql -h 127.0.0.1 -U postgres -c "ALTER DATABASE dgd_lib_bench SET jit = off" \
    -c "ALTER DATABASE dgd_lib_bench SET work_mem = '64MB'" >/dev/null
  # As in production: the shared Redis cache (sessions, permission sets, counts), on a database of its own.
  library_cache=""
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    library_cache=${BENCH_REDIS_URL:-redis://127.0.0.1:6379/12}
  fi
  DATABASE_URL=${BENCH_LIBRARY_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/dgd_lib_bench} REDIS_URL=$library_cache \
    sh -c "$PY manage.py migrate --noinput -v 0 && $PY -m bench.library --entries ${BENCH_LIBRARY_ENTRIES:-1000000}"
  # Saved-filter alerts (bench/alerts.py): 1,000 daily alerts over the same million entries, 500 made ready.
  DATABASE_URL=${BENCH_LIBRARY_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/dgd_lib_bench} \
    $PY -m bench.alerts --entries "${BENCH_LIBRARY_ENTRIES:-1000000}"
else
  $PY -m bench.library --entries "${BENCH_LIBRARY_ENTRIES:-20000}"
  $PY -m bench.alerts --entries "${BENCH_LIBRARY_ENTRIES:-20000}"
fi
