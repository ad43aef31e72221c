//! `synth-forward`: parse flags, call the library, print one JSON summary line on stdout.
//!
//! Logs go to stderr (`RUST_LOG`, default `warn`). Any error is printed once, on one line, and the
//! process exits non-zero; a broken miner never gets here, it costs only its own row.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use mimalloc::MiMalloc;

use std::io::IsTerminal;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use synth_forward::fixture::{self, Preset};
use synth_forward::fleet::{parse_faults, signature_verifier, Fleet, FleetOptions};
use synth_forward::recording::Recording;
use synth_forward::replay::{self, CycleSummary};
use synth_forward::request::CycleRequest;
use synth_forward::sink::parquet::{ParquetOptions, PriceEncoding};
use synth_forward::wire::keys::Hotkey;
use synth_forward::{demo, live};

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

#[derive(Parser)]
#[command(name = "synth-forward", version, about = "The forward phase of a Synth (subnet 50) validator cycle, as a batch engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay a recorded cycle (.cycle.arrow) into one Parquet file and print the summary.
    Replay {
        /// The recording.
        recording: PathBuf,
        /// Output folder (hive layout below it: asset=…/date=…/<start>_<length>.parquet).
        #[arg(long)]
        out: PathBuf,
        /// Store prices as scaled decimals (INT64, DELTA_BINARY_PACKED): smaller, still lossless.
        #[arg(long)]
        compact: bool,
        /// Replace the Parquet file if it already exists.
        #[arg(long)]
        overwrite: bool,
    },
    /// Run a live cycle: sign, query every miner at once, decode as bodies land, write Parquet.
    Run {
        /// The cycle request (schemas/cycle-request.md).
        #[arg(long)]
        request: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Also record every raw call (replayable with `replay`).
        #[arg(long)]
        record: Option<PathBuf>,
        /// Wallets folder (bittensor's default: ~/.bittensor/wallets).
        #[arg(long = "wallet.path")]
        wallet_path: Option<String>,
        #[arg(long = "wallet.name")]
        wallet_name: Option<String>,
        #[arg(long = "wallet.hotkey")]
        wallet_hotkey: Option<String>,
        /// The validator's external IP as the miners should see it (bt_header_dendrite_ip).
        #[arg(long = "external-ip", default_value = "127.0.0.1")]
        external_ip: String,
        #[arg(long)]
        compact: bool,
        #[arg(long)]
        overwrite: bool,
        /// Ceiling for the cycle's price buffer, e.g. 512M or 8G (default: half of RAM); a
        /// request over it is refused before any traffic.
        #[arg(long = "max-memory", value_parser = parse_bytes)]
        max_memory: Option<u64>,
    },
    /// Serve a recorded cycle from a fleet of fake miners on loopback, until SIGINT/SIGTERM.
    Serve {
        recording: PathBuf,
        #[arg(long, default_value = "127.0.0.1")]
        host: std::net::IpAddr,
        /// First port (uid rows take consecutive ports); 0 = ephemeral ports.
        #[arg(long = "base-port", default_value_t = 0)]
        base_port: u16,
        /// Multiplies the recorded response times (0 answers at once).
        #[arg(long = "time-scale", default_value_t = 1.0)]
        time_scale: f64,
        /// Check each request's signature, receiver and nonce; 401 on a bad one.
        #[arg(long)]
        verify: bool,
        /// Where to write the cycle request that points at the fleet.
        #[arg(long = "request-out")]
        request_out: PathBuf,
        /// Make some miners misbehave: a JSON object of uid → fault, e.g.
        /// {"3": "slow_drip", "7": "redirect:2"} (names in src/fleet/faults.rs and the README).
        #[arg(long)]
        faults: Option<PathBuf>,
    },
    /// The embedded default: a full live cycle against an in-process fleet of fake miners.
    Demo {
        #[arg(long, value_parser = Preset::from_str, default_value = "small")]
        preset: Preset,
        #[arg(long, default_value = "out")]
        out: PathBuf,
        #[arg(long = "time-scale", default_value_t = 0.2)]
        time_scale: f64,
        /// Per-miner deadline in seconds (default: just past the slowest recorded answer).
        #[arg(long)]
        timeout: Option<f64>,
    },
    /// Generate a synthetic recorded cycle in the Axon's exact byte layout.
    Fixture {
        /// small (16 miners × 100 × 61), hf-90mb (256 × 1000 × 61), lf-full (256 × 1000 × 289).
        #[arg(long, value_parser = Preset::from_str)]
        preset: Preset,
        #[arg(long, default_value_t = fixture::DEFAULT_SEED)]
        seed: u64,
        /// Where to write the .cycle.arrow file.
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("synth-forward: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Replay { recording, out, compact, overwrite } => {
            let opts = parquet_options(compact, overwrite);
            let summary = replay::replay(&recording, &out, &opts)
                .with_context(|| format!("replaying {}", recording.display()))?;
            println!("{}", serde_json::to_string(&summary)?);
        }
        Command::Run {
            request,
            out,
            record,
            wallet_path,
            wallet_name,
            wallet_hotkey,
            external_ip,
            compact,
            overwrite,
            max_memory,
        } => {
            let bytes = std::fs::read(&request).with_context(|| format!("reading {}", request.display()))?;
            let req = CycleRequest::from_json(&bytes).with_context(|| format!("in {}", request.display()))?;
            let max_memory = max_memory.unwrap_or_else(synth_forward::request::default_max_memory);
            req.check_live(max_memory).with_context(|| format!("in {}", request.display()))?;
            let hotkey = Hotkey::from_wallet(wallet_path.as_deref(), wallet_name.as_deref(), wallet_hotkey.as_deref())?;
            let t = Instant::now();
            let outgoing = live::sign_cycle(&req, Arc::new(hotkey), &external_ip);
            let sign_ms = t.elapsed().as_secs_f64() * 1e3;
            let opts = live::LiveOptions {
                out_dir: out,
                parquet: parquet_options(compact, overwrite),
                record,
                sign_ms,
                max_memory,
                on_call: None,
                stop_on_signals: true,
            };
            let cycle = live::run_cycle(&req, outgoing, &opts)?;
            return print_live(&cycle);
        }
        Command::Serve { recording, host, base_port, time_scale, verify, request_out, faults } => {
            let rec = Recording::read(&recording).with_context(|| format!("reading {}", recording.display()))?;
            let faults = match faults {
                Some(path) => {
                    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
                    parse_faults(&text).map_err(|e| anyhow::anyhow!("in {}: {e}", path.display()))?
                }
                None => Default::default(),
            };
            let fleet = Fleet::start(
                &rec,
                FleetOptions { host, base_port, time_scale, verify: verify.then(signature_verifier), faults },
            )?;
            let tmp = request_out.with_extension("json.tmp");
            std::fs::write(&tmp, fleet.request().to_json())?;
            std::fs::rename(&tmp, &request_out)?;
            tracing::info!(miners = rec.rows(), "fleet serving; request written to {}", request_out.display());
            eprintln!("serving {} miners; request in {}; Ctrl-C to stop", rec.rows(), request_out.display());
            wait_for_signal()?;
            fleet.stop();
        }
        Command::Demo { preset, out, time_scale, timeout } => {
            let tty = std::io::stderr().is_terminal();
            let on_call: Option<synth_forward::live::OnCall> = tty.then(|| {
                Box::new(|done: usize, all: usize, bytes: u64| {
                    let width = 30;
                    let filled = done * width / all.max(1);
                    eprint!(
                        "\r[{}{}] {done}/{all} miners, {:.1} MB",
                        "#".repeat(filled),
                        " ".repeat(width - filled),
                        bytes as f64 / 1e6
                    );
                }) as Box<dyn Fn(usize, usize, u64) + Sync>
            });
            let cycle = demo::demo(demo::DemoOptions { preset, out_dir: out, time_scale, timeout_s: timeout, on_call })?;
            if tty {
                eprintln!();
                eprint!("{}", human_table(&cycle.summary));
            }
            return print_live(&cycle);
        }
        Command::Fixture { preset, seed, out } => {
            let summary = fixture::write(preset, seed, &out)
                .with_context(|| format!("writing fixture {}", out.display()))?;
            println!("{}", serde_json::to_string(&summary)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints a live cycle's summary line; a cycle cut short by a signal says which and exits with
/// 128 + its number (the file it wrote is whole, with the unfinished miners `cancelled`).
fn print_live(cycle: &live::LiveCycle) -> anyhow::Result<ExitCode> {
    let mut line = serde_json::to_value(&cycle.summary)?;
    if let Some(obj) = line.as_object_mut() {
        if let Some(sig) = cycle.stopped_by {
            obj.insert("stopped_by".into(), sig.name().into());
        }
        if let Some(peak) = replay::peak_rss_bytes() {
            obj.insert("peak_rss_bytes".into(), peak.into());
        }
    }
    println!("{line}");
    Ok(match cycle.stopped_by {
        Some(sig) => ExitCode::from(sig.exit_code()),
        None => ExitCode::SUCCESS,
    })
}

/// `123`, `512K`, `512M`, `8G` (powers of 1024).
fn parse_bytes(s: &str) -> Result<u64, String> {
    let (digits, shift) = match s.trim().to_ascii_uppercase().as_str() {
        t if t.ends_with('G') => (t[..t.len() - 1].to_owned(), 30),
        t if t.ends_with('M') => (t[..t.len() - 1].to_owned(), 20),
        t if t.ends_with('K') => (t[..t.len() - 1].to_owned(), 10),
        t => (t.to_owned(), 0),
    };
    let n: u64 = digits.parse().map_err(|_| format!("{s:?} is not a size like 512M or 8G"))?;
    n.checked_mul(1 << shift).ok_or_else(|| format!("{s:?} is too large"))
}

fn parquet_options(compact: bool, overwrite: bool) -> ParquetOptions {
    ParquetOptions {
        prices: if compact { PriceEncoding::Compact } else { PriceEncoding::Float64 },
        overwrite,
        ..ParquetOptions::default()
    }
}

/// Blocks until SIGINT or SIGTERM.
fn wait_for_signal() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    })?;
    Ok(())
}

/// The short table `demo` prints on a terminal.
fn human_table(s: &CycleSummary) -> String {
    let mut out = format!("{} miners, {:.1} MB of bodies → {}\n", s.rows, s.body_bytes as f64 / 1e6, s.parquet.display());
    for (verdict, n) in &s.verdicts {
        out.push_str(&format!("  {n:>5}  {verdict}\n"));
    }
    for (phase, ms) in &s.timings_ms {
        out.push_str(&format!("  {phase:>15}  {ms:>9.1} ms\n"));
    }
    out
}
