//! `synth_forward._native`: the Rust core seen from Python.
//!
//! In: Python calls (a cycle request as JSON, the validator's signer, paths, options). Out: Arrow
//! record batches handed to pyarrow without a copy (the Arrow C data interface), upstream's result
//! lists built from the decoded columns ([`results`]), summaries as JSON text, errors as the
//! package's exceptions, log records through Python's `logging` ([`logs`]). The Python layer
//! (`python/synth_forward/`) wraps these with types and docs; the only state here is the engine.
//!
//! - [`running`]: a cycle on its own thread while the calling thread, without the GIL, watches
//!   the host's signals (cancelling the cycle when a handler raises) and hands logs over.
//! - [`results`]: the CORRECT miners' values as upstream's Python objects.
//! - [`score`]: the validator's scores of cycle rows, files and their real prices.

mod logs;
mod results;
mod running;
mod score;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use arrow::pyarrow::ToPyArrow;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use synth_forward::cycle::one_line;
use synth_forward::request::{CycleRequest, Rules};
use synth_forward::sink::postgres::{DbUrl, PostgresOptions, PostgresSink};
use synth_forward::sink::{CycleInfo, Sink, WrittenFile};
use synth_forward::source::replay::ReplayOptions;
use synth_forward::{Cancel, CycleError, LiveOptions, ParquetOptions, ParquetSink};

create_exception!(_native, SynthForwardError, PyException, "Base of every error synth_forward raises.");
create_exception!(
    _native,
    RequestError,
    SynthForwardError,
    "A cycle request, recording or option that cannot be run: nothing was asked or written."
);
create_exception!(_native, SinkError, SynthForwardError, "Every output of a cycle failed.");
create_exception!(_native, CancelledError, SynthForwardError, "The cycle was cancelled before it started.");

/// A Rust error as the package's exception, its sources on one line.
fn cycle_error(e: CycleError) -> PyErr {
    let text = one_line(&e);
    match e {
        CycleError::Request(_) | CycleError::Recording(_) | CycleError::Requests { .. } | CycleError::SinkName(_) => {
            RequestError::new_err(text)
        }
        CycleError::Sinks(_) => SinkError::new_err(text),
        CycleError::Cancelled(_) => CancelledError::new_err(text),
        _ => SynthForwardError::new_err(text),
    }
}

fn parse_rules(rules: Option<&str>) -> PyResult<Option<Rules>> {
    rules.map(|r| r.parse::<Rules>().map_err(|e| RequestError::new_err(format!("rules: {e}")))).transpose()
}

/// The long-lived engine: one runtime, one HTTP client and one decode pool, made once per process
/// and reused for every cycle.
#[pyclass(module = "synth_forward._native", frozen)]
struct Engine {
    inner: synth_forward::Engine,
}

#[pymethods]
impl Engine {
    #[new]
    #[pyo3(signature = (threads=None))]
    fn new(threads: Option<usize>) -> PyResult<Self> {
        let inner = match threads {
            Some(n) => synth_forward::Engine::with_threads(n),
            None => synth_forward::Engine::new(),
        }
        .map_err(|e| SynthForwardError::new_err(one_line(&e)))?;
        Ok(Engine { inner })
    }

