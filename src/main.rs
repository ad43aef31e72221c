//! `synth-forward`: parse flags, call the library, print one JSON summary line on stdout.
//!
//! Logs go to stderr (`RUST_LOG`, default `warn`). Any error is printed once, on one line, and the
//! process exits non-zero; a broken miner never gets here, it costs only its own row.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use mimalloc::MiMalloc;

#[cfg(feature = "fleet")]
use std::io::IsTerminal;
use std::str::FromStr;
use std::sync::Arc;

use synth_forward::cancel::{Cancel, StopSignal, cancel_on_signals};
#[cfg(feature = "fleet")]
use synth_forward::demo;
use synth_forward::fixture::{self, Preset};
#[cfg(feature = "fleet")]
use synth_forward::fleet::{Fleet, FleetOptions, parse_faults, signature_verifier};
#[cfg(feature = "fleet")]
use synth_forward::recording::Recording;
use synth_forward::request::{CycleRequest, Rules};
use synth_forward::score::run::ScoreOptions;
use synth_forward::sink::parquet::{ParquetOptions, ParquetSink, PriceEncoding};
use synth_forward::sink::postgres::{DbUrl, PostgresOptions, PostgresSink, Storage};
use synth_forward::sink::upstream::UpstreamSink;
use synth_forward::sink::{Sink, WrittenFile};
use synth_forward::source::live::LiveOptions;
#[cfg(feature = "fleet")]
use synth_forward::source::live::OnCall;
use synth_forward::source::replay::ReplayOptions;
use synth_forward::wire::keys::Hotkey;
use synth_forward::{CycleSummary, Engine};

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

#[derive(Parser)]
#[command(
    name = "synth-forward",
    version,
    about = "The forward phase of a Synth (subnet 50) validator cycle, as a batch engine"
)]
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
        #[command(flatten)]
        outputs: OutputArgs,
        /// Judge the replies by these rules instead of the ones the recording was made under.
        #[arg(long)]
        rules: Option<Rules>,
    },
    /// Run a live cycle: sign, query every miner at once, decode as bodies land, write Parquet.
    Run {
        /// The cycle request (schemas/cycle-request.md).
        #[arg(long)]
        request: PathBuf,
        #[command(flatten)]
        outputs: OutputArgs,
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
        /// Ceiling for the cycle's price buffer, e.g. 512M or 8G (default: half of RAM); a
        /// request over it is refused before any traffic.
        #[arg(long = "max-memory", value_parser = parse_bytes)]
        max_memory: Option<u64>,
        /// Verdict rules, overriding the request's `rules`: v3 (today's validator, the default)
        /// or v2 (the validator until May 2026).
        #[arg(long)]
        rules: Option<Rules>,
    },
    #[cfg(feature = "fleet")]
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
        /// The rules written into the request (default: the recording's).
        #[arg(long)]
        rules: Option<Rules>,
    },
    #[cfg(feature = "fleet")]
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
        /// Verdict rules: v3 (today's validator, the default) or v2.
        #[arg(long)]
        rules: Option<Rules>,
        #[command(flatten)]
        upstream: UpstreamArgs,
        #[command(flatten)]
        prices: PricesArg,
        #[command(flatten)]
        postgres: PostgresArgs,
    },
    /// Save a written cycle file into the validator's Postgres tables (after an outage): one
    /// transaction, refused when the database already holds that cycle.
    Load {
        /// The cycle's Parquet file.
        file: PathBuf,
        /// The database (libpq URL or key=value string; the password is never printed).
        #[arg(long, env = "SYNTH_FORWARD_POSTGRES", hide_env_values = true)]
        postgres: String,
    },
    /// Score cycle files as the validator does (its CRPS, bit for bit, and its prompt scores)
    /// against real prices: one scores file per cycle, a ranking, a summary line.
    Score {
        /// Cycle Parquet files, folders (walked; scores tables and hidden files skipped) or globs
        /// (quoted: 'out/layout-2/*/asset=BTC/date=2026-11-*').
        #[arg(required = true)]
        inputs: Vec<String>,
        /// Real prices: a CSV or Parquet file of asset, timestamp, price (schemas/prices.md), or
        /// ASSET=FILE for a file without an asset column. Repeatable.
        #[arg(long = "prices", required = true)]
        prices: Vec<synth_forward::prices::PriceSource>,
        /// Write the scores table under this folder (layout-2/scores_<normalisation>/…).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The prompt-score normalisation: median10x-cap-p95-fill (today's validator) or
        /// p90-cap (the older one).
        #[arg(long, default_value = "median10x-cap-p95-fill")]
        normalisation: synth_forward::score::prompt::Normalisation,
        /// Score cycles again whose scores file already exists (default: leave them).
        #[arg(long)]
        overwrite: bool,
        /// Write every miner's rank to this CSV file, over every cycle of the inputs (scored now or
        /// by an earlier run); the file is recomputed, and replaced, on each run.
        #[arg(long)]
        rank: Option<PathBuf>,
    },
    /// Real prices for `score`: `prices fetch` writes one asset's grid from Pyth's history API.
    Prices {
        #[command(subcommand)]
        command: PricesCommand,
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
        /// The request's start time (ISO 8601 with a UTC offset; default the presets' own), so a
        /// dataset of several cycles can be made.
        #[arg(long = "start-time")]
        start_time: Option<String>,
        /// The request's asset (default BTC).
        #[arg(long)]
        asset: Option<String>,
    },
}

