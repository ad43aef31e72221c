//! The fast path: the Axon's own layout scanned in one pass, prices parsed into the slot.
//!
//! In: [`Expected`], the body, the miner's slot. Out: `Some(verdict)` when the body is in the
//! shape this scanner fully understands, `None` (give up, let [`exact`](super::exact) decide)
//! otherwise.
//!
//! What it understands is what a bittensor Axon prints: compact JSON (no whitespace), an object
//! whose members are the `Simulation` synapse fields with plain values (ASCII strings without
//! escapes, `null`, JSON numbers, the `dendrite`/`axon` objects), each member at most once, and
//! `simulation_output` either `null` or `[int, int, [number, …], …]`. Inside that subset every
//! element of `simulation_output` coerces as itself (ints stay ints, floats stay floats, paths are
//! lists), so the validator's checks reduce to counting and the digit rule, which run fused with
//! the scan. Anything else — a string price, a float start time, whitespace, an escape, a UTF-8
//! byte, a duplicate member, a number of 20+ significant digits — is handed to the exact path,
//! which models Python and pydantic in full.
//!
//! The price loop is the hot path of the whole engine. Per price it parses the token into an
//! integer mantissa and a decimal exponent, builds the double with one correctly rounded multiply
//! or divide (Clinger's fast path: mantissa < 2^53 and |exponent| ≤ 22, both operands exact), and
//! gets the length of Python's `repr` arithmetically from the digit count and exponent: for a
//! decimal of at most 15 significant digits the shortest round-trip digits are exactly its own
//! (no other decimal of ≤ 15 digits maps to the same double), so no float formatting is needed.
//! Tokens outside that window take `str::parse` and [`pyrepr`] — rare, still exact.
//!
//! # The path loop: three lanes, one answer
//!
//! `Lane` picks the loop once per body from the CPU's features (runtime detection; the x86-64
//! baseline is only SSE2, so nothing above it is assumed):
//!
//! - **SWAR** (portable, and the tail of the others): per token, eight bytes in a `u64` find
//!   the digit runs and parse them (`common_token`).
//! - **SSSE3** and **x86-64-v3** (AVX2 + BMI1/2 + LZCNT; same source, VEX-encoded, 32-byte
//!   loads for the bitmaps): `sse::run_*`. A 64-byte window becomes one `u64` bitmap of `,`/`]`
//!   (`pcmpeqb` + `pmovmskb`); each set bit is a token end `e`, so the loop-carried work per
//!   token is a `tzcnt` and a `blsr`. The token `b[i..e]` is then read with **one 16-byte load
//!   that ends at `e`**: the number sits right-aligned, so the digit weights are fixed. Three
//!   16-bit masks (not-a-digit, dot, token bytes from a per-length table) check the shape
//!   `[1-9]\d{0,6}\.\d{1,7}` with a few scalar ops; one `pshufb` (row per length and dot
//!   position) drops the dot and the bytes before the token; `pmaddubsw`, `pmaddwd`, `packssdw`,
//!   `pmaddwd` give the mantissa (≤ 8 digits: directly one `i32` lane → `cvtdq2pd`); one `divsd`
//!   by the exact power of ten rounds it. The repr length needs no work for tokens of ≤ 9 bytes
//!   (it is at most `len - 1`); longer ones count trailing `'0'`s from one more mask. The run loop
//!   makes no calls, so nothing spills: any other token (a sign, an exponent, `0.5`, …), a price
//!   that breaks the digit rule, the path's `]`, or the last 64 bytes of the body stop it, and
//!   `Scanner::path_simd` hands that token to the general readers and starts a new run.
//!
//! Every lane gives the same verdict and the same slot bits (property test `lanes_agree`, at
//! every alignment and distance from the end of the body; the token readers against std and
//! CPython in `fused_price_matches_std_and_repr` and `tests/pyrepr_python.rs`).
//!
//! Measured on the synthetic 605 KB reply of `examples/scan_speed.rs` (1000 paths × 61 prices),
//! instructions in this module per price by `N=10 valgrind --tool=callgrind
//! ./target/release/examples/scan_speed` (deterministic), and one-core MB/s by
//! `N=300 ./target/release/examples/scan_speed` (noisy: a shared 2-core VM at load average
//! ≈ 4; each figure is a range over runs interleaved with the baseline, same load):
//!
//! | lane | instructions / price | MB/s one core |
//! |---|---|---|
//! | SWAR only (before, commit 1b874fa) | 166.7 | 450–830 (≈ 650–750 interleaved) |
//! | SSSE3 | 67.9 | 1 650–2 500 |
//! | x86-64-v3 (AVX2) | 56.7 | 2 450–3 050 |

use crate::decode::pyrepr;
use crate::decode::Verdict;
use crate::request::Expected;

/// Exact powers of ten as f64 (all representable up to 1e22).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

const POW10_U64: [u64; 9] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000];

