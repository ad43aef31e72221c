//! A fleet of fake miners serving a recorded cycle over loopback.
//!
//! In: a [`Recording`] and [`FleetOptions`]. Out: one listening port per uid answering
//! `POST /Simulation` with the recorded status, headers and body, each call completing at the
//! recorded `elapsed_ms × time_scale` after the request arrived; `timeout` rows never answer,
//! `connect` rows leave their port closed. Plus the cycle request that points at the fleet.
//! Miners named in [`FleetOptions::faults`] misbehave instead, as [`faults`] describes.
//!
//! Shutdown: the fleet runs on its own thread and current-thread runtime; [`Fleet::stop`] (or
//! dropping the [`Fleet`]) signals every listener and connection task through one watch channel,
//! then joins the thread, so no socket outlives the fleet.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub mod faults;
mod verify;

pub use faults::{Fault, FaultMap, parse_faults};
pub use verify::signature_verifier;

use crate::call::CallError;
use crate::recording::Recording;
use crate::request::{Axon, CycleRequest};

/// Checks one request's signature headers; `Err` answers 401 with the reason.
pub type Verifier = Arc<dyn Fn(&hyper::HeaderMap, &[u8], &str) -> Result<(), String> + Send + Sync>;

#[derive(Clone)]
pub struct FleetOptions {
    pub host: IpAddr,
    /// uid i of the recording listens on `base_port + i`-th free slot; 0 = ephemeral ports.
    pub base_port: u16,
    /// Multiplies every recorded time; 0 answers at once.
    pub time_scale: f64,
    /// Check each request's signature (`--verify`). Faulty miners do not check.
    pub verify: Option<Verifier>,
    /// Miners that misbehave on purpose (`--faults`), by uid.
    pub faults: FaultMap,
}

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("binding {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("starting the fleet runtime: {0}")]
    Runtime(std::io::Error),
    #[error("--faults names uid {0}, which is not in the recording")]
    UnknownUid(u16),
    #[error("the recording's request: {0}")]
    Request(#[from] crate::request::RequestError),
}

/// One miner's recorded answer, owned by the fleet.
struct Answer {
    hotkey: String,
    status: u16,
    headers: Vec<(String, String)>,
    body: Bytes,
    after: Option<Duration>,
    /// Requests received so far.
    hits: AtomicU64,
    /// Set when this miner misbehaves instead of answering.
    fault: Option<faults::FaultyAnswer>,
}

/// A running fleet. Dropping it stops it.
pub struct Fleet {
    request: CycleRequest,
    answers: Vec<(u16, Arc<Answer>)>,
    stop: Option<watch::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Fleet {
    /// Binds every port, then serves on a background thread.
    pub fn start(rec: &Recording, opts: FleetOptions) -> Result<Fleet, FleetError> {
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(FleetError::Runtime)?;
        let mut request = rec.request.clone();
        let cap = crate::fetch::body_cap(&rec.request.shape()?);
        let uids: Vec<u16> = (0..rec.rows()).map(|r| rec.uid(r)).collect();
        if let Some(u) =
            opts.faults.iter().flat_map(|(u, f)| [Some(*u), f.other_uid()]).flatten().find(|u| !uids.contains(u))
        {
            return Err(FleetError::UnknownUid(u));
        }
        let (mut bound, mut ports) = (Vec::new(), Vec::new());
        for row in 0..rec.rows() {
            let port = if opts.base_port == 0 { 0 } else { opts.base_port.saturating_add(row as u16) };
            let addr = SocketAddr::new(opts.host, port);
            let listener =
                runtime.block_on(TcpListener::bind(addr)).map_err(|source| FleetError::Bind { addr, source })?;
            let port = listener.local_addr().map_err(|source| FleetError::Bind { addr, source })?.port();
            let axon = Axon { uid: rec.uid(row), ip: opts.host.to_string(), port, hotkey: rec.hotkey(row).to_owned() };
            if let Some(a) = request.axons.iter_mut().find(|a| a.uid == axon.uid) {
                *a = axon;
            }
            bound.push(listener);
            ports.push(port);
        }
        let mut listeners = Vec::new();
        let mut answers = Vec::new();
        for (row, listener) in bound.into_iter().enumerate() {
            let call = rec.call(row);
            let fault = opts.faults.get(&rec.uid(row)).map(|&f| {
                let other = f.other_uid().and_then(|u| uids.iter().position(|&x| x == u));
                let location = other.map_or(String::new(), |r| format!("http://{}:{}/Simulation", opts.host, ports[r]));
                faults::prepare(f, call.body.unwrap_or_default(), other.and_then(|r| rec.body(r)), location, cap)
            });
            let after = match (call.error, call.status) {
                (Some(CallError::Timeout), _) | (_, None) => None,
                _ => Some(Duration::from_secs_f64((call.elapsed_ms * opts.time_scale / 1e3).max(0.0))),
            };
            let headers = rec
                .headers(row)
                .unwrap_or_default()
                .into_iter()
                .filter(|(k, _)| {
                    !k.eq_ignore_ascii_case("content-length") && !k.eq_ignore_ascii_case("transfer-encoding")
                })
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            let answer = Arc::new(Answer {
                hotkey: rec.hotkey(row).to_owned(),
                status: call.status.unwrap_or(200),
                headers,
                body: Bytes::copy_from_slice(call.body.unwrap_or_default()),
                after,
                hits: AtomicU64::new(0),
                fault,
            });
            answers.push((rec.uid(row), answer.clone()));
            // A `connect` row's port must refuse: it was bound only to learn a free port.
            if call.error != Some(CallError::Connect) || answer.fault.is_some() {
                listeners.push((listener, answer));
            }
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        let verify = opts.verify.clone();
        let thread = std::thread::Builder::new()
            .name("fleet".into())
            .spawn(move || runtime.block_on(serve_all(listeners, verify, stop_rx)))
            .map_err(FleetError::Runtime)?;
        Ok(Fleet { request, answers, stop: Some(stop_tx), thread: Some(thread) })
    }

    /// The cycle request whose axons point at this fleet.
    pub fn request(&self) -> &CycleRequest {
        &self.request
    }

    /// How many requests the miner `uid` has received so far (0 for an unknown uid).
    pub fn hits(&self, uid: u16) -> u64 {
        self.answers.iter().find(|(u, _)| *u == uid).map_or(0, |(_, a)| a.hits.load(Ordering::Relaxed))
    }

    /// Stops every listener and connection and waits for the fleet thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(true);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn serve_all(listeners: Vec<(TcpListener, Arc<Answer>)>, verify: Option<Verifier>, stop: watch::Receiver<bool>) {
    let mut tasks = tokio::task::JoinSet::new();
    for (listener, answer) in listeners {
        tasks.spawn(serve_one(listener, answer, verify.clone(), stop.clone()));
    }
    while tasks.join_next().await.is_some() {}
}

/// Accepts connections on one miner's port until the fleet stops.
async fn serve_one(
    listener: TcpListener,
    answer: Arc<Answer>,
    verify: Option<Verifier>,
    mut stop: watch::Receiver<bool>,
) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let answer = answer.clone();
                let verify = verify.clone();
                let mut stop = stop.clone();
                if answer.fault.is_some() {
                    conns.spawn(async move {
                        answer.hits.fetch_add(1, Ordering::Relaxed);
                        let Some(fault) = &answer.fault else { return };
                        tokio::select! {
                            // A client that hangs up early is the point of most faults.
                            _ = faults::serve(stream, fault) => {}
                            _ = stop.changed() => {}
                        }
                    });
                    continue;
                }
                conns.spawn(async move {
                    let service = service_fn(move |req| respond(req, answer.clone(), verify.clone()));
                    let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                    tokio::select! {
                        _ = conn => {}
                        _ = stop.changed() => {}
                    }
                });
            }
        }
    }
    conns.abort_all();
    while conns.join_next().await.is_some() {}
}

