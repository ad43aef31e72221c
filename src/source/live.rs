//! The live source: signed requests → every miner at once → each finished call into the cycle.
//!
//! In: the cycle request, one signed [`OutgoingRequest`] per axon (or the hotkey to sign them
//! with), the sinks and the cycle's [`Cancel`] token. Out: what the pipeline ([`crate::cycle`])
//! makes of the calls, and optionally a recording of every raw call.
//!
//! Shape: the calling thread drives every miner call on the engine's current-thread runtime; as
//! each call ends (body received, failed, or cut at the deadline) it is moved into a job on the
//! engine's rayon pool (rayon's lock-free injector queue is the hand-off from I/O to decode), which
//! decodes it and hands the row to the sinks while the other miners are still sending. When the
//! last call ends only the last body's decode and the sinks' `finish` remain.
//!
//! Cancellation (see [`crate::cancel`]): when the token is cancelled mid-network, the calls in
//! flight are aborted and each unfinished miner gets a `cancelled` row through the same path.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::cancel::Cancel;
use crate::cycle::{Clock, Cycle, CycleError, CycleOutcome};
use crate::engine::Engine;
use crate::fetch::{self, FetchedCall, OutgoingRequest};
use crate::recording::{self, RecordedCall};
use crate::request::CycleRequest;
use crate::sink::Sink;
use crate::wire::keys::Hotkey;
use crate::wire::sign::sign_cycle;

/// A progress callback: (calls ended, calls in all, body bytes so far).
pub type OnCall = Box<dyn Fn(usize, usize, u64) + Sync>;

/// How a live cycle runs, beside its request and sinks.
pub struct LiveOptions {
    /// Also write every raw call as a recording (replayable with `synth-forward replay`).
    pub record: Option<PathBuf>,
    /// The price buffer's ceiling in bytes (`--max-memory`); checked before any traffic.
    pub max_memory: u64,
    /// Called on the I/O thread after each call ends.
    pub on_call: Option<OnCall>,
    /// Hand the whole cycle back as one record batch ([`CycleOutcome::batch`]).
    pub keep_batch: bool,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions { record: None, max_memory: crate::request::default_max_memory(), on_call: None, keep_batch: false }
    }
}

impl Engine {
    /// One live cycle: signs a request per axon with `hotkey` (the miners see `external_ip`), asks
    /// every miner at once, and feeds each finished call to the pipeline and its `sinks`.
    pub fn run_cycle(
        &self,
        request: &CycleRequest,
        hotkey: Arc<Hotkey>,
        external_ip: &str,
        sinks: Vec<Box<dyn Sink>>,
        cancel: &Cancel,
        opts: &LiveOptions,
    ) -> Result<CycleOutcome, CycleError> {
        let start = Instant::now();
        request.check_live(opts.max_memory)?;
        let outgoing = sign_cycle(request, hotkey, external_ip);
        let sign = start.elapsed();
        self.live(request, outgoing, start, Some(sign), sinks, cancel, opts)
    }

    /// [`Engine::run_cycle`] with the requests already made: `outgoing[i]` goes to
    /// `request.axons[i]` (tests send unsigned ones to a fleet that does not check).
    pub fn run_requests(
        &self,
        request: &CycleRequest,
        outgoing: Vec<OutgoingRequest>,
        sinks: Vec<Box<dyn Sink>>,
        cancel: &Cancel,
        opts: &LiveOptions,
    ) -> Result<CycleOutcome, CycleError> {
        self.live(request, outgoing, Instant::now(), None, sinks, cancel, opts)
    }

