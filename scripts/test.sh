#!/usr/bin/env bash
# `make test`: lint and deploy checks, the whole suite on PostgreSQL (browser tests in Chromium), and the
# importer and model tests again on SQLite, the embedded default. Under CI=true a missing service fails
# the run; on a laptop the parts it needs are left out, and said so loudly at the end.
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

if [ "$pg" = yes ]; then
  echo "==> pytest on PostgreSQL ($PG_URL)"
  mark=$(join "${markers[@]}")
  DATABASE_URL="$PG_URL" .venv/bin/pytest ${mark:+-m "$mark"} "$@" || failed+=("pytest on PostgreSQL")
else
  left_out+=("the PostgreSQL suite (no server at $PG_URL)")
fi

# SQLite is what `make run` uses with nothing configured: it must import and export the newsletter, keep the
# models and the workflow right, render the public issue pages and take a subscription. Those tests (marker
# `embedded`) run there too; the library, the admin, imports and delivery are PostgreSQL's (and Redis's).
echo "==> pytest on SQLite (the embedded default): importer, models, workflow, issue pages, subscribing"
DATABASE_URL="sqlite:///$DGD_VAR_DIR/sqlite.db" .venv/bin/pytest -m "embedded" "$@" || failed+=("pytest on SQLite")

echo
if [ ${#left_out[@]} -gt 0 ]; then
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  echo "!! LEFT OUT on this machine:"
  for item in "${left_out[@]}"; do echo "!!   - $item"; done
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
if [ ${#left_out[@]} -gt 0 ]; then
  echo "Passed, with ${#left_out[@]} parts left out (listed above)."
else
  echo "All checks passed."
fi
