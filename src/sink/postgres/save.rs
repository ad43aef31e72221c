//! One attempt at saving a cycle: one connection, one transaction, one `COPY`.
//!
//! In: the database address, the cycle's `validator_requests` values, then rows (from any thread,
//! in any order), then either [`Save::commit`] or a drop. Out: the committed cycle's report, or an
//! error and nothing visible.
//!
//! The connection lives on a thread of its own with a current-thread runtime (the decode pool
//! must never wait on the network inside a runtime). [`Save::open`] returns once the transaction
//! is open: `BEGIN`, the `validator_requests` row (`RETURNING id`), the uid → newest `miners.id`
//! map, and `COPY miner_predictions … FROM STDIN` under way. Each [`Save::row`] encodes its line
//! on the calling thread into a pooled buffer and hands it over a small bounded channel, so the
//! save streams: memory is a few rows, never the cycle's SQL.
//!
//! Only an explicit commit message ends the COPY and commits. If the sender goes away without it
//! (the cycle failed, the sink was dropped), the connection is closed mid-transaction and the
//! server rolls everything back, as it does on any error: the cycle is in the database whole or
//! not at all.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use tokio::sync::mpsc;
use tokio_postgres::{Client, NoTls};

use super::copy::{self, Line, LineContext, Storage, Stored};
use super::url::DbUrl;
use crate::columns::RowText;

/// The `validator_requests` values of a cycle.
#[derive(Clone, Debug)]
pub struct CycleRow {
    pub start_time: String,
    pub asset: String,
    pub time_increment: i64,
    pub time_length: i64,
    pub num_simulations: i64,
    pub request_time: String,
    /// `int(fromisoformat(start_time).timestamp())`: the start a CORRECT reply holds.
    pub start_unix: i64,
    /// Prices per path (the cycle's shape): how a CORRECT reply's doubles split into paths.
    pub points: usize,
}

impl CycleRow {
    pub fn from_request(request: &crate::request::CycleRequest, shape: crate::request::CycleShape) -> CycleRow {
        let si = &request.simulation_input;
        CycleRow {
            start_time: si.start_time.clone(),
            asset: si.asset.clone(),
            time_increment: si.time_increment,
            time_length: si.time_length,
            num_simulations: si.num_simulations,
            request_time: request.request_time_or_now(),
            start_unix: shape.start_unix,
            points: shape.points,
        }
    }
}

/// How an attempt connects and what it refuses.
#[derive(Clone, Debug)]
pub struct SaveOptions {
    pub storage: Storage,
    /// Give up connecting (and opening the transaction) after this long.
    pub connect_timeout: Duration,
    /// Refuse when `validator_requests` already holds this cycle (same asset, start time and
    /// time length): what `load` and every retry do, so a cycle is never stored twice.
    pub refuse_existing: bool,
}

/// Why an attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// The database already holds this cycle (nothing was written).
    #[error("the database already holds this cycle as validator_requests id {0}")]
    AlreadySaved(i64),
    #[error("{0}")]
    Failed(String),
}

/// What a committed attempt reports.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Committed {
    pub validator_requests_id: i64,
    /// `miner_predictions` rows written.
    pub rows: u64,
    /// CORRECT rows stored as `[]` because a price has no JSON form.
    pub unstorable: u64,
    /// Uids with no `miners` row: not stored, as upstream does.
    pub skipped_uids: Vec<u16>,
    pub timings_ms: SaveTimings,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct SaveTimings {
    /// Connect, `BEGIN`, the `validator_requests` row, the miners map, `COPY` started.
    pub open: f64,
    /// From the open transaction to the last row handed over.
    pub rows: f64,
    /// Ending the COPY: the server stores the rows it has not stored yet.
    pub end_copy: f64,
    /// `COMMIT` (the server makes the transaction durable).
    pub commit: f64,
}

/// The attempt is lost: its connection failed (the reason comes from [`Save::commit`]), or a row
/// came from inside an async runtime, where this could not wait.
#[derive(Debug)]
pub struct Lost;

/// How the connection thread ended: (rows, the last COPY's end in ms, the commit in ms).
type Outcome = Result<(u64, f64, f64), String>;

enum Msg {
    Line(Pooled),
    Commit,
}

/// An open attempt. `Sync`: rows come from every pool thread.
pub struct Save {
    ctx_id: i64,
    row: CycleRow,
    storage: Storage,
    miners: HashMap<u16, i64>,
    tx: mpsc::Sender<Msg>,
    done: Mutex<std::sync::mpsc::Receiver<Outcome>>,
    pool: Arc<BufPool>,
    opened: Instant,
    open_ms: f64,
    unstorable: std::sync::atomic::AtomicU64,
    skipped: Mutex<Vec<u16>>,
}

