#!/usr/bin/env bash
# The whole check: proto lint, stub drift, Python lint, the Node.js and Python clients, then the test suite.
# PostgreSQL tests run when VECFLOW_TEST_POSTGRES_URL is set
# (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test) and are skipped otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

if [ -x node_modules/.bin/buf ]; then
  echo "== buf lint"
  node_modules/.bin/buf lint
  # Wire compatibility (buf.yaml's FILE rules): proto/ as it is now against the previous commit (or the ref
  # in VECFLOW_BREAKING_AGAINST), so a change that breaks the wire never lands unnoticed.
  against="${VECFLOW_BREAKING_AGAINST:-HEAD~1}"
  if git rev-parse --verify --quiet "$against^{commit}" >/dev/null; then
    echo "== buf breaking against $against"
    node_modules/.bin/buf breaking --against ".git#ref=$against"
  else
    echo "== buf breaking skipped: no commit $against in this checkout" >&2
  fi
else
  echo "== buf lint and buf breaking skipped: run scripts/setup.sh with npm available" >&2
fi
echo "== generated stubs match proto/"
.venv/bin/python scripts/gen_protos.py --check
echo "== generated docs tables match the code"
.venv/bin/python scripts/gen_docs.py --check
echo "== ruff"
.venv/bin/ruff check server tests scripts bench clients/python
echo "== mypy"
.venv/bin/mypy
echo "== deploy/: hadolint, Kubernetes and compose-spec schemas, consistency (offline; no image is built)"
bash scripts/lint_deploy.sh
if command -v node >/dev/null 2>&1; then
  echo "== Node.js consumer (clients/node) against a real server"
  bash clients/node/run-against-server.sh
else
  echo "== Node.js consumer skipped: node is not installed" >&2
fi
echo "== Python client (clients/python) alone in a fresh venv, against a real server"
bash scripts/check_client.sh
echo "== pytest"
.venv/bin/python -m pytest "$@"
