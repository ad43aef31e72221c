//! Running a cycle inside a Python process: the GIL released, the host's signals honoured.
//!
//! In: the work (a closure that runs one cycle on the engine) and the cycle's cancel token. Out:
//! the work's result, or the exception the host's signal handler raised.
//!
//! Why a second thread: Python runs its signal handlers only on the main thread, between
//! bytecodes, and only when someone asks (`PyErr_CheckSignals`). The cycle runs on a scoped
//! thread; the calling thread waits for it without the GIL, waking every [`TICK`] to run the
//! host's handlers and to hand queued log records to `logging`. When a handler raises (Ctrl-C's
//! `KeyboardInterrupt`, or a SIGTERM handler that raises `SystemExit`), the cycle's token is
//! cancelled: the calls in flight are aborted, every unfinished miner gets its `cancelled` row,
//! the sinks finish as they do for a cancelled CLI cycle, and only then is the host's exception
//! raised, so nothing is left running or half written. The library installs no handler of its
//! own: what a signal does is the host's choice.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use pyo3::prelude::*;
use synth_forward::cancel::Cancel;

use crate::logs;

/// How often the waiting thread looks at signals and logs.
const TICK: Duration = Duration::from_millis(20);

/// Runs `work` on its own (scoped) thread and waits for it as described in the module doc.
pub fn run_watched<T: Send>(py: Python<'_>, cancel: &Cancel, work: impl FnOnce() -> T + Send) -> PyResult<T> {
    logs::refresh_level(py)?;
    // Set by the worker when it is done (even by a panic: the guard's drop).
    let done = (Mutex::new(false), Condvar::new());
    let (out, interrupted) = std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("synth-forward-cycle".into())
            .spawn_scoped(scope, || {
                let _signal = Done(&done);
                work()
            })
            .map_err(|e| crate::SynthForwardError::new_err(format!("starting the cycle's thread: {e}")));
        let worker = match worker {
            Ok(w) => w,
            Err(e) => return (Err(e), None),
        };
        let mut interrupted: Option<PyErr> = None;
        loop {
            let finished = py.detach(|| {
                let flag = done.0.lock().unwrap_or_else(|p| p.into_inner());
                *done.1.wait_timeout_while(flag, TICK, |d| !*d).unwrap_or_else(|p| p.into_inner()).0
            });
            let _ = logs::drain(py);
            if finished {
                break;
            }
            if interrupted.is_none()
                && let Err(e) = py.check_signals()
            {
                cancel.cancel(format!("the host raised {}", exception_name(py, &e)));
                interrupted = Some(e);
            }
        }
        let out = py.detach(|| worker.join()).map_err(|panic| {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            crate::SynthForwardError::new_err(format!("the cycle panicked: {what}"))
        });
        (out, interrupted)
    });
    let _ = logs::drain(py);
    match interrupted {
        Some(e) => Err(e),
        None => out,
    }
}

/// Marks the cycle done when dropped, whether the work returned or panicked.
struct Done<'a>(&'a (Mutex<bool>, Condvar));

impl Drop for Done<'_> {
    fn drop(&mut self) {
        *self.0.0.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.0.1.notify_all();
    }
}

fn exception_name(py: Python<'_>, e: &PyErr) -> String {
    e.get_type(py).name().map(|n| n.to_string()).unwrap_or_else(|_| "an exception".to_owned())
}
