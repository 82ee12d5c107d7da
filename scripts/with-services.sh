#!/usr/bin/env bash
# Run a command with the local services up (started only when DATABASE_URL/REDIS_URL are unset),
# then stop whatever this invocation started, also on Ctrl-C.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)

"$ROOT/scripts/services.sh" start
cp "$ROOT/.local/started-by" "$ROOT/.local/started-by.$$"
cleanup() {
  if [ -s "$ROOT/.local/started-by.$$" ]; then
    cp "$ROOT/.local/started-by.$$" "$ROOT/.local/started-by"
    "$ROOT/scripts/services.sh" stop started
  fi
  rm -f "$ROOT/.local/started-by.$$"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

set +e
"$@"
status=$?
set -e
exit $status
