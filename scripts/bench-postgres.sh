#!/usr/bin/env bash
# The save phase, measured: a recorded cycle replayed into the validator's tables (the unchanged
# upstream schema, pglz, and the same schema with `prediction` on lz4), RUNS times each, and, with
# --upstream, the validator's own multi-row INSERT of the same cycle (json.dumps cast ::jsonb).
#
# usage: scripts/bench-postgres.sh FIXTURE [RUNS] [--upstream]
#   e.g. scripts/bench-postgres.sh fixtures/large/lf-full.cycle.arrow 3 --upstream
# Starts a throwaway PostgreSQL cluster (Debian's binaries, fsync on, 127.0.0.1 on a free port) in
# a temp folder and removes it at the end. "server cpu" is the CPU the server's processes used
# during the run (the postmaster's reaped children, from /proc), so its share of the wall time shows.
set -euo pipefail
cd "$(dirname "$0")/.."
fx=$1; runs=${2:-3}; upstream=${3:-}
cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/synth-forward
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
d=$(mktemp -d); chmod 755 "$d"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$d"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg "$PGBIN/initdb" -A trust -U postgres -E UTF8 --locale C -D "$d/data" >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$d/data" -o "-k $d -c listen_addresses=127.0.0.1 -p $port" -l "$d/log" -w start >/dev/null
trap 'as_pg "$PGBIN/pg_ctl" -D "$d/data" -m fast -w stop >/dev/null; rm -rf "$d"' EXIT
psql_() { psql -h 127.0.0.1 -p "$port" -U postgres -X -q -At -v ON_ERROR_STOP=1 "$@"; }
psql_ -c "CREATE DATABASE pglz"
psql_ -d pglz -f ../shared/upstream-db/schema.sql >/dev/null
psql_ -d pglz -c "INSERT INTO miners (miner_uid, hotkey, updated_at) SELECT g % 256, 'hk' || g, now() - g * interval '1 hour' FROM generate_series(0, 1023) g"
psql_ -c "CREATE DATABASE lz4 TEMPLATE pglz"
psql_ -d lz4 -c "ALTER TABLE miner_predictions ALTER COLUMN prediction SET COMPRESSION lz4"
server_cpu() {
  awk '{printf "%.2f\n", ($14 + $15 + $16 + $17) / 100}' "/proc/$(head -1 "$d/data/postmaster.pid")/stat"
}
empty() { psql_ -d "$1" -c "TRUNCATE miner_predictions, validator_requests CASCADE" 2>/dev/null; psql_ -d "$1" -c CHECKPOINT; }
for db in lz4 pglz; do
  for i in $(seq "$runs"); do
    empty $db; sleep 1; c0=$(server_cpu)
    /usr/bin/time -f "%e %M" -o "$d/time" "$BIN" replay "$fx" --out "$d/out" --overwrite \
      --postgres "postgresql://postgres@127.0.0.1:$port/$db" > "$d/summary.json"
    sleep 2; c1=$(server_cpu)
    read -r wall rss < "$d/time"
    bytes=$(psql_ -d $db -c "SELECT sum(length(prediction::text)) FROM miner_predictions")
    python3 - "$d/summary.json" "$db" "$wall" "$rss" "$c0" "$c1" "$bytes" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1])); db, wall, rss, c0, c1, text = sys.argv[2:]
p, wall = s["postgres"], float(wall)
print(f"{db}: {wall:.2f} s wall, {p['rows']} rows = {p['rows'] / wall:.0f} rows/s, "
      f"{int(text) / 1e6 / wall:.0f} MB/s of prediction text, server cpu {float(c1) - float(c0):.2f} s "
      f"({(float(c1) - float(c0)) / wall:.0%} of the wall), peak RSS {int(rss) // 1024} MB, "
      f"save {p['timings_ms']}")
EOF
  done
done
if [ "$upstream" = "--upstream" ]; then
  file=$(find "$d/out" -name '*.parquet' | head -1)
  "${SYNTH_FORWARD_PYTHON:-.venv/bin/python}" scripts/upstream_insert_sql.py "$file" 1 > "$d/insert.sql"
  for db in lz4 pglz; do
    empty $db
    psql_ -d $db -c "INSERT INTO validator_requests (id, start_time, asset) VALUES (1, now(), 'X')"
    sleep 1; c0=$(server_cpu)
    t0=$(date +%s.%N); psql_ -d $db -1 -f "$d/insert.sql"; t1=$(date +%s.%N)
    sleep 2; c1=$(server_cpu)
    python3 -c "print(f'upstream INSERT into $db: {$t1 - $t0:.1f} s wall (server side only), server cpu {$c1 - $c0:.1f} s')"
  done
fi
