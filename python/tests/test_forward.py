"""The validator's drop-in against real parts on loopback: the fake-miner fleet (`synth-forward
serve --verify`, which checks every signature), a real bittensor 10.0.1 Axon, bittensor's own
`Keypair` and `AxonInfo` objects, and a throwaway PostgreSQL server. Every result is compared with
what the CLI makes of the same miners."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import bittensor as bt
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pydantic
import pytest

import synth_forward
from conftest import BIN, ROOT, SMALL, axon_infos, bt10_axon, fleet, process_stats

WALLET = ROOT.parent / "shared" / "wire-samples" / "wallet"
# The small fixture's slow miners never answer: a short deadline keeps each cycle short.
TIMEOUT = 1.5


class SimulationInput(pydantic.BaseModel):
    asset: str = "BTC"
    start_time: str = ""
    time_increment: int = 300
    time_length: int = 86400
    num_simulations: int = 1


class Simulation(bt.Synapse):
    """A stand-in for upstream's `Simulation` synapse (only `simulation_input` is read)."""

    simulation_input: SimulationInput


def synapse_for(request):
    return Simulation(simulation_input=SimulationInput(**request["simulation_input"]))


def cli_run(request, tmp_path, *extra):
    """The CLI's live cycle of the same request, signed with the same throwaway hotkey."""
    hot = tmp_path / "wallets" / "validator" / "hotkeys"
    hot.mkdir(parents=True, exist_ok=True)
    (hot / "default").write_bytes((WALLET / "validator-hotkey.json").read_bytes())
    os.chmod(hot / "default", 0o600)
    req = tmp_path / "cli-request.json"
    req.write_text(json.dumps(request))
    out = subprocess.run(
        [BIN, "run", "--request", str(req), "--out", str(tmp_path / "cli-out"),
         "--wallet.path", str(tmp_path / "wallets"), "--wallet.name", "validator",
         "--wallet.hotkey", "default", *extra],
        check=True, capture_output=True, text=True, timeout=120,
    )
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    return pq.read_table(summary["parquet"]), summary


def by_uid(table):
    rows = table.to_pylist()
    return {r["uid"]: r for r in rows}


def short(request, timeout=TIMEOUT):
    return {**request, "timeout_s": timeout}


def test_results_equal_the_cli_in_axon_order(validator_keypair, tmp_path):
    with fleet(verify=True) as request:
        request = short(request)
        axons = axon_infos(request)
        uids = [a["uid"] for a in request["axons"]]
        results = synth_forward.sync_forward_multiprocess(
            validator_keypair, "uuid-test", "203.0.113.9", axons, synapse_for(request), TIMEOUT
        )
        floats = synth_forward.sync_forward_multiprocess(
            validator_keypair, "uuid-test", "203.0.113.9", axons, synapse_for(request), TIMEOUT,
            float32_output=True,
        )
        table, summary = cli_run(request, tmp_path)
    cli = by_uid(table)
    assert len(results) == len(floats) == len(uids) == summary["rows"]
    si = request["simulation_input"]
    points = si["time_length"] // si["time_increment"] + 1
    verdicts = {}
    for uid, result, blob in zip(uids, results, floats):
        output, verdict, process_time = result
        row = cli[uid]
        verdicts[verdict] = verdicts.get(verdict, 0) + 1
        assert verdict == row["format_validation"] == blob[1], uid
        # Upstream's `str(seconds)`, None exactly when the reply never arrived.
        assert (process_time is None) == (row["process_time_s"] is None), uid
        if process_time is not None:
            assert isinstance(process_time, str) and 0 <= float(process_time) < TIMEOUT + 1
        if verdict != "CORRECT":
            assert output is None and blob[0] is None
            continue
        # pydantic's value of a CORRECT reply: (start, increment, [p, ...], ...).
        assert isinstance(output, tuple)
        assert output[1] == si["time_increment"] and type(output[0]) is int
        paths = [list(p) for p in output[2:]]
        assert len(paths) == si["num_simulations"] and all(len(p) == points for p in paths)
        assert all(type(v) is float for p in paths for v in p)
        assert paths == row["paths"], uid
        # float32: upstream's encode_paths of the same prices.
        assert blob[0] == np.asarray(row["paths"], dtype=np.float32).tobytes(), uid
    assert verdicts == summary["verdicts"]
    assert verdicts.get("CORRECT", 0) >= 5


