#!/usr/bin/env bash
# The test command: Python peers for the interop tests, then every cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-venv.sh
export SYNTH_FORWARD_PYTHON="$PWD/.venv/bin/python"
# The real bittensor peers (10.0.1 Axon, 11.x http_auth) for tests/interop_bittensor.rs.
scripts/setup-bt-venvs.sh
export SYNTH_FORWARD_BT10_PYTHON="$PWD/.venv-bt10/bin/python"
export SYNTH_FORWARD_BT11_PYTHON="$PWD/.venv-bt11/bin/python"
# `internals`: the A/B tests against parquet-rs's own writers. `s3`: object storage
# (tests/object_store.rs, against moto's S3 server from the .venv); it brings `tls`, so the https
# client tests run too.
cargo test --locked --features internals,s3 "$@"
# The Python package: its wheel built from scratch, imported by the real interpreter.
scripts/test-python.sh
# The default build's side of the TLS switch: an https URL refused with a clear message.
cargo test --locked --test prices_pyth
