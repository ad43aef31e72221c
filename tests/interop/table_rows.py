"""What a documented reader example read, as plain rows, for tests/dataset_tables.rs.

usage: table_rows.py EXAMPLE_FILE RESULT_VARIABLE

Runs the example (a block of schemas/output.md, its folder already replaced) as it is, then takes
the variable it bound (a pyarrow Table, a polars DataFrame or a DuckDB relation) through the Arrow
C stream into pyarrow, and prints one JSON object: the row count, the `paths` leaf type, and per
row [asset, date, start_unix, uid, verdict, price count, first and last price as float64 bits]
(prices null unless CORRECT), in the order the reader gave them.
"""
import json
import struct
import sys

import pyarrow as pa
import pyarrow.compute as pc


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", float(x)))[0]


def main(example_file, variable):
    scope = {}
    with open(example_file) as f:
        exec(compile(f.read(), example_file, "exec"), scope)
    result = scope[variable]
    table = result if isinstance(result, pa.Table) else pa.table(result)
    paths_type = table.schema.field("paths").type
    start = pc.divide(table["start_time"].cast(pa.timestamp("us", "UTC")).cast(pa.int64()), 1_000_000)
    columns = {
        "asset": table["asset"].to_pylist(),
        "date": [str(d)[:10] for d in table["date"].to_pylist()],
        "start": start.to_pylist(),
        "uid": table["uid"].to_pylist(),
        "verdict": [str(v) for v in table["format_validation"].to_pylist()],
        "paths": table["paths"].to_pylist(),
    }
    rows = []
    for i in range(table.num_rows):
        paths = columns["paths"][i]
        prices = None if paths is None else [p for path in paths for p in path]
        rows.append(
            [
                columns["asset"][i],
                columns["date"][i],
                columns["start"][i],
                columns["uid"][i],
                columns["verdict"][i],
                None if prices is None else len(prices),
                None if not prices else bits(prices[0]),
                None if not prices else bits(prices[-1]),
            ]
        )
    leaf = paths_type.value_type.value_type
    print(json.dumps({"rows": table.num_rows, "leaf": str(leaf), "table": rows}))


if __name__ == "__main__":
    main(*sys.argv[1:])