    #[allow(clippy::too_many_arguments)]
    fn live(
        &self,
        request: &CycleRequest,
        outgoing: Vec<OutgoingRequest>,
        start: Instant,
        sign: Option<Duration>,
        sinks: Vec<Box<dyn Sink>>,
        cancel: &Cancel,
        opts: &LiveOptions,
    ) -> Result<CycleOutcome, CycleError> {
        let shape = request.check_live(opts.max_memory)?;
        // Cancelled before any traffic: nothing is asked and no sink starts, so nothing is
        // written (a file of every miner `cancelled` would only look like a real cycle).
        if let Some(reason) = cancel.reason() {
            return Err(CycleError::Cancelled(reason.to_owned()));
        }
        let n = request.axons.len();
        if outgoing.len() != n {
            return Err(CycleError::Requests { requests: outgoing.len(), axons: n });
        }
        let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        // The cycle's start is its request time unless the caller gave one; the sinks and the
        // recording see the same value, so a replay stores what the live cycle stored.
        let owned;
        let request = if request.request_time.is_some() {
            request
        } else {
            owned = CycleRequest { request_time: Some(crate::request::now_iso()), ..request.clone() };
            &owned
        };
        let timeout = Duration::from_secs_f64(request.timeout_s);
        let cap = fetch::body_cap(&shape);

        let mut clock = Clock::new(start);
        clock.sign = sign;
        let axon = |a: usize| (request.axons[a].uid, request.axons[a].hotkey.as_str());
        let mut cycle = Cycle::new(request, shape, n, axon, sinks, opts.keep_batch, clock)?;
        let kept: Vec<Mutex<Option<FetchedCall>>> =
            (0..if opts.record.is_some() { n } else { 0 }).map(|_| Mutex::new(None)).collect();

        let cycle_start = Instant::now();
        let (mut first_body, mut last_body) = (None, None);
        let mut decoded_before_last_body = 0usize;
        let (mut ended, mut bytes_in) = (0usize, 0u64);
        let feed = cycle.feed();
        let network_end = self.pool.in_place_scope(|scope| {
            // Everything one ended call needs, whatever ended it: the progress figures, then a
            // job on the pool that decodes it and hands the row to the sinks.
            let mut deliver = |call: FetchedCall| {
                let bytes = call.body.as_ref().map_or(0, |b| b.len() as u64);
                if call.body.is_some() && call.error.is_none() {
                    let at = cycle_start.elapsed();
                    first_body.get_or_insert(at);
                    last_body = Some(at);
                    decoded_before_last_body = feed.done();
                }
                // Rows are laid out (and recorded) in the order their calls ended.
                let seq = ended;
                ended += 1;
                bytes_in += bytes;
                if let Some(f) = &opts.on_call {
                    f(ended, n, bytes_in);
                }
                let (feed, kept) = (&feed, &kept);
                scope.spawn(move |_| {
                    feed.row(call.axon, seq, &call.raw());
                    if let Some(k) = kept.get(seq) {
                        *k.lock().unwrap_or_else(|p| p.into_inner()) = Some(call);
                    }
                });
            };
            self.runtime.block_on(async {
                let deadline = tokio::time::Instant::from_std(cycle_start + timeout);
                let mut calls = tokio::task::JoinSet::new();
                let mut open = vec![true; n];
                for (a, req) in outgoing.into_iter().enumerate() {
                    calls.spawn(fetch::call_miner(self.client.clone(), a, req, cycle_start, deadline, cap));
                }
                let mut cancelled = false;
                loop {
                    let joined = tokio::select! {
                        // A cancel wins over a call that ended at the same instant: stop promptly.
                        biased;
                        _ = cancel.cancelled() => {
                            cancelled = true;
                            break;
                        }
                        joined = calls.join_next() => match joined {
                            Some(j) => j,
                            None => break,
                        },
                    };
                    let Ok(call) = joined else {
                        // A call task cannot panic by construction; if one did, its axon stays
                        // open and gets a `cancelled` row below (the failure verdict, no body).
                        tracing::error!("a miner call task failed: {joined:?}");
                        continue;
                    };
                    open[call.axon] = false;
                    deliver(call);
                }
                if cancelled {
                    // Stop asking: abort the calls still in flight (their sockets close as the
                    // tasks drop) and give each of those miners a `cancelled` row.
                    calls.abort_all();
                    while let Some(joined) = calls.join_next().await {
                        // A call that ended before the abort reached it is an answer like any
                        // other: kept, not marked cancelled.
                        if let Ok(call) = joined {
                            open[call.axon] = false;
                            deliver(call);
                        }
                    }
                    let cut = open.iter().filter(|o| **o).count();
                    tracing::warn!(
                        reason = cancel.reason(),
                        cancelled = cut,
                        "cycle cancelled: unfinished miners marked cancelled"
                    );
                }
                let network_end = Instant::now();
                let elapsed = cycle_start.elapsed().as_secs_f64() * 1e3;
                for a in (0..n).filter(|&a| open[a]) {
                    deliver(FetchedCall::cancelled(a, cycle_start, elapsed));
                }
                network_end
            })
        });
        drop(feed);
        let clock = &mut cycle.clock;
        clock.rows_start = cycle_start;
        clock.rows_end = Some(Instant::now());
        clock.network_end = Some(network_end);
        clock.first_body = first_body;
        clock.last_body = last_body;

        // The raw calls are the cycle's ground truth: written before the sinks finish, so a sink
        // that fails cannot cost the recording. In the order they ended, which is the order a
        // replay hands them over. A recording that cannot be written costs only itself: the
        // sinks still finish, and the error is reported beside theirs.
        let mut recorded_to: Option<Result<&std::path::Path, String>> = None;
        if let Some(path) = &opts.record {
            let t = Instant::now();
            let mut calls: Vec<Option<FetchedCall>> =
                kept.into_iter().map(|k| k.into_inner().unwrap_or_else(|p| p.into_inner())).collect();
            let mut recorded_axon = vec![false; n];
            for c in calls.iter().flatten() {
                recorded_axon[c.axon] = true;
            }
            // An axon whose call never came back (impossible unless its task died): cancelled.
            calls.extend(
                (0..n).filter(|&a| !recorded_axon[a]).map(|a| Some(FetchedCall::cancelled(a, cycle_start, 0.0))),
            );
            let calls: Vec<FetchedCall> = calls.into_iter().flatten().collect();
            // Row i of a recording is axon i of its request: the axons go in the same order.
            let mut arrived = request.clone();
            arrived.axons = calls.iter().map(|c| request.axons[c.axon].clone()).collect();
            let calls: Vec<RecordedCall> = calls.into_iter().map(|c| recorded(request, c)).collect();
            let written = recording::write(path, &arrived, &started_at, &calls, recording::Compression::None);
            recorded_to = Some(written.map(|_| path.as_path()).map_err(|e| crate::cycle::one_line(&e)));
            cycle.clock.record = Some(t.elapsed());
        }
        let mut outcome = cycle.finish(&self.pool, "live", Some(cancel), Some(decoded_before_last_body));
        match (recorded_to, &mut outcome) {
            (Some(Ok(path)), Ok(o)) => {
                o.summary.outputs.insert(RECORDING, path.display().to_string().into());
            }
            (Some(Err(e)), Ok(o)) => {
                o.summary.sink_errors.insert(RECORDING, e);
            }
            (Some(Err(e)), Err(CycleError::Sinks(errors))) => errors.push((RECORDING, e)),
            _ => {}
        }
        outcome
    }
}

/// The recording's key in the summary (beside the sinks').
const RECORDING: &str = "recording";

/// A finished call as the recording stores it.
fn recorded(request: &CycleRequest, c: FetchedCall) -> RecordedCall {
    let a = &request.axons[c.axon];
    RecordedCall {
        uid: a.uid,
        hotkey: a.hotkey.clone(),
        status: c.status,
        error: c.error,
        ttfb_ms: c.ttfb_ms,
        elapsed_ms: c.elapsed_ms,
        headers: Some(c.headers),
        body: c.body,
    }
}