#[derive(Subcommand)]
enum PricesCommand {
    /// Fetch one asset's price at every grid time from Pyth's TradingView-style history API (the
    /// close of the 1-minute candle at exactly that time; missing or not yet settled: empty) into
    /// a CSV or Parquet file (schemas/prices.md). https needs a build with `--features tls`.
    Fetch {
        /// The validator's asset name (BTC, ETH, SOL, XAU, …), written into the file.
        #[arg(long)]
        asset: String,
        /// First grid time: Unix seconds or ISO 8601 with a UTC offset.
        #[arg(long, value_parser = parse_time)]
        from: i64,
        /// Last grid time (included), the same forms.
        #[arg(long, value_parser = parse_time)]
        to: i64,
        /// Seconds between grid times (60: every minute, which serves every prompt).
        #[arg(long, default_value_t = 60)]
        increment: i64,
        /// The output file: `.csv` or `.parquet`.
        #[arg(long)]
        out: PathBuf,
        /// Replace an existing output file.
        #[arg(long)]
        overwrite: bool,
        /// The Pyth symbol (default: the validator's for the asset, e.g. Crypto.BTC/USD).
        #[arg(long)]
        symbol: Option<String>,
        /// The history endpoint (Pyth Benchmarks' TradingView shim by default; Pyth Pro's history
        /// URL answers the same query).
        #[arg(long, default_value = synth_forward::prices::pyth::DEFAULT_URL)]
        url: String,
        /// Seconds one request may take, and tries per request (timeouts, connection errors, 429
        /// and 5xx are retried with a doubling backoff).
        #[arg(long, default_value_t = 30.0)]
        timeout: f64,
        #[arg(long, default_value_t = 3)]
        attempts: u32,
    },
}

fn parse_time(s: &str) -> Result<i64, String> {
    synth_forward::prices::file::parse_time(s)
}

