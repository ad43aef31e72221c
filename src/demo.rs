//! `synth-forward demo`: a whole live cycle on an embedded default, no setup.
//!
//! In: a preset (the committed `small` fixture by default). Out: the Parquet file under the
//! output folder and the cycle summary. The recording is served by an in-process fleet of fake
//! miners on 127.0.0.1 that check every signature; the cycle is signed with a throwaway hotkey
//! made for this run, exactly as `run` signs with a wallet's.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::fixture::{self, Preset};
use crate::fleet::{signature_verifier, Fleet, FleetOptions};
use crate::live::{run_cycle, sign_cycle, LiveCycle, LiveOptions, OnCall};
use crate::recording::Recording;
use crate::sink::parquet::ParquetOptions;
use crate::wire::keys::Hotkey;

pub struct DemoOptions {
    pub preset: Preset,
    pub out_dir: PathBuf,
    /// Scales the recorded response times (the fixtures spread replies over seconds).
    pub time_scale: f64,
    /// Per-miner deadline; by default just past the slowest recorded answer, so the hanging
    /// miners are cut there rather than after the recorded 60 s.
    pub timeout_s: Option<f64>,
    pub on_call: Option<OnCall>,
}

/// Where the demo finds (or makes) its recording.
pub fn fixture_path(preset: Preset) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    match preset {
        Preset::Small => root.join("fixtures/small.cycle.arrow"),
        other => root.join(format!("fixtures/large/{}.cycle.arrow", other.as_str())),
    }
}

pub fn demo(opts: DemoOptions) -> anyhow::Result<LiveCycle> {
    let path = fixture_path(opts.preset);
    fixture::ensure(opts.preset, &path)?;
    let rec = Recording::read(&path)?;
    let slowest_ms = (0..rec.rows())
        .map(|r| rec.call(r))
        .filter(|c| c.error.is_none())
        .map(|c| c.elapsed_ms)
        .fold(0.0, f64::max);
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

    // A throwaway hotkey, never written anywhere.
    let mut seed = [0u8; 32];
    seed[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    seed[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    let hotkey = Arc::new(Hotkey::from_seed(&seed));
    let t = Instant::now();
    let outgoing = sign_cycle(&request, hotkey, "127.0.0.1");
    let sign_ms = t.elapsed().as_secs_f64() * 1e3;
    let summary = run_cycle(
        &request,
        outgoing,
        &LiveOptions {
            out_dir: opts.out_dir,
            parquet: ParquetOptions { overwrite: true, ..ParquetOptions::default() },
            record: None,
            sign_ms,
            max_memory: crate::request::default_max_memory(),
            on_call: opts.on_call,
            stop_on_signals: true,
        },
    )?;
    fleet.stop();
    Ok(summary)
}
