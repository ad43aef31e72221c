//! The upstream return shape: what today's Synth validator's dendrite workers hand back per miner.
//!
//! In: a cycle's verdicts, process times and prices. Out: upstream's
//! `[output, format_validation, process_time]`, one per queried miner in request order, the
//! output either the prices or the float32 blob its storage keeps (`encode_paths`).
//!
//! The blob is little-endian IEEE float32, paths × points row-major, no header: each price's
//! double rounded to the nearest float32 (`as f32`: round half to even, what NumPy's
//! `astype(float32)` does). The v3 conformance corpus pins it byte for byte (its
//! `float32_sha256`, `tests/conformance.rs`).

/// A CORRECT miner's prices (path after path) as upstream's float32 blob.
pub fn encode_paths(prices: &[f64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(prices.len() * 4);
    encode_paths_into(prices, &mut out);
    out
}

/// [`encode_paths`] appended to `out` (reusing its allocation).
pub fn encode_paths_into(prices: &[f64], out: &mut Vec<u8>) {
    out.reserve(prices.len() * 4);
    out.extend(prices.iter().flat_map(|&p| (p as f32).to_le_bytes()));
}
