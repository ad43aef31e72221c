#!/usr/bin/env bash
# The Python package: builds the wheel from scratch with maturin (python/, an abi3 wheel for
# CPython >= 3.9), installs it into .venv beside pyarrow, and runs its pytest suite against the
# real interpreter (and the CLI binary, for comparisons).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-venv.sh
if ! .venv/bin/python -c 'import maturin, pytest' 2>/dev/null; then
  .venv/bin/pip install --quiet --disable-pip-version-check -r python/tests/requirements.txt
fi
cargo build --locked --quiet
rm -rf target/wheels
.venv/bin/maturin build --locked --quiet -m python/Cargo.toml --out target/wheels
.venv/bin/pip install --quiet --disable-pip-version-check --force-reinstall --no-deps target/wheels/synth_forward-*.whl
SYNTH_FORWARD_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/synth-forward" .venv/bin/python -m pytest -q python/tests
