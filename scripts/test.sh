#!/usr/bin/env bash
# The whole check: proto lint, stub drift, Python lint, then the test suite.
# PostgreSQL tests run when VECFLOW_TEST_POSTGRES_URL is set
# (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test) and are skipped otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

if [ -x node_modules/.bin/buf ]; then
  echo "== buf lint"
  node_modules/.bin/buf lint
else
  echo "== buf lint skipped: run scripts/setup.sh with npm available" >&2
fi
echo "== generated stubs match proto/"
.venv/bin/python scripts/gen_protos.py --check
echo "== generated docs tables match the code"
.venv/bin/python scripts/gen_docs.py --check
echo "== ruff"
.venv/bin/ruff check server tests scripts bench clients/python
if command -v node >/dev/null 2>&1; then
  echo "== Node.js consumer (clients/node) against a real server"
  bash clients/node/run-against-server.sh
else
  echo "== Node.js consumer skipped: node is not installed" >&2
fi
echo "== pytest"
.venv/bin/python -m pytest "$@"
