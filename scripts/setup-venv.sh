#!/usr/bin/env bash
# Creates ./.venv with the Python packages the interop tests use (pyarrow, duckdb, polars; numpy,
# numba and properscoring for the CRPS reference), pinned.
# Idempotent: a venv that already has them is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
fi
if ! .venv/bin/python -c 'import pyarrow, duckdb, polars, numpy, numba, properscoring, moto.server' 2>/dev/null; then
  .venv/bin/pip install --quiet --disable-pip-version-check -r tests/interop/requirements.txt
fi
