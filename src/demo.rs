//! `synth-forward demo`: a whole live cycle on an embedded default, no setup.
//!
//! In: a preset (`small` by default) and an output folder. Out: the Parquet file under it and the
//! cycle's outcome. The preset's recording is generated (deterministically, from the default seed)
//! into the user's cache folder the first time, so the demo runs from any folder after
//! `cargo install`; it is served by an in-process fleet of fake miners on 127.0.0.1 that check
//! every signature, and the cycle is signed with a throwaway hotkey made for this run, exactly as
//! `run` signs with a wallet's.

use std::path::PathBuf;
use std::sync::Arc;

use crate::cancel::Cancel;
use crate::cycle::CycleOutcome;
use crate::engine::Engine;
use crate::fixture::{self, Preset};
use crate::fleet::{Fleet, FleetOptions, signature_verifier};
use crate::recording::Recording;
use crate::request::Rules;
use crate::sink::Sink;
use crate::sink::parquet::{ParquetOptions, ParquetSink, PriceEncoding};
use crate::source::live::{LiveOptions, OnCall};
use crate::wire::keys::Hotkey;

pub struct DemoOptions {
    pub preset: Preset,
    pub out_dir: PathBuf,
    /// Scales the recorded response times (the fixtures spread replies over seconds).
    pub time_scale: f64,
    /// Per-miner deadline; by default just past the slowest recorded answer, so the hanging
    /// miners are cut there rather than after the recorded 60 s.
    pub timeout_s: Option<f64>,
    /// The verdict rules (the demo's own default is today's, whatever its cached recording says).
    pub rules: Rules,
    /// Sinks beside the demo's Parquet file (`--upstream-out`).
    pub extra_sinks: Vec<Box<dyn Sink>>,
    /// How the file stores prices (`--prices`).
    pub prices: PriceEncoding,
    pub on_call: Option<OnCall>,
    /// Told the Parquet file's path once it is written (an extra Postgres sink retries from it).
    pub written: Option<crate::sink::WrittenFile>,
}

/// Where the demo keeps (or makes) a preset's recording: `$XDG_CACHE_HOME/synth-forward/` or
/// `~/.cache/synth-forward/`, else the temp folder.
pub fn fixture_path(preset: Preset) -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("synth-forward").join(format!("{}.cycle.arrow", preset.as_str()))
}

pub fn demo(engine: &Engine, opts: DemoOptions, cancel: &Cancel) -> anyhow::Result<CycleOutcome> {
    let path = fixture_path(opts.preset);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    fixture::ensure(opts.preset, &path)?;
    let rec = Recording::read(&path)?;
    let slowest_ms =
        (0..rec.rows()).map(|r| rec.call(r)).filter(|c| c.error.is_none()).map(|c| c.elapsed_ms).fold(0.0, f64::max);
    let fleet = Fleet::start(
        &rec,
        FleetOptions {
            host: "127.0.0.1".parse().expect("a loopback address"),
            base_port: 0,
            time_scale: opts.time_scale,
            verify: Some(signature_verifier()),
            faults: Default::default(),
        },
    )?;
    let mut request = fleet.request().clone();
    request.timeout_s = opts.timeout_s.unwrap_or(slowest_ms * opts.time_scale / 1e3 + 1.0);
    request.rules = Some(opts.rules);

    // A throwaway hotkey, never written anywhere.
    let mut seed = [0u8; 32];
    seed[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    seed[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    let hotkey = Arc::new(Hotkey::from_seed(&seed));
    let mut sink = ParquetSink::new(
        opts.out_dir,
        ParquetOptions { prices: opts.prices, overwrite: true, ..ParquetOptions::default() },
    );
    if let Some(w) = opts.written {
        sink = sink.announce(w);
    }
    let mut sinks: Vec<Box<dyn Sink>> = vec![Box::new(sink)];
    sinks.extend(opts.extra_sinks);
    let live = LiveOptions { on_call: opts.on_call, ..LiveOptions::default() };
    let outcome = engine.run_cycle(&request, hotkey, "127.0.0.1", sinks, cancel, &live)?;
    fleet.stop();
    Ok(outcome)
}
