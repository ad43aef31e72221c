"""pyarrow peer for the recording contract (schemas/recording.md), driven by tests/recording_pyarrow.rs.

    recording_peer.py write <path>   write a recording with pyarrow (ZSTD, two record batches,
                                     pyarrow's default nullability inside `headers`), print nothing
    recording_peer.py read <path>    read a recording with pyarrow, print one JSON summary line:
                                     metadata, schema, and per row what Python makes of it
"""
import hashlib
import json
import sys

import pyarrow as pa
import pyarrow.ipc as ipc

REQUEST = {
    "simulation_input": {
        "asset": "ETH",
        "start_time": "2026-11-24T12:01:00+00:00",
        "time_increment": 60,
        "time_length": 120,
        "num_simulations": 2,
    },
    "timeout_s": 60.0,
    "protocol": "btauth",
    "axons": [
        {"uid": 4, "ip": "127.0.0.1", "port": 9004, "hotkey": "5Four"},
        {"uid": 1, "ip": "127.0.0.1", "port": 9001, "hotkey": "5One"},
        {"uid": 3, "ip": "10.0.0.3", "port": 8091, "hotkey": "5Three"},
    ],
}

BODY0 = b'{"simulation_output":[1795521660,60,[3000.0,3001.5,2999.25],[3000.0,2990.0,3010.125]]}'


def write(path):
    schema = pa.schema(
        [
            pa.field("uid", pa.uint16(), nullable=False),
            pa.field("hotkey", pa.string(), nullable=False),
            pa.field("status", pa.uint16()),
            pa.field("error", pa.string()),
            pa.field("ttfb_ms", pa.float64()),
            pa.field("elapsed_ms", pa.float64(), nullable=False),
            # pyarrow's defaults: nullable list item, nullable struct members.
            pa.field("headers", pa.list_(pa.struct([("name", pa.string()), ("value", pa.string())]))),
            pa.field("body", pa.large_binary()),
        ],
        metadata={
            "synth.recording.version": "1",
            "synth.request": json.dumps(REQUEST),
            "synth.started_at": "2026-11-24T12:00:00.250+00:00",
        },
    )
    b1 = pa.record_batch(
        [
            pa.array([4, 1], pa.uint16()),
            pa.array(["5Four", "5One"]),
            pa.array([200, None], pa.uint16()),
            pa.array([None, "connect"]),
            pa.array([812.5, None]),
            pa.array([815.0, 1.25]),
            pa.array(
                [[{"name": "content-length", "value": str(len(BODY0))}, {"name": "date", "value": "Tue, 24 Nov 2026 12:00:01 GMT"}], None],
                schema.field("headers").type,
            ),
            pa.array([BODY0, None], pa.large_binary()),
        ],
        schema=schema,
    )
    b2 = pa.record_batch(
        [
            pa.array([3], pa.uint16()),
            pa.array(["5Three"]),
            pa.array([500], pa.uint16()),
            pa.array([None], pa.string()),
            pa.array([3.0]),
            pa.array([4.5]),
            pa.array([[]], schema.field("headers").type),
            pa.array([b""], pa.large_binary()),
        ],
        schema=schema,
    )
    opts = ipc.IpcWriteOptions(compression="zstd")
    with pa.OSFile(path, "wb") as f, ipc.new_file(f, schema, options=opts) as w:
        w.write_batch(b1)
        w.write_batch(b2)


def read(path):
    with pa.memory_map(path, "r") as f:
        r = ipc.open_file(f)
        table = r.read_all()
        batches = r.num_record_batches
    md = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    rows = []
    for row in table.to_pylist():
        body = row["body"]
        info = {
            "uid": row["uid"],
            "hotkey": row["hotkey"],
            "status": row["status"],
            "error": row["error"],
            "ttfb_ms": row["ttfb_ms"],
            "elapsed_ms": row["elapsed_ms"],
            "headers": None if row["headers"] is None else [[h["name"], h["value"]] for h in row["headers"]],
            "body_len": None if body is None else len(body),
            "body_sha256": None if body is None else hashlib.sha256(body).hexdigest(),
        }
        if body is not None and row["status"] == 200:
            # The Axon's body is what Python's json.dumps makes of it: parse and re-dump, compare bytes.
            obj = json.loads(body)
            again = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
            info["python_redump_equal"] = again == body
            out = obj.get("simulation_output")
            if isinstance(out, list):
                prices = [p for path in out[2:] for p in path]
                info["max_digits"] = max(len(repr(p).replace(".", "").lstrip("0")) for p in prices)
        rows.append(info)
    print(json.dumps({"metadata": md, "schema": str(table.schema.remove_metadata()), "batches": batches, "rows": rows}))


if __name__ == "__main__":
    {"write": write, "read": read}[sys.argv[1]](sys.argv[2])
