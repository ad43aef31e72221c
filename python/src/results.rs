//! A cycle's results as upstream's Python objects, built from the cycle's columns.
//!
//! In: the cycle's record batch, its request, and what [`KeepForResults`] noted while rows
//! decoded (which prices the replies sent as ints; for the older form, failed replies' bodies). Out: per queried miner, in the request's
//! axon order, what upstream's `sync_forward_multiprocess` returns:
//!
//! - v3 (today's form) `[output, format_validation, process_time]`;
//! - v2 (the older form) `[output, process_time]`.
//!
//! `output` of a CORRECT miner is the value pydantic makes of the reply (`Simulation`'s
//! `tuple[int | list[int | float], ...]`): a tuple `(start, increment, [p, …], …)`, each price a
//! Python float, or an int where the miner sent an int; with `float32_output` the float32 blob
//! (`bytes`) upstream's `encode_paths` makes. `None` for every other miner. `process_time` is
//! upstream's `str` of the call's seconds, `None` when the reply never arrived.
//!
//! Why here and not in Python: these are the slow part of upstream's forward (a 1000 × 289 reply
//! is 289 000 float objects). They are made straight from the decoded doubles with the GIL held
//! once, only for CORRECT miners; nothing is parsed twice.

use std::sync::{Arc, Mutex, OnceLock};

use arrow::record_batch::RecordBatch;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use synth_forward::columns::Rows;
use synth_forward::request::CycleRequest;
use synth_forward::sink::{CycleInfo, Error, Sink};
use synth_forward::upstream::{self, MinerResult};

/// What the result objects need beyond the columns, by output row (uid order): which prices of
/// a CORRECT reply were ints, and for the older form the body of a reply that arrived but is not
/// CORRECT (its caller re-validates the value pydantic makes of it).
pub struct Kept {
    uid: Vec<u16>,
    rows: Vec<Mutex<Option<Box<RowKept>>>>,
}

enum RowKept {
    Ints(RowInts),
    Body(Vec<u8>),
}

/// One row's int prices: indexes, and the exact digits of the long ones.
struct RowInts {
    at: Vec<u32>,
    long: Vec<(u32, String)>,
}

/// A sink that only listens and keeps [`Kept`]; nothing for the usual row (a CORRECT reply of
/// floats), so it costs one scan of the reply's price tokens.
pub struct KeepForResults {
    pub kept: Arc<OnceLock<Kept>>,
    /// Keep the bodies of arrived replies that are not CORRECT (the older form).
    pub bodies: bool,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<RowInts> = const { std::cell::RefCell::new(RowInts { at: Vec::new(), long: Vec::new() }) };
}

impl Sink for KeepForResults {
    fn name(&self) -> &'static str {
        "python"
    }

    fn start(&mut self, cycle: &CycleInfo<'_>) -> Result<(), Error> {
        let kept = Kept { uid: cycle.uid.to_vec(), rows: (0..cycle.rows()).map(|_| Mutex::new(None)).collect() };
        self.kept.set(kept).map_err(|_| "a result sink started twice")?;
        Ok(())
    }

    fn rows(&self, rows: &Rows<'_>) -> Result<(), Error> {
        let kept = self.kept.get().ok_or("rows before start")?;
        for i in 0..rows.len() {
            let Some(slot) = kept.rows.get(rows.first + i) else { continue };
            let keep = if rows.verdict[i].is_correct() {
                SCRATCH.with(|s| {
                    let RowInts { at, long } = &mut *s.borrow_mut();
                    upstream::int_prices(rows.price_text(i), at, long);
                    (!at.is_empty()).then(|| RowKept::Ints(RowInts { at: at.clone(), long: long.clone() }))
                })
            } else if self.bodies && rows.process_time_s[i].is_some() {
                rows.body(i).map(|b| RowKept::Body(b.to_vec()))
            } else {
                None
            };
            if let Some(k) = keep {
                *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(k));
            }
        }
        Ok(())
    }

    fn finish(self: Box<Self>, _: Option<&RecordBatch>) -> Result<serde_json::Value, Error> {
        let (mut ints, mut bodies) = (0, 0);
        for row in self.kept.get().map_or(&[][..], |k| &k.rows) {
            match row.lock().unwrap_or_else(|p| p.into_inner()).as_deref() {
                Some(RowKept::Ints(_)) => ints += 1,
                Some(RowKept::Body(_)) => bodies += 1,
                None => {}
            }
        }
        Ok(serde_json::json!({ "rows_with_int_prices": ints, "failed_bodies_kept": bodies }))
    }
}

