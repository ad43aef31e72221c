//! The core's log events → Python's `logging`, under the `synth_forward` logger.
//!
//! In: `tracing` events from any thread of the engine (the I/O thread, the decode pool, the
//! database thread). Out: records handed to `logging.getLogger("synth_forward")` on the thread
//! that called into the package, while it holds the GIL.
//!
//! Why a queue: an event can fire on a pool thread in the middle of a cycle; taking the GIL there
//! would stall decoding behind the host's Python code. Events wait in a bounded queue instead and
//! the calling thread, which wakes every few tens of milliseconds while a cycle runs (it also
//! watches for signals), hands them over. Only events at or above the logger's effective level
//! (read at each call) are queued; beyond [`CAPACITY`] waiting records the newest are dropped
//! and counted, and the count is logged with the next hand-over.

use std::collections::VecDeque;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use pyo3::prelude::*;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Records that may wait for the calling thread.
const CAPACITY: usize = 4096;

/// Python's level numbers.
const DEBUG: u8 = 10;
const INFO: u8 = 20;
const WARNING: u8 = 30;
const ERROR: u8 = 40;

struct Record {
    level: u8,
    target: &'static str,
    message: String,
}

static QUEUE: Mutex<VecDeque<Record>> = Mutex::new(VecDeque::new());
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// The lowest Python level worth queueing (the logger's effective level at the last call).
static MIN_LEVEL: AtomicU8 = AtomicU8::new(WARNING);

fn python_level(level: &Level) -> u8 {
    match *level {
        Level::ERROR => ERROR,
        Level::WARN => WARNING,
        Level::INFO => INFO,
        // TRACE folds into DEBUG: Python has nothing finer by default.
        _ => DEBUG,
    }
}

/// The layer that queues events (installed once, when the module is imported).
struct Queue;

impl<S: Subscriber> Layer<S> for Queue {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        python_level(metadata.level()) >= MIN_LEVEL.load(Ordering::Relaxed)
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut text = Text(String::new(), String::new());
        event.record(&mut text);
        let Text(mut message, fields) = text;
        if !fields.is_empty() {
            message.push_str(" (");
            message.push_str(fields.trim_start_matches(", "));
            message.push(')');
        }
        let record =
            Record { level: python_level(event.metadata().level()), target: event.metadata().target(), message };
        let mut q = QUEUE.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() < CAPACITY {
            q.push_back(record);
        } else {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// An event's message, and its other fields as `name=value`.
struct Text(String, String);

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.1, ", {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.1, ", {}={value:?}", field.name());
        }
    }
}

/// Installs the queueing layer as this library's subscriber (the core's events only: the wheel
/// carries its own copy of `tracing`, so nothing else in the host is affected).
pub fn install() {
    use tracing_subscriber::layer::SubscriberExt;
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Queue));
}

/// Reads the `synth_forward` logger's effective level, so events below it are not even queued.
pub fn refresh_level(py: Python<'_>) -> PyResult<()> {
    let level: i64 = logger(py)?.call_method0("getEffectiveLevel")?.extract()?;
    MIN_LEVEL.store(level.clamp(0, 255) as u8, Ordering::Relaxed);
    // `enabled` answers are cached per call site; a new level must reach them.
    tracing::callsite::rebuild_interest_cache();
    Ok(())
}

fn logger(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    py.import("logging")?.call_method1("getLogger", ("synth_forward",))
}

/// Hands every waiting record to Python's `logging` (call with the GIL, on the calling thread).
/// A handler that raises is Python's business: `logging` reports it and goes on.
pub fn drain(py: Python<'_>) -> PyResult<()> {
    let waiting: Vec<Record> = {
        let mut q = QUEUE.lock().unwrap_or_else(|p| p.into_inner());
        if q.is_empty() && DROPPED.load(Ordering::Relaxed) == 0 {
            return Ok(());
        }
        q.drain(..).collect()
    };
    let logger = logger(py)?;
    for r in waiting {
        // `%s` keeps a `%` in the message from being taken as a format.
        let kwargs = pyo3::types::PyDict::new(py);
        let extra = pyo3::types::PyDict::new(py);
        extra.set_item("rust_target", r.target)?;
        kwargs.set_item("extra", extra)?;
        logger.call_method("log", (r.level, "%s", r.message), Some(&kwargs))?;
    }
    let dropped = DROPPED.swap(0, Ordering::Relaxed);
    if dropped > 0 {
        logger.call_method1("warning", ("%d log records were dropped (more than %d waiting)", dropped, CAPACITY))?;
    }
    Ok(())
}