/// Lines in flight between the encoders and the connection.
const IN_FLIGHT: usize = 4;

/// The most tuple bytes one `COPY` takes before it ends (the server holds them until then). Fewer,
/// larger COPYs cost the server less: `replay lf-full` into lz4 took 5.3–5.7 s with a COPY per
/// 4 MB, 5.1–5.2 s per 32 MB, 4.5–5.1 s per 64 MB, 4.6–4.8 s with no bound (the server then
/// holding up to the whole cycle); see the README's save table.
const COPY_RUN_BYTES: usize = 64 << 20;

impl Save {
    /// Connects and opens the transaction (module doc). Errors name the step that failed.
    pub fn open(url: &DbUrl, row: &CycleRow, opts: &SaveOptions) -> Result<Save, SaveError> {
        let t = Instant::now();
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel(1);
        let (tx, rx) = mpsc::channel::<Msg>(IN_FLIGHT);
        let url2 = url.clone();
        let row2 = row.clone();
        let opts2 = opts.clone();
        std::thread::Builder::new()
            .name("synth-forward-postgres".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(SaveError::Failed(format!("starting its runtime: {e}"))));
                        return;
                    }
                };
                rt.block_on(session(url2, row2, opts2, ready_tx, rx, done_tx));
            })
            .map_err(|e| SaveError::Failed(format!("starting the database thread: {e}")))?;
        // The thread gives up on its own after the connect timeout; this wait has a margin for
        // the statements after the connect.
        let wait = opts.connect_timeout + Duration::from_secs(30);
        let (id, miners) = match ready_rx.recv_timeout(wait) {
            Ok(r) => r?,
            Err(_) => {
                return Err(SaveError::Failed(format!(
                    "no answer from {} within {:.0} s",
                    url.masked(),
                    wait.as_secs_f64()
                )));
            }
        };
        Ok(Save {
            ctx_id: id,
            row: row.clone(),
            storage: opts.storage,
            miners,
            tx,
            done: Mutex::new(done_rx),
            pool: Arc::new(BufPool::default()),
            opened: Instant::now(),
            open_ms: ms(t.elapsed()),
            unstorable: Default::default(),
            skipped: Mutex::new(Vec::new()),
        })
    }

    pub fn validator_requests_id(&self) -> i64 {
        self.ctx_id
    }

    /// The newest `miners.id` of `uid`, if it has a row.
    pub fn miner_id(&self, uid: u16) -> Option<i64> {
        self.miners.get(&uid).copied()
    }

    /// Encodes one miner's row and hands it to the connection. A uid without a `miners` row is
    /// skipped and remembered. Errors once the connection has failed (the attempt is lost; the
    /// error itself comes from [`Save::commit`]).
    pub fn row(
        &self,
        uid: u16,
        format_validation: &str,
        process_time_s: Option<f64>,
        prices: Option<&[f64]>,
        text: RowText<'_>,
    ) -> Result<(), Lost> {
        let Some(miner_id) = self.miner_id(uid) else {
            self.skipped.lock().unwrap_or_else(|p| p.into_inner()).push(uid);
            return Ok(());
        };
        let ctx = LineContext {
            validator_requests_id: self.ctx_id,
            storage: self.storage,
            start_unix: self.row.start_unix,
            increment: self.row.time_increment,
            points: self.row.points,
            asset: &self.row.asset,
        };
        let mut buf = self.pool.take();
        let line = Line { uid, miner_id, format_validation, process_time_s, prices, text };
        let stored = copy::write_line(&mut buf.bytes, &ctx, &line);
        if stored == Stored::Unstorable {
            self.unstorable.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        // A pool thread, never inside a runtime (checked: blocking there would panic).
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Lost);
        }
        self.tx.blocking_send(Msg::Line(buf)).map_err(|_| Lost)
    }

    /// Ends the COPY and commits; the report, or why nothing was stored.
    pub fn commit(self) -> Result<Committed, SaveError> {
        let rows_ms = ms(self.opened.elapsed());
        let sent = self.tx.blocking_send(Msg::Commit);
        drop(self.tx);
        let done = self.done.into_inner().unwrap_or_else(|p| p.into_inner());
        let result = done.recv().unwrap_or_else(|_| Err("the database thread ended without an answer".into()));
        let (rows, end_copy_ms, commit_ms) = match (sent, result) {
            (_, Ok(r)) => r,
            (_, Err(e)) => return Err(SaveError::Failed(e)),
        };
        let mut skipped = self.skipped.into_inner().unwrap_or_else(|p| p.into_inner());
        skipped.sort_unstable();
        Ok(Committed {
            validator_requests_id: self.ctx_id,
            rows,
            unstorable: self.unstorable.into_inner(),
            skipped_uids: skipped,
            timings_ms: SaveTimings { open: self.open_ms, rows: rows_ms, end_copy: end_copy_ms, commit: commit_ms },
        })
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

type Ready = Result<(i64, HashMap<u16, i64>), SaveError>;

/// The connection thread's whole life: open, stream, commit on the message, else roll back.
async fn session(
    url: DbUrl,
    row: CycleRow,
    opts: SaveOptions,
    ready: std::sync::mpsc::SyncSender<Ready>,
    mut rx: mpsc::Receiver<Msg>,
    done: std::sync::mpsc::SyncSender<Outcome>,
) {
    let opened = tokio::time::timeout(opts.connect_timeout + Duration::from_secs(25), open(&url, &row, &opts)).await;
    let (client, id, miners) = match opened {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => {
            let _ = ready.send(Err(e));
            return;
        }
        Err(_) => {
            let _ = ready.send(Err(SaveError::Failed("opening the transaction timed out".into())));
            return;
        }
    };
    // Prepared once: every run of rows is its own COPY (see `stream`).
    let statement = format!("COPY miner_predictions ({}) FROM STDIN (FORMAT binary)", copy::COLUMNS);
    let copy = match client.prepare(&statement).await {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(SaveError::Failed(format!("preparing the COPY: {}", pg_error(&e)))));
            return;
        }
    };
    if ready.send(Ok((id, miners))).is_err() {
        return; // Nobody waits any more: dropping the connection rolls back.
    }
    let Some(outcome) = stream(&client, &copy, &mut rx).await.transpose() else {
        return; // The cycle went away without committing: roll back by closing.
    };
    // Close the connection before answering, so a failed attempt has rolled back (or the
    // server will, on seeing the socket close) by the time anyone retries.
    drop(client);
    let _ = done.send(outcome);
}

