//! The SIMD lanes: a run of a path's prices read 64 bytes of body at a time (x86-64 only).
//!
//! In: the body, the index of a token inside a path, and the path's place in the slot. Out: the
//! prices stored from there on, and why the run stopped ([`Stop`]); the caller (`path_simd` in
//! [`lane`](super::lane)) deals with whatever stopped it and starts the next run.
//!
//! Two lanes from one source: SSSE3, and x86-64-v3 (AVX2 + BMI1/2 + LZCNT: VEX-encoded, 32-byte
//! loads for the bitmaps). A 64-byte window becomes one `u64` bitmap of `,`/`]` (`pcmpeqb` +
//! `pmovmskb`); each set bit is a token end `e`, so the loop-carried work per token is a `tzcnt`
//! and a `blsr`. The token `b[i..e]` is then read with **one 16-byte load that ends at `e`**: the
//! number sits right-aligned, so the digit weights are fixed. Three 16-bit masks (not-a-digit,
//! dot, token bytes from a per-length table) check the shape `[1-9]\d{0,6}\.\d{1,7}` with a few
//! scalar ops; one `pshufb` (row per length and dot position) drops the dot and the bytes before
//! the token; `pmaddubsw`, `pmaddwd`, `packssdw`, `pmaddwd` give the mantissa (≤ 8 digits:
//! directly one `i32` lane → `cvtdq2pd`); one `divsd` by the exact power of ten rounds it. The
//! repr length needs no work for tokens of ≤ 9 bytes (it is at most `len - 1`); longer ones count
//! trailing `'0'`s from one more mask. The run loop makes no calls, so nothing spills: any other
//! token (a sign, an exponent, `0.5`, …), a price that breaks the digit rule, the path's `]`, or
//! the last 64 bytes of the body stop it.

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
/// [`super::number::swar`], same value and verdict), from one 16-byte load that ends at the
/// terminator `b[e]`, so the token sits right-aligned in the register. `None`: not this shape
/// (a sign, an exponent, `0.5`, …: the general readers take it).
///
/// Bitmaps of the 16 bytes (bit j = byte j) check the shape: among the token's bytes exactly
/// one is not a digit, it is a `.` at a `p` that `SHAPE` allows for this length, and the first
/// byte is not `0`. One `pshufb` closes the gap of the dot and clears the bytes before the
/// token; `pmaddubsw`/`pmaddwd`/`packssdw`/`pmaddwd` turn the digits into two 8-digit
/// halves (tokens of ≤ 9 bytes: one).
///
/// Python's repr has the token's own digits (see `number::swar`), so its length without the
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
    let (shuffle, scale) = unsafe { (CLOSE_DOT.0.get_unchecked(len * 16 + p), *SCALE.get_unchecked(p)) };
    // SAFETY: a 16-byte row of a 16-aligned static.
    let shuffle = unsafe { _mm_load_si128(shuffle.as_ptr().cast()) };
    let v = _mm_shuffle_epi8(d, shuffle);
    let v = _mm_maddubs_epi16(v, _mm_setr_epi8(10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1));
    let v = _mm_madd_epi16(v, _mm_setr_epi16(100, 1, 100, 1, 100, 1, 100, 1));
    let v = _mm_packs_epi32(v, v); // four 4-digit groups (< 10^4, no saturation)
    let v = _mm_madd_epi16(v, _mm_setr_epi16(10000, 1, 10000, 1, 10000, 1, 10000, 1));
    // Each mantissa below is an exact integer < 2^53, then one correctly rounded division,
    // as in `number::swar`.
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
