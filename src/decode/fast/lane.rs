//! Lane choice and the path loops: which loop reads a body's paths, and the loops themselves.
//!
//! In: the [`Scanner`] standing at a path's `[`, and the path's place in the slot. Out: the
//! path's length and the `str()` of its first price that breaks the digit rule, the prices
//! stored; `None` when the path is not in the shape this scanner reads.
//!
//! [`Lane`] is picked once per body from the CPU's features (runtime detection: the x86-64
//! baseline is only SSE2, so nothing above it is assumed). Every lane gives the same verdict and
//! the same slot bits (property test `lanes_agree` below, at every alignment and distance from
//! the end of the body):
//!
//! - **SWAR** (portable, and the tail of the others): token after token through
//!   [`number::price`](super::number::price).
//! - **SSSE3** and **x86-64-v3**: runs of [`simd`](super::simd)'s loop; whatever stops a run (a
//!   token of another shape, a price that breaks the digit rule, the last 64 bytes of the body)
//!   is handled here by the general readers before the next run starts.

use super::envelope::Scanner;
use super::number;
#[cfg(target_arch = "x86_64")]
use super::simd;
use crate::decode::Verdict;

/// Which path loop runs. All give the same answer; they differ in speed only.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Lane {
    /// Portable: eight bytes at a time in a `u64` ([`Scanner::path_swar`]).
    Swar,
    /// x86-64 with SSSE3 ([`Scanner::path_simd`]).
    Ssse3,
    /// x86-64-v3: AVX2, BMI1/2, LZCNT, POPCNT (the same loop, VEX-encoded, 32-byte loads).
    Avx2,
}

impl Lane {
    /// The fastest lane this CPU runs (std caches the feature bits: a few atomic loads).
    pub(super) fn best() -> Lane {
        [Lane::Avx2, Lane::Ssse3].into_iter().find(|l| l.supported()).unwrap_or(Lane::Swar)
    }

    pub(super) fn supported(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            match self {
                Lane::Swar => true,
                Lane::Ssse3 => has!("ssse3"),
                Lane::Avx2 => has!("avx2") && has!("bmi1") && has!("bmi2") && has!("lzcnt") && has!("popcnt"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Lane::Swar
        }
    }
}

impl Scanner<'_> {
    /// One path: `[number, …]`. Returns its length and the `str()` of its first price that
    /// breaks the digit rule. Takes the SSSE3 lane when the CPU has it, else the portable SWAR
    /// loop; both give the same answer.
    #[inline]
    pub(super) fn path(&mut self, dest: &mut [f64]) -> Option<(u64, Option<Verdict>)> {
        #[cfg(target_arch = "x86_64")]
        if self.lane != Lane::Swar {
            // SAFETY: `decode_lane` only takes a lane the CPU supports.
            return unsafe { self.path_simd(dest) };
        }
        self.path_swar(dest)
    }

    /// The portable path loop. Kept out of line: with the whole envelope inlined around it, the
    /// token loop ran short of registers and spilled (≈ 175 instructions a price, ≈ 130 alone).
    #[inline(never)]
    fn path_swar(&mut self, dest: &mut [f64]) -> Option<(u64, Option<Verdict>)> {
        self.eat(b'[')?;
        if self.peek()? == b']' {
            self.i += 1;
            return Some((0, None));
        }
        let i = self.i;
        self.path_from(dest, i, 0, None)
    }

    /// The rest of a path from the token at `b[i]`, `n` prices already read (the SWAR loop, and
    /// the tail of the SSSE3 lane).
    #[inline(always)]
    fn path_from(
        &mut self,
        dest: &mut [f64],
        mut i: usize,
        mut n: usize,
        mut bad: Option<Verdict>,
    ) -> Option<(u64, Option<Verdict>)> {
        let b = self.b;
        loop {
            let (value, fits, end) = number::price(b, i, self.rules)?;
            if let Some(d) = dest.get_mut(n) {
                *d = value;
            }
            if !fits && bad.is_none() {
                bad = Some(number::misfit(&b[i..end], value, self.rules));
            }
            n += 1;
            match b.get(end) {
                Some(b',') => i = end + 1,
                Some(b']') => {
                    self.i = end + 1;
                    return Some((n as u64, bad));
                }
                _ => return None,
            }
        }
    }