/// Rows into the table until the commit message, then `COMMIT`: (rows, the last COPY's end, the
/// commit). `Ok(None)`: the channel closed without a commit (roll back).
///
/// Each run of rows is its own `COPY`: the next row, and the rows already waiting (up to
/// [`COPY_RUN_BYTES`]), then the COPY's end. A binary COPY's rows are not stored as they arrive: PostgreSQL buffers them (up
/// to 1000) and inserts them when the COPY ends, so one COPY for the whole cycle left all of the
/// server's work (TOAST compression, WAL) to after the last row (measured on a live `hf-90mb`:
/// 370 ms after the network wait, and the whole cycle held in the server's memory). Ending a COPY
/// per run keeps the server's work inside the network wait, for one round trip per run.
async fn stream(
    client: &Client,
    copy_statement: &tokio_postgres::Statement,
    rx: &mut mpsc::Receiver<Msg>,
) -> Result<Option<(u64, f64, f64)>, String> {
    let pool = Arc::new(BufPool::default());
    let framing = |b: &[u8]| {
        let mut p = pool.take();
        p.bytes.extend_from_slice(b);
        p
    };
    let (mut rows, mut end_copy) = (0u64, 0.0);
    let mut next = rx.recv().await;
    loop {
        let first = match next.take() {
            None => return Ok(None),
            Some(Msg::Commit) => {
                let t = Instant::now();
                client.batch_execute("COMMIT").await.map_err(|e| format!("committing: {}", pg_error(&e)))?;
                return Ok(Some((rows, end_copy, ms(t.elapsed()))));
            }
            Some(Msg::Line(buf)) => buf,
        };
        let streaming = |e: tokio_postgres::Error| format!("streaming rows (COPY): {}", pg_error(&e));
        let sink = client.copy_in::<_, Pooled>(copy_statement).await.map_err(streaming)?;
        let mut sink = Box::pin(sink);
        sink.send(framing(copy::HEADER)).await.map_err(streaming)?;
        let first_len = bytes::Buf::remaining(&first);
        sink.send(first).await.map_err(streaming)?;
        // The rows already waiting, up to a run's bytes (a fast source would otherwise keep one
        // COPY, and the server's buffer of its rows, open to the end).
        let mut sent = first_len;
        while sent < COPY_RUN_BYTES {
            match rx.try_recv() {
                Ok(Msg::Line(buf)) => {
                    sent += bytes::Buf::remaining(&buf);
                    sink.send(buf).await.map_err(streaming)?
                }
                Ok(Msg::Commit) => {
                    next = Some(Msg::Commit);
                    break;
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => return Ok(None),
            }
        }
        let t = Instant::now();
        sink.send(framing(copy::TRAILER)).await.map_err(streaming)?;
        rows += sink.as_mut().finish().await.map_err(streaming)?;
        end_copy = ms(t.elapsed());
        if next.is_none() {
            next = rx.recv().await;
        }
    }
}

async fn open(url: &DbUrl, row: &CycleRow, opts: &SaveOptions) -> Result<(Client, i64, HashMap<u16, i64>), SaveError> {
    let fail = |what: &str, e: tokio_postgres::Error| SaveError::Failed(format!("{what}: {}", pg_error(&e)));
    let mut config = url.config().clone();
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(opts.connect_timeout);
    }
    config.application_name("synth-forward");
    let (client, connection) =
        config.connect(NoTls).await.map_err(|e| fail(&format!("connecting to {}", url.masked()), e))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %pg_error(&e), "database connection ended");
        }
    });
    client.batch_execute("BEGIN").await.map_err(|e| fail("BEGIN", e))?;
    if opts.refuse_existing {
        let existing = client
            .query_opt(
                "SELECT id FROM validator_requests WHERE asset = $1 AND start_time = $2::text::timestamptz \
                 AND time_length = $3 ORDER BY id LIMIT 1",
                &[&row.asset, &row.start_time, &int4("time_length", row.time_length)?],
            )
            .await
            .map_err(|e| fail("looking for this cycle in validator_requests", e))?;
        if let Some(r) = existing {
            return Err(SaveError::AlreadySaved(r.get(0)));
        }
    }
    let id: i64 = client
        .query_one(
            "INSERT INTO validator_requests \
             (start_time, asset, time_increment, time_length, num_simulations, request_time) \
             VALUES ($1::text::timestamptz, $2, $3, $4, $5, $6::text::timestamptz) RETURNING id",
            &[
                &row.start_time,
                &row.asset,
                &int4("time_increment", row.time_increment)?,
                &int4("time_length", row.time_length)?,
                &int4("num_simulations", row.num_simulations)?,
                &row.request_time,
            ],
        )
        .await
        .map_err(|e| fail("inserting the validator_requests row", e))?
        .get(0);
    // Upstream's map: per uid, the row updated last (ties broken by the newest id, so the
    // answer never depends on the plan).
    let miners = client
        .query(
            "SELECT DISTINCT ON (miner_uid) miner_uid, id FROM miners ORDER BY miner_uid, updated_at DESC, id DESC",
            &[],
        )
        .await
        .map_err(|e| fail("reading the miners map", e))?
        .iter()
        .filter_map(|r| Some((u16::try_from(r.get::<_, i32>(0)).ok()?, r.get::<_, i64>(1))))
        .collect();
    Ok((client, id, miners))
}

