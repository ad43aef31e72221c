//! The validator's `format_validation` strings.
//!
//! In: the outcome of the rules in `../shared/conformance/README.md` (stage F). Out: a
//! [`Verdict`] that prints exactly as Python stored it. The common verdicts carry no heap data;
//! only messages that quote a miner's value own their text.

use std::fmt;

/// `time out or internal server error (process time is None)`: the reply did not "arrive".
pub const NO_RESPONSE: &str = "time out or internal server error (process time is None)";
pub const CORRECT: &str = "CORRECT";
pub const ERROR_DURING_VALIDATION: &str = "error during validation";
pub const RESPONSE_EMPTY: &str = "Response is empty";

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    Correct,
    /// Stages A–D failed (transport, status, encoding, JSON, synapse fields).
    NoResponse,
    ErrorDuringValidation,
    ResponseEmpty,
    /// Any other message, printed in full (`Start time timestamp is incorrect: …`).
    Message(Box<str>),
}

impl Verdict {
    pub fn as_str(&self) -> &str {
        match self {
            Verdict::Correct => CORRECT,
            Verdict::NoResponse => NO_RESPONSE,
            Verdict::ErrorDuringValidation => ERROR_DURING_VALIDATION,
            Verdict::ResponseEmpty => RESPONSE_EMPTY,
            Verdict::Message(m) => m,
        }
    }

    /// Whether the Python validator has a process time for this miner (the reply arrived).
    pub fn arrived(&self) -> bool {
        !matches!(self, Verdict::NoResponse)
    }

    pub fn is_correct(&self) -> bool {
        matches!(self, Verdict::Correct)
    }

    pub fn message(text: impl Into<Box<str>>) -> Verdict {
        Verdict::Message(text.into())
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
