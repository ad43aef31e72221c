"""The Python package's live cycles against a fleet, timed as a validator sees them.

    bench_forward.py REQUEST.json MODE RUNS [POSTGRES_URL]

MODE: `float32` (sync_forward_multiprocess(float32_output=True)), `plain` (float32_output=False:
Python tuples of floats), `save` (forward_and_save into POSTGRES_URL, the Parquet file into a
temp folder, removed after each run). The fleet serving
REQUEST.json runs beside (scripts/bench-python.sh starts it). One JSON line per run:

- `call_s`: from the call to its return; `minus_deadline_s`: that minus the request's deadline
  (what the issue's README table reports: what the validator waits beyond the network's limit);
- `network_ms`: from the first request to the last miner's end (the engine's clock);
- `after_network_ms`: from the last miner's end to the return: the engine's `after_network` (the
  last decode, the sinks' finish: Parquet rename, Postgres commit) plus the Python result objects;
- `results_ms`, `sign_ms`: the result objects, and the validator keypair's 256 `sign` calls
  (before any traffic).
"""

import json
import resource
import shutil
import sys
import tempfile
import time

import bittensor as bt
import pydantic

import synth_forward

ROOT = __file__.rsplit("/scripts/", 1)[0]


class SimulationInput(pydantic.BaseModel):
    asset: str
    start_time: str
    time_increment: int
    time_length: int
    num_simulations: int


class Simulation(bt.Synapse):
    simulation_input: SimulationInput


def main() -> None:
    request = json.load(open(sys.argv[1]))
    mode, runs = sys.argv[2], int(sys.argv[3])
    url = sys.argv[4] if len(sys.argv) > 4 else None
    seed = json.load(open(f"{ROOT}/../shared/wire-samples/wallet/validator-hotkey.json"))["secretSeed"]
    keypair = bt.Keypair.create_from_seed(seed)
    axons = [bt.AxonInfo(version=10_000_001, ip=a["ip"], port=a["port"], ip_type=4, hotkey=a["hotkey"],
                         coldkey=a["hotkey"]) for a in request["axons"]]
    uids = [a["uid"] for a in request["axons"]]
    synapse = Simulation(simulation_input=SimulationInput(**request["simulation_input"]))
    timeout = request["timeout_s"]
    engine = synth_forward.Engine()
    for run in range(runs):
        t0 = time.perf_counter()
        if mode == "save":
            folder = tempfile.mkdtemp(prefix="bench-forward-")
            out = engine.forward_and_save(keypair, "bench-uuid", "203.0.113.9", axons, synapse, timeout,
                                          miner_uids=uids, postgres=url, parquet_dir=folder)
        else:
            out = engine.sync_forward_multiprocess(keypair, "bench-uuid", "203.0.113.9", axons, synapse, timeout,
                                                   float32_output=(mode == "float32"))
        call = time.perf_counter() - t0
        if mode == "save":
            shutil.rmtree(folder)
        s = engine.last_summary
        t = s["timings_ms"]
        py = s["python_ms"]
        print(json.dumps({
            "mode": mode, "run": run, "call_s": round(call, 3), "minus_deadline_s": round(call - timeout, 3),
            "network_ms": round(t["network"], 1),
            "after_network_ms": round(t["after_network"] + py["results"], 1),
            "engine_after_network_ms": round(t["after_network"], 1),
            "results_ms": round(py["results"], 1), "sign_ms": round(py["sign"], 1),
            "correct": s["verdicts"].get("CORRECT", 0),
            "saved_rows": s.get("postgres", {}).get("rows") if mode == "save" else None,
            "parquet": bool(s.get("parquet")),
            "decode_tail_ms": t.get("decode_tail"),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        }), flush=True)
        del out


if __name__ == "__main__":
    main()
