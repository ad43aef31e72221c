#!/usr/bin/env bash
# Creates the two venvs holding the real bittensor peers for tests/interop_bittensor.rs:
#   .venv-bt10  bittensor 10.0.1 (the Axon, "synapse" protocol), async-substrate-interface pinned
#   .venv-bt11  bittensor 11.x   (btauth/1, bittensor.http_auth.verify)
# Idempotent: a venv that already imports bittensor at the right version (10.0.1; 11.x) is left alone.
# Prints how long each install took (seconds) on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}

# venv_ok DIR VERSION: the venv imports bittensor, whose version is VERSION or VERSION.*.
venv_ok() {
  [ -x "$1/bin/python" ] && "$1/bin/python" - "$2" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
import bittensor  # noqa: F401  (the import itself must work)
v, want = version("bittensor"), sys.argv[1]
sys.exit(0 if v == want or v.startswith(want + ".") else 1)
PY
}

# setup DIR VERSION PIP-ARGS...
setup() {
  local dir=$1 major=$2
  shift 2
  if venv_ok "$dir" "$major"; then
    echo "setup-bt-venvs: $dir ok (bittensor $major)" >&2
    return
  fi
  local t0=$SECONDS
  [ -x "$dir/bin/python" ] || "$py" -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
  venv_ok "$dir" "$major" || { echo "setup-bt-venvs: $dir does not import bittensor $major" >&2; exit 1; }
  echo "setup-bt-venvs: $dir installed in $((SECONDS - t0)) s" >&2
}

setup .venv-bt10 10.0.1 'bittensor==10.0.1' 'async-substrate-interface==1.5.15'
setup .venv-bt11 11 'bittensor>=11,<12'