class Replied(Simulation):
    """A synapse class that keeps any `simulation_output` as sent (pydantic's `Any`)."""

    simulation_output: Any = None


def test_older_form_and_uids(validator_keypair, tmp_path):
    with fleet(verify=True) as request:
        request = short(request)
        engine = synth_forward.Engine()
        uids = [a["uid"] for a in request["axons"]]
        synapse = Replied(simulation_input=SimulationInput(**request["simulation_input"]))
        results = engine.sync_forward_multiprocess(
            validator_keypair, "uuid-test", "203.0.113.9", axon_infos(request), synapse,
            TIMEOUT, rules="v2", uids=uids, parquet_dir=tmp_path,
        )
    assert all(len(r) == 2 for r in results)
    summary = engine.last_summary
    assert summary["rules"] == "v2" and summary["rows"] == len(uids)
    verdict = {r["uid"]: r["format_validation"] for r in pq.read_table(summary["parquet"]).to_pylist()}
    bodies = {r["uid"]: r["body"] for r in pa.ipc.open_file(SMALL).read_all().to_pylist()}
    failed_with_value = 0
    for uid, (output, process_time) in zip(uids, results):
        if verdict[uid] == "CORRECT":
            assert isinstance(output, tuple), uid
        elif process_time is None:
            assert output is None, uid
        else:
            # The caller re-validates: it gets what its own synapse class makes of the reply.
            assert output == json.loads(bodies[uid]).get("simulation_output"), uid
            failed_with_value += output is not None
    assert failed_with_value >= 3


def test_a_real_bittensor_axon_accepts_the_signed_requests(validator_keypair):
    with bt10_axon() as axon:
        info = bt.AxonInfo(version=10_000_001, ip="127.0.0.1", port=axon["port"], ip_type=4,
                           hotkey=axon["hotkey"], coldkey=axon["hotkey"])
        start = time.strftime("%Y-%m-%dT%H:%M:00+00:00", time.gmtime(time.time() + 120))
        synapse = Simulation(simulation_input=SimulationInput(
            asset="BTC", start_time=start, time_increment=60, time_length=600, num_simulations=3))
        engine = synth_forward.Engine()
        uuid = "a1b2c3d4-0000-1000-8000-000000000001"
        first = engine.sync_forward_multiprocess(validator_keypair, uuid, "203.0.113.9", [info], synapse, 20.0)
        # The Axon's nonce check: a second cycle from the same dendrite must be newer.
        second = engine.sync_forward_multiprocess(validator_keypair, uuid, "203.0.113.9", [info], synapse, 20.0)
    for (output, verdict, process_time) in (first[0], second[0]):
        assert verdict == "CORRECT", verdict
        assert float(process_time) > 0
        assert len(output) == 2 + 3 and all(len(p) == 11 for p in output[2:])


def test_a_bad_keypair_or_request_is_a_clear_error(validator_keypair):
    class Broken:
        ss58_address = validator_keypair.ss58_address

        def sign(self, message):
            raise RuntimeError("the signer is offline")

    with fleet(verify=True) as request:
        axons = axon_infos(request)
        with pytest.raises(RuntimeError, match="the signer is offline"):
            synth_forward.sync_forward_multiprocess(Broken(), "u", "1.2.3.4", axons, synapse_for(request), 1.0)
        with pytest.raises(synth_forward.RequestError, match="timeout"):
            synth_forward.sync_forward_multiprocess(
                validator_keypair, "u", "1.2.3.4", axons, synapse_for(request), -1.0)
        with pytest.raises(synth_forward.RequestError, match="rules"):
            synth_forward.sync_forward_multiprocess(
                validator_keypair, "u", "1.2.3.4", axons, synapse_for(request), 1.0, rules="v9")
        with pytest.raises(synth_forward.RequestError, match="uids"):
            synth_forward.forward_and_save(
                validator_keypair, "u", "1.2.3.4", axons, synapse_for(request), 1.0,
                miner_uids=[1], postgres="postgresql://127.0.0.1:1/x")