impl Kept {
    fn row(&self, uid: u16) -> Option<std::sync::MutexGuard<'_, Option<Box<RowKept>>>> {
        let i = self.uid.binary_search(&uid).ok()?;
        Some(self.rows[i].lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Python's garbage collector disabled until dropped, if it was enabled.
struct GcPause<'py>(Option<Bound<'py, PyModule>>);

impl<'py> GcPause<'py> {
    fn new(py: Python<'py>) -> PyResult<GcPause<'py>> {
        let gc = py.import("gc")?;
        if gc.call_method0("isenabled")?.is_truthy()? {
            gc.call_method0("disable")?;
            Ok(GcPause(Some(gc)))
        } else {
            Ok(GcPause(None))
        }
    }
}

impl Drop for GcPause<'_> {
    fn drop(&mut self) {
        if let Some(gc) = &self.0 {
            let _ = gc.call_method0("enable");
        }
    }
}

/// The shape of each result.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `[output, format_validation, process_time]` (v3, today's).
    Today,
    /// `[output, process_time]` (v2, the older release).
    Older,
}

/// Every queried miner's result in the request's axon order (module doc).
pub fn build<'py>(
    py: Python<'py>,
    batch: &RecordBatch,
    request: &CycleRequest,
    kept: Option<&Kept>,
    form: Form,
    float32: bool,
    synapse_class: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyList>> {
    let results = upstream::results(batch, request).map_err(|e| crate::SynthForwardError::new_err(e.to_string()))?;
    // Python's cycle collector would walk every list made so far, again and again, as they pile
    // up (150 000 lists for an hf cycle): paused while they are made, restored after, whatever
    // happens. The lists hold only numbers, so they can form no cycle to collect.
    let _paused = GcPause::new(py)?;
    let shape = request.shape().map_err(|e| crate::RequestError::new_err(e.to_string()))?;
    let items = results
        .iter()
        .map(|r| {
            let row = kept.and_then(|k| k.row(r.uid));
            let row = row.as_ref().and_then(|g| g.as_deref());
            let output = match (r.prices, row) {
                (Some(prices), _) if float32 => float32_blob(py, prices)?.into_any(),
                (Some(prices), row) => {
                    let ints = match row {
                        Some(RowKept::Ints(ints)) => Some(ints),
                        _ => None,
                    };
                    let increment = request.simulation_input.time_increment;
                    value(py, shape.start_unix, increment, shape.points, prices, ints)?.into_any()
                }
                (None, Some(RowKept::Body(body))) if form == Form::Older && !float32 => {
                    reply_value(py, body, synapse_class, r.uid)
                }
                (None, _) => py.None().into_bound(py),
            };
            result(py, r, output, form)
        })
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

/// The older form's value of a reply that is not CORRECT: what upstream's dendrite keeps, the
/// caller's own synapse class made from the body (`Simulation(**response.json())`), its
/// `simulation_output`; the caller's validation then finds the same fault. `None` where upstream's
/// would have failed (no JSON object, a field pydantic refuses), as its error path leaves it.
fn reply_value<'py>(
    py: Python<'py>,
    body: &[u8],
    synapse_class: Option<&Bound<'py, PyAny>>,
    uid: u16,
) -> Bound<'py, PyAny> {
    let made = (|| -> PyResult<Bound<'py, PyAny>> {
        let class = synapse_class.ok_or_else(|| crate::SynthForwardError::new_err("no synapse class"))?;
        let json = py.import("json")?.call_method1("loads", (PyBytes::new(py, body),))?;
        let fields = json.cast_into::<pyo3::types::PyDict>()?;
        class.call((), Some(&fields))?.getattr("simulation_output")
    })();
    made.unwrap_or_else(|e| {
        tracing::debug!(uid, error = %e, "a failed reply's value could not be rebuilt: None");
        py.None().into_bound(py)
    })
}

