//! Scoring from Python: cycle rows in Arrow (`score_arrow`, what a Spark `mapInArrow` calls), the
//! prompt scores of whole cycles (`normalise_arrow`, after a `groupBy`), cycle files
//! (`score_files`, the CLI's `score`), and the real prices they are scored against (`Prices`).
//!
//! In: pyarrow record batches (through the Arrow C data interface), price files or batches.
//! Out: record batches in the scores schema plus `asset` (`schemas/scores.md`), or the summary as
//! JSON. The GIL is released while the kernel runs, on the process's rayon pool.

use std::path::PathBuf;
use std::sync::Arc;

use arrow::pyarrow::{FromPyArrow, ToPyArrow};
use arrow::record_batch::RecordBatch;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use synth_forward::prices::{PriceSource, RealPrices};
use synth_forward::score::prompt::Normalisation;
use synth_forward::score::rows;
use synth_forward::score::run::ScoreOptions;

use crate::SynthForwardError;

/// Real prices per asset, loaded once and shared by every call.
#[pyclass(module = "synth_forward._native", frozen)]
pub struct Prices {
    inner: Arc<RealPrices>,
}

#[pymethods]
impl Prices {
    /// From price files (CSV or Parquet: `schemas/prices.md`); `ASSET=FILE` for a file without
    /// an `asset` column.
    #[staticmethod]
    fn load(py: Python<'_>, files: Vec<String>) -> PyResult<Prices> {
        let sources: Vec<PriceSource> = files.iter().map(|f| f.parse().expect("infallible")).collect();
        let inner = py.detach(|| RealPrices::load(&sources)).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(Prices { inner: Arc::new(inner) })
    }

    /// From record batches with `timestamp`, `price` and (unless `asset` is given) `asset`.
    #[staticmethod]
    #[pyo3(signature = (batches, asset=None))]
    fn from_arrow(batches: Vec<Bound<'_, PyAny>>, asset: Option<&str>) -> PyResult<Prices> {
        let batches: Vec<RecordBatch> =
            batches.iter().map(|b| RecordBatch::from_pyarrow_bound(b)).collect::<PyResult<_>>()?;
        let inner = RealPrices::from_batches(&batches, asset).map_err(PyValueError::new_err)?;
        Ok(Prices { inner: Arc::new(inner) })
    }

    /// The assets held, with their number of prices.
    fn assets(&self) -> Vec<(String, usize)> {
        self.inner.assets().map(|(a, s)| (a.to_owned(), s.timestamps.len())).collect()
    }

    /// Every price as one record batch in the Parquet form's schema (`asset`, `timestamp`,
    /// `price`, null where missing).
    fn to_arrow<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let series = self.inner.assets().map(|(a, s)| (a, &s.timestamps[..], &s.prices[..]));
        let batch =
            synth_forward::prices::file::to_batch(series).map_err(|e| SynthForwardError::new_err(e.to_string()))?;
        batch.to_pyarrow(py)
    }

    /// Pickled as its prices (so Spark can ship it to its workers).
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let from_arrow = py.get_type::<Prices>().getattr("from_arrow")?;
        let args = PyTuple::new(py, [PyList::new(py, [self.to_arrow(py)?])?])?;
        PyTuple::new(py, [from_arrow, args.into_any()])
    }
}

fn normalisation(name: &str) -> PyResult<Normalisation> {
    name.parse().map_err(PyValueError::new_err)
}

/// Scores the cycle rows of `batch` (`src/score/rows.rs`): prompt scores only when the batch holds
/// whole cycles.
#[pyfunction]
#[pyo3(signature = (batch, prices, asset=None, normalisation="median10x-cap-p95-fill", whole_cycles=true))]
pub fn score_arrow<'py>(
    py: Python<'py>,
    batch: &Bound<'py, PyAny>,
    prices: &Prices,
    asset: Option<&str>,
    normalisation: &str,
    whole_cycles: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let batch = RecordBatch::from_pyarrow_bound(batch)?;
    let form = self::normalisation(normalisation)?;
    let prices = prices.inner.clone();
    let out =
        py.detach(|| rows::score_rows(&batch, &prices, asset, form, whole_cycles)).map_err(PyValueError::new_err)?;
    out.to_pyarrow(py)
}

/// The prompt scores of whole cycles, from `score_arrow`'s rows of each (any order).
#[pyfunction]
#[pyo3(signature = (batch, normalisation="median10x-cap-p95-fill"))]
pub fn normalise_arrow<'py>(
    py: Python<'py>,
    batch: &Bound<'py, PyAny>,
    normalisation: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let batch = RecordBatch::from_pyarrow_bound(batch)?;
    let form = self::normalisation(normalisation)?;
    let out = py.detach(|| rows::normalise(&batch, form)).map_err(PyValueError::new_err)?;
    out.to_pyarrow(py)
}

/// `synth-forward score` (`src/score/run.rs`): `(summary_json, ranking_rows)`.
#[pyfunction]
#[pyo3(signature = (inputs, prices, out=None, normalisation="median10x-cap-p95-fill", overwrite=false))]
pub fn score_files(
    py: Python<'_>,
    inputs: Vec<String>,
    prices: &Prices,
    out: Option<PathBuf>,
    normalisation: &str,
    overwrite: bool,
) -> PyResult<(String, String)> {
    let opts = ScoreOptions { inputs, out, normalisation: self::normalisation(normalisation)?, overwrite };
    let prices = prices.inner.clone();
    let (summary, ranking) =
        py.detach(|| synth_forward::score::run::score_ranked(&opts, &prices)).map_err(PyValueError::new_err)?;
    let ranking = ranking.rows();
    let err = |e: serde_json::Error| SynthForwardError::new_err(e.to_string());
    Ok((serde_json::to_string(&summary).map_err(err)?, serde_json::to_string(&ranking).map_err(err)?))
}
