#!/usr/bin/env bash
# `make test`: the lock, lint and deploy checks, the whole suite on PostgreSQL (browser tests in Chromium), and
# again on SQLite what the embedded default must support (marker `embedded`, see below). Under CI=true a missing
# service fails the run; on a laptop the parts it needs are left out, said so loudly, and the last line says how
# many. The last line always tells what ran.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
CI=${CI:-false}
PG_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/dgd}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/15}
export DJANGO_ALLOW_ASYNC_UNSAFE=true
export DGD_VAR_DIR=${DGD_VAR_DIR:-$PWD/var/test}
mkdir -p "$DGD_VAR_DIR/static"

left_out=()
failed=()

have_postgres() { $PY - "$PG_URL" <<'PYEOF' >/dev/null 2>&1
import sys, environ, psycopg
cfg = environ.Env.db_url_config(sys.argv[1])
psycopg.connect(host=cfg["HOST"], port=cfg["PORT"] or 5432, user=cfg["USER"], dbname="postgres", connect_timeout=3).close()
PYEOF
}
have_redis() { $PY -c "import redis, os; redis.Redis.from_url(os.environ['REDIS_URL'], socket_timeout=3).ping()" >/dev/null 2>&1; }
have_chromium() { [ -x /usr/bin/chromium ]; }

have_postgres && pg=yes || pg=no
have_redis && rd=yes || rd=no
have_chromium && ch=yes || ch=no
if [ "$CI" = "true" ]; then
  for service in "PostgreSQL:$pg" "Redis:$rd" "Chromium:$ch"; do
    if [ "${service#*:}" = no ]; then echo "FATAL: ${service%%:*} is not available, and CI needs it." >&2; exit 1; fi
  done
fi

echo "==> lock files (requirements*.txt) pin every dependency of pyproject.toml"
$PY scripts/check_lock.py || failed+=("lock files out of step with pyproject.toml")

echo "==> ruff"
.venv/bin/ruff check . || failed+=("ruff check")
.venv/bin/ruff format --check . || failed+=("ruff format")

echo "==> makemigrations --check"
$PY manage.py makemigrations --check --dry-run || failed+=("makemigrations --check")

echo "==> check --deploy (production settings)"
env -u DJANGO_ALLOW_ASYNC_UNSAFE DEBUG=false SECRET_KEY="$(head -c 48 /dev/urandom | base64)" ALLOWED_HOSTS=dgd.example.org \
  DATABASE_URL="$PG_URL" REDIS_URL=redis://127.0.0.1:6379/0 EMAIL_URL=smtp://relay.example.org:25 \
  $PY manage.py check --deploy --fail-level WARNING || failed+=("check --deploy")

echo "==> production start-up refuses a missing SECRET_KEY"
if DEBUG=false ALLOWED_HOSTS=x $PY manage.py check >/dev/null 2>&1; then failed+=("missing SECRET_KEY accepted"); fi

if command -v docker-compose >/dev/null 2>&1; then
  echo "==> docker-compose config"
  SECRET_KEY=compose-check docker-compose -f docker-compose.yml config -q || failed+=("docker-compose config")
elif [ "$CI" = "true" ]; then
  failed+=("docker-compose missing")
else
  left_out+=("docker-compose config (docker-compose is not installed)")
fi

markers=()
[ "$ch" = yes ] || { markers+=("not browser"); left_out+=("browser tests (no /usr/bin/chromium)"); }
[ "$rd" = yes ] || { markers+=("not redis"); left_out+=("tests that need Redis (none at $REDIS_URL)"); }
join() { local IFS="&"; echo "$*" | sed 's/&/ and /g'; }

# The suite runs in TEST_WORKERS processes (pytest-xdist; default 3 on this 2-core kind of machine: a third of the
# time goes to waiting on subprocesses, SMTP, browsers and sleeps, which a third process fills). Tests go to
# whichever worker is free (--dist loadgroup), but those marked with one xdist_group share a worker (a module
# that flushes a Redis database of its own). pytest-django gives each worker a test database of its own
# (test_dgd_gw0, …), and conftest puts the migrated state back after a test that commits, so no test depends on
# what ran before it. TEST_WORKERS=0 runs in one process.
workers=${TEST_WORKERS:-3}
parallel=()
[ "$workers" != 0 ] && parallel=(-n "$workers" --dist loadgroup)

