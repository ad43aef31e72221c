"""Reads a replayed cycle's Parquet file back with pyarrow, DuckDB and polars and checks it
against the recording it came from, re-deriving every verdict and price in plain Python.

usage: check_replay.py RECORDING PARQUET OUT_DIR [default|compact|f32]

f32: every price must be the recorded price rounded to the nearest float32 (ties to even), bit for
bit.

The verdict rules here are synth's `validate_responses` for well-formed JSON replies (what the
fixture generator produces), written from its source rules independently of the Rust decoder:
json.loads for the body and Python's own repr() for the digit rule.
"""
import datetime
import json
import pathlib
import struct
import sys

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

T = "time out or internal server error (process time is None)"


def expected_verdict(req, status, error, body):
    if error is not None or status is None or body is None or not (200 <= status < 300):
        return T
    reply = json.loads(body)
    if status != 200:
        return "Response is empty"
    si = req["simulation_input"]
    out = reply.get("simulation_output")
    if out is None:
        return "Response is empty"
    start = int(datetime.datetime.fromisoformat(si["start_time"]).timestamp())
    if out[0] != start:
        return f"Start time timestamp is incorrect: expected {start}, got {out[0]}"
    if out[1] != si["time_increment"]:
        return f"Time increment is incorrect: expected {si['time_increment']}, got {out[1]}"
    paths = out[2:]
    if len(paths) != si["num_simulations"]:
        return f"Number of paths is incorrect: expected {si['num_simulations']}, got {len(paths)}"
    points = si["time_length"] // si["time_increment"] + 1
    for path in paths:
        if len(path) != points:
            return f"Number of time points is incorrect: expected {points}, got {len(path)}"
        for price in path:
            if len(str(price).replace(".", "")) > 8:
                return f"Price format is incorrect: too many digits {price}"
    return "CORRECT"


def bits(x):
    return struct.pack("<d", x)


def to_f32(x):
    """x rounded to the nearest float32 (struct's C cast: round to nearest, ties to even)."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def main(recording, parquet, out_dir, mode="default"):
    compact = mode == "compact"
    f32 = mode == "f32"
    rec = pa.ipc.open_file(recording).read_all()
    req = json.loads(rec.schema.metadata[b"synth.request"])
    table = pq.read_table(parquet)
    meta = pq.read_metadata(parquet).metadata
    # The file keeps the request with its axons in uid order, like its rows, and the rules it
    # was judged by (a recording without them predates rule sets: v2).
    rules = req.get("rules", "v2")
    in_uid_order = dict(req, axons=sorted(req["axons"], key=lambda a: a["uid"]), rules=rules)
    assert json.loads(meta[b"synth.request"]) == in_uid_order, "file metadata carries the request"
    assert meta[b"synth.rules"] == rules.encode(), meta[b"synth.rules"]
    assert b"synth.engine.version" in meta
    assert meta[b"synth.layout"] == b"2", meta[b"synth.layout"]
    encoding = meta[b"synth.prices.encoding"].decode()
    assert encoding == {"default": "float64", "f32": "float32"}.get(mode, encoding), encoding
    # The file sits in its table's folder: TABLE/asset=…/date=…/FILE.
    table_root = pathlib.Path(parquet).parents[2]
    assert table_root.name == meta[b"synth.table"].decode(), (table_root, meta[b"synth.table"])
    assert table_root.parent == pathlib.Path(out_dir) / "layout-2", (table_root, out_dir)

    rows = rec.to_pylist()
    by_uid = {r["uid"]: r for r in rows}
    got = table.to_pylist()
    assert len(got) == len(rows), (len(got), len(rows))
    uids = [g["uid"] for g in got]
    assert uids == sorted(by_uid), f"rows sorted by uid: {uids}"

    si = req["simulation_input"]
    points = si["time_length"] // si["time_increment"] + 1
    counts = {}
    for g in got:
        r = by_uid[g["uid"]]
        want = expected_verdict(req, r["status"], r["error"], r["body"])
        assert g["format_validation"] == want, (g["uid"], g["format_validation"], want)
        counts[want] = counts.get(want, 0) + 1
        assert g["hotkey"] == r["hotkey"]
        assert g["status_code"] == r["status"]
        assert g["error"] == r["error"]
        assert g["response_bytes"] == (len(r["body"]) if r["body"] is not None else 0)
        assert (g["process_time_s"] is None) == (want == T), g["uid"]
        assert g["time_increment"] == si["time_increment"]
        assert g["num_simulations"] == si["num_simulations"]
        if want == "CORRECT":
            prices = json.loads(r["body"])["simulation_output"][2:]
            assert len(g["paths"]) == si["num_simulations"]
            for gp, wp in zip(g["paths"], prices):
                assert len(gp) == points
                for a, b in zip(gp, wp):
                    # Compact mode stores decimals: their float() must be the very same double.
                    a = float(a)
                    b = to_f32(float(b)) if f32 else float(b)
                    # Bit-for-bit: same double, sign of zero included.
                    assert bits(a) == bits(b), (a, b)
        else:
            assert g["paths"] is None, g["uid"]
    t = table.schema.field("paths").type
    assert pa.types.is_fixed_size_list(t) and t.list_size == si["num_simulations"], t
    assert pa.types.is_fixed_size_list(t.value_type) and t.value_type.list_size == points, t
    leaf = t.value_type.value_type
    if compact:
        assert pa.types.is_decimal(leaf), leaf
    elif f32:
        assert leaf == pa.float32(), leaf
    else:
        assert leaf == pa.float64(), leaf

    # polars decodes the pages itself (polars-parquet): every column, prices included, must equal
    # pyarrow's reading. (polars 2.1 rejects BYTE_STREAM_SPLIT pages that hold nulls; the
    # default layout never writes one.)
    assert pl.read_parquet(parquet).equals(pl.from_arrow(table)), "polars reads what pyarrow reads"

    # An analyst's view: DuckDB over the table's hive partitions sees them as columns.
    con = duckdb.connect()
    n, asset, date, correct = con.execute(
        "select count(*), any_value(asset), any_value(date)::varchar, "
        "count(*) filter (where format_validation = 'CORRECT') "
        f"from read_parquet('{table_root}/**/*.parquet', hive_partitioning = true)"
    ).fetchone()
    assert n == len(rows) and asset == si["asset"], (n, asset)
    assert str(date) == si["start_time"][:10], date
    assert correct == counts.get("CORRECT", 0)
    # DuckDB decodes the prices too (its own Parquet reader): every row's, in uid order.
    flat = con.execute(f"select uid, flatten(paths) from read_parquet('{parquet}') order by uid").fetchall()
    assert [uid for uid, _ in flat] == uids
    for (uid, prices), g in zip(flat, got):
        if g["paths"] is None:
            assert prices is None, uid
        else:
            want = [float(x) for path in g["paths"] for x in path]
            assert [float(x) for x in prices] == want, uid
    print(json.dumps({"rows": len(rows), "verdicts": counts}))


if __name__ == "__main__":
    main(*sys.argv[1:])
