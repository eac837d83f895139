#!/usr/bin/env bash
# Starts a throwaway vecflow server (temp data dir, loopback port picked by the OS, fixed test
# API key), runs the Node.js smoke test against it, always stops the server, and exits with the
# smoke test's status. Usage (from anywhere): bash clients/node/run-against-server.sh
#
# Environment: VECFLOW_BIN (default <repo>/.venv/bin/vecflow), VECFLOW_SMOKE_API_KEY (the key
# smoke.js sends; defaults to the server's bootstrap key, set it to check the failure path),
# VECFLOW_SMOKE_TIMEOUT_SECONDS (default 120), VECFLOW_SERVER_START_SECONDS (default 60).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
vecflow_bin="${VECFLOW_BIN:-$root/.venv/bin/vecflow}"
start_seconds="${VECFLOW_SERVER_START_SECONDS:-60}"
test_key="vf_node_smoke_test_key_0123456789abcdef"

say() { echo "run-against-server: $*" >&2; }

if [[ ! -x "$vecflow_bin" ]]; then
  say "no vecflow server at $vecflow_bin (run scripts/setup.sh, or set VECFLOW_BIN)"
  exit 2
fi
if ! command -v node >/dev/null; then
  say "node is not on PATH (Node.js 20 or later is required)"
  exit 2
fi
if [[ ! -d "$here/node_modules/@grpc/grpc-js" || ! -d "$here/node_modules/@grpc/proto-loader" ]]; then
  say "installing the Node.js dependencies (npm ci)"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) >&2
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/vecflow-node-smoke.XXXXXX")"
server_pid=""

show_server_log() {
  say "server stderr (last 40 lines of $tmp/server.err):"
  tail -n 40 "$tmp/server.err" >&2 || true
  if [[ -s "$tmp/server.out" ]]; then
    say "server stdout:"
    tail -n 10 "$tmp/server.out" >&2 || true
  fi
}

stop_server() {
  local status=$?
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do # up to 10 s
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$server_pid" 2>/dev/null; then
      say "server did not stop on SIGTERM; killing it"
      kill -KILL "$server_pid" 2>/dev/null || true
    fi
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap stop_server EXIT
trap 'say "interrupted (SIGINT); stopping the server"; exit 130' INT
trap 'say "terminated (SIGTERM); stopping the server"; exit 143' TERM

# shellcheck source=../../scripts/lib/test-server.sh
source "$here/../../scripts/lib/test-server.sh"
start_test_server "$vecflow_bin"
say "server pid $server_pid listening on $address (data in $tmp/data)"

set +e
VECFLOW_ADDRESS="$address" VECFLOW_API_KEY="${VECFLOW_SMOKE_API_KEY:-$test_key}" node "$here/smoke.js"
code=$?
set -e
if [[ $code -ne 0 ]]; then
  say "smoke.js failed with exit code $code"
  show_server_log
fi
exit "$code"
