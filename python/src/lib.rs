//! `synth_forward._native`: the Rust core seen from Python.
//!
//! In: Python calls (paths, options). Out: Arrow record batches handed to pyarrow without a copy
//! (the Arrow C data interface), summaries as JSON text, errors as the package's exceptions. The
//! Python layer (`python/synth_forward/`) wraps these with types and docs; the only state here is
//! the engine.

use std::path::PathBuf;

use arrow::pyarrow::ToPyArrow;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use synth_forward::CycleError;
use synth_forward::cycle::one_line;
use synth_forward::request::Rules;
use synth_forward::source::replay::ReplayOptions;

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
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("SynthForwardError", m.py().get_type::<SynthForwardError>())?;
    m.add("RequestError", m.py().get_type::<RequestError>())?;
    m.add("SinkError", m.py().get_type::<SinkError>())?;
    m.add("CancelledError", m.py().get_type::<CancelledError>())?;
    m.add_class::<Engine>()?;
    Ok(())
}
