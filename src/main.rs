//! `synth-forward`: parse flags, call the library, print one JSON summary line on stdout.
//!
//! Logs go to stderr (`RUST_LOG`, default `warn`). Any error is printed once, on one line, and the
//! process exits non-zero; a broken miner never gets here, it costs only its own row.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use mimalloc::MiMalloc;

use synth_forward::fixture::{self, Preset};
use synth_forward::replay;
use synth_forward::sink::parquet::{ParquetOptions, PriceEncoding};

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
    /// Generate a synthetic recorded cycle in the Axon's exact byte layout.
    Fixture {
        /// small (16 miners × 100 × 61), hf-90mb (256 × 1000 × 61), lf-full (256 × 1000 × 289).
        #[arg(long, value_parser = parse_preset)]
        preset: Preset,
        #[arg(long, default_value_t = fixture::DEFAULT_SEED)]
        seed: u64,
        /// Where to write the .cycle.arrow file.
        #[arg(long)]
        out: PathBuf,
    },
}

fn parse_preset(s: &str) -> Result<Preset, String> {
    Preset::ALL
        .into_iter()
        .find(|p| p.as_str() == s)
        .ok_or_else(|| format!("unknown preset {s:?} (small, hf-90mb, lf-full)"))
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
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("synth-forward: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Replay { recording, out, compact, overwrite } => {
            let opts = ParquetOptions {
                prices: if compact { PriceEncoding::Compact } else { PriceEncoding::Float64 },
                overwrite,
                ..ParquetOptions::default()
            };
            let summary = replay::replay(&recording, &out, &opts)
                .with_context(|| format!("replaying {}", recording.display()))?;
            println!("{}", serde_json::to_string(&summary)?);
        }
        Command::Fixture { preset, seed, out } => {
            let summary = fixture::write(preset, seed, &out)
                .with_context(|| format!("writing fixture {}", out.display()))?;
            println!("{}", serde_json::to_string(&summary)?);
        }
    }
    Ok(())
}
