//! The envelope grammar: the synapse object around the prices, in the Axon's own layout.
//!
//! In: the body bytes. Out: the scanned `simulation_output` ([`Scanned`]: start, increment, path
//! count, first failing path), `Some(None)` for `null` or absent, or `None` (give up) for anything
//! outside the subset below; each path is handed to the lane loop ([`Scanner::path`]), which
//! stores its prices.
//!
//! What it reads is what a bittensor Axon prints: compact JSON (no whitespace), an object whose
//! members are the `Simulation` synapse fields with plain values (ASCII strings without escapes,
//! `null`, JSON numbers, the `dendrite`/`axon` objects), each member at most once, and
//! `simulation_output` either `null` or `[int, int, [number, …], …]`. Inside that subset every
//! element of `simulation_output` coerces as itself (ints stay ints, floats stay floats, paths
//! are lists), so pydantic has nothing to change and the validator's checks reduce to counting
//! and the digit rule. Anything else — a string price, a float start time, whitespace, an escape,
//! a UTF-8 byte, a duplicate member, a number of 20+ significant digits — is the exact path's.

use super::lane::Lane;
use crate::decode::{Rules, Verdict};
use crate::request::Expected;

/// What the scan of `simulation_output` found, before the ordered checks run.
pub(super) struct Scanned {
    pub(super) start: i64,
    pub(super) increment: i64,
    pub(super) paths: u64,
    /// The first path whose length is not the request's: (its index, its length).
    pub(super) first_bad_length: Option<(u64, u64)>,
    /// The first path of the right length holding a price that breaks the point rule: (its
    /// index, that price's verdict).
    pub(super) first_bad_price: Option<(u64, Verdict)>,
    /// Where `simulation_output`'s value lies in the body (its tokens, for a writer that copies
    /// them rather than printing the doubles again).
    pub(super) span: std::ops::Range<usize>,
}

pub(super) struct Scanner<'a> {
    pub(super) b: &'a [u8],
    pub(super) i: usize,
    /// The path loop; one the CPU supports. (Off x86-64 there is only the scalar loop, so nothing
    /// reads it there.)
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(super) lane: Lane,
    /// Whose point rule the prices are read with.
    pub(super) rules: Rules,
}

/// The members of the synapse the scanner accepts, as bits, to refuse duplicates.
const M_NAME: u16 = 1;
const M_TIMEOUT: u16 = 1 << 1;
const M_TOTAL_SIZE: u16 = 1 << 2;
const M_HEADER_SIZE: u16 = 1 << 3;
const M_DENDRITE: u16 = 1 << 4;
const M_AXON: u16 = 1 << 5;
const M_HASH: u16 = 1 << 6;
const M_INPUT: u16 = 1 << 7;
const M_OUTPUT: u16 = 1 << 8;

/// What a plain JSON number token is.
#[derive(PartialEq, Eq)]
enum NumKind {
    Int,
    Float,
}

