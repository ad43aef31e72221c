//! The save phase in the same pass: every cycle streamed into the validator's own Postgres tables.
//!
//! In: the cycle (its request, then each decoded row as it lands). Out: one `validator_requests`
//! row and one `miner_predictions` row per queried miner with a `miners` row, exactly what the
//! validator's `save_responses` stores (`../shared/upstream-db/`, [`copy`], [`jsonb`]), committed
//! in one transaction; the summary's `"postgres"` value says what was stored.
//!
//! - [`Sink::start`] opens the first attempt ([`save::Save`]): the transaction, the
//!   `validator_requests` row, the miners map, and a `COPY` into `miner_predictions`.
//! - [`Sink::rows`] encodes each row on its pool thread and streams it into the open COPY, so the
//!   save rides inside the network wait and no cycle-sized SQL text is ever built.
//! - [`Sink::finish`] ends the COPY and commits.
//!
//! A database fault (unreachable at start, the connection dropped mid-COPY, a constraint
//! violation, a statement timeout, a restart) never costs the cycle: the attempt rolls back whole,
//! the other sinks go on, and the save is retried ([`PostgresOptions::attempts`] in all, with
//! exponential backoff and jitter, as upstream retries its `save_responses`) from the decoded rows:
//! the cycle's Parquet file once it is written ([`WrittenFile`]), or the cycle's batch when there
//! is no file. A retry refuses to store a cycle the database already holds, so an attempt whose
//! `COMMIT` answer was lost is never stored twice. Only when every attempt failed is the sink's
//! result an error.

pub mod copy;
pub mod jsonb;
pub mod reload;
pub mod save;
pub mod url;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;

pub use copy::Storage;
pub use save::{Committed, CycleRow, Save, SaveError, SaveOptions};
pub use url::DbUrl;

use crate::sink::{self, CycleInfo, Rows, Sink, WrittenFile};

/// The environment variable `--postgres` falls back to.
pub const URL_ENV: &str = "SYNTH_FORWARD_POSTGRES";

/// How the sink saves.
#[derive(Clone, Debug)]
pub struct PostgresOptions {
    pub url: DbUrl,
    pub storage: Storage,
    /// Attempts in all (the streaming one included); upstream makes 3.
    pub attempts: u32,
    /// The wait before the first retry; each further one doubles it. Each wait is drawn
    /// uniformly from its upper half (jitter, so validators retrying together spread out).
    pub backoff: Duration,
    pub connect_timeout: Duration,
    /// Where the cycle's Parquet file will be, once written: retries read the rows from it. Without
    /// one the sink keeps the cycle's batch for its retries.
    pub retry_from: Option<WrittenFile>,
}

impl PostgresOptions {
    pub fn new(url: DbUrl) -> PostgresOptions {
        PostgresOptions {
            url,
            storage: Storage::Json,
            attempts: 3,
            backoff: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(10),
            retry_from: None,
        }
    }

    fn save_options(&self, refuse_existing: bool) -> SaveOptions {
        SaveOptions { storage: self.storage, connect_timeout: self.connect_timeout, refuse_existing }
    }
}

/// The Postgres sink (module doc).
pub struct PostgresSink {
    opts: PostgresOptions,
    row: Option<CycleRow>,
    /// The streaming attempt, while it is alive.
    save: Option<Save>,
    /// Why the streaming attempt could not open (it then never streams).
    open_error: Option<String>,
    /// Set when the streaming attempt's connection failed while rows arrived.
    broken: AtomicBool,
    started: Option<Instant>,
}

impl PostgresSink {
    pub fn new(opts: PostgresOptions) -> PostgresSink {
        PostgresSink { opts, row: None, save: None, open_error: None, broken: AtomicBool::new(false), started: None }
    }

    /// A retry: a fresh transaction fed from the decoded rows.
    fn retry(&self, row: &CycleRow, batch: Option<&RecordBatch>) -> Result<(Committed, &'static str), SaveError> {
        let file = self.opts.retry_from.as_ref().and_then(WrittenFile::get);
        let fail = |e: String| SaveError::Failed(e);
        match (file, batch) {
            (Some(path), _) => {
                let f = reload::CycleFile::open(&path).map_err(fail)?;
                let save = Save::open(&self.opts.url, row, &self.opts.save_options(true))?;
                Ok((f.save(save)?, "parquet"))
            }
            (None, Some(batch)) => {
                let save = Save::open(&self.opts.url, row, &self.opts.save_options(true))?;
                Ok((reload::save_batch(batch, save)?, "batch"))
            }
            (None, None) => Err(fail("no decoded rows to retry from (the Parquet file was not written)".into())),
        }
    }

    fn report(
        &self,
        c: &Committed,
        attempts: u32,
        source: &str,
        errors: &[String],
        started: Instant,
    ) -> serde_json::Value {
        let mut v = committed_json(&self.opts.url, self.opts.storage, c, started);
        v["attempts"] = attempts.into();
        v["from"] = source.into();
        if !errors.is_empty() {
            v["errors"] = serde_json::json!(errors);
        }
        v
    }
}