    /// Replays a recorded cycle (`.cycle.arrow`): `(batch, summary_json)`, the batch in the
    /// output schema (`schemas/output.md`), handed to pyarrow without a copy. The GIL is released
    /// while the cycle runs.
    #[pyo3(signature = (path, rules=None))]
    fn replay<'py>(
        &self,
        py: Python<'py>,
        path: PathBuf,
        rules: Option<&str>,
    ) -> PyResult<(Bound<'py, PyAny>, String)> {
        let opts = ReplayOptions { rules: parse_rules(rules)?, keep_batch: true };
        let outcome = py.detach(|| self.inner.replay(&path, Vec::new(), &opts)).map_err(cycle_error)?;
        let summary = serde_json::to_string(&outcome.summary).map_err(|e| SynthForwardError::new_err(e.to_string()))?;
        let batch = outcome.batch.ok_or_else(|| SynthForwardError::new_err("the cycle kept no batch"))?;
        Ok((batch.to_pyarrow(py)?, summary))
    }

    /// One live cycle (synapse protocol): `request_json` is a cycle request
    /// (`schemas/cycle-request.md`); each miner's request is signed by `sign(message) -> str`
    /// (`0x` + hex), the caller's signer, for the hotkey `dendrite` with the caller's `nonce` and
    /// dendrite `uuid`. Optional outputs: upstream's `results` list (`"today"` or `"older"`,
    /// float32 blobs with `float32`), the record batch (`keep_batch`), a Parquet file under
    /// `parquet_dir`, the validator's Postgres rows (`postgres`), a recording (`record`).
    /// Returns `(results, batch, summary_json)`.
    #[pyo3(signature = (
        request_json, dendrite, nonce, uuid, external_ip, sign, *,
        results=None, float32=false, synapse_class=None, keep_batch=false, parquet_dir=None, postgres=None,
        postgres_attempts=3, postgres_backoff=2.0, record=None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn forward<'py>(
        &self,
        py: Python<'py>,
        request_json: &str,
        dendrite: &str,
        nonce: u64,
        uuid: &str,
        external_ip: &str,
        sign: Bound<'py, PyAny>,
        results: Option<&str>,
        float32: bool,
        synapse_class: Option<Bound<'py, PyAny>>,
        keep_batch: bool,
        parquet_dir: Option<PathBuf>,
        postgres: Option<&str>,
        postgres_attempts: u32,
        postgres_backoff: f64,
        record: Option<PathBuf>,
    ) -> PyResult<Forwarded<'py>> {
        let request =
            CycleRequest::from_json(request_json.as_bytes()).map_err(|e| RequestError::new_err(e.to_string()))?;
        let form = match results {
            None => None,
            Some("today") => Some(results::Form::Today),
            Some("older") => Some(results::Form::Older),
            Some(other) => {
                return Err(RequestError::new_err(format!("results: {other:?} is not \"today\" or \"older\"")));
            }
        };
        let cancel = Cancel::new();
        let kept = Arc::new(OnceLock::new());
        let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
        if let Some(form) = form {
            let bodies = form == results::Form::Older && !float32;
            sinks.push(Box::new(results::KeepForResults { kept: Arc::clone(&kept), bodies }));
        }
        let written = WrittenFile::default();
        let file = parquet_dir.is_some();
        if let Some(dir) = parquet_dir {
            sinks.push(Box::new(ParquetSink::new(dir, ParquetOptions::default()).announce(written.clone())));
        }
        if let Some(url) = postgres {
            let url = DbUrl::parse(url).map_err(|e| RequestError::new_err(format!("postgres: {e}")))?;
            if !(postgres_backoff.is_finite() && postgres_backoff >= 0.0) || postgres_attempts == 0 {
                return Err(RequestError::new_err("postgres_attempts must be ≥ 1 and postgres_backoff a number ≥ 0"));
            }
            let mut opts = PostgresOptions::new(url);
            opts.attempts = postgres_attempts;
            opts.backoff = std::time::Duration::from_secs_f64(postgres_backoff);
            // Retries read the cycle from its Parquet file; without one the sink keeps the batch.
            opts.retry_from = file.then_some(written);
            sinks.push(Box::new(UnlessCancelled { inner: Box::new(PostgresSink::new(opts)), cancel: cancel.clone() }));
        }
        // The caller's key signs: its secret never reaches this crate (see the package doc).
        let t_sign = std::time::Instant::now();
        let outgoing = synth_forward::wire::sign::sign_cycle_with(&request, dendrite, external_ip, nonce, uuid, |m| {
            sign.call1((m,))?.extract::<String>()
        })
        .map_err(|e| match e {
            synth_forward::wire::sign::SignWithError::Signer(e) => e,
            other => RequestError::new_err(other.to_string()),
        })?;

        let sign_ms = t_sign.elapsed().as_secs_f64() * 1e3;
        let opts = LiveOptions { record, keep_batch: keep_batch || form.is_some(), ..LiveOptions::default() };
        let outcome =
            running::run_watched(py, &cancel, || self.inner.run_requests(&request, outgoing, sinks, &cancel, &opts))?
                .map_err(cycle_error)?;
        let t_results = std::time::Instant::now();
        let results = match (form, &outcome.batch) {
            (Some(form), Some(batch)) => {
                Some(results::build(py, batch, &request, kept.get(), form, float32, synapse_class.as_ref())?.into_any())
            }
            _ => None,
        };
        let batch = match outcome.batch {
            Some(b) if keep_batch => Some(b.to_pyarrow(py)?),
            _ => None,
        };
        // What the Python side added to the cycle: the caller's signer before any traffic, and
        // the result objects after the cycle (so `after_network` + `results` is the wait a
        // validator sees after its last miner answered).
        let mut summary =
            serde_json::to_value(&outcome.summary).map_err(|e| SynthForwardError::new_err(e.to_string()))?;
        summary["python_ms"] = serde_json::json!({
            "sign": sign_ms,
            "results": t_results.elapsed().as_secs_f64() * 1e3,
        });
        Ok((results, batch, summary.to_string()))
    }
}

