#!/usr/bin/env bash
# Local PostgreSQL 15 and Redis for development and tests, kept under .local/.
#
#   scripts/services.sh start   start what is not running (idempotent), write .local/env
#   scripts/services.sh stop    stop what runs under .local/
#   scripts/services.sh status
#
# Used only when DATABASE_URL / REDIS_URL are unset; with them set, nothing is started.
# Started services are recorded in .local/started-by so the caller can stop exactly those.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOCAL="$ROOT/.local"
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_PORT=${STAYOS_PG_PORT:-54329}
REDIS_PORT=${STAYOS_REDIS_PORT:-63799}
PG_DIR="$LOCAL/pg"
if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1; then
  mkdir -p "$LOCAL"
  if ! su postgres -s /bin/sh -c "cd '$LOCAL'" 2>/dev/null; then
    # The postgres OS user cannot reach this checkout (e.g. one under /root, mode 0700):
    # keep this checkout's cluster outside it, one directory per checkout.
    PG_DIR="/var/tmp/stayos-pg-$(printf %s "$ROOT" | sha1sum | cut -c1-12)"
  fi
fi
PG_DATA="$PG_DIR/data"
PG_LOG="$PG_DIR/server.log"
REDIS_DIR="$LOCAL/redis"

# initdb refuses to run as root: the cluster belongs to the postgres OS user then.
as_pg_owner() {
  if [ "$(id -u)" = 0 ]; then (cd / && su postgres -s /bin/sh -c "$*"); else sh -c "$*"; fi
}

pg_running() { [ -f "$PG_DATA/postmaster.pid" ] && as_pg_owner "'$PG_BIN/pg_ctl' -D '$PG_DATA' status" >/dev/null 2>&1; }
redis_running() { [ -f "$REDIS_DIR/redis.pid" ] && kill -0 "$(cat "$REDIS_DIR/redis.pid")" 2>/dev/null; }

ensure_postgres_installed() {
  if [ ! -x "$PG_BIN/initdb" ]; then
    echo "services: PostgreSQL 15 not found in $PG_BIN; installing with apt" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 postgresql-contrib-15 >/dev/null
  fi
}

ensure_redis_installed() {
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "services: redis-server not found; installing with apt" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  fi
}

start_postgres() {
  ensure_postgres_installed
  mkdir -p "$PG_DIR"
  if [ "$(id -u)" = 0 ]; then chown postgres "$PG_DIR"; fi
  if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    as_pg_owner "'$PG_BIN/initdb' -D '$PG_DATA' -U postgres --auth=trust -E UTF8 --locale=C.UTF-8" >/dev/null
  fi
  if pg_running; then return 1; fi
  # fsync stays on: tests and benchmarks should see durable-commit behaviour.
  as_pg_owner "'$PG_BIN/pg_ctl' -D '$PG_DATA' -l '$PG_LOG' -w -t 60 start -o \"-p $PG_PORT -k '$PG_DATA' -c listen_addresses=127.0.0.1 -c max_connections=200\"" >/dev/null
  return 0
}

start_redis() {
  ensure_redis_installed
  mkdir -p "$REDIS_DIR"
  if redis_running; then return 1; fi
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes \
    --pidfile "$REDIS_DIR/redis.pid" --dir "$REDIS_DIR" --logfile "$REDIS_DIR/redis.log" \
    --save "" --appendonly no
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "services: redis did not answer on port $REDIS_PORT" >&2
  exit 1
}

