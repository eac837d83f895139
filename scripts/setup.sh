#!/usr/bin/env bash
# Install everything vecflow needs into ./.venv (Python) and ./node_modules (buf), from nothing.
# Safe to run again: it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# CPU PyTorch first, pinned: an unpinned torch would pull a multi-GB CUDA build.
.venv/bin/python -m pip install --quiet "torch==${VECFLOW_TORCH_VERSION:-2.13.0}"
# The client first (vecflow-client: stubs, SDK, the `vecflow` command), so that it satisfies the server's
# vecflow-client==0.1.0 from this checkout, then the server with the dev tools.
.venv/bin/python -m pip install --quiet -e ./clients/python
.venv/bin/python -m pip install --quiet -e ".[dev]"
# A venv from before the split had `vecflow` owned by the server; replacing that install removed the script.
if [ ! -x .venv/bin/vecflow ]; then
  .venv/bin/python -m pip install --quiet --no-deps --force-reinstall -e ./clients/python
fi

if command -v npm >/dev/null 2>&1; then
  npm install --no-audit --no-fund --loglevel=error >/dev/null
  npm ci --prefix clients/node --no-audit --no-fund --loglevel=error >/dev/null
else
  echo "setup: npm not found; buf (proto lint, buf curl) is skipped" >&2
fi
echo "setup: done (.venv/bin/vecflow is ready)"
