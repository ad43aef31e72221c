"""The forward phase of a Bittensor Synth (subnet 50) validator cycle, from a Rust core.

The package is a thin layer over the ``synth-forward`` Rust crate (``synth_forward._native``):
cycles run on a long-lived :class:`Engine` (one runtime, one HTTP client, one decode pool per
process), with the GIL released for the whole cycle; results come back as
:class:`pyarrow.RecordBatch` through the Arrow C data interface, without a copy.

This first slice offers :func:`replay` (a recorded cycle, for notebooks and tests);
``sync_forward_multiprocess`` and ``forward_and_save`` (the validator's drop-in) come next.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from typing import Any, Dict, Optional, Union

import pyarrow as pa

from . import _native
from ._native import CancelledError, RequestError, SinkError, SynthForwardError, __version__

__all__ = [
    "CancelledError",
    "CycleResult",
    "Engine",
    "RequestError",
    "SinkError",
    "SynthForwardError",
    "__version__",
    "default_engine",
    "replay",
]

PathLike = Union[str, "os.PathLike[str]"]


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


class Engine:
    """The long-lived engine: make one per process and reuse it for every cycle.

    ``threads`` sizes the decode pool (default: one per core).
    """

    def __init__(self, threads: Optional[int] = None) -> None:
        self._native = _native.Engine(threads)

    def replay(self, path: PathLike, rules: Optional[str] = None) -> CycleResult:
        """Replays a recorded cycle (``.cycle.arrow``) and returns its rows and summary.

        ``rules`` (``"v2"`` or ``"v3"``) judges the replies by those rules instead of the ones
        the recording was made under. Raises :class:`RequestError` for a missing or malformed
        recording or a bad option.
        """
        batch, summary = self._native.replay(os.fspath(path), rules)
        return CycleResult(batch, json.loads(summary))


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
