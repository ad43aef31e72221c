//! SIGINT / SIGTERM during a live cycle: stop asking, keep what arrived.
//!
//! In: the process's SIGINT and SIGTERM, once [`Signals::listen`] has run inside the cycle's
//! runtime. Out: which one came first ([`StopSignal`]), awaited while the calls are in flight
//! ([`Signals::recv`]) or checked once when the cycle is over ([`Signals::take_pending`]).
//!
//! Shutdown, step by step (`live::run_cycle`):
//! 1. the signal wakes the I/O loop, which stops waiting for miners and aborts every call still in
//!    flight (dropping its socket, so nothing is left half-open behind us);
//! 2. each miner whose call had not ended gets a row with `error = cancelled` and the validator's
//!    failure verdict; it goes through the same queue and decode jobs as any other call, so the
//!    bodies that did arrive are decoded as usual;
//! 3. the Parquet file is written and renamed as in a normal cycle (whole or not at all);
//! 4. the binary exits with 128 + the signal's number, so the caller can tell the cycle was cut.
//!
//! Once listening, the signals no longer kill the process: one that arrives after the network
//! phase (while the file is written) is picked up by [`Signals::take_pending`] and still gives the
//! 128 + n exit. Before [`Signals::listen`] (reading the request, signing) the default action
//! applies: the process dies and no file appears.

use std::future::Future as _;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use tokio::signal::unix::{signal, Signal, SignalKind};

/// The signal that cut a cycle short.
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

    /// The shell's convention for "ended by this signal".
    pub fn exit_code(self) -> u8 {
        128 + self.number() as u8
    }
}

/// SIGINT and SIGTERM, listened to for the rest of the process's life.
pub struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    /// Installs the handlers. Must run inside a tokio runtime with I/O enabled.
    pub fn listen() -> std::io::Result<Signals> {
        Ok(Signals { interrupt: signal(SignalKind::interrupt())?, terminate: signal(SignalKind::terminate())? })
    }

    /// Waits for the first of the two.
    pub async fn recv(&mut self) -> StopSignal {
        tokio::select! {
            _ = self.interrupt.recv() => StopSignal::Interrupt,
            _ = self.terminate.recv() => StopSignal::Terminate,
        }
    }

    /// A signal delivered since the last look, without waiting.
    pub fn take_pending(&mut self) -> Option<StopSignal> {
        let mut cx = Context::from_waker(Waker::noop());
        match pin!(self.recv()).poll(&mut cx) {
            Poll::Ready(s) => Some(s),
            Poll::Pending => None,
        }
    }
}