fn result<'py>(
    py: Python<'py>,
    r: &MinerResult<'_>,
    output: Bound<'py, PyAny>,
    form: Form,
) -> PyResult<Bound<'py, PyList>> {
    let process_time = r.process_time.as_deref().into_pyobject(py)?.into_any();
    match form {
        Form::Today => {
            let verdict = pyo3::types::PyString::new(py, r.format_validation).into_any();
            PyList::new(py, [output, verdict, process_time])
        }
        Form::Older => PyList::new(py, [output, process_time]),
    }
}

/// Upstream's `encode_paths`: little-endian float32, path after path, written straight into the
/// `bytes` object.
fn float32_blob<'py>(py: Python<'py>, prices: &[f64]) -> PyResult<Bound<'py, PyBytes>> {
    PyBytes::new_with(py, prices.len() * 4, |buf| {
        for (out, &p) in buf.chunks_exact_mut(4).zip(prices) {
            out.copy_from_slice(&(p as f32).to_le_bytes());
        }
        Ok(())
    })
}

/// `(start, increment, [p, …], …)` as pydantic holds a CORRECT reply.
fn value<'py>(
    py: Python<'py>,
    start: i64,
    increment: i64,
    points: usize,
    prices: &[f64],
    ints: Option<&RowInts>,
) -> PyResult<Bound<'py, PyTuple>> {
    let points = points.max(1);
    let mut items: Vec<Bound<'py, PyAny>> = Vec::with_capacity(2 + prices.len() / points);
    items.push(start.into_pyobject(py)?.into_any());
    items.push(increment.into_pyobject(py)?.into_any());
    for (p, path) in prices.chunks(points).enumerate() {
        let list = match ints {
            None => PyList::new(py, path)?,
            Some(ints) => {
                let base = (p * points) as u32;
                let end = base + path.len() as u32;
                let lo = ints.at.partition_point(|&k| k < base);
                let hi = ints.at.partition_point(|&k| k < end);
                if lo == hi {
                    PyList::new(py, path)?
                } else {
                    let mut next = ints.at[lo..hi].iter().peekable();
                    let objects = path
                        .iter()
                        .enumerate()
                        .map(|(j, &v)| {
                            let k = base + j as u32;
                            if next.peek() == Some(&&k) {
                                next.next();
                                int_object(py, k, v, ints)
                            } else {
                                Ok(pyo3::types::PyFloat::new(py, v).into_any())
                            }
                        })
                        .collect::<PyResult<Vec<_>>>()?;
                    PyList::new(py, objects)?
                }
            }
        };
        items.push(list.into_any());
    }
    PyTuple::new(py, items)
}

/// A price the miner sent as an int: Python's int of its digits.
fn int_object<'py>(py: Python<'py>, k: u32, v: f64, ints: &RowInts) -> PyResult<Bound<'py, PyAny>> {
    if let Ok(i) = ints.long.binary_search_by_key(&k, |(at, _)| *at) {
        return py.get_type::<pyo3::types::PyInt>().call1((ints.long[i].1.as_str(),));
    }
    // An int of ≤ 15 digits is its double exactly; a longer one the exact path read is made
    // from its double, by the rule the database rows are printed with.
    match upstream::python_int(v) {
        upstream::PythonInt::Small(i) => Ok(i.into_pyobject(py)?.into_any()),
        upstream::PythonInt::Digits(d) => py.get_type::<pyo3::types::PyInt>().call1((d,)),
    }
}
