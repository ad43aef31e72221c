//! A live cycle: signed requests → fetch → queue → decode → columns → batch → Parquet.
//!
//! In: the cycle request and one signed [`OutgoingRequest`] per axon. Out: the Parquet file, an
//! optional recording of every raw call, and a [`CycleSummary`] with the phase timings.
//!
//! Shape: the calling thread drives every miner call on a current-thread tokio runtime; as each
//! call ends (body received, failed, or cut at the deadline) it goes into the [`CallQueue`] and a
//! decode job is spawned on the persistent rayon pool, which writes that miner's verdict and prices
//! into its preallocated row while the other miners are still sending. When the last call ends
//! only the last body's decode, the batch and the file remain.
//!
//! Shutdown: with [`LiveOptions::stop_on_signals`], SIGINT/SIGTERM end the network phase early;
//! unfinished miners get `cancelled` rows through the same queue, and the file is still written
//! whole ([`crate::shutdown`] has the steps).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::batch;
use crate::columns::CycleColumns;
use crate::fetch::{self, FetchedCall, OutgoingRequest};
use crate::pool::decode_pool;
use crate::queue::{CallQueue, RowSlots};
use crate::recording::{self, RecordedCall};
use crate::replay::{decode_one, CycleSummary};
use crate::request::{CycleRequest, Expected};
use crate::decode::Verdict;
use crate::request::{Axon, CycleShape};
use crate::shutdown::{Signals, StopSignal};
use crate::sink::parquet::{
    self as parquet_sink, CycleParquetWriter, EncodedRowGroup, ParquetOptions, PriceEncoding, PriceLayout, SinkError,
};

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("{0}")]
    Request(#[from] crate::request::RequestError),
    #[error("one signed request per axon is needed: {requests} requests for {axons} axons")]
    Requests { requests: usize, axons: usize },
    #[error("starting the I/O runtime: {0}")]
    Runtime(std::io::Error),
    #[error("building the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("building the record batch: {0}")]
    Batch(#[from] arrow::error::ArrowError),
    #[error(transparent)]
    Sink(#[from] parquet_sink::SinkError),
    #[error(transparent)]
    Recording(#[from] recording::RecordingError),
}

/// A progress callback: (calls ended, calls in all, body bytes so far).
pub type OnCall = Box<dyn Fn(usize, usize, u64) + Sync>;

pub struct LiveOptions {
    pub out_dir: PathBuf,
    pub parquet: ParquetOptions,
    /// Also write every raw call as a recording (replayable with `synth-forward replay`).
    pub record: Option<PathBuf>,
    /// Milliseconds the caller spent signing, reported as `timings_ms.sign`.
    pub sign_ms: f64,
    /// The price buffer's ceiling in bytes (`--max-memory`); checked before any traffic.
    pub max_memory: u64,
    /// Called on the I/O thread after each call ends.
    pub on_call: Option<OnCall>,
    /// End the cycle early on SIGINT/SIGTERM, keeping what arrived (see [`crate::shutdown`]).
    pub stop_on_signals: bool,
}

/// A finished live cycle: the summary, and the signal that cut it short, if one did.
#[derive(Debug)]
pub struct LiveCycle {
    pub summary: CycleSummary,
    pub stopped_by: Option<StopSignal>,
}

/// Runs one cycle against the axons of `request`; `outgoing[i]` goes to `request.axons[i]`.
pub fn run_cycle(
    request: &CycleRequest,
    outgoing: Vec<OutgoingRequest>,
    opts: &LiveOptions,
) -> Result<LiveCycle, LiveError> {
    let cycle_start = Instant::now();
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let shape = request.check_live(opts.max_memory)?;
    let n = request.axons.len();
    if outgoing.len() != n {
        return Err(LiveError::Requests { requests: outgoing.len(), axons: n });
    }
    let exp = Expected::from_input(&request.simulation_input);
    let timeout = Duration::from_secs_f64(request.timeout_s);
    let cap = fetch::body_cap(&shape);

    // Output rows sorted by uid; `out_row[axon]` is where axon `axon` lands.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&a| request.axons[a].uid);
    let mut out_row = vec![0usize; n];
    for (row, &a) in order.iter().enumerate() {
        out_row[a] = row;
    }
    let mut cols = CycleColumns::new(shape, n);
    for (a, axon) in request.axons.iter().enumerate() {
        cols.uid[out_row[a]] = axon.uid;
        cols.hotkey[out_row[a]] = axon.hotkey.clone();
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(LiveError::Runtime)?;
    let client = fetch::build_client(timeout)?;
    let queue: CallQueue<FetchedCall> = CallQueue::with_capacity(n);
    let kept: Vec<Mutex<Option<FetchedCall>>> =
        (0..if opts.record.is_some() { n } else { 0 }).map(|_| Mutex::new(None)).collect();
    let decode_busy_ns = AtomicU64::new(0);
    let decoded = AtomicUsize::new(0);
    let mut first_body: Option<Duration> = None;
    let mut last_body: Option<Duration> = None;
    let mut decoded_before_last_body = 0usize;
    let (mut ended, mut bytes_in) = (0usize, 0u64);

    // Encode early, splice late: each miner's row group is encoded on the pool as soon as it is
    // decoded, so when the network is done only the splice into the file remains. (Compact mode
    // picks its decimal scale from the whole cycle, so it writes once at the end.)
    let writer = match opts.parquet.prices {
        PriceEncoding::Float64 => Some(CycleParquetWriter::new(
            &batch::output_schema(shape.paths as i32, shape.points as i32),
            request,
            shape.start_unix,
            n,
            &opts.out_dir,
            PriceLayout::Float64,
            &opts.parquet,
        )?),
        _ => None,
    };
    let groups: Vec<Mutex<Option<Result<EncodedRowGroup, SinkError>>>> =
        (0..if writer.is_some() { n } else { 0 }).map(|_| Mutex::new(None)).collect();
    let encode_busy_ns = AtomicU64::new(0);

    let CycleColumns { prices, verdict, process_time_s, status, error, ttfb_ms, elapsed_ms, response_bytes, .. } =
        &mut cols;
    let slots = RowSlots::new(prices, shape.slot_len(), verdict, process_time_s);
    // Listening replaces the signals' default action for the rest of the process: from here on a
    // SIGINT/SIGTERM ends the cycle early instead of killing it (see `crate::shutdown`).
    let mut signals = if opts.stop_on_signals {
        let _rt = runtime.enter();
        Some(Signals::listen().map_err(LiveError::Runtime)?)
    } else {
        None
    };
    let mut stopped_by: Option<StopSignal> = None;
    let network_end = decode_pool().in_place_scope(|scope| {
        // Everything one ended call needs, whatever ended it: its row's transport columns, then
        // the queue and a decode job on the pool.
        let mut deliver = |call: FetchedCall| {
            let row = out_row[call.axon];
            status[row] = call.status;
            error[row] = call.error;
            ttfb_ms[row] = call.ttfb_ms;
            elapsed_ms[row] = call.elapsed_ms;
            response_bytes[row] = call.body.as_ref().map_or(0, |b| b.len() as u64);
            if call.body.is_some() && call.error.is_none() {
                let at = cycle_start.elapsed();
                first_body.get_or_insert(at);
                last_body = Some(at);
                decoded_before_last_body = decoded.load(Ordering::Relaxed);
            }
            ended += 1;
            bytes_in += response_bytes[row];
            if let Some(f) = &opts.on_call {
                f(ended, n, bytes_in);
            }
            if queue.push(call).is_err() {
                unreachable!("the queue holds one entry per axon");
            }
            scope.spawn(|_| {
                let Some(call) = queue.pop() else { return };
                let t = Instant::now();
                let row = out_row[call.axon];
                if let Some(out) = slots.take(row) {
                    let v = decode_one(&exp, &call.raw(), out.prices);
                    *out.process_time_s = v.arrived().then(|| call.started.elapsed().as_secs_f64());
                    *out.verdict = v;
                    decode_busy_ns.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    if let Some(w) = &writer {
                        let t = Instant::now();
                        let one = one_row(shape, &request.axons[call.axon], &call, out.verdict, *out.process_time_s, out.prices);
                        let encoded = batch::build(one, request)
                            .map_err(SinkError::Arrow)
                            .and_then(|b| w.encode_batch(row, &b));
                        *groups[row].lock().unwrap_or_else(|p| p.into_inner()) = Some(encoded);
                        encode_busy_ns.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    }
                }
                decoded.fetch_add(1, Ordering::Relaxed);
                if let Some(k) = kept.get(call.axon) {
                    *k.lock().unwrap_or_else(|p| p.into_inner()) = Some(call);
                }
            });
        };
        runtime.block_on(async {
            let deadline = tokio::time::Instant::from_std(cycle_start + timeout);
            let mut calls = tokio::task::JoinSet::new();
            let mut open = vec![true; n];
            for (a, req) in outgoing.into_iter().enumerate() {
                calls.spawn(fetch::call_miner(client.clone(), a, req, cycle_start, deadline, cap));
            }
            loop {
                let joined = tokio::select! {
                    // A signal wins over a call that ended at the same instant: stop promptly.
                    biased;
                    sig = async { Some(signals.as_mut()?.recv().await) }, if signals.is_some() => {
                        stopped_by = sig;
                        break;
                    }
                    joined = calls.join_next() => match joined {
                        Some(j) => j,
                        None => break,
                    },
                };
                let Ok(call) = joined else {
                    // A call task cannot panic by construction; if one did, its row stays
                    // "time out …" with no body, like any other failed call.
                    tracing::error!("a miner call task failed: {joined:?}");
                    continue;
                };
                open[call.axon] = false;
                deliver(call);
            }
            if let Some(sig) = stopped_by {
                // Stop asking: abort the calls still in flight (their sockets close as the tasks
                // drop) and give each of those miners a `cancelled` row.
                calls.abort_all();
                while calls.join_next().await.is_some() {}
                let cut = open.iter().filter(|o| **o).count();
                tracing::warn!(signal = sig.name(), cancelled = cut, "stopping the cycle: unfinished miners marked cancelled");
                let elapsed = cycle_start.elapsed().as_secs_f64() * 1e3;
                for a in (0..n).filter(|&a| open[a]) {
                    deliver(FetchedCall::cancelled(a, cycle_start, elapsed));
                }
            }
            Instant::now()
        })
    });
    drop(slots);
    let t_decoded = Instant::now();

    let verdicts = cols.verdict_counts();
    let rows = cols.rows();
    let body_bytes: u64 = cols.response_bytes.iter().sum();
    let encoded: Option<Vec<EncodedRowGroup>> = groups
        .into_iter()
        .map(|g| g.into_inner().unwrap_or_else(|p| p.into_inner()).transpose())
        .collect::<Result<Option<Vec<_>>, _>>()?;
    let (parquet, t_batch) = match (writer, encoded) {
        (Some(w), Some(groups)) if groups.len() == n => {
            let t_batch = Instant::now();
            (w.finish(groups)?, t_batch)
        }
        // Not encoded early (compact mode, or a row never came back): one batch, one write.
        _ => {
            let batch = batch::build(cols, request)?;
            let t_batch = Instant::now();
            (parquet_sink::write(&batch, request, &opts.out_dir, &opts.parquet)?, t_batch)
        }
    };
    let t_write = Instant::now();
    // A signal that came while the file was written still says "this cycle was cut short".
    if stopped_by.is_none() {
        let _rt = runtime.enter();
        stopped_by = signals.as_mut().and_then(Signals::take_pending);
    }

    if let Some(path) = &opts.record {
        let calls: Vec<RecordedCall> = kept
            .into_iter()
            .enumerate()
            .map(|(a, k)| {
                let call = k.into_inner().unwrap_or_else(|p| p.into_inner());
                recorded(request, a, call)
            })
            .collect();
        recording::write(path, request, &started_at, &calls, recording::Compression::None)?;
    }

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mut timings_ms = BTreeMap::from([
        ("sign", opts.sign_ms),
        ("decode_busy", decode_busy_ns.load(Ordering::Relaxed) as f64 / 1e6),
        ("encode_busy", encode_busy_ns.load(Ordering::Relaxed) as f64 / 1e6),
        ("decode_tail", ms(t_decoded - network_end)),
        ("batch", ms(t_batch - t_decoded)),
        ("write", ms(t_write - t_batch)),
        ("after_network", ms(t_write - network_end)),
        ("network", ms(network_end - cycle_start)),
        ("total", ms(t_write - cycle_start) + opts.sign_ms),
    ]);
    if let (Some(f), Some(l)) = (first_body, last_body) {
        timings_ms.insert("first_body", ms(f));
        timings_ms.insert("last_body", ms(l));
    }
    Ok(LiveCycle {
        summary: CycleSummary {
            parquet,
            rows,
            verdicts,
            body_bytes,
            timings_ms,
            decoded_before_last_body: Some(decoded_before_last_body),
        },
        stopped_by,
    })
}

/// One miner's row as its own one-row columns, for encoding its row group early. The prices are
/// copied only for a CORRECT row (the only kind whose prices are written).
fn one_row(
    shape: CycleShape,
    axon: &Axon,
    call: &FetchedCall,
    verdict: &Verdict,
    process_time_s: Option<f64>,
    prices: &[f64],
) -> CycleColumns {
    let mut c = CycleColumns::new(shape, 1);
    c.uid[0] = axon.uid;
    c.hotkey[0] = axon.hotkey.clone();
    c.set_call(0, &call.raw());
    c.verdict[0] = verdict.clone();
    c.process_time_s[0] = process_time_s;
    if verdict.is_correct() {
        c.prices.copy_from_slice(prices);
    }
    c
}

/// A finished call as the recording stores it; an axon whose call never came back (impossible
/// unless its task died) is recorded as cancelled.
fn recorded(request: &CycleRequest, axon: usize, call: Option<FetchedCall>) -> RecordedCall {
    let a = &request.axons[axon];
    match call {
        Some(c) => RecordedCall {
            uid: a.uid,
            hotkey: a.hotkey.clone(),
            status: c.status,
            error: c.error,
            ttfb_ms: c.ttfb_ms,
            elapsed_ms: c.elapsed_ms,
            headers: Some(c.headers),
            body: c.body,
        },
        None => RecordedCall {
            uid: a.uid,
            hotkey: a.hotkey.clone(),
            status: None,
            error: Some(crate::call::CallError::Cancelled),
            ttfb_ms: None,
            elapsed_ms: 0.0,
            headers: None,
            body: None,
        },
    }
}

/// Signs one request per axon with the cycle's protocol: one nonce and one body for the whole
/// cycle, one signature per miner (each binds the miner's hotkey). Returns them in axon order.
pub fn sign_cycle(
    request: &CycleRequest,
    hotkey: std::sync::Arc<crate::wire::keys::Hotkey>,
    external_ip: &str,
) -> Vec<OutgoingRequest> {
    use crate::request::Protocol;
    use crate::wire::{btauth, synapse};
    let nonce = synapse::nonce_now();
    let si = &request.simulation_input;
    let signed: Vec<crate::wire::SignedRequest> = match request.protocol {
        Protocol::Synapse => {
            let signer = synapse::SynapseSigner::new(
                hotkey,
                external_ip,
                nonce,
                synapse::process_dendrite_uuid(),
                request.timeout_s,
                si,
            );
            request.axons.iter().map(|a| signer.request(a)).collect()
        }
        Protocol::Btauth => {
            let signer = btauth::BtauthSigner::new(hotkey, nonce, si);
            request.axons.iter().map(|a| signer.request(a)).collect()
        }
    };
    // The body is a few hundred bytes, the same for every miner: one shared `Bytes`.
    let body = signed.first().map(|s| bytes::Bytes::copy_from_slice(&s.body)).unwrap_or_default();
    signed
        .into_iter()
        .map(|s| OutgoingRequest {
            url: format!("http://{}{}", s.authority, s.path),
            headers: s.headers.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            body: body.clone(),
        })
        .collect()
}
