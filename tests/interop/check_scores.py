"""Checks a scores table written by `synth-forward score` against the independent reference.

usage: check_scores.py SCORES_TABLE_FOLDER PRICES_CSV NORMALISATION

For every scores file: its source cycle file (named in its metadata) is read with pyarrow, the real
price path is built from the CSV (the close at each exact grid time, NaN where none), each miner
is scored by tests/interop/synth_reference.py (CORRECT rows only; -1 otherwise, for a zero price
and for a non-finite total), the prompt scores normalised, and every number compared bit for bit.
Then DuckDB and polars read the whole table with its hive partitions. Prints one JSON line.
"""
import csv
import json
import math
import os
import sys

import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(__file__))
from synth_reference import INTERVALS, VOL, prompt_scores, total_score  # noqa: E402

table, prices_csv, form = sys.argv[1:4]

prices = {}
with open(prices_csv) as f:
    for row in csv.DictReader(f):
        prices.setdefault(row["asset"], {})[int(row["timestamp"])] = float(row["price"]) if row["price"] else math.nan


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or float(a).hex() == float(b).hex()


files = rows = scored = 0
for dirpath, _, names in os.walk(table):
    for name in sorted(names):
        if not name.endswith(".parquet"):
            continue
        path = os.path.join(dirpath, name)
        pf = pq.ParquetFile(path)
        meta = {k.decode(): v.decode() for k, v in pf.metadata.metadata.items()}
        assert meta["synth.scores.version"] == "1", meta
        assert meta["synth.score.normalisation"] == form, meta
        asset = dirpath.split("asset=")[1].split(os.sep)[0]
        scores = pf.read().to_pylist()
        cycle = pq.read_table(meta["synth.score.source"]).to_pylist()
        assert [r["uid"] for r in scores] == [r["uid"] for r in cycle], path
        c0 = cycle[0]
        start = int(c0["start_time"].timestamp())
        inc, length = c0["time_increment"], c0["time_length"]
        points = length // inc + 1
        real = np.array([prices[asset].get(start + k * inc, math.nan) for k in range(points)])
        assert json.loads(meta["synth.score.real_prices"]) == [None if math.isnan(p) else p for p in real]
        raw, details = [], []
        for c in cycle:
            if c["format_validation"] != "CORRECT" or c["paths"] is None:
                raw.append(-1.0)
                details.append([])
                continue
            sim = np.array(c["paths"], dtype=float)
            total, detail = total_score(sim, real, inc, INTERVALS[length], VOL.get(length, []))
            if total == -1.0 or not np.isfinite(total):
                raw.append(-1.0)
                details.append([])
                continue
            raw.append(total)
            details.append(detail)
        want = prompt_scores(raw, form)
        for i, s in enumerate(scores):
            where = f"{path} uid {s['uid']}"
            assert s["format_validation"] == cycle[i]["format_validation"], where
            assert s["hotkey"] == cycle[i]["hotkey"], where
            assert same(s["total_crps"], raw[i]), (where, s["total_crps"], raw[i])
            got = [[d["interval"], d["crps"], d["weight"]] for d in s["crps_data"]]
            assert len(got) == len(details[i]), (where, got, details[i])
            weights = {name: w for name, _, w in VOL.get(length, [])}
            for (gn, gv, gw), (wn, wv) in zip(got, details[i]):
                assert gn == wn and same(gv, wv), (where, gn, gv, wn, wv)
                assert gw == weights.get(wn), (where, gn, gw)
            # An error says why a CORRECT miner got -1; no other row has one.
            correct = cycle[i]["format_validation"] == "CORRECT"
            assert (s["error"] is not None) == (correct and raw[i] == -1.0), (where, s["error"])
            assert s["num_simulations"] == cycle[i]["num_simulations"], where
            assert s["start_time"] == cycle[i]["start_time"], where
            if want is None:
                assert s["prompt_score"] is None, where
                continue
            out, fill, lowest, capped = want
            assert same(s["prompt_score"], out[i]), (where, s["prompt_score"], out[i])
            assert same(s["percentile95"], fill) and same(s["lowest_score"], lowest), where
            assert s["score_capped"] == capped[i], where
            scored += raw[i] != -1.0
        files += 1
        rows += len(scores)

import duckdb  # noqa: E402
import polars as pl  # noqa: E402

n_duck = duckdb.sql(
    f"SELECT count(*) FROM read_parquet('{table}/**/*.parquet', hive_partitioning = true) WHERE asset = 'BTC'"
).fetchall()[0][0]
n_polars = pl.scan_parquet(table, hive_partitioning=True).select(pl.len()).collect().item()
assert n_duck == rows == n_polars, (n_duck, rows, n_polars)
print(json.dumps({"files": files, "rows": rows, "scored": scored}))