fn int4(what: &str, v: i64) -> Result<i32, SaveError> {
    i32::try_from(v).map_err(|_| SaveError::Failed(format!("{what} {v} does not fit the column (integer)")))
}

/// A driver error on one line, with the server's message, detail and SQLSTATE when there is one.
pub fn pg_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{}: {} (SQLSTATE {})", db.severity(), db.message(), db.code().code());
            if let Some(d) = db.detail() {
                s.push_str(&format!("; {d}"));
            }
            s.replace('\n', " ")
        }
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(inner) = src {
                s.push_str(&format!(": {inner}"));
                src = inner.source();
            }
            s.replace('\n', " ")
        }
    }
}

/// Line buffers, reused from row to row: a few are kept, the rest freed.
#[derive(Default)]
struct BufPool {
    free: Mutex<Vec<Vec<u8>>>,
}

const POOL_KEEP: usize = IN_FLIGHT + 4;

impl BufPool {
    fn take(self: &Arc<Self>) -> Pooled {
        let bytes = self.free.lock().unwrap_or_else(|p| p.into_inner()).pop().unwrap_or_default();
        Pooled { bytes, pos: 0, pool: Arc::clone(self) }
    }
}

/// One encoded tuple on its way to the server; its buffer goes back to the pool once it is sent.
struct Pooled {
    bytes: Vec<u8>,
    pos: usize,
    pool: Arc<BufPool>,
}

impl bytes::Buf for Pooled {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn chunk(&self) -> &[u8] {
        &self.bytes[self.pos..]
    }

    fn advance(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.bytes.len());
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.bytes);
        bytes.clear();
        let mut free = self.pool.free.lock().unwrap_or_else(|p| p.into_inner());
        if free.len() < POOL_KEEP {
            free.push(bytes);
        }
    }
}