/// The common price token, `-?[1-9]d{0,6}.d{1,7}`: returns the value, whether it passes the
/// digit rule, and where the token ends. `None` for any other shape (the general readers take it)
/// and near the body's end.
///
/// With an integer part in [1, 1e7) Python's repr is fixed notation with the token's own digits
/// (≤ 14 significant, so exact), and its length without the point is the integer digits plus the
/// fraction's digits up to its last non-zero one (at least one: `140.0` → `1400`).
#[inline(always)]
fn common_token(b: &[u8], i: usize) -> Option<(f64, bool, usize)> {
    let neg = *b.get(i)? == b'-';
    let start = i + usize::from(neg);
    let (k1, int_digits) = digit_run(b, start)?;
    if k1 == 0 || k1 > 7 || int_digits as u8 == 0 || b[start + k1] != b'.' {
        return None;
    }
    let (k2, frac_digits) = digit_run(b, start + k1 + 1)?;
    let end = start + k1 + 1 + k2;
    if k2 == 0 || k2 > 7 || b[end] | 0x20 == b'e' {
        return None;
    }
    let int_val = parse_left_aligned(int_digits << (8 * (8 - k1)));
    let frac = frac_digits << (8 * (8 - k2));
    let frac_val = parse_left_aligned(frac);
    // Zero digits at the end of the fraction sit in the top bytes of `frac`.
    let non_zero = (((frac & LOW7) + LOW7) | frac) & HIGH;
    let significant = k2 as i32 - (non_zero.leading_zeros() / 8) as i32;
    let len = k1 as i32 + significant.max(1) + i32::from(neg);
    // Below 1e14, so the signed conversion (one instruction on x86-64, unlike u64 → f64) is exact.
    let m = (int_val * POW10_U64[k2] + frac_val) as i64;
    let v = (if neg { -m } else { m }) as f64 / POW10[k2];
    Some((v, len <= 8, end))
}

const HIGH: u64 = 0x8080_8080_8080_8080;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// How many ASCII digits start at `b[i]` (8 = maybe more), and the eight bytes minus `'0'`.
/// `None` when fewer than 9 bytes remain, so the byte after a run of ≤ 7 can be read unchecked.
#[inline(always)]
fn digit_run(b: &[u8], i: usize) -> Option<(usize, u64)> {
    let chunk: [u8; 8] = b.get(i..i + 9)?[..8].try_into().ok()?;
    let x = u64::from_le_bytes(chunk) ^ 0x3030_3030_3030_3030;
    // Bytes < 10 after the xor are digits; the high bit marks every other byte (7-bit mask
    // first, so the add never carries into the next byte).
    let non_digit = (((x & LOW7) + 0x7676_7676_7676_7676) | x) & HIGH;
    Some(((non_digit.trailing_zeros() / 8) as usize, x))
}

/// The value of eight digit bytes (already minus `'0'`, first digit in the lowest byte); leading
/// positions may be zero bytes.
#[inline(always)]
fn parse_left_aligned(v: u64) -> u64 {
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let v1 = (v & 0x0000_00ff_0000_00ff).wrapping_mul(0x000f_4240_0000_0064);
    let v2 = ((v >> 16) & 0x0000_00ff_0000_00ff).wrapping_mul(0x0000_2710_0000_0001);
    u64::from((v1.wrapping_add(v2) >> 32) as u32)
}

/// A run of ASCII digits read eight bytes at a time.
struct DigitRun {
    /// How many digits (0–8; 8 means the run may go on).
    len: usize,
    /// Their value.
    value: u64,
    /// Digits up to and including the last non-zero one (trailing zeros dropped).
    significant: usize,
}

/// The digits that start at `b[i]`. `None` when fewer than 9 bytes remain (the last token of a
/// body; the scalar reader takes it), so the caller may read the byte after the run unchecked.
#[inline(always)]
fn swar_digits(b: &[u8], i: usize) -> Option<DigitRun> {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let chunk: [u8; 8] = b.get(i..i + 9)?[..8].try_into().ok()?;
    let x = u64::from_le_bytes(chunk) ^ 0x3030_3030_3030_3030;
    // A byte is a digit iff it is < 10 after the xor; the high bit flags every other byte
    // (masking to 7 bits first keeps the add from carrying into the next byte).
    let non_digit = (((x & LOW7) + 0x7676_7676_7676_7676) | x) & HIGH;
    let len = (non_digit.trailing_zeros() / 8) as usize;
    if len == 0 {
        return Some(DigitRun { len: 0, value: 0, significant: 0 });
    }
    let in_run = if len == 8 { u64::MAX } else { (1u64 << (8 * len)) - 1 };
    let non_zero = (((x & LOW7) + LOW7) | x) & HIGH & in_run;
    let significant = (64 - non_zero.leading_zeros() as usize).div_ceil(8);
    // Keep the digits as the high bytes, so the fixed 8-digit parse sees leading zeros.
    let v = x << (8 * (8 - len));
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let v1 = (v & 0x0000_00ff_0000_00ff).wrapping_mul(0x000f_4240_0000_0064);
    let v2 = ((v >> 16) & 0x0000_00ff_0000_00ff).wrapping_mul(0x0000_2710_0000_0001);
    let value = u64::from((v1.wrapping_add(v2) >> 32) as u32);
    Some(DigitRun { len, value, significant })
}

/// Decides a status-200 body in the Axon's layout, or gives up (`None`).
pub fn decode(exp: &Expected, body: &[u8], slot: &mut [f64]) -> Option<Verdict> {
    decode_lane(exp, body, slot, Lane::best())
}

/// [`decode`] with the path loop chosen (the tests run every lane this CPU has on the same
/// bodies). `lane` must be one the CPU supports ([`Lane::supported`]).
fn decode_lane(exp: &Expected, body: &[u8], slot: &mut [f64], lane: Lane) -> Option<Verdict> {
    if slot.len() != exp.slot_len() || !lane.supported() {
        return None;
    }
    let mut s = Scanner { b: body, i: 0, lane };
    let output = s.envelope(exp, slot)?;
    Some(verdict(exp, output))
}