# Run pytest, keep its closing line ("N passed, M deselected in T s") in $results/<label> for the last line.
results=$(mktemp -d)
run_pytest() {
  local label=$1 log
  shift
  log=$(mktemp)
  .venv/bin/pytest --durations=15 "$@" | tee "$log"  # the slowest tests, to keep the run short
  local status=${PIPESTATUS[0]}
  echo "$label: $(grep -E '[0-9]+ (passed|failed|errors?)|no tests ran' "$log" | tail -n 1 | sed -E 's/^=+ //; s/ =+$//')" \
    >"$results/$label"
  rm -f "$log"
  return "$status"
}

# SQLite is what `make run` uses with nothing configured, and the code has SQLite paths of its own (the library's
# selectors and index, bulk loads): the tests marked `embedded` run there too — the newsletter importer and
# exporter, the models and the workflow, the public issue pages, subscribing, and the library's pages, filters,
# facets and exports on SQLite's paths. The admin, spreadsheet imports, delivery and browser tests are
# PostgreSQL's (and Redis's). A test that touches no database (a parser, tokens, settings) proves nothing more
# on a second one: after the PostgreSQL pass it is left out here (conftest marks it `database_free`).
sqlite_mark="embedded"
[ "$pg" = yes ] && sqlite_mark="embedded and not database_free"
sqlite_pass() {
  DATABASE_URL="sqlite:///$DGD_VAR_DIR/sqlite.db" run_pytest SQLite "${sqlite_parallel[@]}" -m "$sqlite_mark" \
    --output "$DGD_VAR_DIR/sqlite-test-results" "$@"
}

if [ "$pg" = yes ]; then
  # The SQLite pass runs beside the PostgreSQL one, in two processes of its own (their waits leave room for it);
  # its output follows the PostgreSQL pass's.
  sqlite_parallel=()
  [ "$workers" != 0 ] && sqlite_parallel=(-n 2 --dist loadgroup)
  sqlite_log=$(mktemp)
  echo "==> pytest on SQLite (the embedded default), beside PostgreSQL: $sqlite_mark"
  sqlite_pass "$@" >"$sqlite_log" 2>&1 &
  sqlite_pid=$!
  echo "==> pytest on PostgreSQL ($PG_URL)"
  mark=$(join "${markers[@]}")
  DATABASE_URL="$PG_URL" run_pytest PostgreSQL "${parallel[@]}" ${mark:+-m "$mark"} "$@" || failed+=("pytest on PostgreSQL")
  wait "$sqlite_pid" || failed+=("pytest on SQLite")
  echo "==> pytest on SQLite (the embedded default): $sqlite_mark"
  cat "$sqlite_log"
  rm -f "$sqlite_log"
else
  left_out+=("the PostgreSQL suite (no server at $PG_URL)")
  sqlite_parallel=("${parallel[@]}")
  echo "==> pytest on SQLite (the embedded default): $sqlite_mark"
  sqlite_pass "$@" || failed+=("pytest on SQLite")
fi

echo
if [ ${#left_out[@]} -gt 0 ]; then
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  echo "!! LEFT OUT on this machine:"
  for item in "${left_out[@]}"; do echo "!!   - $item"; done
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
fi
ran=$(for label in PostgreSQL SQLite; do [ -f "$results/$label" ] && cat "$results/$label"; done | paste -sd ';' | sed 's/;/; /g')
ran=${ran:-no tests}
rm -rf "$results"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}. Ran: $ran."
  exit 1
fi
if [ ${#left_out[@]} -eq 1 ]; then
  echo "Passed, with 1 part left out (listed above). Ran: $ran."
elif [ ${#left_out[@]} -gt 1 ]; then
  echo "Passed, with ${#left_out[@]} parts left out (listed above). Ran: $ran."
else
  echo "All checks passed. Ran: $ran."
fi
