#!/usr/bin/env bash
# The Python package timed as a validator uses it: a release wheel, a fleet serving FIXTURE over its
# recorded times × TIME_SCALE, and RUNS cycles of each MODE (float32, plain, save) in one
# interpreter (the bittensor 10.0.1 venv, for its Keypair and AxonInfo).
#
# usage: scripts/bench-python.sh FIXTURE RUNS TIME_SCALE [MODES...]
#   e.g. scripts/bench-python.sh fixtures/large/hf-90mb.cycle.arrow 5 1 float32 plain
#        scripts/bench-python.sh fixtures/large/lf-full.cycle.arrow 3 1 save float32 plain
# TIMEOUT=S overrides the request's per-miner deadline (a fixture's never-answering miners hold
# every cycle to it; with TIME_SCALE 0 and a short TIMEOUT, cycles are quick A/B runs).
# `save` runs against a throwaway PostgreSQL cluster (fsync on, `prediction` on lz4 as the README
# recommends, a `miners` row per uid). Prints scripts/bench_forward.py's JSON lines.
set -euo pipefail
cd "$(dirname "$0")/.."
fx=$1; runs=$2; scale=$3; shift 3
modes=${*:-float32 plain}
scripts/setup-bt-venvs.sh
PY=$PWD/.venv-bt10/bin/python
"$PY" -c 'import pyarrow' 2>/dev/null || "$PY" -m pip install --quiet pyarrow
cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/synth-forward
d=$(mktemp -d); chmod 755 "$d"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; [ -n "${PGBIN:-}" ] && as_pg "$PGBIN/pg_ctl" -D "$d/data" -m fast -w stop >/dev/null 2>&1; rm -rf "$d"; }
trap cleanup EXIT
# The release wheel, unpacked beside the venv's packages (the venv keeps the tests' debug wheel).
.venv/bin/maturin build --release --quiet -m python/Cargo.toml --out "$d/wheel" >/dev/null
python3 -m zipfile -e "$d"/wheel/*.whl "$d/pkg"

url=""
if [[ " $modes " == *" save "* ]]; then
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  [ "$(id -u)" = 0 ] && chown postgres "$d"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_pg "$PGBIN/initdb" -A trust -U postgres -E UTF8 --locale C -D "$d/data" >/dev/null
  as_pg "$PGBIN/pg_ctl" -D "$d/data" -o "-k $d -c listen_addresses=127.0.0.1 -p $port" -l "$d/log" -w start >/dev/null
  psql_() { psql -h 127.0.0.1 -p "$port" -U postgres -X -q -At -v ON_ERROR_STOP=1 "$@"; }
  psql_ -c "CREATE DATABASE bench"
  psql_ -d bench -f ../shared/upstream-db/schema.sql >/dev/null
  psql_ -d bench -c "ALTER TABLE miner_predictions ALTER COLUMN prediction SET COMPRESSION lz4"
  psql_ -d bench -c "INSERT INTO miners (miner_uid, hotkey, updated_at) SELECT g, 'hk' || g, now() FROM generate_series(0, 1023) g"
  url="postgresql://postgres@127.0.0.1:$port/bench"
fi

"$BIN" serve "$fx" --time-scale "$scale" --request-out "$d/request.json" > "$d/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do [ -s "$d/request.json" ] && break; sleep 0.1; done
[ -s "$d/request.json" ] || { cat "$d/serve.log" >&2; exit 1; }
if [ -n "${TIMEOUT:-}" ]; then
  python3 - "$d/request.json" "$TIMEOUT" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); r["timeout_s"] = float(sys.argv[2]); json.dump(r, open(sys.argv[1], "w"))
PY
fi
for mode in $modes; do
  PYTHONPATH="$d/pkg" "$PY" scripts/bench_forward.py "$d/request.json" "$mode" "$runs" $url
done