impl<'a> Scanner<'a> {
    #[inline(always)]
    pub(super) fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline(always)]
    fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    #[inline(always)]
    pub(super) fn eat(&mut self, c: u8) -> Option<()> {
        (self.bump()? == c).then_some(())
    }

    fn eat_literal(&mut self, lit: &[u8]) -> Option<()> {
        let end = self.i.checked_add(lit.len())?;
        (self.b.get(self.i..end)? == lit).then(|| self.i = end)
    }

    /// The top-level synapse object. Returns the scanned `simulation_output` (`None` = null or
    /// absent).
    pub(super) fn envelope(&mut self, exp: &Expected, slot: &mut [f64]) -> Option<Option<Scanned>> {
        self.eat(b'{')?;
        let mut seen = 0u16;
        let mut output = None;
        loop {
            let key = self.string()?;
            self.eat(b':')?;
            let bit = match key {
                b"name" => {
                    self.scalar()?;
                    M_NAME
                }
                b"timeout" => {
                    self.number_or_null()?;
                    M_TIMEOUT
                }
                b"total_size" => {
                    self.int_or_null()?;
                    M_TOTAL_SIZE
                }
                b"header_size" => {
                    self.int_or_null()?;
                    M_HEADER_SIZE
                }
                b"dendrite" => {
                    self.terminal_info()?;
                    M_DENDRITE
                }
                b"axon" => {
                    self.terminal_info()?;
                    M_AXON
                }
                b"computed_body_hash" => {
                    self.string_or_null()?;
                    M_HASH
                }
                b"simulation_input" => {
                    self.simulation_input()?;
                    M_INPUT
                }
                b"simulation_output" => {
                    if self.peek()? == b'n' {
                        self.eat_literal(b"null")?;
                    } else {
                        let at = self.i;
                        let mut scanned = self.simulation_output(exp, slot)?;
                        scanned.span = at..self.i;
                        output = Some(scanned);
                    }
                    M_OUTPUT
                }
                _ => return None,
            };
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            match self.bump()? {
                b',' => continue,
                b'}' => break,
                _ => return None,
            }
        }
        // Trailing whitespace is legal JSON and harmless; anything else is for the exact path.
        if !self.b[self.i..].iter().all(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r')) {
            return None;
        }
        // `simulation_input` is required; its absence is the exact path's business.
        (seen & M_INPUT != 0).then_some(output)
    }

    /// A string of printable ASCII without escapes; returns its bytes.
    #[inline]
    fn string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.i;
        let rest = &self.b[start..];
        let len = rest.iter().position(|&c| c == b'"' || c == b'\\' || !(0x20..0x7f).contains(&c))?;
        if rest[len] != b'"' {
            return None;
        }
        self.i = start + len + 1;
        Some(&rest[..len])
    }

    fn null(&mut self) -> Option<()> {
        self.eat_literal(b"null")
    }

    fn string_or_null(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            _ => self.null(),
        }
    }

    /// Any JSON number token (grammar checked); at most 18 digits before the exponent, so ints
    /// fit an i64 and the 4300-digit rule cannot apply.
    fn number(&mut self) -> Option<NumKind> {
        let start = self.i;
        if self.peek()? == b'-' {
            self.i += 1;
        }
        match self.bump()? {
            b'0' => {}
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        let mut kind = NumKind::Int;
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return None;
            }
            kind = NumKind::Float;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return None;
            }
            kind = NumKind::Float;
        }
        // A digit right after a leading zero (`01`) is invalid JSON: the exact path says so.
        if self.peek().is_some_and(|c| c.is_ascii_digit()) || self.i - start > 24 {
            return None;
        }
        Some(kind)
    }

    fn digits(&mut self) -> usize {
        let n = self.b[self.i..].iter().take_while(|c| c.is_ascii_digit()).count();
        self.i += n;
        n
    }

    /// An int token that fits an i64 (canonical JSON int).
    fn int(&mut self) -> Option<i64> {
        let start = self.i;
        (self.number()? == NumKind::Int).then_some(())?;
        std::str::from_utf8(&self.b[start..self.i]).ok()?.parse().ok()
    }

    fn number_or_null(&mut self) -> Option<()> {
        match self.peek()? {
            b'n' => self.null(),
            _ => self.number().map(drop),
        }
    }

    fn int_or_null(&mut self) -> Option<()> {
        match self.peek()? {
            b'n' => self.null(),
            _ => self.int().map(drop),
        }
    }

    /// `name`: overwritten by the validator, so any plain scalar will do.
    fn scalar(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'n' => self.null(),
            b't' => self.eat_literal(b"true"),
            b'f' => self.eat_literal(b"false"),
            _ => self.number().map(drop),
        }
    }

    /// `dendrite` / `axon`: null or an object of bittensor's `TerminalInfo` members.
    fn terminal_info(&mut self) -> Option<()> {
        if self.peek()? == b'n' {
            return self.null();
        }
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        let mut seen = 0u16;
        loop {
            let key = self.string()?;
            self.eat(b':')?;
            let bit = match key {
                b"status_code" => 1,
                b"port" => 1 << 1,
                b"version" => 1 << 2,
                b"nonce" => 1 << 3,
                b"process_time" => 1 << 4,
                b"status_message" => 1 << 5,
                b"ip" => 1 << 6,
                b"uuid" => 1 << 7,
                b"hotkey" => 1 << 8,
                b"signature" => 1 << 9,
                _ => return None,
            };
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            match bit {
                1 | 2 | 4 | 8 => self.int_or_null()?,
                16 => self.number_or_null()?,
                _ => self.string_or_null()?,
            }
            match self.bump()? {
                b',' => continue,
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    /// The reply's own `simulation_input`: validated by pydantic, then ignored.
    fn simulation_input(&mut self) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        let mut seen = 0u8;
        loop {
            let key = self.string()?;
            self.eat(b':')?;
            let bit = match key {
                b"asset" => 1,
                b"start_time" => 2,
                b"time_increment" => 4,
                b"time_length" => 8,
                b"num_simulations" => 16,
                _ => return None,
            };
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            if bit <= 2 {
                self.string()?;
            } else {
                self.int()?;
            }
            match self.bump()? {
                b',' => continue,
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    /// `[start, increment, [prices…], …]`, prices written into the slot as they are parsed.
    fn simulation_output(&mut self, exp: &Expected, slot: &mut [f64]) -> Option<Scanned> {
        self.eat(b'[')?;
        let start = self.int()?;
        self.eat(b',')?;
        let increment = self.int()?;
        let want_paths = u64::try_from(exp.paths).unwrap_or(0);
        let points = usize::try_from(exp.points).unwrap_or(0);
        let mut paths = 0u64;
        let (mut first_bad_length, mut first_bad_price) = (None, None);
        loop {
            match self.bump()? {
                b']' => break,
                b',' => {}
                _ => return None,
            }
            // Only paths inside the request's shape have a place in the slot.
            let dest: &mut [f64] = if paths < want_paths {
                let at = paths as usize * points;
                &mut slot[at..at + points]
            } else {
                &mut []
            };
            let (len, bad_price) = self.path(dest)?;
            if len != points as u64 || exp.points < 0 {
                first_bad_length.get_or_insert((paths, len));
            } else if let Some(v) = bad_price {
                first_bad_price.get_or_insert((paths, v));
            }
            paths += 1;
        }
        Some(Scanned { start, increment, paths, first_bad_length, first_bad_price, span: 0..0 })
    }
}

#[cfg(test)]
mod tests {
    use super::super::decode;
    use super::super::tests::{exp, run};

    #[test]
    fn gives_up_on_anything_unusual() {
        let e = exp(1, 1);
        for o in [
            "[1795528920,60,[\"1.5\"]]",
            "[1795528920.0,60,[1.5]]",
            "[1795528920,60,[NaN]]",
            "[1795528920,60,[01]]",
            "[1795528920,60,[1.5] ]",
            "[1795528920,60,[true]]",
            "[1795528920,60,5]",
            "[1795528920]",
            "[]",
            "{}",
            "[1795528920,60,[12345678901234567890123]]",
        ] {
            assert_eq!(run(&e, o).0, None, "{o}");
        }
        let mut slot = vec![0.0];
        for b in [
            &b"\xef\xbb\xbf{}"[..],
            b"{\"simulation_output\":null}",
            b"{\"simulation_input\":{},\"simulation_input\":{}}",
            b"{\"simulation_input\":{},\"extra\":1}",
            b"{\"simulation_input\":{\"asset\":\"B\\u0054C\"}}",
            b"{\"simulation_input\":{}}x",
        ] {
            assert_eq!(decode(&e, b, &mut slot), None, "{}", String::from_utf8_lossy(b));
        }
    }
}
