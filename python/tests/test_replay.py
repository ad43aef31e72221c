"""The package imported by the real interpreter: a replay's rows equal the CLI's, come without a
copy, and errors are the package's exceptions."""

import json
import os
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import synth_forward

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "fixtures" / "small.cycle.arrow"
BIN = os.environ.get("SYNTH_FORWARD_BIN", str(ROOT / "target" / "debug" / "synth-forward"))


def cli_replay(tmp_path):
    out = subprocess.run(
        [BIN, "replay", str(SMALL), "--out", str(tmp_path)], check=True, capture_output=True, text=True
    )
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    return pq.read_table(summary["parquet"]), summary


def test_replay_equals_the_cli(tmp_path):
    result = synth_forward.replay(SMALL)
    table, summary = cli_replay(tmp_path)
    batch = result.batch
    assert isinstance(batch, pa.RecordBatch)
    assert batch.num_rows == summary["rows"] == result.summary["rows"]
    assert result.summary["verdicts"] == summary["verdicts"]
    assert result.summary["source"] == "replay"
    assert batch.schema.names == table.schema.names
    ours = pa.Table.from_batches([batch])
    for name in ["uid", "hotkey", "process_time_s", "paths"]:
        assert ours.column(name).to_pylist() == table.column(name).to_pylist(), name
    assert ours.column("format_validation").to_pylist() == table.column("format_validation").to_pylist()


def test_the_batch_is_not_copied():
    # Imported buffers belong to the Rust allocation: pyarrow's own pool allocates nothing.
    engine = synth_forward.Engine()
    before = pa.total_allocated_bytes()
    result = engine.replay(SMALL)
    imported = pa.total_allocated_bytes() - before
    # The child arrays as they are (`.values` keeps the null rows' slots: no filtering copy).
    prices = result.batch.column("paths").values.values
    assert prices.nbytes >= 500_000
    assert imported < 64_000, imported


def test_rules_override():
    assert synth_forward.replay(SMALL, rules="v3").summary["rules"] == "v3"
    assert synth_forward.replay(SMALL).summary["rules"] == "v2"  # the committed fixture predates rule sets


def test_errors_are_the_packages_exceptions(tmp_path):
    with pytest.raises(synth_forward.RequestError, match="missing.cycle.arrow"):
        synth_forward.replay(tmp_path / "missing.cycle.arrow")
    with pytest.raises(synth_forward.RequestError, match="rules"):
        synth_forward.replay(SMALL, rules="v9")
    assert issubclass(synth_forward.RequestError, synth_forward.SynthForwardError)
    bad = tmp_path / "bad.cycle.arrow"
    bad.write_bytes(b"not arrow at all")
    with pytest.raises(synth_forward.RequestError):
        synth_forward.replay(bad)


def test_one_default_engine():
    assert synth_forward.default_engine() is synth_forward.default_engine()
    assert synth_forward.__version__