/// How `paths` prices are stored: `--prices f64|f32|decimal`, or `--compact` (= decimal).
#[derive(Args, Clone, Copy)]
struct PricesArg {
    /// How prices are stored: f64 (lossless), f32 (rounded to the nearest float32, half the
    /// size), decimal (scaled INT64 decimals, DELTA_BINARY_PACKED: smaller, lossless, refused
    /// when a price has no exact form).
    #[arg(long, value_enum, default_value_t = Prices::F64)]
    prices: Prices,
    /// The same as --prices decimal.
    #[arg(long, conflicts_with = "prices")]
    compact: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Prices {
    F64,
    F32,
    Decimal,
}

impl PricesArg {
    fn encoding(self) -> PriceEncoding {
        match (self.compact, self.prices) {
            (true, _) | (false, Prices::Decimal) => PriceEncoding::Compact,
            (false, Prices::F64) => PriceEncoding::Float64,
            (false, Prices::F32) => PriceEncoding::Float32,
        }
    }
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
        Command::Replay { recording, outputs, rules } => {
            let engine = Engine::new()?;
            let sinks = outputs.sinks()?;
            let outcome = engine
                .replay(&recording, sinks, &ReplayOptions { rules, keep_batch: false })
                .with_context(|| format!("replaying {}", recording.display()))?;
            return print_summary(&outcome.summary);
        }
        Command::Run {
            request,
            outputs,
            record,
            wallet_path,
            wallet_name,
            wallet_hotkey,
            external_ip,
            max_memory,
            rules,
        } => {
            let bytes = std::fs::read(&request).with_context(|| format!("reading {}", request.display()))?;
            let mut req = CycleRequest::from_json(&bytes).with_context(|| format!("in {}", request.display()))?;
            req.rules = rules.or(req.rules);
            let max_memory = max_memory.unwrap_or_else(synth_forward::request::default_max_memory);
            req.check_live(max_memory).with_context(|| format!("in {}", request.display()))?;
            let hotkey = Hotkey::from_wallet(wallet_path.as_deref(), wallet_name.as_deref(), wallet_hotkey.as_deref())?;
            let engine = Engine::new()?;
            let sinks = outputs.sinks()?;
            let opts = LiveOptions { record, max_memory, ..LiveOptions::default() };
            // From here on SIGINT/SIGTERM cut the cycle short (keeping what arrived) instead of
            // killing the process.
            let cancel = Cancel::new();
            cancel_on_signals(cancel.clone())?;
            let outcome = engine.run_cycle(&req, Arc::new(hotkey), &external_ip, sinks, &cancel, &opts)?;
            return print_summary(&outcome.summary);
        }
        #[cfg(feature = "fleet")]
        Command::Serve { recording, host, base_port, time_scale, verify, request_out, faults, rules } => {
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
            let mut request = fleet.request().clone();
            request.rules = rules.or(request.rules);
            synth_forward::atomic_file::write(&request_out, request.to_json().as_bytes())
                .with_context(|| format!("writing {}", request_out.display()))?;
            tracing::info!(miners = rec.rows(), "fleet serving; request written to {}", request_out.display());
            eprintln!("serving {} miners; request in {}; Ctrl-C to stop", rec.rows(), request_out.display());
            let stop = Cancel::new();
            cancel_on_signals(stop.clone())?;
            tokio::runtime::Builder::new_current_thread().build()?.block_on(stop.cancelled());
            fleet.stop();
        }
        #[cfg(feature = "fleet")]
        Command::Demo { preset, out, time_scale, timeout, rules, upstream, prices, postgres } => {
            let bar = std::io::stderr().is_terminal().then(|| {
                let bar = indicatif::ProgressBar::new(0);
                bar.set_style(
                    indicatif::ProgressStyle::with_template("{bar:24} {pos}/{len} miners {msg} {per_sec} eta {eta}")
                        .expect("a valid template"),
                );
                bar
            });
            let on_call: Option<OnCall> = bar.clone().map(|bar| {
                Box::new(move |done: usize, all: usize, bytes: u64| {
                    bar.set_length(all as u64);
                    bar.set_position(done as u64);
                    bar.set_message(format!("{:.1} MB", bytes as f64 / 1e6));
                }) as OnCall
            });
            let engine = Engine::new()?;
            let cancel = Cancel::new();
            cancel_on_signals(cancel.clone())?;
            // The database save goes last: it retries from the Parquet file, which finishes first.
            let db = postgres.sink(prices, true)?;
            let mut extra_sinks: Vec<Box<dyn Sink>> = upstream.sink().into_iter().collect();
            let written = db.map(|(sink, written)| {
                extra_sinks.push(sink);
                written
            });
            let opts = demo::DemoOptions {
                preset,
                out_dir: out,
                time_scale,
                timeout_s: timeout,
                rules: rules.unwrap_or_default(),
                extra_sinks,
                prices: prices.encoding(),
                on_call,
                written,
            };
            let outcome = demo::demo(&engine, opts, &cancel)?;
            if let Some(bar) = bar {
                bar.finish();
                eprint!("{}", human_table(&outcome.summary));
            }
            return print_summary(&outcome.summary);
        }
        Command::Load { file, postgres } => {
            let url = DbUrl::parse(&postgres).map_err(anyhow::Error::msg)?;
            let t = std::time::Instant::now();
            match synth_forward::sink::postgres::load_file(&file, &url, std::time::Duration::from_secs(10)) {
                Ok(v) => println!("{}", serde_json::to_string(&v)?),
                Err(e) => {
                    let already = matches!(e, synth_forward::sink::postgres::SaveError::AlreadySaved(_));
                    println!(
                        "{}",
                        serde_json::json!({"file": file.display().to_string(), "url": url.masked(), "error": e.to_string(), "already_saved": already, "seconds": t.elapsed().as_secs_f64()})
                    );
                    eprintln!("synth-forward: error: loading {}: {e}", file.display());
                    return Ok(ExitCode::from(EXIT_SAVE_FAILED));
                }
            }
        }
        Command::Score { inputs, prices, out, normalisation, overwrite, rank } => {
            let real = synth_forward::prices::RealPrices::load(&prices)?;
            let opts = ScoreOptions { inputs, out, normalisation, overwrite };
            let (summary, ranking) =
                synth_forward::score::run::score_ranked(&opts, &real).map_err(anyhow::Error::msg)?;
            if let Some(path) = &rank {
                ranking.write_csv(path).with_context(|| format!("writing {}", path.display()))?;
            }
            println!("{}", serde_json::to_string(&summary)?);
            if summary.errors > 0 {
                eprintln!(
                    "synth-forward: error: {} of {} files could not be scored (see error_files)",
                    summary.errors, summary.files
                );
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Prices {
            command: PricesCommand::Fetch { asset, from, to, increment, out, overwrite, symbol, url, timeout, attempts },
        } => {
            use synth_forward::prices::pyth;
            let t = std::time::Instant::now();
            let symbol = symbol.unwrap_or_else(|| pyth::symbol_for(&asset));
            let mut opts = pyth::FetchOptions::new(symbol.clone(), from, to, increment);
            opts.url = url;
            opts.timeout = std::time::Duration::try_from_secs_f64(timeout).context("--timeout")?;
            opts.attempts = attempts;
            if !overwrite && out.exists() {
                anyhow::bail!("{} already exists (--overwrite to replace it)", out.display());
            }
            let grid = pyth::fetch_blocking(&opts).with_context(|| format!("fetching {symbol}"))?;
            synth_forward::prices::write_file(&out, &asset, &grid.timestamps, &grid.prices, overwrite)
                .with_context(|| format!("writing {}", out.display()))?;
            let missing = grid.prices.iter().filter(|p| p.is_nan()).count();
            println!(
                "{}",
                serde_json::json!({
                    "source": "prices", "asset": asset, "symbol": symbol, "from": from, "to": to,
                    "increment": increment, "points": grid.timestamps.len(), "missing": missing,
                    "settled_until": grid.settled_until, "settled": grid.settled_until == Some(to),
                    "requests": grid.requests, "candles": grid.candles, "out": out.display().to_string(),
                    "elapsed_ms": t.elapsed().as_secs_f64() * 1e3,
                })
            );
        }
        Command::Fixture { preset, seed, out, start_time, asset } => {
            let mut spec = preset.spec();
            if let Some(start) = start_time {
                spec = spec.starting_at(&start).map_err(anyhow::Error::msg)?;
            }
            if let Some(asset) = asset {
                spec.asset = asset;
            }
            let mut summary =
                fixture::write_spec(&spec, seed, &out).with_context(|| format!("writing fixture {}", out.display()))?;
            summary.preset = Some(preset.as_str().to_owned());
            println!("{}", serde_json::to_string(&summary)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The exit code of a cycle that ran and wrote its other outputs while a sink (the database save,
/// after its retries) failed; `load` uses it too. A cycle that failed exits 1.
const EXIT_SAVE_FAILED: u8 = 3;

/// Prints a cycle's summary line. A cycle cut short by a signal exits with 128 + its number (the
/// file it wrote is whole, with the unfinished miners `cancelled`); one where a sink failed (while
/// another finished) exits [`EXIT_SAVE_FAILED`] after the line, with each failure on stderr.
fn print_summary(summary: &CycleSummary) -> anyhow::Result<ExitCode> {
    println!("{}", serde_json::to_string(summary)?);
    for (sink, error) in &summary.sink_errors {
        eprintln!("synth-forward: error: {sink}: {error}");
    }
    Ok(match summary.stopped_by.as_deref().and_then(StopSignal::from_name) {
        Some(sig) => ExitCode::from(sig.exit_code()),
        None if !summary.sink_errors.is_empty() => ExitCode::from(EXIT_SAVE_FAILED),
        None => ExitCode::SUCCESS,
    })
}

/// The upstream-shape output, on every command that runs a cycle.
#[derive(clap::Args)]
struct UpstreamArgs {
    /// Also write the results as today's validator's workers return them: one JSON line per
    /// queried miner, in request order (schemas/upstream.md).
    #[arg(long = "upstream-out")]
    upstream_out: Option<PathBuf>,
    /// With --upstream-out: each CORRECT miner's output is upstream's float32 blob (base64).
    #[arg(long = "float32-output", requires = "upstream_out")]
    float32_output: bool,
}

impl UpstreamArgs {
    fn sink(&self) -> Option<Box<dyn Sink>> {
        let path = self.upstream_out.as_ref()?;
        Some(Box::new(UpstreamSink::new(path, self.float32_output)))
    }
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

/// The database save, on every command that runs a cycle.
#[derive(clap::Args)]
struct PostgresArgs {
    /// Also save the cycle into the validator's Postgres tables (validator_requests,
    /// miner_predictions), streamed as rows are decoded: a libpq URL or key=value string. Falls
    /// back to $SYNTH_FORWARD_POSTGRES; the password is never printed. With --prices f32 the rows
    /// follow upstream's Bigtable backend (the float32 blobs stay in the Parquet file).
    #[arg(long, env = "SYNTH_FORWARD_POSTGRES", hide_env_values = true)]
    postgres: Option<String>,
    /// Attempts in all at saving a cycle (a failed one is retried from the Parquet file).
    #[arg(long = "postgres-attempts", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10))]
    postgres_attempts: u32,
    /// Seconds before the first retry (doubled for each further one, with jitter).
    #[arg(long = "postgres-backoff", default_value_t = 2.0)]
    postgres_backoff: f64,
}

impl PostgresArgs {
    /// The sink and the handle its Parquet sink announces its file to, when asked for. Without
    /// `from_file` a retry reads the cycle's batch instead (the file is not kept on disk).
    fn sink(&self, prices: PricesArg, from_file: bool) -> anyhow::Result<Option<(Box<dyn Sink>, WrittenFile)>> {
        let Some(text) = &self.postgres else { return Ok(None) };
        let url = DbUrl::parse(text).map_err(anyhow::Error::msg)?;
        anyhow::ensure!(
            self.postgres_backoff.is_finite() && self.postgres_backoff >= 0.0,
            "--postgres-backoff must be a number of seconds ≥ 0"
        );
        let written = WrittenFile::default();
        let mut opts = PostgresOptions::new(url);
        opts.attempts = self.postgres_attempts;
        opts.backoff = std::time::Duration::from_secs_f64(self.postgres_backoff);
        opts.retry_from = from_file.then(|| written.clone());
        if prices.encoding() == PriceEncoding::Float32 {
            opts.storage = Storage::Bigtable;
        }
        Ok(Some((Box::new(PostgresSink::new(opts)), written)))
    }
}

/// The outputs of `run` and `replay`.
#[derive(clap::Args)]
struct OutputArgs {
    /// Output folder (one folder per table below it:
    /// layout-2/<length>_<increment>_<sims>_<prices>/asset=…/date=…/<start>.parquet), or object
    /// storage, s3://bucket/prefix/ (a build with `--features s3`; credentials and endpoint from
    /// the AWS_* variables).
    #[arg(long)]
    out: PathBuf,
    /// With an s3:// --out: where the file is written before it is uploaded, in a folder of its
    /// own (removed once stored, kept if the upload fails).
    #[arg(long, default_value_os_t = std::env::temp_dir().join("synth-forward-staging"))]
    staging: PathBuf,
    #[command(flatten)]
    prices: PricesArg,
    /// Replace the Parquet file if it already exists.
    #[arg(long)]
    overwrite: bool,
    #[command(flatten)]
    upstream: UpstreamArgs,
    #[command(flatten)]
    postgres: PostgresArgs,
}

impl OutputArgs {
    /// The sinks: the Parquet file, the upstream-shape file when asked, and the database save when
    /// asked (last: it retries from the Parquet file, which finishes first).
    fn sinks(self) -> anyhow::Result<Vec<Box<dyn Sink>>> {
        let remote = self.out.to_str().is_some_and(synth_forward::store::is_url);
        let opts = ParquetOptions {
            prices: self.prices.encoding(),
            // The staging folder is ours; the object store decides what may be replaced.
            overwrite: self.overwrite || remote,
            ..ParquetOptions::default()
        };
        // Staged in a folder of this cycle's own: two processes (or a cycle whose upload failed
        // and was kept) never share a staged file.
        let staging = self.staging.join(format!("{}-{}", std::process::id(), uuid::Uuid::new_v4()));
        let dir = if remote { staging.clone() } else { self.out.clone() };
        let mut parquet = ParquetSink::new(dir, opts);
        // Uploaded, the staged file is gone by the time the save could retry: it retries from the
        // cycle's batch then.
        let db = self.postgres.sink(self.prices, !remote)?;
        if let Some((_, written)) = &db {
            parquet = parquet.announce(written.clone());
        }
        let parquet: Box<dyn Sink> =
            if remote { upload_sink(parquet, &self.out, staging, self.overwrite)? } else { Box::new(parquet) };
        let mut sinks: Vec<Box<dyn Sink>> = vec![parquet];
        sinks.extend(self.upstream.sink());
        sinks.extend(db.map(|(s, _)| s));
        Ok(sinks)
    }
}

/// The Parquet sink uploading to `out` (s3://…), staged in the folder `staging`.
#[cfg(feature = "s3")]
fn upload_sink(
    parquet: ParquetSink,
    out: &std::path::Path,
    staging: PathBuf,
    overwrite: bool,
) -> anyhow::Result<Box<dyn Sink>> {
    let url = out.to_string_lossy();
    let remote = synth_forward::store::Remote::parse(&url)?;
    Ok(Box::new(synth_forward::sink::upload::UploadSink::new(parquet, Arc::new(remote), staging, overwrite)))
}

#[cfg(not(feature = "s3"))]
fn upload_sink(_: ParquetSink, out: &std::path::Path, _: PathBuf, _: bool) -> anyhow::Result<Box<dyn Sink>> {
    anyhow::bail!("--out {}", synth_forward::store::not_built(&out.to_string_lossy()))
}

/// The short table `demo` prints on a terminal, timings in the order the phases happen.
#[cfg(feature = "fleet")]
fn human_table(s: &CycleSummary) -> String {
    let to = s.parquet().map_or_else(|| "(no file)".to_owned(), |p| p.display().to_string());
    let mut out = format!("{} miners, {:.1} MB of bodies → {to}\n", s.rows, s.body_bytes as f64 / 1e6);
    for (verdict, n) in &s.verdicts {
        out.push_str(&format!("  {n:>5}  {verdict}\n"));
    }
    for (phase, ms) in s.timings_ms.in_order() {
        out.push_str(&format!("  {phase:>15}  {ms:>9.1} ms\n"));
    }
    out
}
