"""The forward phase of a Bittensor Synth (subnet 50) validator cycle, from a Rust core.

The package is a thin layer over the ``synth-forward`` Rust crate (``synth_forward._native``):
cycles run on a long-lived :class:`Engine` (one I/O runtime, one HTTP client, one decode pool per
process), with the GIL released for the whole cycle.

For a validator, one import swaps its forward phase::

    # from synth.base.dendrite_multiprocess import sync_forward_multiprocess
    from synth_forward import sync_forward_multiprocess

:func:`sync_forward_multiprocess` takes upstream's arguments and returns upstream's value, in
``axons`` order. :func:`forward_and_save` also writes the validator's Postgres rows (and a Parquet
file) in the same pass and returns the ``validator_requests`` id. :meth:`Engine.run_cycle` and
:func:`replay` give the cycle's columns as a :class:`pyarrow.RecordBatch` through the Arrow C data
interface, without a copy.

Signing: each miner's request is signed by calling the validator's own ``keypair.sign(message)``
(the same call upstream makes, once per axon, before any traffic). The secret key is never read,
copied or kept by this package; a keypair backed by a hardware or remote signer works unchanged.

Interrupting: Ctrl-C (or a SIGTERM handler that raises) cancels the cycle cleanly, then the host's
exception propagates; the package installs no signal handler. Logs go to the ``synth_forward``
logger of :mod:`logging`.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
import uuid as _uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

import pyarrow as pa

from . import _native
from ._native import CancelledError, RequestError, SinkError, SynthForwardError, __version__

__all__ = [
    "CancelledError",
    "CycleResult",
    "Engine",
    "NORMALISATION",
    "Prices",
    "RequestError",
    "ScoreResult",
    "SinkError",
    "SynthForwardError",
    "__version__",
    "default_engine",
    "forward_and_save",
    "load_prices",
    "normalise_arrow",
    "replay",
    "score",
    "score_arrow",
    "sync_forward_multiprocess",
]

PathLike = Union[str, "os.PathLike[str]"]

#: The environment variable :func:`forward_and_save` reads when ``postgres`` is not given.
POSTGRES_ENV = "SYNTH_FORWARD_POSTGRES"


@dataclass(frozen=True)
class CycleResult:
    """One cycle's output: every queried miner's row, and the cycle's summary.

    ``batch`` has one row per miner, sorted by uid, in the output schema (``schemas/output.md``:
    ``uid``, ``hotkey``, ``format_validation``, ``process_time_s``, …, ``paths`` as a
    fixed-size list of fixed-size lists of float64, null unless the verdict is ``CORRECT``).
    ``summary`` is the cycle's summary (``schemas/summary.md``) as a dict.
    """

    batch: pa.RecordBatch
    summary: Dict[str, Any]


def _signer(keypair: Any) -> Callable[[str], str]:
    # Upstream's dendrite: `"0x" + keypair.sign(message).hex()`.
    sign = keypair.sign

    def signature(message: str) -> str:
        return "0x" + bytes(sign(message)).hex()

    return signature


def _text(value: Any) -> str:
    # A datetime (a start or request time) in ISO 8601, as upstream's models print it.
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _request_json(
    axons: Sequence[Any],
    synapse: Any,
    timeout: float,
    rules: str,
    uids: Optional[Sequence[int]],
    request_time: Any = None,
) -> str:
    si = synapse.simulation_input
    if uids is None:
        uids = range(len(axons))
    elif len(uids) != len(axons):
        raise RequestError(f"{len(uids)} miner uids for {len(axons)} axons")
    request: Dict[str, Any] = {
        "simulation_input": {
            "asset": str(si.asset),
            "start_time": _text(si.start_time),
            "time_increment": int(si.time_increment),
            "time_length": int(si.time_length),
            "num_simulations": int(si.num_simulations),
        },
        "timeout_s": float(timeout),
        "protocol": "synapse",
        "rules": rules,
        # bittensor's AxonInfo, read by attribute (the package never imports bittensor).
        "axons": [
            {"uid": int(uid), "ip": str(a.ip), "port": int(a.port), "hotkey": str(a.hotkey)}
            for uid, a in zip(uids, axons)
        ],
    }
    if request_time is not None:
        request["request_time"] = _text(request_time)
    return json.dumps(request)


class Engine:
    """The long-lived engine: make one per process and reuse it for every cycle.

    ``threads`` sizes the decode pool (default: one per core). Cycles on one engine grow no
    thread, socket or file descriptor from cycle to cycle.
    """

    def __init__(self, threads: Optional[int] = None) -> None:
        self._native = _native.Engine(threads)
        self._last_summary: Optional[Dict[str, Any]] = None

    @property
    def last_summary(self) -> Optional[Dict[str, Any]]:
        """The summary (``schemas/summary.md``) of the last cycle this engine ran, as a dict:
        verdict counts, bytes, and timings (``timings_ms.network``, ``after_network``, …)."""
        return self._last_summary

    def replay(self, path: PathLike, rules: Optional[str] = None) -> CycleResult:
        """Replays a recorded cycle (``.cycle.arrow``) and returns its rows and summary.

        ``rules`` (``"v2"`` or ``"v3"``) judges the replies by those rules instead of the ones
        the recording was made under. Raises :class:`RequestError` for a missing or malformed
        recording or a bad option.
        """
        batch, summary = self._native.replay(os.fspath(path), rules)
        self._last_summary = json.loads(summary)
        return CycleResult(batch, self._last_summary)

    def _forward(
        self,
        request_json: str,
        keypair: Any,
        uuid: str,
        external_ip: str,
        **options: Any,
    ) -> tuple:
        results, batch, summary = self._native.forward(
            request_json,
            str(keypair.ss58_address),
            time.time_ns(),
            str(uuid),
            str(external_ip),
            _signer(keypair),
            **options,
        )
        self._last_summary = json.loads(summary)
        return results, batch, self._last_summary

    def run_cycle(
        self,
        request: Union[Mapping[str, Any], str],
        keypair: Any,
        external_ip: str,
        uuid: Optional[str] = None,
        *,
        parquet_dir: Optional[PathLike] = None,
        postgres: Optional[str] = None,
        record: Optional[PathLike] = None,
    ) -> CycleResult:
        """Runs one live cycle from a cycle request (``schemas/cycle-request.md``, a dict or its
        JSON; the synapse protocol) and returns every miner's row as a record batch.

        ``keypair`` is the validator's (anything with ``ss58_address`` and ``sign(message)``);
        ``uuid`` its dendrite's UUID (default: a fresh one). Optionally also writes the cycle's
        Parquet file under ``parquet_dir``, its Postgres rows (``postgres``, a libpq URL) and a
        recording (``record``).
        """
        text = request if isinstance(request, str) else json.dumps(dict(request))
        _, batch, summary = self._forward(
            text,
            keypair,
            uuid or str(_uuid.uuid4()),
            external_ip,
            keep_batch=True,
            parquet_dir=_path(parquet_dir),
            postgres=postgres,
            record=_path(record),
        )
        return CycleResult(batch, summary)

    def sync_forward_multiprocess(
        self,
        keypair: Any,
        uuid: str,
        external_ip: str,
        axons: Sequence[Any],
        synapse: Any,
        timeout: float,
        nprocs: int = 2,
        float32_output: bool = False,
        *,
        rules: str = "v3",
        uids: Optional[Sequence[int]] = None,
        parquet_dir: Optional[PathLike] = None,
        record: Optional[PathLike] = None,
    ) -> List[list]:
        """Upstream's ``sync_forward_multiprocess`` (``synth.base.dendrite_multiprocess``): asks
        every axon, judges each reply, and returns one result per axon, in ``axons`` order.

        With ``rules="v3"`` (today's validator) each result is ``[output, format_validation,
        process_time]``: ``output`` is the reply's value as upstream's ``Simulation`` holds it —
        a tuple ``(start, increment, [price, …], …)`` of Python ints and floats — for a CORRECT
        miner, or with ``float32_output=True`` upstream's ``encode_paths`` blob (``bytes``), and
        ``None`` for every other miner; ``format_validation`` is the verdict exactly as the
        validator stores it; ``process_time`` is ``str`` of the call's seconds, ``None`` when the
        reply never arrived. ``rules="v2"`` gives the older ``[output, process_time]``, whose
        caller validates each output itself: there a reply that arrived but is not CORRECT is
        handed back too, as ``type(synapse)(**reply_json).simulation_output`` (what upstream's
        dendrite kept), so the caller's verdict is the one this engine found.

        ``axons`` are bittensor ``AxonInfo`` objects (``ip``, ``port`` and ``hotkey`` are read);
        ``synapse`` is upstream's ``Simulation`` (its ``simulation_input`` is read). ``nprocs`` is
        accepted for the signature and ignored: the engine's pool does the work. ``uids`` names
        the rows of the cycle's batch and Parquet file (default: 0, 1, …); ``parquet_dir`` and
        ``record`` also keep the cycle.
        """
        del nprocs
        form = _form(rules)
        results, _, _ = self._forward(
            _request_json(axons, synapse, timeout, rules, uids),
            keypair,
            uuid,
            external_ip,
            results=form,
            float32=bool(float32_output),
            # The older form's caller re-validates every value: a reply that is not CORRECT is
            # handed back as the caller's own synapse class makes it from the body, as upstream.
            synapse_class=type(synapse),
            parquet_dir=_path(parquet_dir),
            record=_path(record),
        )
        return results

    def forward_and_save(
        self,
        keypair: Any,
        uuid: str,
        external_ip: str,
        axons: Sequence[Any],
        synapse: Any,
        timeout: float,
        *,
        miner_uids: Sequence[int],
        request_time: Union[datetime, str, None] = None,
        postgres: Optional[str] = None,
        parquet_dir: Optional[PathLike] = None,
        rules: str = "v3",
        postgres_attempts: int = 3,
        postgres_backoff: float = 2.0,
        record: Optional[PathLike] = None,
    ) -> int:
        """Forward, verdicts, the Parquet file and the validator's Postgres rows in one pass:
        what ``sync_forward_multiprocess`` followed by upstream's ``save_responses`` store, and
        returns the new ``validator_requests`` id (the caller then only publishes it).

        ``miner_uids[i]`` is the uid of ``axons[i]``; ``request_time`` is what
        ``validator_requests.request_time`` stores (default: the cycle's start). ``postgres`` is
        a libpq URL (default: ``$SYNTH_FORWARD_POSTGRES``). Rows are streamed into the database
        while miners are still answering and committed whole once every miner is judged; a
        failed save is retried (``postgres_attempts`` in all, from the Parquet file when one is
        written). Raises :class:`SinkError` when the rows could not be committed — the Parquet
        file, if any, still holds the cycle (``synth-forward load FILE --postgres URL`` stores it
        later) — and the host's exception when it interrupted the cycle (nothing is committed).
        """
        url = postgres if postgres is not None else os.environ.get(POSTGRES_ENV)
        if not url:
            raise RequestError(f"forward_and_save needs postgres= (or ${POSTGRES_ENV})")
        _, _, summary = self._forward(
            _request_json(axons, synapse, timeout, rules, miner_uids, request_time),
            keypair,
            uuid,
            external_ip,
            parquet_dir=_path(parquet_dir),
            postgres=url,
            postgres_attempts=int(postgres_attempts),
            postgres_backoff=float(postgres_backoff),
            record=_path(record),
        )
        # Each sink's output sits under its name in the summary; a failed one under `sink_errors`.
        saved = summary.get("postgres")
        if not saved:
            error = summary.get("sink_errors", {}).get("postgres", "no rows were committed")
            kept = summary.get("parquet")
            where = f"; the cycle is in {kept}" if kept else ""
            raise SinkError(f"postgres: {error}{where}")
        return int(saved["validator_requests_id"])


def _form(rules: str) -> str:
    if rules == "v3":
        return "today"
    if rules == "v2":
        return "older"
    raise RequestError(f"rules: {rules!r} is not 'v2' or 'v3'")


def _path(p: Optional[PathLike]) -> Optional[str]:
    return None if p is None else os.fspath(p)


_default: Optional[Engine] = None
_default_lock = threading.Lock()


def default_engine() -> Engine:
    """The process's shared engine, made on first use (what the module-level functions use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Engine()
        return _default


def replay(path: PathLike, rules: Optional[str] = None) -> CycleResult:
    """:meth:`Engine.replay` on the :func:`default_engine`."""
    return default_engine().replay(path, rules)


def sync_forward_multiprocess(
    keypair: Any,
    uuid: str,
    external_ip: str,
    axons: Sequence[Any],
    synapse: Any,
    timeout: float,
    nprocs: int = 2,
    float32_output: bool = False,
    *,
    rules: str = "v3",
    uids: Optional[Sequence[int]] = None,
    parquet_dir: Optional[PathLike] = None,
    record: Optional[PathLike] = None,
) -> List[list]:
    """:meth:`Engine.sync_forward_multiprocess` on the :func:`default_engine`: upstream's
    signature and return value, a drop-in for ``synth.base.dendrite_multiprocess``'s."""
    return default_engine().sync_forward_multiprocess(
        keypair, uuid, external_ip, axons, synapse, timeout, nprocs, float32_output,
        rules=rules, uids=uids, parquet_dir=parquet_dir, record=record,
    )


def forward_and_save(
    keypair: Any,
    uuid: str,
    external_ip: str,
    axons: Sequence[Any],
    synapse: Any,
    timeout: float,
    *,
    miner_uids: Sequence[int],
    request_time: Union[datetime, str, None] = None,
    postgres: Optional[str] = None,
    parquet_dir: Optional[PathLike] = None,
    rules: str = "v3",
    postgres_attempts: int = 3,
    postgres_backoff: float = 2.0,
    record: Optional[PathLike] = None,
) -> int:
    """:meth:`Engine.forward_and_save` on the :func:`default_engine`."""
    return default_engine().forward_and_save(
        keypair, uuid, external_ip, axons, synapse, timeout,
        miner_uids=miner_uids, request_time=request_time, postgres=postgres, parquet_dir=parquet_dir,
        rules=rules, postgres_attempts=postgres_attempts, postgres_backoff=postgres_backoff, record=record,
    )


# ---------------------------------------------------------------------------------------------
# Scoring: the validator's CRPS and prompt scores, bit for bit (schemas/scores.md).

#: Today's prompt-score normalisation; ``"p90-cap"`` selects the older one.
NORMALISATION = "median10x-cap-p95-fill"

Prices = _native.Prices

PricesLike = Union["_native.Prices", pa.Table, pa.RecordBatch, PathLike, Sequence[PathLike]]


def load_prices(prices: PricesLike, asset: Optional[str] = None) -> "_native.Prices":
    """Real prices (``schemas/prices.md``) from a :class:`Prices`, a pyarrow table or batch with
    ``asset``/``timestamp``/``price`` columns, or price files (CSV or Parquet). ``asset`` names the
    asset of rows without an ``asset`` column. Files are read once per process while unchanged."""
    if isinstance(prices, _native.Prices):
        return prices
    if isinstance(prices, pa.Table):
        return _native.Prices.from_arrow(prices.to_batches(), asset)
    if isinstance(prices, pa.RecordBatch):
        return _native.Prices.from_arrow([prices], asset)
    files = [prices] if isinstance(prices, (str, os.PathLike)) else list(prices)
    names = [(f"{asset}={os.fspath(f)}" if asset else os.fspath(f)) for f in files]
    stamps = tuple(os.stat(os.fspath(f)).st_mtime_ns for f in files)
    return _prices_from_files(tuple(names), stamps)


@functools.lru_cache(maxsize=8)
def _prices_from_files(names: tuple, _stamps: tuple) -> "_native.Prices":
    return _native.Prices.load(list(names))


def score_arrow(
    batch: Union[pa.RecordBatch, pa.Table],
    prices: PricesLike,
    *,
    asset: Optional[str] = None,
    normalisation: str = NORMALISATION,
    whole_cycles: bool = True,
) -> pa.RecordBatch:
    """The validator's scores of cycle rows in Arrow: each miner's total CRPS and its
    ``crps_data``, and (with ``whole_cycles``) each cycle's prompt scores.

    ``batch`` holds rows of one or more cycles in the cycle files' columns (``uid``, ``hotkey``,
    ``format_validation``, ``start_time``, ``time_increment``, ``time_length``,
    ``num_simulations``, ``paths``, and ``asset`` unless ``asset`` is given), in our types or the
    ones Spark hands to ``mapInArrow`` (int32 uids, strings, ``list<list<double>>`` paths).

    Prompt scores need every miner of a cycle. When ``batch`` may hold part of one (Spark splits
    files and batches), pass ``whole_cycles=False`` and compute them afterwards with
    :func:`normalise_arrow` on the score rows of whole cycles. Rows of a cycle the prices do not
    settle come back with ``total_crps`` -1 and ``error`` ``"unscorable: …"``.

    ``asset`` also names the asset of ``prices`` rows without an ``asset`` column.

    Returns the scores schema (``schemas/scores.md``) plus an ``asset`` column.
    """
    p = load_prices(prices, asset)
    if isinstance(batch, pa.Table):
        parts = [
            _native.score_arrow(b, p, asset, normalisation, False) for b in batch.combine_chunks().to_batches()
        ]
        if not parts:
            return _native.score_arrow(pa.RecordBatch.from_pylist([], schema=batch.schema), p, asset, normalisation, whole_cycles)
        scored = pa.Table.from_batches(parts).combine_chunks().to_batches()[0]
        return _native.normalise_arrow(scored, normalisation) if whole_cycles else scored
    return _native.score_arrow(batch, p, asset, normalisation, whole_cycles)


def normalise_arrow(batch: Union[pa.RecordBatch, pa.Table], *, normalisation: str = NORMALISATION) -> pa.RecordBatch:
    """The prompt scores of whole cycles, from :func:`score_arrow`'s rows (every row of each cycle
    in ``batch``, any order): ``prompt_score``, ``score_capped``, ``percentile95``,
    ``lowest_score`` filled, each cycle's rows in uid order."""
    if isinstance(batch, pa.Table):
        batch = batch.combine_chunks().to_batches()[0] if batch.num_rows else pa.RecordBatch.from_pylist([], schema=batch.schema)
    return _native.normalise_arrow(batch, normalisation)


@dataclass(frozen=True)
class ScoreResult:
    """What :func:`score` did: its ``summary`` (the CLI's summary line, as a dict) and the
    ``ranking``, every miner of every prompt, best first within each (dicts with ``time_length``,
    ``rank``, ``uid``, ``hotkey``, ``cycles``, ``scored``, ``capped``, ``mean_prompt_score``,
    ``mean_crps``)."""

    summary: Dict[str, Any]
    ranking: List[Dict[str, Any]]


def score(
    inputs: Union[PathLike, Sequence[PathLike]],
    prices: PricesLike,
    *,
    out: Optional[PathLike] = None,
    normalisation: str = NORMALISATION,
    overwrite: bool = False,
) -> ScoreResult:
    """``synth-forward score``: cycle files (a file, a folder or a glob, or several) scored
    against ``prices``; with ``out``, one scores file per cycle under
    ``out/layout-2/scores_<normalisation>/``. The GIL is released while it runs."""
    paths = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    summary, ranking = _native.score_files(
        [os.fspath(p) for p in paths], load_prices(prices), _path(out), normalisation, overwrite
    )
    return ScoreResult(json.loads(summary), json.loads(ranking))
