#!/usr/bin/env bash
# The Python client on its own: installs clients/python into a fresh virtual environment (in a temp dir),
# fails if any server dependency came along (torch, sentence-transformers, pymilvus, the vecflow server),
# then starts a real server from ./.venv (loopback port picked by the OS, temp data dir, fixed bootstrap
# key, as clients/node/run-against-server.sh does) and drives that venv's `vecflow` command against it:
# create a knowledge base, upload a small file and wait for its parse, list, index into a store, search.
# Prints the installed size of the client venv. Usage (from anywhere): bash scripts/check_client.sh
#
# Environment: PYTHON (default python3, creates the venv), VECFLOW_BIN (the server; default
# <repo>/.venv/bin/vecflow), VECFLOW_SERVER_START_SECONDS (default 60).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
server_bin="${VECFLOW_BIN:-$root/.venv/bin/vecflow}"
start_seconds="${VECFLOW_SERVER_START_SECONDS:-60}"
test_key="vf_client_check_key_0123456789abcdef"

say() { echo "check_client: $*" >&2; }

if [[ ! -x "$server_bin" ]]; then
  say "no vecflow server at $server_bin (run scripts/setup.sh, or set VECFLOW_BIN)"
  exit 2
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/vecflow-client-check.XXXXXX")"
server_pid=""

show_server_log() {
  say "server stderr (last 40 lines):"
  tail -n 40 "$tmp/server.err" >&2 || true
}

cleanup() {
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
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM

# 1. A fresh venv with the client alone, installed from a clean copy (no build/ or egg-info of earlier runs).
mkdir -p "$tmp/src"
cp -r "$root/clients/python/pyproject.toml" "$root/clients/python/README.md" "$root/clients/python/vecflow_client" "$tmp/src/"
find "$tmp/src" -name __pycache__ -prune -exec rm -rf {} +
"$python" -m venv "$tmp/venv"
if ! "$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$tmp/src" >"$tmp/pip.log" 2>&1; then
  say "pip install ./clients/python failed:"
  tail -n 40 "$tmp/pip.log" >&2
  exit 1
fi
installed="$("$tmp/venv/bin/python" -m pip list --disable-pip-version-check --format=freeze 2>/dev/null |
  cut -d= -f1 | tr '[:upper:]_.' '[:lower:]--')"
for banned in torch sentence-transformers pymilvus vecflow; do
  if grep -qx "$banned" <<<"$installed"; then
    say "installing the client brought in $banned; installed: $(tr '\n' ' ' <<<"$installed")"
    exit 1
  fi
done
say "client venv: $(tr '\n' ' ' <<<"$installed")"
say "client venv installed size: $(du -sh "$tmp/venv" | cut -f1)"

client="$tmp/venv/bin/vecflow"
help="$(cd "$tmp" && env -u PYTHONPATH "$client" --help)"
if grep -qE '^    (serve|admin|migrate) ' <<<"$help" || ! grep -qE '^    kb ' <<<"$help"; then
  say "the client's vecflow --help should list kb and no server commands:"
  echo "$help" >&2
  exit 1
fi

# 2. A real server from the main venv.
# shellcheck source=lib/test-server.sh
source "$root/scripts/lib/test-server.sh"
start_test_server "$server_bin"
say "server pid $server_pid listening on $address"

# 3. The client venv's `vecflow` against it; each step's output must say what it did.
mkdir -p "$tmp/notes"
printf 'Octopuses have three hearts and blue blood.\n' >"$tmp/notes/animals.txt"

step() { # step PATTERN ARGS...: run `vecflow ARGS...`, require exit code 0 and PATTERN in its stdout
  local pattern="$1" out code
  shift
  set +e
  out="$(cd "$tmp" && env -u PYTHONPATH VECFLOW_ADDRESS="$address" VECFLOW_API_KEY="$test_key" \
    "$client" "$@" 2>"$tmp/cli.err")"
  code=$?
  set -e
  if [[ $code -ne 0 ]] || ! grep -qE "$pattern" <<<"$out"; then
    say "vecflow $* exited $code; expected /$pattern/ in its output:"
    echo "$out" >&2
    cat "$tmp/cli.err" >&2
    show_server_log
    exit 1
  fi
  say "ok: vecflow $*"
}

step ': SERVING$' health # grpc.health.v1 from the client's own dependencies (the container probe)
step '^created knowledge base kb_[0-9a-f]+  check-kb$' kb create check-kb
step '^notes/animals\.txt	succeeded	' upload notes --kb check-kb --wait
step '^animals\.txt	' kb ls check-kb notes
step '^kb_[0-9a-f]+	check-kb	' kb list
step '^created vector store vs_[0-9a-f]+  check-store$' stores create check-store
step ' completed: 1 files \(completed 1,' stores add check-store --kb check-kb
step '^1	[0-9.]+	animals\.txt	' search check-store "which animal has three hearts"
step '	succeeded	file_batch	' jobs list
say "passed"
