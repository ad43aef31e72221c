"""The whole dataset scored on local-mode Spark (pyspark from PyPI, Java from Debian's packages):
``synth_forward.spark.score_dataframe`` over the hive folder, each row equal to the CLI's.

Small Arrow batches (``maxRecordsPerBatch``) and small file splits make Spark cut every cycle
over batches, so the second stage (the prompt scores per cycle) is what makes the rows right.
Everything stays on 127.0.0.1.
"""

from __future__ import annotations

import os
import sys
from datetime import timezone

import pyarrow.dataset as ds
import pytest

from test_score import COLUMNS


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    conf = tmp_path_factory.mktemp("spark")
    log4j = conf / "log4j2.properties"
    log4j.write_text("rootLogger.level = error\nrootLogger.appenderRef.stderr.ref = console\n"
                     "appender.console.type = Console\nappender.console.name = console\n"
                     "appender.console.target = SYSTEM_ERR\nappender.console.layout.type = PatternLayout\n")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("synth-forward-test")
        .config("spark.driver.memory", "1g")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "5")
        .config("spark.sql.files.maxPartitionBytes", "20000")
        .config("spark.local.dir", str(conf))
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{log4j}")
        .getOrCreate()
    )
    yield session
    session.stop()


def test_spark_scores_equal_the_clis(cycle_dataset, spark):
    from synth_forward.spark import score_dataframe

    out, table, prices, scores = cycle_dataset
    df = spark.read.parquet(str(table))
    assert df.rdd.getNumPartitions() >= 2, "the files are split, so cycles are cut across tasks"
    got = score_dataframe(df, prices).collect()

    want = ds.dataset(scores, format="parquet", partitioning="hive").to_table().to_pylist()
    key = lambda r: (r["asset"], r["start_time"].replace(tzinfo=None), r["uid"])  # noqa: E731
    assert len(got) == len(want) == 4 * 16
    got_rows = {key(r.asDict(recursive=True)): r.asDict(recursive=True) for r in got}
    for w in want:
        g = got_rows[key(w)]
        for c in COLUMNS:
            if c == "crps_data":
                assert [dict(d) for d in g[c]] == w[c], (key(w), c)
            else:
                assert g[c] == w[c], (key(w), c, g[c], w[c])
        assert g["start_time"].replace(tzinfo=timezone.utc) == w["start_time"]
        assert g["format_validation"] == w["format_validation"]