/// Which path loop runs. All give the same answer; they differ in speed only.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Lane {
    /// Portable: eight bytes at a time in a `u64` ([`Scanner::path_swar`]).
    Swar,
    /// x86-64 with SSSE3 ([`Scanner::path_simd`]).
    Ssse3,
    /// x86-64-v3: AVX2, BMI1/2, LZCNT, POPCNT (the same loop, VEX-encoded, 32-byte loads).
    Avx2,
}

impl Lane {
    /// The fastest lane this CPU runs (std caches the feature bits: a few atomic loads).
    fn best() -> Lane {
        [Lane::Avx2, Lane::Ssse3].into_iter().find(|l| l.supported()).unwrap_or(Lane::Swar)
    }

    fn supported(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            match self {
                Lane::Swar => true,
                Lane::Ssse3 => has!("ssse3"),
                Lane::Avx2 => {
                    has!("avx2") && has!("bmi1") && has!("bmi2") && has!("lzcnt") && has!("popcnt")
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Lane::Swar
        }
    }
}

/// The SSSE3 and x86-64-v3 path loops (x86-64 only; the SWAR loop is the fallback everywhere).
#[cfg(target_arch = "x86_64")]
mod sse {
    use std::arch::x86_64::*;

    /// The positions of `,` and `]` in `p[0..64]`, bit k for byte k (SSE2: four 16-byte loads).
    ///
    /// # Safety
    /// `p[0..64]` must be readable. (SSE2 is part of the x86-64 baseline.)
    #[inline]
    #[target_feature(enable = "sse2")]
    unsafe fn terminators_sse2(p: *const u8) -> u64 {
        let comma = _mm_set1_epi8(b',' as i8);
        let close = _mm_set1_epi8(b']' as i8);
        let mut bits = 0u64;
        for k in 0..4 {
            // SAFETY: bytes 16k..16k+16 of the 64 the caller vouches for; unaligned load.
            let x = unsafe { _mm_loadu_si128(p.add(16 * k).cast()) };
            let hit = _mm_or_si128(_mm_cmpeq_epi8(x, comma), _mm_cmpeq_epi8(x, close));
            bits |= u64::from(_mm_movemask_epi8(hit) as u16) << (16 * k);
        }
        bits
    }

    /// [`terminators_sse2`] with two 32-byte loads.
    ///
    /// # Safety
    /// AVX2; `p[0..64]` must be readable.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn terminators_avx2(p: *const u8) -> u64 {
        let comma = _mm256_set1_epi8(b',' as i8);
        let close = _mm256_set1_epi8(b']' as i8);
        let mut bits = 0u64;
        for k in 0..2 {
            // SAFETY: bytes 32k..32k+32 of the 64 the caller vouches for; unaligned load.
            let x = unsafe { _mm256_loadu_si256(p.add(32 * k).cast()) };
            let hit = _mm256_or_si256(_mm256_cmpeq_epi8(x, comma), _mm256_cmpeq_epi8(x, close));
            bits |= u64::from(_mm256_movemask_epi8(hit) as u32) << (32 * k);
        }
        bits
    }

    /// Why a run stopped.
    pub(super) enum Stop {
        /// The path ends at `b[e] == ']'`.
        Close { e: usize },
        /// `b[i..e]` (ended by `b[e]`) is not the lane's shape: for the general readers.
        Other { i: usize, e: usize },
        /// `b[i..e]` (ended by `b[e]`) breaks the digit rule; its value is stored and counted.
        Misfit { i: usize, e: usize, value: f64 },
        /// Less than 64 bytes left, a token of 64+ bytes, or `dest` is full: the SWAR loop
        /// goes on from the token at `b[i]`.
        Tail { i: usize },
    }