def rows_of(pg, url):
    return pg.psql(url, """
        SELECT v.start_time, v.asset, v.time_increment, v.time_length, v.num_simulations, v.request_time,
               p.miner_uid, p.miner_id, p.format_validation, p.process_time, p.prediction::text, p.bigtable_key
        FROM miner_predictions p JOIN validator_requests v ON v.id = p.validator_requests_id
        ORDER BY p.miner_uid""")


def test_forward_and_save_stores_the_clis_rows(validator_keypair, postgres, tmp_path):
    ours, theirs = postgres.database(), postgres.database()
    with fleet(verify=True) as request:
        request = short(request)
        miners = [(a["uid"], a["hotkey"]) for a in request["axons"]]
        for url in (ours, theirs):
            postgres.add_miners(url, miners)
        record = tmp_path / "cycle.arrow"
        vid = synth_forward.forward_and_save(
            validator_keypair, "uuid-test", "203.0.113.9", axon_infos(request), synapse_for(request),
            TIMEOUT, miner_uids=[u for u, _ in miners], request_time="2026-12-04T10:00:00+00:00",
            postgres=ours, parquet_dir=tmp_path / "out", record=record,
        )
    assert isinstance(vid, int) and vid > 0
    summary = synth_forward.default_engine().last_summary
    assert summary["postgres"]["validator_requests_id"] == vid
    assert summary["postgres"]["rows"] == len(miners)
    assert Path(summary["parquet"]).is_file()
    # The CLI's save of the same calls (its replay of our recording) stores the same rows.
    subprocess.run([BIN, "replay", str(record), "--out", str(tmp_path / "cli"), "--postgres", theirs],
                   check=True, capture_output=True, timeout=120)
    a, b = rows_of(postgres, ours), rows_of(postgres, theirs)
    assert a == b
    assert a.count("\n") + 1 == len(miners)
    assert postgres.psql(ours, "SELECT request_time FROM validator_requests") .startswith("2026-12-04 10:00:00")


def test_forward_and_save_raises_when_the_database_is_down(validator_keypair, tmp_path):
    with fleet(verify=True) as request:
        request = short(request)
        with pytest.raises(synth_forward.SinkError, match="postgres") as err:
            synth_forward.forward_and_save(
                validator_keypair, "uuid-test", "203.0.113.9", axon_infos(request), synapse_for(request),
                TIMEOUT, miner_uids=[a["uid"] for a in request["axons"]],
                postgres="postgresql://postgres@127.0.0.1:1/none?connect_timeout=1",
                parquet_dir=tmp_path / "out", postgres_attempts=1,
            )
    # The other output is whole: the message says where the cycle is.
    kept = synth_forward.default_engine().last_summary["parquet"]
    assert kept in str(err.value) and Path(kept).is_file()


CANCEL_SCRIPT = textwrap.dedent("""
    import json, logging, signal, sys, time
    sys.path.insert(0, sys.argv[2])
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
    import synth_forward
    from conftest import axon_infos
    from test_forward import synapse_for, validator
    request = json.loads(open(sys.argv[1]).read())
    mode = sys.argv[3]
    if mode == "sigterm":
        def stop(signum, frame):
            raise SystemExit("terminated")
        signal.signal(signal.SIGTERM, stop)
    keypair = validator()
    engine = synth_forward.Engine()
    kwargs = {}
    if len(sys.argv) > 4:
        kwargs = dict(miner_uids=[a["uid"] for a in request["axons"]], postgres=sys.argv[4])
        call = engine.forward_and_save
    else:
        call = engine.sync_forward_multiprocess
    print("ready", flush=True)
    t = time.monotonic()
    try:
        call(keypair, "uuid-test", "203.0.113.9", axon_infos(request), synapse_for(request), 60.0, **kwargs)
        print("finished", flush=True)
    except BaseException as e:
        print("raised", type(e).__name__, round(time.monotonic() - t, 3), flush=True)
    # The engine is still good for the next cycle (the slowed fleet's miners miss its 1 s deadline).
    t = time.monotonic()
    out = engine.sync_forward_multiprocess(keypair, "uuid-test", "203.0.113.9", axon_infos(request),
                                           synapse_for(request), 1.0)
    print("next", len(out), round(time.monotonic() - t, 3), flush=True)
""")


