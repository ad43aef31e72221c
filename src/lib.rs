//! synth-forward: the forward phase of a Synth (subnet 50) validator cycle as a batch engine.
//!
//! A cycle's data flows through these modules, in order:
//!
//! - [`request`]: the cycle request (simulation input, timeout, protocol, axons) is parsed and
//!   checked, and sized into a [`request::CycleShape`] (rows × paths × points).
//! - [`wire`]: the validator hotkey and each miner's signed request (`synapse`, `btauth/1`).
//! - [`call`]: what one miner call produced (status, transport error, timings, raw body): the unit
//!   that crosses from a source to the pipeline.
//! - [`source`]: where calls come from, side by side: [`source::live`] asks every miner at once
//!   over HTTP ([`fetch`]: one call under a total deadline and a body cap), [`source::replay`]
//!   reads them from a [`recording`] (Arrow IPC, `schemas/recording.md`).
//! - [`cycle`]: the one pipeline: uid order, the per-row slots, decode, every sink, the summary.
//! - [`decode`]: one raw body → the validator's exact `format_validation` verdict, with the prices
//!   written straight into the row's slot. A fused fast scanner handles the Axon's own layout;
//!   an exact Python-`json` + pydantic model takes over on anything unusual.
//! - [`columns`]: the cycle's per-row columns (and, when kept, the whole-cycle price buffer), and
//!   the borrowed view of decoded rows that sinks receive.
//! - [`batch`]: columns → Arrow arrays in the output schema (`schemas/output.md`).
//! - [`sink`]: where decoded rows go, behind one trait: [`sink::parquet`] today.
//!
//! Around them: [`engine`] (runtime, HTTP client and decode pool, created once, reused by every
//! cycle), [`cancel`] (the cycle's cancellation token, and the binary's signal mapping),
//! [`procfs`] (memory and descriptor figures), [`atomic_file`] (temp name, then rename), [`fleet`] (fake miners on loopback serving a
//! recording), [`demo`] (the embedded default) and [`fixture`] (synthetic cycles).

pub mod atomic_file;
pub mod batch;
pub mod call;
pub mod cancel;
pub mod columns;
pub mod cycle;
pub mod decode;
#[cfg(feature = "fleet")]
pub mod demo;
pub mod engine;
pub mod fetch;
pub mod fixture;
#[cfg(feature = "fleet")]
pub mod fleet;
pub mod prices;
pub mod procfs;
pub mod recording;
pub mod request;
pub mod score;
pub mod sink;
pub mod source;
pub mod store;
#[cfg(feature = "tls")]
pub mod tls;
pub mod upstream;
pub mod wire;

/// A small deterministic generator for the unit tests' random inputs (xorshift64).
#[cfg(test)]
pub(crate) fn test_rng(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

pub use cancel::Cancel;
pub use cycle::{CycleError, CycleOutcome, CycleSummary};
pub use engine::Engine;
pub use sink::Sink;
pub use sink::parquet::{ParquetOptions, ParquetSink};
pub use source::live::LiveOptions;