    /// Stamps out the run loop for one set of CPU features (the same source; the compiler picks
    /// the encodings: VEX and BMI2 shifts for `avx2`).
    macro_rules! run_fn {
        ($(#[$doc:meta])* $name:ident, $features:literal, $terminators:ident) => {
            $(#[$doc])*
            ///
            /// Reads the path's tokens from `b[i]` while they take the lane's fast shape and fit
            /// the digit rule, storing them from `dest[n]` on. Returns why it stopped and the new
            /// `n`. Token ends come from a 64-byte bitmap of `,`/`]`; each token is checked and
            /// parsed by [`token`] from one 16-byte load that ends at its terminator. No calls
            /// inside, so every value of the loop stays in a register.
            ///
            /// # Safety
            /// The CPU features named; `i >= 16`.
            #[target_feature(enable = $features)]
            #[inline(never)]
            pub(super) unsafe fn $name(
                b: &[u8],
                mut i: usize,
                dest: &mut [f64],
                mut n: usize,
            ) -> (Stop, usize) {
                while i + 64 <= b.len() {
                    let w = i;
                    // SAFETY: `w + 64 <= b.len()` (loop condition); the features are enabled.
                    let mut marks = unsafe { $terminators(b.as_ptr().add(w)) };
                    if marks == 0 {
                        break; // a token of 64+ bytes
                    }
                    loop {
                        let e = w + marks.trailing_zeros() as usize;
                        marks &= marks - 1;
                        // SAFETY: SSSE3; 16 <= i <= e < w + 64 <= b.len() (i ≥ 16: caller).
                        let Some((value, fits)) = (unsafe { token(b, i, e) }) else {
                            return (Stop::Other { i, e }, n);
                        };
                        let Some(slot) = dest.get_mut(n) else {
                            return (Stop::Tail { i }, n);
                        };
                        *slot = value;
                        n += 1;
                        if !fits {
                            return (Stop::Misfit { i, e, value }, n);
                        }
                        // SAFETY: `e < w + 64 <= b.len()`.
                        if unsafe { *b.get_unchecked(e) } == b']' {
                            return (Stop::Close { e }, n);
                        }
                        i = e + 1;
                        if marks == 0 {
                            break;
                        }
                    }
                }
                (Stop::Tail { i }, n)
            }
        };
    }

    run_fn!(
        /// The path loop on SSSE3 (any x86-64 since about 2008).
        run_ssse3,
        "ssse3",
        terminators_sse2
    );
    run_fn!(
        /// The path loop on x86-64-v3 (AVX2, BMI1/2, LZCNT): the same code, VEX-encoded.
        run_avx2,
        "avx2,bmi1,bmi2,lzcnt,popcnt",
        terminators_avx2
    );

    /// The token lengths [`token`] takes: 3 (`1.5`) to 16 bytes.
    const MAX_LEN: usize = 16;

    /// Per token length `len` (any: the table covers every distance to the next separator in a
    /// 64-byte window): the token's bytes in the right-aligned 16-byte window (low half,
    /// `0xffff << (16 - len)`), and where `[1-9]\d{0,6}\.\d{1,7}` can have its dot (high half,
    /// bit `16 + p`: 1–7 integer digits, `p` in `17 - len ..= 23 - len`; 1–7 fraction digits,
    /// `p` in 8..=14). Zero outside 3..=16, lengths no such token has.
    static SHAPE: [u32; 64] = {
        let mut t = [0u32; 64];
        let mut len = 3;
        while len <= MAX_LEN {
            t[len] = (0xffff_u32 << (16 - len)) & 0xffff;
            let mut p = 8;
            while p <= 14 {
                if p + len >= 17 && p + len <= 23 {
                    t[len] |= 1 << (16 + p);
                }
                p += 1;
            }
            len += 1;
        }
        t
    };

    /// Shuffles for [`token`] at index `len * 16 + p`, for the pairs `SHAPE` allows: the
    /// token's digits without the dot (`16 - len < j <= p`: input byte `j - 1`; `j > p`: input
    /// byte `j`), as one right-aligned number ending at byte 15, or at byte 7 when `len <= 9`
    /// (≤ 8 digits: the first 32-bit lane holds it all). Other bytes are zero (`0x80`).
    #[repr(align(16))]
    struct Shuffles([[u8; 16]; (MAX_LEN + 1) * 16]);

    static CLOSE_DOT: Shuffles = {
        let mut t = [[0x80u8; 16]; (MAX_LEN + 1) * 16];
        let mut len = 3;
        while len <= MAX_LEN {
            let shift = if len <= 9 { 8 } else { 0 };
            let mut p = 8;
            while p <= 14 {
                if SHAPE[len] >> (16 + p) & 1 == 1 {
                    let mut j = 17 - len;
                    while j < 16 {
                        t[len * 16 + p][j - shift] = if j > p { j as u8 } else { (j - 1) as u8 };
                        j += 1;
                    }
                }
                p += 1;
            }
            len += 1;
        }
        Shuffles(t)
    };

    /// `10^(15 - p)`: the divisor for a dot at byte `p` (8..=14) of the window.
    static SCALE: [f64; 16] = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1e7, 1e6, 1e5, 1e4, 1e3, 1e2, 1e1, 1.0];

    /// The common positive price token `b[start..e]` = `[1-9]\d{0,6}\.\d{1,7}` (the shape of
    /// [`super::common_token`], same value and verdict), from one 16-byte load that ends at the
    /// terminator `b[e]`, so the token sits right-aligned in the register. `None`: not this shape
    /// (a sign, an exponent, `0.5`, …: the general readers take it).
    ///
    /// Bitmaps of the 16 bytes (bit j = byte j) check the shape: among the token's bytes exactly
    /// one is not a digit, it is a `.` at a `p` that `SHAPE` allows for this length, and the first
    /// byte is not `0`. One `pshufb` closes the gap of the dot and clears the bytes before the
    /// token; `pmaddubsw`/`pmaddwd`/`packssdw`/`pmaddwd` turn the digits into two 8-digit
    /// halves (tokens of ≤ 9 bytes: one).
    ///
    /// Python's repr has the token's own digits (see `common_token`), so its length without the
    /// point is `int_digits + max(significant_fraction_digits, 1)` ≤ `len - 1`: a token of ≤ 9
    /// bytes always fits. Longer ones: with `q` the highest byte that is not `'0'` (≥ `p`, the
    /// dot), the length is `max(q, p + 1) - 16 + len`.
    ///
    /// # Safety
    /// SSSE3; `16 <= e < b.len()`, `start <= e < start + 64`.
    #[inline]
    #[target_feature(enable = "ssse3")]
    unsafe fn token(b: &[u8], start: usize, e: usize) -> Option<(f64, bool)> {
        let len = e - start;
        // SAFETY: `len < 64` (caller).
        let shape = unsafe { *SHAPE.get_unchecked(len) };
        // SAFETY: `16 <= e <= b.len()` (caller), so `b[e-16..e]` is in bounds; unaligned load.
        let x = unsafe { _mm_loadu_si128(b.as_ptr().add(e - 16).cast()) };
        let d = _mm_sub_epi8(x, _mm_set1_epi8(b'0' as i8));
        // Not a digit: `byte - '0'` ≥ 10 unsigned.
        let not_digit = _mm_cmpeq_epi8(_mm_max_epu8(d, _mm_set1_epi8(10)), d);
        let not_digit = _mm_movemask_epi8(not_digit) as u32;
        let dots = _mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8(b'.' as i8))) as u32;
        // The token's non-digit bytes: exactly one, a dot where this length allows it.
        let odd = not_digit & shape;
        if odd & odd.wrapping_sub(1) != 0 || (odd & dots) << 16 & shape == 0 {
            return None;
        }
        // SAFETY: `start < e` (the token has a dot and digits); `e < b.len()`.
        if unsafe { *b.get_unchecked(start) } == b'0' {
            return None; // `0.5`, `01.5`: the general readers
        }
        // 8..=14, and len in 3..=16: `SHAPE` allowed the pair.
        let p = odd.trailing_zeros() as usize;
        // SAFETY: `len * 16 + p < (MAX_LEN + 1) * 16` and `p < 16` (just above).
        let (shuffle, scale) =
            unsafe { (CLOSE_DOT.0.get_unchecked(len * 16 + p), *SCALE.get_unchecked(p)) };
        // SAFETY: a 16-byte row of a 16-aligned static.
        let shuffle = unsafe { _mm_load_si128(shuffle.as_ptr().cast()) };
        let v = _mm_shuffle_epi8(d, shuffle);
        let v = _mm_maddubs_epi16(v, _mm_setr_epi8(10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1));
        let v = _mm_madd_epi16(v, _mm_setr_epi16(100, 1, 100, 1, 100, 1, 100, 1));
        let v = _mm_packs_epi32(v, v); // four 4-digit groups (< 10^4, no saturation)
        let v = _mm_madd_epi16(v, _mm_setr_epi16(10000, 1, 10000, 1, 10000, 1, 10000, 1));
        // Each mantissa below is an exact integer < 2^53, then one correctly rounded division,
        // as in common_token.
        if len <= 9 {
            // ≤ 8 digits, all in the first 32-bit lane.
            let m = _mm_cvtsd_f64(_mm_cvtepi32_pd(v));
            return Some((m / scale, true));
        }
        let halves = _mm_cvtsi128_si64(v) as u64;
        let m = (halves & 0xffff_ffff) * 100_000_000 + (halves >> 32);
        let value = m as i64 as f64 / scale;
        let zeros = _mm_movemask_epi8(_mm_cmpeq_epi8(d, _mm_setzero_si128())) as u32;
        let q = (31 - (!zeros & 0xffff).leading_zeros()) as usize;
        Some((value, q.max(p + 1) + len <= 24))
    }
}

