#!/usr/bin/env bash
# `make run`: migrate, seed, print the login, then serve the admin with a Celery worker and
# beat beside it. Ctrl-C stops all three (and, through with-services.sh, the local services
# this run started).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PY=.venv/bin/python
HOST=${STAYOS_HOST:-127.0.0.1}
PORT=${STAYOS_PORT:-8000}

$PY manage.py migrate --noinput
$PY manage.py seed

if [ -z "${STAYOS_DEMO_PASSWORD:-}" ]; then
  [ -f .local/demo_password ] || head -c 18 /dev/urandom | base64 | tr -d '\n/+=' > .local/demo_password
  STAYOS_DEMO_PASSWORD=$(cat .local/demo_password)
fi
export STAYOS_DEMO_PASSWORD
$PY manage.py demo_login --username admin

pids=()
stop_all() {
  trap - INT TERM EXIT
  echo
  echo "Stopping web, worker and beat..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_all INT TERM EXIT

.venv/bin/celery -A config worker --loglevel=INFO --concurrency=2 > .local/worker.log 2>&1 &
pids+=($!)
.venv/bin/celery -A config beat --loglevel=INFO --schedule=.local/celerybeat-schedule > .local/beat.log 2>&1 &
pids+=($!)
DEBUG=${DEBUG:-true} $PY manage.py runserver --noreload "$HOST:$PORT" &
pids+=($!)

cat <<MSG

  StayOS is running.
    Admin:    http://$HOST:$PORT/admin/
    Login:    admin / $STAYOS_DEMO_PASSWORD
    Worker:   .local/worker.log    Beat: .local/beat.log
  Ctrl-C stops everything this command started.

MSG
wait -n "${pids[@]}"
