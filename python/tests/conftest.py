"""Fixtures that drive the package against real parts on loopback: a throwaway PostgreSQL cluster,
the fake-miner fleet (`synth-forward serve`), a real bittensor 10.0.1 Axon, and bittensor's own
`Keypair` and `AxonInfo` objects for the throwaway wallet of ../shared/wire-samples.

Everything listens on 127.0.0.1 only, every wait is bounded, and every process and temp folder
started here is stopped and deleted on the way out, a failing test's included.

bittensor is imported inside the helpers that need it, so the suite's other tests (and a conftest
imported by a child interpreter) do not depend on it.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The CLI binary: scripts/test-python.sh exports the one `cargo build` just made.
BIN = os.environ.get("SYNTH_FORWARD_BIN", str(ROOT / "target" / "debug" / "synth-forward"))
SMALL = ROOT / "fixtures" / "small.cycle.arrow"
# The throwaway test wallet (../shared/wire-samples/README.md): unencrypted hotkey keyfiles and
# the addresses they must give.
WALLET = ROOT.parent / "shared" / "wire-samples" / "wallet"
SCHEMA = ROOT.parent / "shared" / "upstream-db" / "schema.sql"
BT10_AXON = ROOT / "tests" / "interop" / "bt10_axon.py"


def free_port() -> int:
    """A loopback port nobody listens on right now (the kernel's pick, released at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path, limit=4000) -> str:
    """The end of a log file, for error messages (empty when it is missing)."""
    try:
        return Path(path).read_text(errors="replace")[-limit:]
    except OSError:
        return ""


# --- PostgreSQL ------------------------------------------------------------------------------


def _pg_bindir() -> Path | None:
    """The server binaries: `$SYNTH_FORWARD_PG_BINDIR`, else the newest Debian
    `/usr/lib/postgresql/<version>/bin` (`.ci/run` installs the `postgresql` package), else None
    (then `PATH`), like tests/common/postgres.rs."""
    if os.environ.get("SYNTH_FORWARD_PG_BINDIR"):
        return Path(os.environ["SYNTH_FORWARD_PG_BINDIR"])
    found = [p / "bin" for p in Path("/usr/lib/postgresql").glob("*") if (p / "bin" / "initdb").is_file()]
    # Numeric order: 9.6 < 10 < 15.
    found.sort(key=lambda p: [int(x) if x.isdigit() else 0 for x in p.parent.name.split(".")])
    return found[-1] if found else None


class Postgres:
    """A throwaway cluster in a temp folder, on 127.0.0.1 at a free port (and a Unix socket in the
    folder), trust authentication, fsync off. PostgreSQL refuses to run as root, so under root the
    cluster belongs to the `postgres` user the Debian package creates and every server command runs
    as that user (`runuser`); psql, a client, runs as we are and connects over TCP."""

    def __init__(self):
        self.bin = _pg_bindir()
        initdb = self._exe("initdb")
        if shutil.which(initdb) is None:
            raise RuntimeError("no PostgreSQL server: install Debian's `postgresql` package (.ci/run does) "
                               "or set SYNTH_FORWARD_PG_BINDIR")
        self.as_postgres = os.geteuid() == 0
        self.dir = Path(tempfile.mkdtemp(prefix="synth-pg-"))
        self.port = 0
        self._databases = 0
        self._lock = threading.Lock()

    def _exe(self, tool) -> str:
        return str(self.bin / tool) if self.bin else tool

    def _server(self, tool, *args, timeout=120) -> subprocess.CompletedProcess:
        """Runs a server tool (as `postgres` under root); raises with its output on failure."""
        cmd = [self._exe(tool), *map(str, args)]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if out.returncode != 0:
            raise RuntimeError(f"{tool} failed ({out.returncode}): {out.stdout}{out.stderr}"
                               f"{_tail(self.dir / 'server.log')}")
        return out

    @property
    def data(self) -> Path:
        return self.dir / "data"

    def start(self) -> None:
        """initdb, then the server; a few ports are tried in case another process takes the free
        port between our probe and the server's bind."""
        if self.as_postgres:
            subprocess.run(["chown", "-R", "postgres:postgres", str(self.dir)], check=True, timeout=30)
        self._server("initdb", "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale", "C",
                     "-D", self.data)
        for attempt in range(3):
            self.port = free_port()
            opts = f"-k {self.dir} -c listen_addresses=127.0.0.1 -p {self.port} -F -c max_connections=40"
            try:
                self._server("pg_ctl", "-D", self.data, "-o", opts, "-l", self.dir / "server.log",
                             "-w", "-t", "60", "start", timeout=90)
                return
            except RuntimeError:
                if attempt == 2:
                    raise

    def stop(self) -> None:
        """Stops the server at once (`immediate`: connections cut, as in a crash). Goes by the
        postmaster's pid file, so a server whose start timed out is stopped too."""
        if (self.data / "postmaster.pid").exists():
            self._server("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "-t", "30", "stop", timeout=60)

    def close(self) -> None:
        """Stops the server (if it runs) and deletes the cluster; never raises."""
        try:
            self.stop()
        except Exception as e:  # teardown must go on: the folder still goes
            print(f"postgres: stop failed: {e}", file=sys.stderr)
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, db="postgres") -> str:
        """A TCP URL of database `db`, the form tokio-postgres (and psql) accept."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def database(self) -> str:
        """A fresh database holding the validator's schema (../shared/upstream-db/schema.sql); its URL."""
        with self._lock:
            name = f"synth_{self._databases}"
            self._databases += 1
        self.psql(self.url(), f"CREATE DATABASE {name};")
        url = self.url(name)
        self.psql(url, SCHEMA.read_text())
        return url

    def psql(self, url: str, sql: str, timeout: float = 60) -> str:
        """Runs `sql` in the database at `url` with `psql -At` (stops at the first error) and
        returns its unaligned, tuples-only output, the last newline removed (rows are joined by
        "\\n"). Raises RuntimeError with psql's stderr on failure."""
        # The SQL goes in on stdin: a large literal (the schema) would pass the argument-size limit.
        out = subprocess.run(
            [self._exe("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", "-"],
            input=sql, capture_output=True, text=True, timeout=timeout,
            env={**os.environ, "PGCONNECT_TIMEOUT": "10"},
        )
        if out.returncode != 0:
            raise RuntimeError(f"psql failed ({out.returncode}) in {url}: {out.stderr}")
        return out.stdout.removesuffix("\n")

    def add_miners(self, url: str, uids_and_hotkeys) -> None:
        """One `miners` row per (uid, hotkey): `id` comes from its sequence, `coldkey` stays NULL,
        `created_at`/`updated_at` take their defaults (the save looks miners up by uid)."""
        rows = [f"({int(uid)}, {_sql_text(hotkey)})" for uid, hotkey in uids_and_hotkeys]
        if rows:
            self.psql(url, f"INSERT INTO miners (miner_uid, hotkey) VALUES {', '.join(rows)};")


def _sql_text(value) -> str:
    """A SQL string literal (standard_conforming_strings is on: only quotes are doubled)."""
    return "'" + str(value).replace("'", "''") + "'"


@pytest.fixture(scope="session")
def postgres():
    """One throwaway cluster for the session; `database()` gives each test its own database."""
    pg = Postgres()
    try:
        pg.start()
        yield pg
    finally:
        pg.close()


# --- the fake-miner fleet --------------------------------------------------------------------


def _stop(proc: subprocess.Popen, how=signal.SIGTERM, grace: float = 10) -> None:
    """Signals `proc` (if it still runs) and waits; kills it after `grace` seconds."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(how)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@contextlib.contextmanager
def fleet(recording=SMALL, verify=True, time_scale=0.0, faults=None, rules=None):
    """`synth-forward serve RECORDING` in the background: a fake miner per recorded uid on
    127.0.0.1, answering as recorded (× `time_scale`; 0 answers at once). `verify` makes it check
    every request's signature, receiver and nonce (401 on a bad one). `faults` is a dict
    {uid: fault} or a path to such a JSON file; `rules` overrides the request's rule set.

    Yields the cycle request the fleet writes once it listens (`axons` [{uid, ip, port, hotkey}],
    `simulation_input`, `timeout_s`, `protocol`, `rules`); stops the fleet (SIGTERM, then kill
    after 10 s) and deletes its folder on exit. Raises when the fleet does not come up within 30 s,
    or dies before the block ends."""
    tmp = Path(tempfile.mkdtemp(prefix="synth-fleet-"))
    proc = None
    try:
        out = tmp / "request.json"
        log = tmp / "serve.log"
        args = [BIN, "serve", str(recording), "--request-out", str(out), "--time-scale", str(time_scale)]
        if verify:
            args.append("--verify")
        if faults is not None:
            if isinstance(faults, dict):
                path = tmp / "faults.json"
                path.write_text(json.dumps({str(k): v for k, v in faults.items()}))
                faults = path
            args += ["--faults", str(faults)]
        if rules is not None:
            args += ["--rules", rules]
        # Its log goes to a file: a pipe nobody reads would stall the fleet once full.
        with open(log, "wb") as logf:
            proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT)
        request = None
        deadline = time.monotonic() + 30
        while request is None:
            if proc.poll() is not None:
                raise RuntimeError(f"the fleet exited ({proc.returncode}) before writing its request:\n{_tail(log)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the fleet wrote no request within 30 s:\n{_tail(log)}")
            try:
                # The file is written atomically (a rename): present means whole.
                request = json.loads(out.read_text())
            except (FileNotFoundError, json.JSONDecodeError):
                time.sleep(0.05)
        yield request
        if proc.poll() is not None:
            raise RuntimeError(f"the fleet died during the test ({proc.returncode}):\n{_tail(log)}")
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


# --- a real bittensor 10.0.1 Axon ------------------------------------------------------------


def bt10_python() -> str:
    """The bittensor 10.0.1 interpreter (scripts/setup-bt-venvs.sh makes `.venv-bt10`)."""
    return os.environ.get("SYNTH_FORWARD_BT10_PYTHON", str(ROOT / ".venv-bt10" / "bin" / "python"))


@contextlib.contextmanager
def bt10_axon():
    """tests/interop/bt10_axon.py: a real bittensor 10.0.1 Axon of the throwaway miner hotkey on
    loopback, serving Synth's `Simulation` synapse (paths of 8-significant-digit prices).

    Yields its ready line as a dict: `port` (the Axon), `tamper_port` (the relay that also sends
    tampered, replayed and unsigned copies), `hotkey` (the miner's ss58), `bittensor` (its
    version), plus `events`, a queue.Queue of the later stdout lines (`{"event": "relay",
    "statuses": {...}}` per relayed request). Raises when it is not ready within 60 s (bittensor's
    import alone takes seconds). On exit closes its stdin (it then stops) and waits; kills it after
    15 s."""
    tmp = Path(tempfile.mkdtemp(prefix="synth-bt10-"))
    proc = None
    try:
        log = tmp / "axon.log"
        with open(log, "wb") as logf:
            proc = subprocess.Popen(
                [bt10_python(), str(BT10_AXON), str(WALLET / "miner-hotkey.json")],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=logf, text=True, cwd=tmp,
                # Its temp wallet goes in our folder: deleted here even when it has to be killed.
                env={**os.environ, "TMPDIR": str(tmp)},
            )
        events = queue.Queue()

        # A reader thread: readline alone cannot time out, and the relay's later lines must be
        # read so the pipe never fills. It ends at EOF (the process gone).
        def read(stdout=proc.stdout):
            for line in stdout:
                try:
                    events.put(json.loads(line))
                except json.JSONDecodeError:
                    events.put({"event": "unparsed", "line": line})
            events.put(None)

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + 60
        while True:
            try:
                event = events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(f"the bittensor 10 Axon was not ready within 60 s:\n{_tail(log)}") from None
            if event is None:
                proc.wait(10)
                raise RuntimeError(f"the bittensor 10 Axon exited ({proc.returncode}) before ready:\n{_tail(log)}")
            if event.get("event") == "ready":
                break
        yield {**event, "events": events}
    finally:
        if proc is not None:
            # Closing stdin is its stop signal; a kill is the fallback.
            with contextlib.suppress(OSError):
                proc.stdin.close()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            proc.stdout.close()
        shutil.rmtree(tmp, ignore_errors=True)


# --- bittensor's Keypair and AxonInfo --------------------------------------------------------


def addresses() -> dict:
    """../shared/wire-samples/wallet/addresses.json: ss58 and public keys of the throwaway wallet."""
    return json.loads((WALLET / "addresses.json").read_text())


def keypair(who: str = "validator"):
    """A real `bittensor.Keypair` (bittensor_wallet's) of a throwaway hotkey, `who` = "validator"
    or "miner". The keyfile is bittensor's unencrypted JSON (secretPhrase, secretSeed, privateKey,
    publicKey, ss58Address, ...): the 32-byte `secretSeed` recreates the pair (`privateKey` is the
    64-byte expanded sr25519 key; `create_from_private_key` of it gives the same pair)."""
    import bittensor as bt

    keyfile = json.loads((WALLET / f"{who}-hotkey.json").read_text())
    pair = bt.Keypair.create_from_seed(keyfile["secretSeed"])
    want = addresses()[who]
    assert pair.ss58_address == want["hotkey_ss58"] == keyfile["ss58Address"], (pair.ss58_address, want)
    assert "0x" + pair.public_key.hex() == want["hotkey_public_key"]
    return pair


@pytest.fixture(scope="session")
def validator_keypair():
    """The throwaway validator hotkey as bittensor's `Keypair` (its address checked)."""
    return keypair("validator")


def axon_infos(request) -> list:
    """Real `bittensor.AxonInfo` objects for the request's axons, in request order: bittensor
    10.0.1's version, the axon's ip, port and hotkey, ip_type 4. The request carries no coldkey
    (nothing on the wire uses it); the hotkey stands in, unless the axon names one."""
    import bittensor as bt
    from bittensor.core.settings import version_as_int

    return [
        bt.AxonInfo(version=version_as_int, ip=a["ip"], port=int(a["port"]), ip_type=4,
                    hotkey=a["hotkey"], coldkey=a.get("coldkey", a["hotkey"]))
        for a in request["axons"]
    ]


# --- this process's resources ----------------------------------------------------------------


def process_stats() -> dict:
    """This process's open file descriptors (`fds`), threads (`threads`) and resident memory in
    bytes (`rss`), from /proc/self: compared before and after many cycles to show nothing grows."""
    # The listing's own descriptor is counted every time alike.
    fds = len(os.listdir("/proc/self/fd"))
    status = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        status[key] = value.split()
    return {"fds": fds, "threads": int(status["Threads"][0]), "rss": int(status["VmRSS"][0]) * 1024}


# --- A small cycle dataset and its prices (scoring) ----------------------------------------


def run_cli(*args) -> dict:
    """Runs the CLI, returns its summary line (the last line of stdout); fails on a non-zero exit."""
    out = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"{args}: {out.stderr[-2000:]}"
    return json.loads(out.stdout.strip().splitlines()[-1])


#: The cycles of :func:`cycle_dataset`: asset, start time, seed (the small preset, 1 h prompt).
DATASET_CYCLES = [
    ("BTC", "2026-11-24T12:01:00+00:00", 1),
    ("BTC", "2026-11-24T13:01:00+00:00", 2),
    ("ETH", "2026-11-24T12:01:00+00:00", 3),
    ("BTC", "2026-11-25T00:01:00+00:00", 4),
]


@pytest.fixture(scope="session")
def cycle_dataset(tmp_path_factory):
    """Four small cycles (two assets, two dates) replayed into one folder, a price CSV covering
    them (BTC with a gap), and the CLI's scores of them: ``(out, table, prices, scores_table)``."""
    base = tmp_path_factory.mktemp("dataset")
    out = base / "out"
    for asset, start, seed in DATASET_CYCLES:
        rec = base / f"{asset}-{seed}.cycle.arrow"
        run_cli("fixture", "--preset", "small", "--seed", seed, "--start-time", start, "--asset", asset, "--out", rec)
        run_cli("replay", rec, "--out", out)
    prices = base / "prices.csv"
    lines = ["asset,timestamp,price"]
    for asset, level in (("BTC", 91234.56), ("ETH", 3012.34)):
        p = level
        start = 1_795_521_600
        for k in range(0, 26 * 60 + 10):
            t = start + 60 * k
            p *= 1 + ((k * 7919) % 13 - 6) * 1e-4
            missing = asset == "BTC" and 20 <= k < 26
            lines.append(f"{asset},{t}," + ("" if missing else f"{round(p, 2)}"))
    prices.write_text("\n".join(lines) + "\n")
    summary = run_cli("score", out, "--prices", prices, "--out", out)
    assert summary["cycles_scored"] == len(DATASET_CYCLES), summary
    table = out / "layout-2" / "3600_60_100_f64"
    scores = out / "layout-2" / "scores_median10x-cap-p95-fill"
    return out, table, prices, scores