async fn respond(
    req: Request<Incoming>,
    answer: Arc<Answer>,
    verify: Option<Verifier>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    use http_body_util::BodyExt;
    let arrived = tokio::time::Instant::now();
    answer.hits.fetch_add(1, Ordering::Relaxed);
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    if parts.uri.path() != "/Simulation" {
        return Ok(plain(StatusCode::NOT_FOUND, "no such synapse"));
    }
    if let Some(v) = &verify {
        if let Err(why) = v(&parts.headers, &body, &answer.hotkey) {
            return Ok(plain(StatusCode::UNAUTHORIZED, &why));
        }
    }
    let Some(after) = answer.after else {
        // A recorded timeout: never answer (the client's deadline ends the call).
        std::future::pending::<()>().await;
        unreachable!()
    };
    tokio::time::sleep_until(arrived + after).await;
    let mut resp = Response::new(Full::new(answer.body.clone()));
    *resp.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in &answer.headers {
        if let (Ok(k), Ok(v)) =
            (hyper::header::HeaderName::from_bytes(k.as_bytes()), hyper::header::HeaderValue::from_str(v))
        {
            resp.headers_mut().append(k, v);
        }
    }
    Ok(resp)
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(format!("{{\"message\":{:?}}}", text))));
    *r.status_mut() = status;
    r.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    r
}
