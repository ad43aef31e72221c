"""Types of the Rust extension module (``python/src/lib.rs``)."""

from typing import Any, Callable, List, Optional, Tuple

import pyarrow as pa

__version__: str

class SynthForwardError(Exception): ...
class RequestError(SynthForwardError): ...
class SinkError(SynthForwardError): ...
class CancelledError(SynthForwardError): ...

def signing_message(nonce: int, dendrite_hotkey: str, axon_hotkey: str, uuid: str) -> str: ...

class Engine:
    def __init__(self, threads: Optional[int] = None) -> None: ...
    def replay(self, path: str, rules: Optional[str] = None) -> Tuple[pa.RecordBatch, str]: ...
    def forward(
        self,
        request_json: str,
        dendrite: str,
        nonce: int,
        uuid: str,
        external_ip: str,
        sign: Callable[[str], str],
        *,
        results: Optional[str] = None,
        float32: bool = False,
        synapse_class: Optional[Any] = None,
        keep_batch: bool = False,
        parquet_dir: Optional[str] = None,
        postgres: Optional[str] = None,
        postgres_attempts: int = 3,
        postgres_backoff: float = 2.0,
        record: Optional[str] = None,
    ) -> Tuple[Optional[List[list]], Optional[pa.RecordBatch], str]: ...

class Prices:
    @staticmethod
    def load(files: List[str]) -> Prices: ...
    @staticmethod
    def from_arrow(batches: List[pa.RecordBatch], asset: Optional[str] = None) -> Prices: ...
    def assets(self) -> List[Tuple[str, int]]: ...
    def to_arrow(self) -> pa.RecordBatch: ...

def score_arrow(
    batch: pa.RecordBatch,
    prices: Prices,
    asset: Optional[str] = None,
    normalisation: str = "median10x-cap-p95-fill",
    whole_cycles: bool = True,
) -> pa.RecordBatch: ...
def normalise_arrow(batch: pa.RecordBatch, normalisation: str = "median10x-cap-p95-fill") -> pa.RecordBatch: ...
def score_files(
    inputs: List[str],
    prices: Prices,
    out: Optional[str] = None,
    normalisation: str = "median10x-cap-p95-fill",
    overwrite: bool = False,
) -> Tuple[str, str]: ...