write_env() {
  mkdir -p "$LOCAL"
  # Keys and the env file that carries them are readable by their owner only (0600).
  local previous_umask
  previous_umask=$(umask)
  umask 077
  # A development-only secret, generated once per checkout and never committed.
  [ -f "$LOCAL/secret_key" ] || head -c 48 /dev/urandom | base64 | tr -d '\n/+=' > "$LOCAL/secret_key"
  # Development-only keys for guests' personal data (AES-256-GCM and the blind index), the
  # same way: generated once per checkout, never committed.
  [ -f "$LOCAL/guest_pii_key" ] || echo "dev1:$(head -c 32 /dev/urandom | base64 | tr -d '\n')" > "$LOCAL/guest_pii_key"
  [ -f "$LOCAL/guest_pii_index_key" ] || head -c 32 /dev/urandom | base64 | tr -d '\n' > "$LOCAL/guest_pii_index_key"
  # Development-only Ed25519 key that signs the audit seals: 32 random bytes are a valid
  # private key (what `manage.py audit generate_key` prints, without needing the venv).
  [ -f "$LOCAL/audit_seal_key" ] || head -c 32 /dev/urandom | base64 | tr -d '\n' > "$LOCAL/audit_seal_key"
  # Files made before the umask above was set (older checkouts) are tightened too.
  chmod 600 "$LOCAL/secret_key" "$LOCAL/guest_pii_key" "$LOCAL/guest_pii_index_key" "$LOCAL/audit_seal_key"
  {
    echo "# Written by scripts/services.sh; values in the real environment win."
    echo "SECRET_KEY=$(cat "$LOCAL/secret_key")"
    echo "GUEST_PII_KEYS=$(cat "$LOCAL/guest_pii_key")"
    echo "GUEST_PII_INDEX_KEY=$(cat "$LOCAL/guest_pii_index_key")"
    echo "AUDIT_SEAL_KEY=$(cat "$LOCAL/audit_seal_key")"
    # A checkout serves plain http on 127.0.0.1 (make run, the test servers, the browser test):
    # no redirect to https, cookies sent over http, no HSTS. Production keeps the defaults.
    echo "SECURE_SSL_REDIRECT=false"
    echo "SESSION_COOKIE_SECURE=false"
    echo "CSRF_COOKIE_SECURE=false"
    echo "SECURE_HSTS_SECONDS=0"
    [ -n "${DATABASE_URL:-}" ] || echo "DATABASE_URL=postgres://postgres@127.0.0.1:$PG_PORT/stayos"
    [ -n "${REDIS_URL:-}" ] || echo "REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
  } > "$LOCAL/env"
  chmod 600 "$LOCAL/env"
  umask "$previous_umask"
}

case "${1:-}" in
  start)
    mkdir -p "$LOCAL"
    : > "$LOCAL/started-by"
    if [ -z "${DATABASE_URL:-}" ]; then
      if start_postgres; then echo postgres >> "$LOCAL/started-by"; fi
      as_pg_owner "'$PG_BIN/psql' -h 127.0.0.1 -p $PG_PORT -U postgres -tAc \"SELECT 1 FROM pg_database WHERE datname='stayos'\"" | grep -q 1 \
        || as_pg_owner "'$PG_BIN/createdb' -h 127.0.0.1 -p $PG_PORT -U postgres stayos"
    fi
    if [ -z "${REDIS_URL:-}" ]; then
      if start_redis; then echo redis >> "$LOCAL/started-by"; fi
    fi
    write_env
    ;;
  stop)
    only=${2:-all}
    if { [ "$only" = all ] || grep -qx postgres "$LOCAL/started-by" 2>/dev/null; } && pg_running; then
      as_pg_owner "'$PG_BIN/pg_ctl' -D '$PG_DATA' -m fast -w stop" >/dev/null && echo "postgres stopped"
    fi
    if { [ "$only" = all ] || grep -qx redis "$LOCAL/started-by" 2>/dev/null; } && redis_running; then
      kill "$(cat "$REDIS_DIR/redis.pid")" && echo "redis stopped"
    fi
    ;;
  status)
    if pg_running; then echo "postgres: running on 127.0.0.1:$PG_PORT"; else echo "postgres: stopped"; fi
    if redis_running; then echo "redis: running on 127.0.0.1:$REDIS_PORT"; else echo "redis: stopped"; fi
    ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
