#!/usr/bin/env bash
# The test command: Python peers for the interop tests, then every cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-venv.sh
export SYNTH_FORWARD_PYTHON="$PWD/.venv/bin/python"
cargo test --locked "$@"
