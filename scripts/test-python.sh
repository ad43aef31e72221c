#!/usr/bin/env bash
# The Python package: builds the wheel from scratch with maturin (python/, an abi3 wheel for
# CPython >= 3.9) in .venv, installs it into the bittensor 10.0.1 venv (.venv-bt10) beside the
# test dependencies (python/tests/requirements.txt: pytest, pyarrow pinned like .venv's), and runs
# its pytest suite there, so the tests hand the package real `bittensor.Keypair`/`AxonInfo`
# objects (and use the CLI binary, a throwaway PostgreSQL cluster and a real bittensor Axon).
# Arguments go to pytest, e.g. `scripts/test-python.sh -k fixtures`.
set -euo pipefail
cd "$(dirname "$0")/.."
# The build side: maturin in .venv.
scripts/setup-venv.sh
if ! .venv/bin/python -c 'import maturin' 2>/dev/null; then
  .venv/bin/pip install --quiet --disable-pip-version-check 'maturin==1.16.0'
fi
# The test side: .venv-bt10 (idempotent; scripts/test.sh has usually made it already).
scripts/setup-bt-venvs.sh
PY=$PWD/.venv-bt10/bin/python
# Installs the test dependencies unless every pin is already there.
if ! "$PY" - python/tests/requirements.txt <<'PY' 2>/dev/null; then
import sys
from importlib.metadata import version
pins = [line.split("==") for line in open(sys.argv[1]) if "==" in line]
sys.exit(0 if all(version(name.strip()) == want.strip() for name, want in pins) else 1)
PY
  "$PY" -m pip install --quiet --disable-pip-version-check -r python/tests/requirements.txt
fi
cargo build --locked --quiet
rm -rf target/wheels
.venv/bin/maturin build --locked --quiet -m python/Cargo.toml --out target/wheels
"$PY" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps target/wheels/synth_forward-*.whl
export SYNTH_FORWARD_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/synth-forward"
export SYNTH_FORWARD_BT10_PYTHON="$PY"
"$PY" -m pytest -q python/tests "$@"
