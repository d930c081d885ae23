#!/usr/bin/env bash
# `make run`: migrate, load the sample issue, create a local admin, then start the web server, a Celery
# worker and Celery beat on the embedded defaults (SQLite, filesystem broker, mail to var/mail).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT=${PORT:-8000}
export SITE_URL=${SITE_URL:-http://127.0.0.1:$PORT}  # links in mail point at this server
mkdir -p var/celery/queue var/celery/processed var/celery/control var/mail

$PY manage.py migrate --noinput
$PY manage.py import_newsletter issues/fixtures/dgd-2022-08-zhengwu.txt
credentials=$($PY manage.py create_local_admin)

pids=()
# Ctrl-C: ask each process to stop, give the worker's warm shutdown a few seconds to finish the task in hand
# (every task is safe to repeat), then stop whatever is still running.
cleanup() {
  trap - EXIT INT TERM
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 1 20); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.5
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  echo "DGD stopped."
}
trap cleanup EXIT INT TERM

.venv/bin/celery -A dgd worker -Q celery,imports --loglevel=INFO --concurrency=2 >var/worker.log 2>&1 &
pids+=($!)
.venv/bin/celery -A dgd beat --loglevel=INFO >var/beat.log 2>&1 &
pids+=($!)
$PY manage.py runserver "127.0.0.1:$PORT" --noreload >var/web.log 2>&1 &
pids+=($!)

for _ in $(seq 1 50); do
  curl -fsS -o /dev/null "http://127.0.0.1:$PORT/admin/login/" 2>/dev/null && break
  sleep 0.2
done
cat <<MSG

  DGD is running.
    Site:   http://127.0.0.1:$PORT/
    Admin:  http://127.0.0.1:$PORT/admin/
    $credentials
  Logs in var/web.log, var/worker.log, var/beat.log; mail in var/mail/. Ctrl-C stops everything.

MSG
wait -n "${pids[@]}"
