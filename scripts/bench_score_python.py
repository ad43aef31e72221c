"""The validator's way of scoring, timed on the same cycle as `synth-forward score`: NumPy arrays
and properscoring's numba `crps_ensemble`, one miner per task in a pool of `--procs` processes (the
validator's `get_rewards_multiprocess` uses 2), through the independent reference of
tests/interop/synth_reference.py (written from the public description, not upstream's code).

usage: .venv/bin/python scripts/bench_score_python.py CYCLE.parquet PRICES.csv [--procs 2]

Prints one JSON line: miners scored, seconds to read the file into arrays, seconds to score, and
the numba warm-up kept apart (each worker compiles once before the clock starts).
"""
import argparse
import csv
import json
import math
import os
import sys
import time
from multiprocessing import Pool

import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "interop"))
from synth_reference import INTERVALS, VOL, total_score  # noqa: E402

REAL = None
SETUP = None


def init(real, setup):
    global REAL, SETUP
    REAL, SETUP = real, setup
    # numba compiles crps_ensemble on first use: once per worker, outside the timing.
    total_score(np.full((2, len(real)), 1.0) + np.arange(len(real)), real, *setup)


def one(sim):
    total, _ = total_score(sim, REAL, *SETUP)
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cycle")
    ap.add_argument("prices")
    ap.add_argument("--procs", type=int, default=2)
    a = ap.parse_args()
    t0 = time.perf_counter()
    table = pq.read_table(a.cycle)
    rows = table.to_pylist()
    first = rows[0]
    start, inc, length = int(first["start_time"].timestamp()), first["time_increment"], first["time_length"]
    sims = [np.array(r["paths"], dtype=float) for r in rows if r["format_validation"] == "CORRECT"]
    read_s = time.perf_counter() - t0
    prices = {}
    with open(a.prices) as f:
        for r in csv.DictReader(f):
            prices[int(r["timestamp"])] = float(r["price"]) if r["price"] else math.nan
    real = np.array([prices.get(start + k * inc, math.nan) for k in range(length // inc + 1)])
    setup = (inc, INTERVALS[length], VOL.get(length, []))
    with Pool(a.procs, initializer=init, initargs=(real, setup)) as pool:
        pool.map(one, sims[: a.procs], chunksize=1)  # every worker warm
        t1 = time.perf_counter()
        totals = pool.map(one, sims, chunksize=1)
        score_s = time.perf_counter() - t1
    print(json.dumps({"miners": len(totals), "procs": a.procs, "read_s": round(read_s, 2), "score_s": round(score_s, 2),
                      "per_miner_ms": round(score_s / len(totals) * a.procs * 1e3, 1)}))


if __name__ == "__main__":
    main()
