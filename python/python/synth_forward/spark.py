"""The validator's scores of a whole cycle dataset on Spark (``pyspark`` >= 3.5, imported lazily).

:func:`score_dataframe` turns a DataFrame of cycle rows (``spark.read.parquet`` of a table folder,
``DIR/layout-2/<table>``, with its ``asset``/``date`` hive partitions) into the scores table
(``schemas/scores.md`` plus ``asset``), in two stages:

1. ``mapInArrow``: each executor's Python worker scores the miners of its Arrow batches with the
   Rust kernel (:func:`synth_forward.score_arrow`, ``whole_cycles=False``): the CRPS, which is
   all the work, where the paths already are. Spark may split a cycle over tasks and batches.
2. ``groupBy(asset, start_time, time_length).applyInArrow``: each cycle's score rows (small:
   no paths) come together and get their prompt scores (:func:`synth_forward.normalise_arrow`).

Settings: Spark 4.x reads the files' BYTE_STREAM_SPLIT pages with its default (vectorized) reader;
Spark 3.5 needs ``spark.sql.parquet.enableNestedColumnVectorizedReader=false`` (the row reader for
the nested ``paths`` column) or it fails with "Unsupported encoding: BYTE_STREAM_SPLIT". Workers
need ``pyarrow``, ``pandas`` and this package; ``PYSPARK_PYTHON`` must name that interpreter.
"""

from __future__ import annotations

from typing import Any, Iterator, Optional

import pyarrow as pa

from . import NORMALISATION, PricesLike, load_prices, normalise_arrow, score_arrow

__all__ = ["score_dataframe", "scores_schema"]


def scores_schema() -> Any:
    """The Spark schema of :func:`score_dataframe`'s rows (``schemas/scores.md`` plus ``asset``:
    uid as int, the verdict as a string)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(_arrow_schema("UTC", False))


def _arrow_schema(timezone: str, large: bool) -> pa.Schema:
    # The Arrow types Spark expects back for scores_schema() (its own to_arrow_schema's mapping,
    # whose signature differs between 3.5 and 4.x).
    # Spark compares nested field names and nullability too.
    text = pa.large_string() if large else pa.string()
    detail = pa.struct(
        [pa.field("interval", text, False), pa.field("crps", pa.float64(), False), pa.field("weight", pa.float64())]
    )
    required = lambda name, t: pa.field(name, t, False)  # noqa: E731
    return pa.schema(
        [
            required("uid", pa.int32()),
            required("hotkey", text),
            required("start_time", pa.timestamp("us", tz=timezone)),
            required("time_increment", pa.int64()),
            required("time_length", pa.int64()),
            required("num_simulations", pa.int64()),
            required("format_validation", text),
            required("total_crps", pa.float64()),
            pa.field("prompt_score", pa.float64()),
            pa.field("score_capped", pa.bool_()),
            pa.field("percentile95", pa.float64()),
            pa.field("lowest_score", pa.float64()),
            required("crps_data", pa.list_(pa.field("element", detail, False))),
            pa.field("error", text),
            required("asset", text),
        ]
    )


def _for_spark(batch: pa.RecordBatch, target: pa.Schema) -> pa.RecordBatch:
    # Spark has no unsigned or dictionary types: the same values in the types it declared.
    columns = [batch.column(f.name).cast(f.type) for f in target]
    return pa.RecordBatch.from_arrays(columns, schema=target)


def score_dataframe(df: Any, prices: PricesLike, *, normalisation: str = NORMALISATION, asset: Optional[str] = None) -> Any:
    """The scores of every cycle in ``df`` (module doc). ``prices`` is anything
    :func:`synth_forward.load_prices` takes; it is read once on the driver and shipped to the
    workers as an Arrow table, so no worker needs the price files."""
    schema = scores_schema()
    conf = df.sparkSession.conf
    target = _arrow_schema(
        conf.get("spark.sql.session.timeZone", "UTC"),
        conf.get("spark.sql.execution.arrow.useLargeVarTypes", "false").lower() == "true",
    )
    # Read once here; a Prices object pickles as its prices, so it travels with the closure.
    p = load_prices(prices, asset)
    columns = [c for c in ("uid", "hotkey", "format_validation", "start_time", "time_increment", "time_length",
                           "num_simulations", "paths", "asset") if c in df.columns]

    def crps(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for b in batches:
            yield _for_spark(score_arrow(b, p, asset=asset, normalisation=normalisation, whole_cycles=False), target)

    def prompt(t: pa.Table) -> pa.Table:
        return pa.Table.from_batches([_for_spark(normalise_arrow(t, normalisation=normalisation), target)])

    scored = df.select(*columns).mapInArrow(crps, schema)
    return scored.groupBy("asset", "start_time", "time_length").applyInArrow(prompt, schema)

