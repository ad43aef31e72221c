"""Writes the save a Synth validator makes of one cycle, as upstream does it, for the bench.

In: a cycle Parquet file written by synth-forward, and the validator_requests id to use.
Out (stdout): one multi-row INSERT INTO miner_predictions of every miner, each prediction
`json.dumps(reply)` cast with `::jsonb` (CORRECT: [start, increment, path...]; else []), the
statement the validator's SQLAlchemy/psycopg2 sends (its values inlined as literals). Timing it
with psql measures the server's side of upstream's save; the seconds this script spends in
json.dumps are printed to stderr (part of the client's side).
"""
import json
import sys
import time

import pyarrow.parquet as pq

path, vr_id = sys.argv[1], int(sys.argv[2])
table = pq.read_table(path)
request = json.loads(pq.ParquetFile(path).metadata.metadata[b"synth.request"])
si = request["simulation_input"]
start = int(table.column("start_time")[0].value // 1_000_000)
t = time.perf_counter()
out = sys.stdout
out.write("INSERT INTO miner_predictions (validator_requests_id, miner_uid, miner_id, prediction, "
          "format_validation, process_time) VALUES\n")
for k, row in enumerate(table.to_pylist()):
    reply = [start, si["time_increment"], *row["paths"]] if row["format_validation"] == "CORRECT" else []
    text = json.dumps(reply).replace("'", "''")
    fv = row["format_validation"].replace("'", "''")
    pt = "NULL" if row["process_time_s"] is None else repr(row["process_time_s"])
    sep = ",\n" if k else ""
    out.write(f"{sep}({vr_id}, {row['uid']}, (SELECT id FROM miners WHERE miner_uid = {row['uid']} "
              f"ORDER BY updated_at DESC LIMIT 1), '{text}'::jsonb, '{fv}', {pt})")
out.write(";\n")
print(f"json.dumps and SQL text: {time.perf_counter() - t:.1f} s", file=sys.stderr)
