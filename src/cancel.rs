//! How a cycle stops early: a cancellation token passed in, and the binary's signal mapping.
//!
//! In: a [`Cancel`] token the caller keeps a clone of (the Python binding, a test, or the binary's
//! signal thread from [`cancel_on_signals`]). Out: the cycle sees it while the calls are in flight
//! and stops asking.
//!
//! What a cancelled live cycle does, step by step (`source::live`):
//! 1. the I/O loop stops waiting for miners and aborts every call still in flight (dropping its
//!    socket, so nothing is left half-open behind us);
//! 2. each miner whose call had not ended gets a row with `error = cancelled` and the validator's
//!    failure verdict; it goes through the same pipeline as any other call, so the bodies that did
//!    arrive are decoded as usual;
//! 3. every sink finishes as in a normal cycle (the Parquet file whole or not at all);
//! 4. the summary says `"stopped_by": <reason>`; the binary exits with 128 + the signal's number.
//!
//! A token cancelled after the network phase (while the sinks finish) does not interrupt them; the
//! summary still reports it, so the caller can tell the cycle was cut. The token is shared by the
//! caller and the cycle (mini-redis passes its shutdown signal the same way): cancelling is
//! `&self`, from any thread, and the first reason given is the one kept.

use std::sync::{Arc, OnceLock};

use tokio::sync::Notify;

/// A cycle's cancellation token. Clones share one state.
#[derive(Clone, Default)]
pub struct Cancel {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    reason: OnceLock<String>,
    notify: Notify,
}

impl std::fmt::Debug for Cancel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cancel").field("reason", &self.reason()).finish()
    }
}

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Cancels, saying why (kept in the summary's `stopped_by`); a second call changes nothing.
    pub fn cancel(&self, reason: impl Into<String>) {
        if self.inner.reason.set(reason.into()).is_ok() {
            self.inner.notify.notify_waiters();
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.inner.reason.get().is_some()
    }

    /// Why the token was cancelled, once it has been.
    pub fn reason(&self) -> Option<&str> {
        self.inner.reason.get().map(String::as_str)
    }

    /// Resolves once the token is cancelled (at once if it already is).
    pub async fn cancelled(&self) {
        loop {
            // Registered before the check, so a cancel between the two is not missed.
            let notified = self.inner.notify.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

/// The signals the binary maps onto a cycle's token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopSignal {
    Interrupt,
    Terminate,
}

impl StopSignal {
    /// The POSIX signal number (SIGINT 2, SIGTERM 15).
    pub fn number(self) -> i32 {
        match self {
            StopSignal::Interrupt => 2,
            StopSignal::Terminate => 15,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
        }
    }

    /// The signal a `stopped_by` reason names, if it names one.
    pub fn from_name(name: &str) -> Option<StopSignal> {
        [StopSignal::Interrupt, StopSignal::Terminate].into_iter().find(|s| s.name() == name)
    }

    /// The shell's convention for "ended by this signal".
    pub fn exit_code(self) -> u8 {
        128 + self.number() as u8
    }
}

/// From now on, SIGINT and SIGTERM cancel `cancel` (reason `"SIGINT"` / `"SIGTERM"`) instead of
/// killing the process. The handlers are installed before this returns; a thread of its own waits
/// for them for the rest of the process's life.
pub fn cancel_on_signals(cancel: Cancel) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    let (mut int, mut term) = {
        let _in = rt.enter();
        (signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?)
    };
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        rt.block_on(async {
            loop {
                let sig = tokio::select! {
                    _ = int.recv() => StopSignal::Interrupt,
                    _ = term.recv() => StopSignal::Terminate,
                };
                cancel.cancel(sig.name());
            }
        })
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_reason_wins_and_waiters_wake() {
        let c = Cancel::new();
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let waiter = c.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            waiter.cancel("first");
            waiter.cancel("second");
        });
        rt.block_on(async { tokio::time::timeout(std::time::Duration::from_secs(5), c.cancelled()).await })
            .expect("woken");
        t.join().unwrap();
        assert_eq!(c.reason(), Some("first"));
        // Already cancelled: resolves at once.
        rt.block_on(c.cancelled());
    }
}