def validator():
    """The throwaway validator hotkey as bittensor's Keypair (for the child processes)."""
    seed = json.loads((WALLET / "validator-hotkey.json").read_text())["secretSeed"]
    return bt.Keypair.create_from_seed(seed)


@pytest.mark.parametrize("how", ["sigint", "sigterm"])
def test_a_signal_in_the_host_cancels_the_cycle(how, tmp_path, postgres):
    url = postgres.database()
    script = tmp_path / "cancel.py"
    script.write_text(CANCEL_SCRIPT)
    # Miners answer after the recorded time × 50: the cycle is still waiting when the signal comes.
    with fleet(verify=True, time_scale=50.0) as request:
        postgres.add_miners(url, [(a["uid"], a["hotkey"]) for a in request["axons"]])
        req = tmp_path / "request.json"
        req.write_text(json.dumps(request))
        child = subprocess.Popen(
            [sys.executable, str(script), str(req), str(Path(__file__).parent), how, url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            # bittensor prints a line of its own when imported.
            while (line := child.stdout.readline()) and line.strip() != "ready":
                pass
            assert line.strip() == "ready"
            time.sleep(1.0)
            sent = time.monotonic()
            child.send_signal(signal.SIGINT if how == "sigint" else signal.SIGTERM)
            line = child.stdout.readline().split()
            waited = time.monotonic() - sent
            rest, err = child.communicate(timeout=60)
        finally:
            child.kill()
    expected = "KeyboardInterrupt" if how == "sigint" else "SystemExit"
    assert line[:2] == ["raised", expected], (line, err)
    assert waited < 2.0, waited
    word, rows, took = rest.split()
    assert word == "next" and int(rows) == len(request["axons"]) and 0.9 < float(took) < 5, (rest, err)
    # Logged through `logging`, under the package's logger.
    assert "synth_forward WARNING cycle cancelled" in err, err
    # The interrupted cycle was not committed.
    assert postgres.psql(url, "SELECT count(*) FROM validator_requests").strip() == "0"
    assert postgres.psql(url, "SELECT count(*) FROM miner_predictions").strip() == "0"


def test_fifty_cycles_grow_nothing(validator_keypair):
    engine = synth_forward.Engine()
    with fleet(verify=True) as request:
        request = short(request, 0.5)
        axons, synapse = axon_infos(request), synapse_for(request)

        def cycle():
            out = engine.sync_forward_multiprocess(
                validator_keypair, "uuid-test", "203.0.113.9", axons, synapse, 0.5, float32_output=True)
            assert sum(r[1] == "CORRECT" for r in out) > 0

        for _ in range(5):
            cycle()
        before = process_stats()
        for _ in range(45):
            cycle()
        after = process_stats()
    assert after["fds"] == before["fds"], (before, after)
    assert after["threads"] == before["threads"], (before, after)
    assert after["rss"] - before["rss"] < 32 << 20, (before, after)


def test_run_cycle_hands_the_columns_over(validator_keypair, tmp_path):
    with fleet(verify=True) as request:
        request = short(request)
        engine = synth_forward.Engine()
        before = pa.total_allocated_bytes()
        result = engine.run_cycle(request, validator_keypair, "203.0.113.9", record=tmp_path / "c.arrow")
        imported = pa.total_allocated_bytes() - before
    batch = result.batch
    assert isinstance(batch, pa.RecordBatch) and batch.num_rows == len(request["axons"])
    assert batch.column("uid").to_pylist() == sorted(a["uid"] for a in request["axons"])
    # The columns arrive through the C data interface: pyarrow's pool allocates nothing for them.
    assert batch.column("paths").values.values.nbytes > 500_000 and imported < 64_000
    counts = {}
    for v in batch.column("format_validation").to_pylist():
        counts[v] = counts.get(v, 0) + 1
    assert counts == result.summary["verdicts"] and result.summary["source"] == "live"
    # The recording replays to the same verdicts.
    assert synth_forward.replay(tmp_path / "c.arrow").summary["verdicts"] == counts