/// What a committed save reports (the sink's summary value, `load`'s line): where, how, what.
fn committed_json(url: &DbUrl, storage: Storage, c: &Committed, started: Instant) -> serde_json::Value {
    serde_json::json!({
        "url": url.masked(),
        "storage": storage.as_str(),
        "validator_requests_id": c.validator_requests_id,
        "rows": c.rows,
        "unstorable": c.unstorable,
        "skipped_uids": c.skipped_uids,
        "timings_ms": {
            "open": c.timings_ms.open,
            "rows": c.timings_ms.rows,
            "end_copy": c.timings_ms.end_copy,
            "commit": c.timings_ms.commit,
            "total": ms_since(started),
        },
    })
}

/// Milliseconds since `t`, to the microsecond.
fn ms_since(t: Instant) -> f64 {
    (t.elapsed().as_secs_f64() * 1e6).round() / 1e3
}

impl Sink for PostgresSink {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn start(&mut self, cycle: &CycleInfo<'_>) -> Result<(), sink::Error> {
        self.started = Some(Instant::now());
        let row = CycleRow::from_request(cycle.request, cycle.shape);
        match Save::open(&self.opts.url, &row, &self.opts.save_options(false)) {
            Ok(save) => self.save = Some(save),
            // Not the sink's end: the save is retried at finish, from the decoded rows.
            Err(e) => {
                tracing::warn!(url = %self.opts.url, error = %e, "database save could not start; it will be retried after the cycle");
                self.open_error = Some(e.to_string());
            }
        }
        self.row = Some(row);
        Ok(())
    }

    fn needs_batch(&self) -> bool {
        self.opts.retry_from.is_none()
    }

    fn rows(&self, rows: &Rows<'_>) -> Result<(), sink::Error> {
        let Some(save) = &self.save else { return Ok(()) };
        if self.broken.load(Ordering::Relaxed) {
            return Ok(());
        }
        for i in 0..rows.len() {
            let verdict = rows.verdict[i].as_str();
            let prices = rows.correct_slot(i);
            if save.row(rows.uid[i], verdict, rows.process_time_s[i], prices, rows.price_text(i)).is_err() {
                // The attempt is lost (its error comes at finish); the retry reloads every row.
                self.broken.store(true, Ordering::Relaxed);
                return Ok(());
            }
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>, batch: Option<&RecordBatch>) -> Result<serde_json::Value, sink::Error> {
        let started = self.started.unwrap_or_else(Instant::now);
        let row = self.row.clone().ok_or("the sink was never started")?;
        let mut errors = Vec::new();
        match (self.save.take(), self.open_error.take()) {
            (Some(save), _) => match save.commit() {
                Ok(c) => return Ok(self.report(&c, 1, "stream", &errors, started)),
                Err(e) => errors.push(e.to_string()),
            },
            (None, Some(e)) => errors.push(e),
            (None, None) => errors.push("the save never opened".into()),
        }
        for attempt in 2..=self.opts.attempts.max(1) {
            tracing::warn!(url = %self.opts.url, attempt, error = %errors.last().map_or("", String::as_str), "database save failed; retrying from the decoded rows");
            std::thread::sleep(backoff(self.opts.backoff, attempt - 2));
            match self.retry(&row, batch) {
                Ok((c, source)) => return Ok(self.report(&c, attempt, source, &errors, started)),
                // The database holds this cycle: an earlier attempt committed after all (its answer
                // was lost), or the cycle was stored before. Storing it again would duplicate it.
                Err(SaveError::AlreadySaved(id)) => {
                    let mut v = serde_json::json!({
                        "url": self.opts.url.masked(),
                        "storage": self.opts.storage.as_str(),
                        "validator_requests_id": id,
                        "already_saved": true,
                        "attempts": attempt,
                        "errors": errors,
                    });
                    v["timings_ms"] = serde_json::json!({"total": ms_since(started)});
                    return Ok(v);
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        let n = errors.len();
        let list: Vec<String> = errors.iter().enumerate().map(|(i, e)| format!("attempt {}: {e}", i + 1)).collect();
        Err(format!(
            "nothing of this cycle is stored in {}: {n} attempt{} failed ({})",
            self.opts.url.masked(),
            if n == 1 { "" } else { "s" },
            list.join("; ")
        )
        .into())
    }
}

/// The wait before retry `k` (0-based): `base · 2^k`, drawn uniformly from its upper half.
fn backoff(base: Duration, k: u32) -> Duration {
    let full = base.saturating_mul(1u32 << k.min(16));
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let jitter = f64::from(nanos % 1000) / 1000.0;
    full.mul_f64(0.5 + 0.5 * jitter)
}

/// `synth-forward load`: a written cycle file into the database, refusing a cycle it already
/// holds. One attempt (the caller retries as it sees fit).
pub fn load_file(
    path: &std::path::Path,
    url: &DbUrl,
    connect_timeout: Duration,
) -> Result<serde_json::Value, SaveError> {
    let started = Instant::now();
    let file = reload::CycleFile::open(path).map_err(SaveError::Failed)?;
    let storage = file.storage();
    let shape = file.request.shape().map_err(|e| SaveError::Failed(e.to_string()))?;
    let row = CycleRow::from_request(&file.request, shape);
    if file.request.request_time.is_none() {
        tracing::warn!("{} has no request_time; storing the load's own time", path.display());
    }
    let save = Save::open(url, &row, &SaveOptions { storage, connect_timeout, refuse_existing: true })?;
    let c = file.save(save)?;
    let mut v = committed_json(url, storage, &c, started);
    v["file"] = path.display().to_string().into();
    Ok(v)
}