/// What the scan of `simulation_output` found, before the ordered checks run.
struct Scanned {
    start: i64,
    increment: i64,
    paths: u64,
    /// The first failing path in order (its length or its first bad price).
    first_path_failure: Option<PathFailure>,
}

enum PathFailure {
    Length { got: u64 },
    Digits { text: String },
}

/// Synth's checks (conformance README, stage F) over a scanned reply.
fn verdict(exp: &Expected, output: Option<Scanned>) -> Verdict {
    let Some(expected_start) = exp.start else {
        return Verdict::ErrorDuringValidation;
    };
    let Some(out) = output else {
        return Verdict::ResponseEmpty;
    };
    if out.start != expected_start {
        return Verdict::message(format!(
            "Start time timestamp is incorrect: expected {expected_start}, got {}",
            out.start
        ));
    }
    if out.increment != exp.increment {
        return Verdict::message(format!(
            "Time increment is incorrect: expected {}, got {}",
            exp.increment, out.increment
        ));
    }
    if i128::from(out.paths) != i128::from(exp.paths) {
        return Verdict::message(format!(
            "Number of paths is incorrect: expected {}, got {}",
            exp.paths, out.paths
        ));
    }
    if exp.increment == 0 {
        return Verdict::ErrorDuringValidation;
    }
    match out.first_path_failure {
        None => Verdict::Correct,
        Some(PathFailure::Length { got }) => Verdict::message(format!(
            "Number of time points is incorrect: expected {}, got {got}",
            exp.points
        )),
        Some(PathFailure::Digits { text }) => {
            Verdict::message(format!("Price format is incorrect: too many digits {text}"))
        }
    }
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
    /// The path loop; one the CPU supports.
    lane: Lane,
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
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline(always)]
    fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    #[inline(always)]
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.bump()? == c).then_some(())
    }

    fn eat_literal(&mut self, lit: &[u8]) -> Option<()> {
        let end = self.i.checked_add(lit.len())?;
        (self.b.get(self.i..end)? == lit).then(|| self.i = end)
    }

    /// The top-level synapse object. Returns the scanned `simulation_output` (`None` = null or
    /// absent).
    fn envelope(&mut self, exp: &Expected, slot: &mut [f64]) -> Option<Option<Scanned>> {
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
                        output = Some(self.simulation_output(exp, slot)?);
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
        let mut first_path_failure = None;
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
            if first_path_failure.is_none() {
                if len != points as u64 || exp.points < 0 {
                    first_path_failure = Some(PathFailure::Length { got: len });
                } else if let Some(text) = bad_price {
                    first_path_failure = Some(PathFailure::Digits { text });
                }
            }
            paths += 1;
        }
        Some(Scanned { start, increment, paths, first_path_failure })
    }

    /// One path: `[number, …]`. Returns its length and the `str()` of its first price that
    /// breaks the digit rule. Takes the SSSE3 lane when the CPU has it, else the portable SWAR
    /// loop; both give the same answer.
    #[inline]
    fn path(&mut self, dest: &mut [f64]) -> Option<(u64, Option<String>)> {
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
    fn path_swar(&mut self, dest: &mut [f64]) -> Option<(u64, Option<String>)> {
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
        mut bad: Option<String>,
    ) -> Option<(u64, Option<String>)> {
        let b = self.b;
        loop {
            let (value, fits, end) = match common_token(b, i) {
                Some(t) => t,
                None => {
                    self.i = i;
                    let (v, f) = self.price()?;
                    (v, f, self.i)
                }
            };
            if let Some(d) = dest.get_mut(n) {
                *d = value;
            }
            if !fits && bad.is_none() {
                self.i = end;
                bad = Some(self.price_str(i, value));
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

    /// The path loop on x86-64: a run of the lane's loop ([`sse::run_ssse3`],
    /// [`sse::run_avx2`]) reads tokens until one needs help (another shape, a price that breaks
    /// the digit rule), the path ends, or the body does; this loop gives that help and starts it
    /// again. The last bytes of the body (< 64 left) take the SWAR loop.
    ///
    /// # Safety
    /// `self.lane` is `Ssse3` or `Avx2`, and the CPU supports it.
    #[cfg(target_arch = "x86_64")]
    unsafe fn path_simd(&mut self, dest: &mut [f64]) -> Option<(u64, Option<String>)> {
        self.eat(b'[')?;
        if self.peek()? == b']' {
            self.i += 1;
            return Some((0, None));
        }
        let b = self.b;
        let mut i = self.i;
        let mut n = 0usize;
        let mut bad: Option<String> = None;
        if i < 16 {
            // Not in a real body; `run` needs 16 bytes before every token.
            return self.path_from(dest, i, n, bad);
        }
        loop {
            // SAFETY: the lane's features (caller); 16 <= i (checked above, and i only grows).
            let (stop, read) = unsafe {
                match self.lane {
                    Lane::Avx2 => sse::run_avx2(b, i, dest, n),
                    _ => sse::run_ssse3(b, i, dest, n),
                }
            };
            n = read;
            let e = match stop {
                sse::Stop::Close { e } => e,
                sse::Stop::Tail { i } => return self.path_from(dest, i, n, bad),
                sse::Stop::Misfit { i, e, value } => {
                    self.note_bad(&mut bad, i, e, value);
                    e
                }
                sse::Stop::Other { i, e } => {
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
    fn general_token(&mut self, i: usize, e: usize) -> Option<(f64, bool)> {
        let (value, fits, end) = match common_token(self.b, i) {
            Some(t) => t,
            None => {
                self.i = i;
                let (v, f) = self.price()?;
                (v, f, self.i)
            }
        };
        // `e` is the first `,`/`]` at or after `i`, and no number token holds one, so ending
        // anywhere else means a byte that is not a separator.
        (end == e).then_some((value, fits))
    }

    /// Records the `str()` of the price `b[i..e]` that broke the digit rule, if it is the first.
    #[cold]
    #[inline(never)]
    fn note_bad(&mut self, bad: &mut Option<String>, i: usize, e: usize, value: f64) {
        if bad.is_none() {
            self.i = e;
            *bad = Some(self.price_str(i, value));
        }
    }

    /// Python's `str()` of the price whose token starts at `tok_start` (ends at `self.i`).
    #[cold]
    fn price_str(&self, tok_start: usize, value: f64) -> String {
        let tok = &self.b[tok_start..self.i];
        if tok.iter().all(|c| c.is_ascii_digit() || *c == b'-') {
            // An int token: Python prints the int itself (the scanner never lets `-0` fail).
            String::from_utf8_lossy(tok).into_owned()
        } else {
            pyrepr::float_repr(value)
        }
    }

    /// One price token → (value, passes the digit rule). The hot loop of the engine.
    #[inline(always)]
    fn price(&mut self) -> Option<(f64, bool)> {
        if let Some(r) = self.price_swar() {
            return Some(r);
        }
        self.price_scalar()
    }

    /// The common token, `-?[1-9]d{0,6}(.d{1,7})?` followed by a non-digit, eight bytes at a
    /// time: one load finds how many digits there are, one multiply chain parses them. `None`
    /// means "not this shape" (not an error): [`Scanner::price_scalar`] then reads the token.
    ///
    /// With an integer part ≥ 1 and below 1e7, Python's repr is fixed notation with the token's own
    /// digits (≤ 14 significant digits), so its length without the point is the integer digits plus
    /// the fraction's digits up to its last non-zero one (at least one: `140.0`).
    #[inline(always)]
    fn price_swar(&mut self) -> Option<(f64, bool)> {
        let b = self.b;
        let mut i = self.i;
        let neg = *b.get(i)? == b'-';
        i += usize::from(neg);
        let int = swar_digits(b, i)?;
        if int.len == 0 || int.len == 8 || b[i] == b'0' {
            return None;
        }
        i += int.len;
        let sign = if neg { -1.0 } else { 1.0 };
        match b[i] {
            b'.' => {
                let frac = swar_digits(b, i + 1)?;
                let end = i + 1 + frac.len;
                if frac.len == 0 || frac.len == 8 || matches!(b[end], b'e' | b'E') {
                    return None;
                }
                self.i = end;
                let m = (int.value * POW10_U64[frac.len] + frac.value) as f64;
                let len = int.len + frac.significant.max(1) + usize::from(neg);
                Some((sign * (m / POW10[frac.len]), len <= 8))
            }
            b'e' | b'E' => None,
            _ => {
                self.i = i;
                Some((sign * int.value as f64, int.len + usize::from(neg) <= 8))
            }
        }
    }

    /// Any JSON number token, one byte at a time.
    fn price_scalar(&mut self) -> Option<(f64, bool)> {
        let b = self.b;
        let start = self.i;
        let mut i = start;
        let neg = *b.get(i)? == b'-';
        i += usize::from(neg);
        let mut w: u64 = 0;
        // Significant digits accumulated in `w`, and the power of ten that scales it.
        let mut nd: i32 = 0;
        let mut dexp: i32 = 0;
        match *b.get(i)? {
            b'0' => i += 1,
            c @ b'1'..=b'9' => {
                w = u64::from(c - b'0');
                nd = 1;
                i += 1;
                while let Some(&c) = b.get(i) {
                    let d = c.wrapping_sub(b'0');
                    if d > 9 {
                        break;
                    }
                    w = w.wrapping_mul(10).wrapping_add(u64::from(d));
                    nd += 1;
                    i += 1;
                }
            }
            _ => return None,
        }
        let mut is_int = true;
        if b.get(i) == Some(&b'.') {
            is_int = false;
            i += 1;
            let frac_start = i;
            while let Some(&c) = b.get(i) {
                let d = c.wrapping_sub(b'0');
                if d > 9 {
                    break;
                }
                // Zeros before the first significant digit only move the exponent.
                if w != 0 || d != 0 {
                    w = w.wrapping_mul(10).wrapping_add(u64::from(d));
                    nd += 1;
                }
                i += 1;
            }
            if i == frac_start {
                return None;
            }
            dexp = -((i - frac_start) as i32);
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            is_int = false;
            i += 1;
            let eneg = match b.get(i) {
                Some(b'-') => {
                    i += 1;
                    true
                }
                Some(b'+') => {
                    i += 1;
                    false
                }
                _ => false,
            };
            let exp_start = i;
            let mut e: i32 = 0;
            while let Some(&c) = b.get(i) {
                let d = c.wrapping_sub(b'0');
                if d > 9 {
                    break;
                }
                e = (e * 10 + i32::from(d)).min(100_000);
                i += 1;
            }
            if i == exp_start {
                return None;
            }
            dexp += if eneg { -e } else { e };
        }
        // `01`, or more significant digits than a u64 holds: not for this path.
        if nd > 19 || b.get(i).is_some_and(|c| c.is_ascii_digit()) {
            return None;
        }
        self.i = i;
        if is_int {
            // Python's str(int): its digits, and the sign unless it is zero.
            let len = nd.max(1) + i32::from(neg && w != 0);
            // A Python int: `-0` is 0, stored as +0.0.
            let v = w as f64;
            return Some((if neg && w != 0 { -v } else { v }, len <= 8));
        }
        if w == 0 {
            // 0.0 / -0.0 print as `0.0` / `-0.0`.
            return Some((if neg { -0.0 } else { 0.0 }, true));
        }
        while w % 10 == 0 {
            w /= 10;
            nd -= 1;
            dexp += 1;
        }
        if nd <= 15 && (-22..=22).contains(&dexp) {
            let m = w as f64;
            let v = if dexp >= 0 { m * POW10[dexp as usize] } else { m / POW10[(-dexp) as usize] };
            let len = pyrepr::digit_count_from_parts(neg, nd, nd + dexp);
            return Some((if neg { -v } else { v }, len <= 8));
        }
        self.slow_float(start)
    }

    /// A float token outside the fast window: std's correctly rounded parse, Python's repr.
    #[cold]
    fn slow_float(&self, start: usize) -> Option<(f64, bool)> {
        let tok = std::str::from_utf8(&self.b[start..self.i]).ok()?;
        let v: f64 = tok.parse().ok()?;
        Some((v, pyrepr::float_digit_count(v) <= 8))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(paths: i64, points: i64) -> Expected {
        Expected { start: Some(1795528920), increment: 60, paths, points }
    }

    const ENVELOPE: &str = r#"{"name":"Simulation","timeout":12.0,"total_size":3106,"header_size":0,"dendrite":{"status_code":null,"status_message":null,"process_time":null,"ip":null,"port":null,"version":null,"nonce":null,"uuid":null,"hotkey":null,"signature":null},"axon":{"status_code":200,"status_message":"Success","process_time":0.016006946563720703,"ip":null,"port":null,"version":null,"nonce":null,"uuid":null,"hotkey":null,"signature":null},"computed_body_hash":"","simulation_input":{"asset":"BTC","start_time":"2026-11-24T14:02:00+00:00","time_increment":60,"time_length":600,"num_simulations":3},"simulation_output":"#;

    fn body(output: &str) -> Vec<u8> {
        format!("{ENVELOPE}{output}}}").into_bytes()
    }

    fn run(e: &Expected, output: &str) -> (Option<Verdict>, Vec<f64>) {
        let mut slot = vec![f64::NAN; e.slot_len()];
        let v = decode(e, &body(output), &mut slot);
        (v, slot)
    }

    #[test]
    fn real_axon_reply_is_correct_and_fills_the_slot() {
        let raw = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/wire-samples/synapse/response-body.json"
        ))
        .expect("the shared wire samples beside the repo");
        let e = exp(3, 11);
        let mut slot = vec![0.0; 33];
        assert_eq!(decode(&e, &raw, &mut slot), Some(Verdict::Correct));
        assert_eq!(slot[0], 91234.56);
        assert_eq!(slot[1], 91230.271);
        assert_eq!(slot[32], 91232.175);
    }

    #[test]
    fn checks_run_in_the_validators_order() {
        let e = exp(2, 2);
        let m = |o: &str| run(&e, o).0.map(|v| v.as_str().to_owned());
        assert_eq!(m("[1795528920,60,[1.5,2.5],[3.5,4.5]]").as_deref(), Some("CORRECT"));
        assert_eq!(
            m("[1795528921,61,[1.5],[3.5,4.5]]").as_deref(),
            Some("Start time timestamp is incorrect: expected 1795528920, got 1795528921")
        );
        assert_eq!(
            m("[1795528920,61,[1.5]]").as_deref(),
            Some("Time increment is incorrect: expected 60, got 61")
        );
        // The path count is judged before any path.
        assert_eq!(
            m("[1795528920,60,[1.123456789,2.5]]").as_deref(),
            Some("Number of paths is incorrect: expected 2, got 1")
        );
        // A path's length before its prices; paths in order.
        assert_eq!(
            m("[1795528920,60,[1.123456789],[3.5,4.5,5.5]]").as_deref(),
            Some("Number of time points is incorrect: expected 2, got 1")
        );
        assert_eq!(
            m("[1795528920,60,[1.5,12345678.0],[1.123456789,4.5]]").as_deref(),
            Some("Price format is incorrect: too many digits 12345678.0")
        );
        assert_eq!(
            m("[1795528920,60,[1.5,2.5],[-99999999,4.5]]").as_deref(),
            Some("Price format is incorrect: too many digits -99999999")
        );
        assert_eq!(m("null").as_deref(), Some("Response is empty"));
    }

    #[test]
    fn digit_rule_follows_python_repr() {
        let e = exp(1, 1);
        for (tok, ok) in [
            ("1e16", true),
            ("1E+16", true),
            ("1e15", false),
            ("123456780e-1", false),
            ("0.10", true),
            ("91234.5600000", true),
            ("-1234567.8", false),
            ("0.1234567", true),
            ("0.12345678", false),
            ("0.001234567", false),
            ("7e-05", true),
            ("1.2345e-05", false),
            ("1e-100", true),
            ("1e400", true),
            ("-0.0", true),
            ("99999999", true),
            ("123456789", false),
            ("0", true),
            ("-0", true),
        ] {
            let (v, _) = run(&e, &format!("[1795528920,60,[{tok}]]"));
            assert_eq!(v.map(|v| v.is_correct()), Some(ok), "{tok}");
        }
    }

    #[test]
    fn prices_equal_std_parse_bit_for_bit() {
        let e = exp(1, 9);
        let toks = ["91234.56", "0.1", "3.0e-3", "1.7976931348623157e308", "5e-324", "123456.78901234567", "2.2250738585072014e-308", "-91234.567", "9007199254740993.0"];
        let (v, slot) = run(&e, &format!("[1795528920,60,[{}]]", toks.join(",")));
        assert!(v.is_some());
        for (t, got) in toks.iter().zip(&slot) {
            assert_eq!(got.to_bits(), t.parse::<f64>().unwrap().to_bits(), "{t}");
        }
    }

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

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    /// Decimal tokens of every shape the JSON grammar allows, biased toward real prices.
    fn token() -> impl Strategy<Value = String> {
        (
            any::<bool>(),
            prop_oneof![Just(0u64), 1u64..10, 1u64..100_000_000, 1u64..10_000_000_000_000_000],
            prop::option::of(1u32..12),
            prop::option::of(-30i32..30),
        )
            .prop_map(|(neg, m, frac, exp)| {
                let mut s = String::new();
                if neg {
                    s.push('-');
                }
                let digits = m.to_string();
                match frac {
                    Some(f) if (f as usize) < digits.len() => {
                        let cut = digits.len() - f as usize;
                        s.push_str(&digits[..cut]);
                        s.push('.');
                        s.push_str(&digits[cut..]);
                    }
                    Some(f) => {
                        s.push_str("0.");
                        s.push_str(&"0".repeat(f as usize - digits.len()));
                        s.push_str(&digits);
                    }
                    None => s.push_str(&digits),
                }
                if let Some(e) = exp {
                    s.push_str(&format!("e{e}"));
                }
                s
            })
    }

    /// Price tokens for whole paths: mostly the common shape at every length (trailing zeros,
    /// 8-digit integer parts, signs), plus every other number shape and some bytes that are not
    /// numbers at all (the body then belongs to the exact path, in both lanes).
    fn path_token() -> impl Strategy<Value = String> {
        let common = (any::<bool>(), 1u64..100_000_000, "[0-9]{1,8}").prop_map(|(neg, int, frac)| {
            format!("{}{int}.{frac}", if neg { "-" } else { "" })
        });
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
        ) {
            let points = paths[0].len();
            let e = Expected { start: Some(1795528920), increment: 60, paths: paths.len() as i64, points: points as i64 };
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

        /// The fused parse gives std's correctly rounded value and the digit count of Python's
        /// repr (pyrepr is itself checked against CPython in tests/pyrepr_python.rs).
        #[test]
        fn fused_price_matches_std_and_repr(tok in token()) {
            // Followed by the byte a path puts there, and padding, as in a real body.
            let text = format!("{tok},1.0,2.0]");
            let mut s = Scanner { b: text.as_bytes(), i: 0, lane: Lane::Swar };
            let (v, fits) = s.price().expect("a valid token");
            prop_assert_eq!(s.i, tok.len());
            let is_int = !tok.contains(['.', 'e']);
            // An int token is a Python int (`-0` is 0); a float token is `float(token)`.
            let want: f64 = if is_int { tok.parse::<i128>().unwrap() as f64 } else { tok.parse().unwrap() };
            prop_assert_eq!(v.to_bits(), want.to_bits(), "value of {}", tok);
            let count = if is_int {
                let i: i128 = tok.parse().unwrap();
                i.to_string().len()
            } else {
                pyrepr::float_digit_count(want)
            };
            prop_assert_eq!(fits, count <= 8, "digit rule of {}", tok);
        }
    }
}