    /// The path loop on x86-64: a run of the lane's loop ([`simd::run_ssse3`],
    /// [`simd::run_avx2`]) reads tokens until one needs help (another shape, a price that breaks
    /// the digit rule), the path ends, or the body does; this loop gives that help and starts it
    /// again. The last bytes of the body (< 64 left) take the SWAR loop.
    ///
    /// # Safety
    /// `self.lane` is `Ssse3` or `Avx2`, and the CPU supports it.
    #[cfg(target_arch = "x86_64")]
    unsafe fn path_simd(&mut self, dest: &mut [f64]) -> Option<(u64, Option<Verdict>)> {
        self.eat(b'[')?;
        if self.peek()? == b']' {
            self.i += 1;
            return Some((0, None));
        }
        let b = self.b;
        let mut i = self.i;
        let mut n = 0usize;
        let mut bad: Option<Verdict> = None;
        if i < 16 {
            // Not in a real body; `run` needs 16 bytes before every token.
            return self.path_from(dest, i, n, bad);
        }
        loop {
            // SAFETY: the lane's features (caller); 16 <= i (checked above, and i only grows).
            let (stop, read) = unsafe {
                match self.lane {
                    Lane::Avx2 => simd::run_avx2(b, i, dest, n),
                    _ => simd::run_ssse3(b, i, dest, n),
                }
            };
            n = read;
            let e = match stop {
                simd::Stop::Close { e } => e,
                simd::Stop::Tail { i } => return self.path_from(dest, i, n, bad),
                simd::Stop::Misfit { i, e, value } => {
                    self.note_bad(&mut bad, i, e, value);
                    e
                }
                simd::Stop::Other { i, e } => {
                    let (value, fits) = self.general_token(i, e)?;
                    if let Some(d) = dest.get_mut(n) {
                        *d = value;
                    }
                    n += 1;
                    if !fits {
                        self.note_bad(&mut bad, i, e, value);
                    }
                    e
                }
            };
            if b[e] == b']' {
                self.i = e + 1;
                return Some((n as u64, bad));
            }
            i = e + 1;
        }
    }

    /// A token the SSSE3 lane did not take, `b[i..]` up to the first separator `b[e]`: the
    /// general readers, which must stop exactly at `e` (`None`: not a number followed by a
    /// separator, the body is for the exact path). Out of line so the hot loop keeps its
    /// registers.
    #[cfg(target_arch = "x86_64")]
    #[cold]
    #[inline(never)]
    fn general_token(&self, i: usize, e: usize) -> Option<(f64, bool)> {
        let (value, fits, end) = number::price(self.b, i, self.rules)?;
        // `e` is the first `,`/`]` at or after `i`, and no number token holds one, so ending
        // anywhere else means a byte that is not a separator.
        (end == e).then_some((value, fits))
    }

    /// Records the verdict of the price `b[i..e]` that broke the digit rule, if it is the first.
    /// (Used by the SIMD lanes, which exist on x86-64 only.)
    #[cold]
    #[inline(never)]
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    fn note_bad(&self, bad: &mut Option<Verdict>, i: usize, e: usize, value: f64) {
        if bad.is_none() {
            *bad = Some(number::misfit(&self.b[i..e], value, self.rules));
        }
    }
}

#[cfg(test)]
mod props {
    use super::super::decode_lane;
    use super::super::number::props::token;
    use super::*;
    use crate::decode::Rules;
    use crate::request::Expected;
    use proptest::prelude::*;

