"""The fixtures of conftest.py work: a cluster with the validator's schema, a listening fleet, a
real bittensor 10.0.1 Axon, bittensor's Keypair and AxonInfo for the throwaway wallet, and the
process counters. None of these needs synth_forward itself."""

import os
import socket
import subprocess
import threading

import bittensor as bt
import pyarrow as pa
import pytest

from conftest import BIN, SMALL, addresses, axon_infos, bt10_axon, fleet, keypair, process_stats


def test_the_cluster_has_the_schema_and_miners(postgres):
    url = postgres.database()
    assert url.startswith("postgresql://postgres@127.0.0.1:")
    tables = postgres.psql(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    assert "miner_predictions" in tables.split("\n")
    assert "validator_requests" in tables.split("\n")
    assert postgres.psql(url, "SELECT count(*) FROM miner_predictions") == "0"
    postgres.add_miners(url, [(3, "5Hk'quote"), (7, "hk7")])
    rows = postgres.psql(url, "SELECT miner_uid, hotkey, coldkey IS NULL FROM miners ORDER BY miner_uid")
    assert rows == "3|5Hk'quote|t\n7|hk7|t"
    # Each call is a fresh database.
    other = postgres.database()
    assert other != url and postgres.psql(other, "SELECT count(*) FROM miners") == "0"
    with pytest.raises(RuntimeError, match="no_such_table"):
        postgres.psql(url, "SELECT * FROM no_such_table")


def recorded_errors(recording=SMALL):
    """uid -> the recorded call error ("connect", "timeout", ...) of a cycle recording."""
    with pa.memory_map(str(recording)) as f:
        table = pa.ipc.open_file(f).read_all()
    return dict(zip(table.column("uid").to_pylist(), table.column("error").to_pylist()))


def accepts(ip, port):
    try:
        with socket.create_connection((ip, port), timeout=5):
            return True
    except ConnectionRefusedError:
        return False


def test_the_cli_saves_into_a_fixture_database(postgres, tmp_path):
    # The URL is one tokio-postgres accepts, and add_miners' rows are the ones the save looks up.
    url = postgres.database()
    with pa.memory_map(str(SMALL)) as f:
        table = pa.ipc.open_file(f).read_all()
    postgres.add_miners(url, zip(table.column("uid").to_pylist(), table.column("hotkey").to_pylist()))
    out = subprocess.run([BIN, "replay", str(SMALL), "--out", str(tmp_path), "--postgres", url],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert postgres.psql(url, "SELECT count(*) FROM miner_predictions") == str(table.num_rows)
    assert postgres.psql(url, "SELECT count(*) FROM miner_predictions p JOIN miners m ON m.id = p.miner_id "
                              "WHERE m.miner_uid = p.miner_uid") == str(table.num_rows)


def test_the_fleet_listens_where_its_request_says():
    errors = recorded_errors()
    with fleet(verify=True) as request:
        axons = request["axons"]
        assert sorted(a["uid"] for a in axons) == sorted(errors)
        assert request["simulation_input"]["asset"]
        assert request["timeout_s"] > 0 and "protocol" in request
        for a in axons:
            assert a["ip"] == "127.0.0.1" and a["hotkey"]
            # Every miner listens but those recorded as unreachable, whose port refuses.
            assert accepts(a["ip"], a["port"]) == (errors[a["uid"]] != "connect"), a
        port = next(a["port"] for a in axons if errors[a["uid"]] != "connect")
    # Stopped on the way out: nothing listens there any more.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_the_fleet_takes_rules_and_faults():
    with fleet(SMALL, verify=False, rules="v3", faults={}) as request:
        assert request["rules"] == "v3"


def test_the_fleet_reports_a_bad_recording(tmp_path):
    bad = tmp_path / "bad.cycle.arrow"
    bad.write_bytes(b"not arrow")
    with pytest.raises(RuntimeError, match="exited"):
        with fleet(bad):
            pass


def test_the_keypair_signs_and_verifies(validator_keypair):
    want = addresses()["validator"]
    assert validator_keypair.ss58_address == want["hotkey_ss58"]
    message = b"nonce.dendrite.axon.uuid.hash"
    signature = validator_keypair.sign(message)
    assert len(signature) == 64
    assert validator_keypair.verify(message, signature)
    assert not validator_keypair.verify(message + b"!", signature)
    # Anyone holding only the address checks it the same way.
    public = bt.Keypair(ss58_address=want["hotkey_ss58"])
    assert public.verify(message, signature)
    assert keypair("miner").ss58_address == addresses()["miner"]["hotkey_ss58"]


def test_axon_infos_read_back_the_request():
    request = {"axons": [{"uid": 5, "ip": "127.0.0.1", "port": 40001, "hotkey": "5Hot"},
                         {"uid": 2, "ip": "127.0.0.1", "port": 40002, "hotkey": "5Two"}]}
    infos = axon_infos(request)
    assert [type(i) for i in infos] == [bt.AxonInfo, bt.AxonInfo]
    assert [(i.ip, i.port, i.hotkey, i.ip_type) for i in infos] == [
        ("127.0.0.1", 40001, "5Hot", 4), ("127.0.0.1", 40002, "5Two", 4)]
    assert infos[0].version == 10_000_001 and infos[0].is_serving


def test_a_real_bittensor_10_axon_starts():
    with bt10_axon() as axon:
        assert axon["bittensor"] == "10.0.1"
        assert axon["hotkey"] == addresses()["miner"]["hotkey_ss58"]
        for port in (axon["port"], axon["tamper_port"]):
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass
        port = axon["port"]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_process_stats_count_what_we_open():
    before = process_stats()
    assert before["fds"] >= 3 and before["threads"] >= 1 and before["rss"] > 1 << 20
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    r, w = os.pipe()
    thread.start()
    try:
        during = process_stats()
    finally:
        stop.set()
        thread.join(5)
        os.close(r)
        os.close(w)
    assert during["fds"] == before["fds"] + 2
    assert during["threads"] == before["threads"] + 1
    assert process_stats()["fds"] == before["fds"]
