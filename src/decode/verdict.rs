//! The validator's `format_validation` strings: every message template lives here.
//!
//! In: the outcome of the rules in `../shared/conformance/README.md` (stage F) — which rule
//! failed, and the values it quotes, already printed as Python's `str()` prints them. Out: a
//! [`Verdict`] that prints exactly as Python stored it. The common verdicts carry no heap data;
//! only messages that quote a miner's value own their text. Both decoders (`fast`, `exact`) build
//! their messages through the constructors below, so the text is written once.

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

/// The messages of the ordered checks (README F, rules 3–15), in rule order. `class` is a Python
/// class name (`int`, `dict`, `NoneType`, …); quoted values are printed by the caller as Python's
/// `str()` prints them (`True`, `12345678.0`, a 4300-digit int).
impl Verdict {
    /// Rule 3: `simulation_output` is not a list.
    pub fn wrong_output_type(class: impl fmt::Display) -> Verdict {
        Verdict::message(format!("Response format is incorrect: expected tuple or list, got <class '{class}'>"))
    }

    /// Rule 5: the first element is not an int.
    pub fn wrong_start_type(class: impl fmt::Display) -> Verdict {
        Verdict::message(format!("Start time format is incorrect: expected int, got <class '{class}'>"))
    }

    /// Rule 7: the second element is not an int.
    pub fn wrong_increment_type(class: impl fmt::Display) -> Verdict {
        Verdict::message(format!("Time increment format is incorrect: expected int, got <class '{class}'>"))
    }

    /// Rule 8: the start time is not the request's.
    pub fn wrong_start(expected: impl fmt::Display, got: impl fmt::Display) -> Verdict {
        Verdict::message(format!("Start time timestamp is incorrect: expected {expected}, got {got}"))
    }

    /// Rule 9: the time increment is not the request's.
    pub fn wrong_increment(expected: impl fmt::Display, got: impl fmt::Display) -> Verdict {
        Verdict::message(format!("Time increment is incorrect: expected {expected}, got {got}"))
    }

    /// Rule 10: not `num_simulations` paths.
    pub fn wrong_path_count(expected: impl fmt::Display, got: impl fmt::Display) -> Verdict {
        Verdict::message(format!("Number of paths is incorrect: expected {expected}, got {got}"))
    }

    /// Rule 12: a path is not a list.
    pub fn wrong_path_type(class: impl fmt::Display) -> Verdict {
        Verdict::message(format!("Path format is incorrect: expected list, got <class '{class}'>"))
    }

    /// Rule 13: a path's length is not the request's point count.
    pub fn wrong_point_count(expected: impl fmt::Display, got: impl fmt::Display) -> Verdict {
        Verdict::message(format!("Number of time points is incorrect: expected {expected}, got {got}"))
    }

    /// Rule 14: a price is not an int or a float.
    pub fn wrong_price_type(class: impl fmt::Display) -> Verdict {
        Verdict::message(format!("Price format is incorrect: expected int or float, got <class '{class}'>"))
    }

    /// Rule 15 (v2): `str(price)` without its `.` is longer than 8 characters; v3 rules b and f:
    /// an int past a double, or a value needing more than 8 significant digits.
    pub fn too_many_digits(price: impl fmt::Display) -> Verdict {
        Verdict::message(format!("Price format is incorrect: too many digits {price}"))
    }

    /// v3 rule c: the price is NaN or ±infinity.
    pub fn non_finite(price: impl fmt::Display) -> Verdict {
        Verdict::message(format!("Price format is incorrect: non-finite value {price}"))
    }

    /// v3 rule d: the price rounds to infinity as a float32.
    pub fn exceeds_float32(price: impl fmt::Display) -> Verdict {
        Verdict::message(format!("Price format is incorrect: exceeds float32 range {price}"))
    }

    /// v3 rule e: a non-zero price rounds to zero as a float32.
    pub fn underflows_float32(price: impl fmt::Display) -> Verdict {
        Verdict::message(format!("Price format is incorrect: underflows float32 {price}"))
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's template block, one template a line.
    fn readme_templates(readme: &str) -> Vec<String> {
        let path = format!("{}/../shared/conformance/{readme}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("the shared conformance READMEs beside the repo");
        let block = text
            .split("## Message templates (exactly as stored)")
            .nth(1)
            .and_then(|rest| rest.split("```").nth(1))
            .expect("the README's template block");
        let mut want: Vec<String> = block.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect();
        want.sort_unstable();
        want
    }

    /// The templates both rule sets share, with the placeholders the READMEs print.
    fn shared_templates(price: &str) -> Vec<Verdict> {
        let t = "TYPE";
        vec![
            Verdict::Correct,
            Verdict::NoResponse,
            Verdict::ErrorDuringValidation,
            Verdict::ResponseEmpty,
            Verdict::wrong_output_type(t),
            Verdict::wrong_start_type(t),
            Verdict::wrong_increment_type(t),
            Verdict::wrong_start("{expected_int}", "{got}"),
            Verdict::wrong_increment("{expected_int}", "{got}"),
            Verdict::wrong_path_count("{num_simulations}", "{paths_sent}"),
            Verdict::wrong_path_type(t),
            Verdict::wrong_point_count("{points_expected}", "{points_sent}"),
            Verdict::wrong_price_type(t),
            Verdict::too_many_digits(price),
        ]
    }

    fn sorted(vs: Vec<Verdict>) -> Vec<String> {
        let mut ours: Vec<String> = vs.iter().map(|v| v.to_string()).collect();
        ours.sort_unstable();
        ours
    }

    /// Every template here is, byte for byte, one a conformance README lists as stored by the
    /// Python validator (section "Message templates"), and every one it lists is here: v2's
    /// README, then v3's (v2's templates plus the three new price messages).
    #[test]
    fn templates_are_the_readmes() {
        assert_eq!(sorted(shared_templates("{python_str_of_price}")), readme_templates("README.md"));
        let mut v3 = shared_templates("{price}");
        v3.extend([
            Verdict::non_finite("{price}"),
            Verdict::exceeds_float32("{price}"),
            Verdict::underflows_float32("{price}"),
        ]);
        assert_eq!(sorted(v3), readme_templates("v3/README.md"));
    }
}
