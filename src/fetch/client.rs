//! The HTTP client and one miner call.
//!
//! In: the shared client, a signed request, the cycle's start and deadline, the body cap. Out: a
//! [`FetchedCall`]. The deadline covers the whole exchange (connect, headers, every body byte): a
//! miner that drips bytes is cut when the deadline passes, not kept alive by each chunk.

use std::error::Error as _;
use std::time::Instant;

use crate::call::CallError;

use super::{FetchedCall, OutgoingRequest};

/// The engine's one client, shared by every cycle: plain HTTP/1.1, no proxy from the
/// environment, no redirects, no decompression (the crate is built without those features), no
/// TLS. No connect timeout of its own: each call's deadline covers connect, headers and body.
///
/// No idle connection is kept: each miner gets one request per cycle, and cycles are minutes
/// apart, longer than an Axon's keep-alive (uvicorn closes after 5 s), so a kept connection would
/// only ever be a stale one to trip over, and an open file descriptor between cycles.
pub fn build_client() -> reqwest::Result<reqwest::Client> {
    // With the `tls` feature reqwest has rustls but no crypto provider of its own: without one
    // installed, building any client panics.
    #[cfg(feature = "tls")]
    crate::tls::install_provider();
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .http1_only()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(0)
        .build()
}

/// Calls one miner. Never fails: every outcome is a [`FetchedCall`].
pub async fn call_miner(
    client: reqwest::Client,
    axon: usize,
    request: OutgoingRequest,
    cycle_start: Instant,
    deadline: tokio::time::Instant,
    body_cap: usize,
) -> FetchedCall {
    let started = Instant::now();
    let mut out = FetchedCall {
        axon,
        status: None,
        error: None,
        ttfb_ms: None,
        elapsed_ms: 0.0,
        started,
        headers: Vec::new(),
        body: None,
    };
    // The exchange writes into `out` as it goes, so a call cut at the deadline keeps what it had.
    match tokio::time::timeout_at(deadline, exchange(&client, &request, body_cap, &mut out)).await {
        Err(_) => out.error = Some(CallError::Timeout),
        Ok(Err(e)) => out.error = Some(e),
        Ok(Ok(())) => {}
    }
    out.elapsed_ms = cycle_start.elapsed().as_secs_f64() * 1e3;
    out
}

async fn exchange(
    client: &reqwest::Client,
    request: &OutgoingRequest,
    body_cap: usize,
    out: &mut FetchedCall,
) -> Result<(), CallError> {
    let mut builder = client.post(&request.url);
    for (name, value) in &request.headers {
        if !name.eq_ignore_ascii_case("host") && !name.eq_ignore_ascii_case("content-length") {
            builder = builder.header(name, value);
        }
    }
    let mut response = builder.body(request.body.clone()).send().await.map_err(classify)?;
    out.ttfb_ms = Some(out.started.elapsed().as_secs_f64() * 1e3);
    out.status = Some(response.status().as_u16());
    out.headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let announced = response.content_length().map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    if announced.is_some_and(|n| n > body_cap) {
        out.body = Some(Vec::new());
        return Err(CallError::TooLarge);
    }
    let body = out.body.insert(Vec::with_capacity(announced.unwrap_or(64 * 1024)));
    while let Some(chunk) = response.chunk().await.map_err(classify)? {
        if body.len() + chunk.len() > body_cap {
            let room = body_cap - body.len();
            body.extend_from_slice(&chunk[..room]);
            return Err(CallError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(())
}

/// Maps a client error onto the recording contract's names.
fn classify(e: reqwest::Error) -> CallError {
    if e.is_connect() {
        return CallError::Connect;
    }
    if e.is_timeout() {
        return CallError::Timeout;
    }
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(h) = s.downcast_ref::<hyper::Error>() {
            if h.is_parse() || h.is_parse_status() {
                return CallError::Protocol;
            }
            if h.is_incomplete_message() || h.is_closed() {
                return CallError::Reset;
            }
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            return match io.kind() {
                ConnectionRefused => CallError::Connect,
                TimedOut => CallError::Timeout,
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => CallError::Reset,
                _ => CallError::Protocol,
            };
        }
        source = s.source();
    }
    CallError::Protocol
}