    /// Price tokens for whole paths: mostly the common shape at every length (trailing zeros,
    /// 8-digit integer parts, signs), plus every other number shape and some bytes that are not
    /// numbers at all (the body then belongs to the exact path, in both lanes).
    fn path_token() -> impl Strategy<Value = String> {
        let common = (any::<bool>(), 1u64..100_000_000, "[0-9]{1,8}")
            .prop_map(|(neg, int, frac)| format!("{}{int}.{frac}", if neg { "-" } else { "" }));
        let short = (1u64..1000, 0u32..1000).prop_map(|(int, frac)| format!("{int}.{frac}"));
        prop_oneof![
            30 => common,
            15 => short,
            10 => token(),
            1 => "[-0-9.eE+]{1,6}",
            // 64+ bytes: a window with no separator (the lane hands over to the SWAR loop).
            1 => (50usize..80).prop_map(|z| format!("0.{}1", "0".repeat(z))),
            1 => r#"[-0-9.eE+"x \[{}a]{0,4}"#,
        ]
    }

    /// One body: `paths` in the reply, the name padded by `pad` bytes (every alignment of the
    /// tokens against the 64-byte windows) and `tail` spaces after it (how close the last
    /// tokens come to the end of the buffer).
    fn body_of(paths: &[Vec<String>], pad: usize, tail: usize) -> Vec<u8> {
        let mut s = format!(
            r#"{{"name":"Simulation{}","simulation_input":{{"asset":"BTC"}},"simulation_output":[1795528920,60"#,
            "x".repeat(pad)
        );
        for p in paths {
            s.push_str(",[");
            s.push_str(&p.join(","));
            s.push(']');
        }
        s.push_str("]}");
        s.push_str(&" ".repeat(tail));
        s.into_bytes()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 20_000, ..ProptestConfig::default() })]

        /// The SSSE3 lane (64-byte windows, 16-byte token loads, fallbacks, the SWAR tail) gives
        /// the SWAR lane's verdict and slot bits on the same body, and the slot holds std's value
        /// of every token when the body is decided.
        #[test]
        fn lanes_agree(
            paths in (0usize..24, 1usize..4).prop_flat_map(|(points, n)| {
                // Mostly paths of one length (so the price checks are reached), some not.
                prop::collection::vec(
                    prop_oneof![
                        8 => prop::collection::vec(path_token(), points),
                        1 => prop::collection::vec(path_token(), 0..24),
                    ],
                    n,
                )
            }),
            pad in 0usize..64,
            tail in 0usize..80,
            v3 in any::<bool>(),
        ) {
            let points = paths[0].len();
            let rules = if v3 { Rules::V3 } else { Rules::V2 };
            let e = Expected {
                start: Some(1795528920),
                increment: 60,
                paths: paths.len() as i64,
                points: points as i64,
                rules,
            };
            let body = body_of(&paths, pad, tail);
            let mut slot_swar = vec![f64::NAN; e.slot_len()];
            let v_swar = decode_lane(&e, &body, &mut slot_swar, Lane::Swar);
            let bits = |s: &[f64]| s.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            for lane in [Lane::Ssse3, Lane::Avx2].into_iter().filter(|l| l.supported()) {
                let mut slot = vec![f64::NAN; e.slot_len()];
                let v = decode_lane(&e, &body, &mut slot, lane);
                prop_assert_eq!(&v, &v_swar, "{:?}: {}", lane, String::from_utf8_lossy(&body));
                if v.is_some() {
                    prop_assert_eq!(bits(&slot), bits(&slot_swar), "{:?}", lane);
                }
            }
            if v_swar.as_ref().is_some_and(|v| v.is_correct()) {
                for (tok, got) in paths.iter().flatten().zip(&slot_swar) {
                    let want: f64 = match tok.parse::<i128>() {
                        Ok(i) => i as f64,
                        Err(_) => tok.parse().unwrap(),
                    };
                    prop_assert_eq!(got.to_bits(), want.to_bits(), "{}", tok);
                }
            }
        }
    }
}