/// What [`Engine::forward`] hands back: `(results, batch, summary_json)`.
type Forwarded<'py> = (Option<Bound<'py, PyAny>>, Option<Bound<'py, PyAny>>, String);

/// The database save of a cycle the host interrupted is rolled back, not committed: upstream,
/// interrupted, saves nothing, and a validator must not store a cycle it never finished asking.
/// (The Parquet file keeps the interrupted cycle, marked `stopped_by`, as the CLI does.)
struct UnlessCancelled {
    inner: Box<dyn Sink>,
    cancel: Cancel,
}

impl Sink for UnlessCancelled {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn start(&mut self, cycle: &CycleInfo<'_>) -> Result<(), synth_forward::sink::Error> {
        self.inner.start(cycle)
    }

    fn needs_batch(&self) -> bool {
        self.inner.needs_batch()
    }

    fn rows(&self, rows: &synth_forward::columns::Rows<'_>) -> Result<(), synth_forward::sink::Error> {
        self.inner.rows(rows)
    }

    fn finish(
        self: Box<Self>,
        batch: Option<&arrow::record_batch::RecordBatch>,
    ) -> Result<serde_json::Value, synth_forward::sink::Error> {
        if let Some(reason) = self.cancel.reason() {
            // Dropping the sink rolls its transaction back.
            return Err(format!("the cycle was cancelled ({reason}): nothing was committed").into());
        }
        self.inner.finish(batch)
    }
}

/// The text upstream's dendrite signs for one miner:
/// `"{nonce}.{dendrite_hotkey}.{axon_hotkey}.{uuid}.{body_hash}"` (the `Simulation` body hash).
#[pyfunction]
fn signing_message(nonce: u64, dendrite_hotkey: &str, axon_hotkey: &str, uuid: &str) -> String {
    synth_forward::wire::synapse::signing_message(
        nonce,
        dendrite_hotkey,
        axon_hotkey,
        uuid,
        synth_forward::wire::synapse::EMPTY_BODY_HASH,
    )
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("SynthForwardError", m.py().get_type::<SynthForwardError>())?;
    m.add("RequestError", m.py().get_type::<RequestError>())?;
    m.add("SinkError", m.py().get_type::<SinkError>())?;
    m.add("CancelledError", m.py().get_type::<CancelledError>())?;
    m.add_class::<Engine>()?;
    m.add_function(wrap_pyfunction!(signing_message, m)?)?;
    m.add_class::<score::Prices>()?;
    m.add_function(wrap_pyfunction!(score::score_arrow, m)?)?;
    m.add_function(wrap_pyfunction!(score::normalise_arrow, m)?)?;
    m.add_function(wrap_pyfunction!(score::score_files, m)?)?;
    logs::install();
    Ok(())
}
