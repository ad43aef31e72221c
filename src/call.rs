//! What one miner call produced, as it crosses from I/O (or a recording) to the decoder.
//!
//! In: a finished HTTP exchange or its failure. Out: a borrowed [`RawCall`] that the decoder
//! turns into a verdict. Nothing here owns a body: replay borrows it from the recording's
//! buffer, the live client from its receive buffer.

use std::fmt;
use std::str::FromStr;

/// Why a call produced no usable HTTP response. The names are the recording contract's
/// `error` values (`schemas/recording.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallError {
    /// The per-miner deadline passed before the body was complete.
    Timeout,
    /// No connection could be made (refused, unreachable).
    Connect,
    /// The connection broke after it was made.
    Reset,
    /// The body exceeded the cap derived from the request.
    TooLarge,
    /// The peer did not speak HTTP/1.1 as expected.
    Protocol,
    /// The cycle was cancelled (signal) before the call finished.
    Cancelled,
}

impl CallError {
    pub const ALL: [CallError; 6] = [
        CallError::Timeout,
        CallError::Connect,
        CallError::Reset,
        CallError::TooLarge,
        CallError::Protocol,
        CallError::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallError::Timeout => "timeout",
            CallError::Connect => "connect",
            CallError::Reset => "reset",
            CallError::TooLarge => "too_large",
            CallError::Protocol => "protocol",
            CallError::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CallError {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CallError::ALL.into_iter().find(|e| e.as_str() == s).ok_or_else(|| format!("unknown call error {s:?}"))
    }
}

/// One miner call, borrowed from wherever its bytes live.
#[derive(Clone, Copy, Debug)]
pub struct RawCall<'a> {
    /// HTTP status, `None` when no HTTP response arrived.
    pub status: Option<u16>,
    /// Transport failure, `None` when the call completed.
    pub error: Option<CallError>,
    /// Milliseconds from the call's start to the first response byte.
    pub ttfb_ms: Option<f64>,
    /// Milliseconds from the cycle's start to the call's end (completed or failed).
    pub elapsed_ms: f64,
    /// The body exactly as received (for `too_large`, what was read before the cap).
    pub body: Option<&'a [u8]>,
}
