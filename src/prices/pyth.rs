//! Pyth's TradingView-style history endpoint → the real price at each time of a grid.
//!
//! In: [`FetchOptions`]: the endpoint, a Pyth symbol, the grid (`from..=to` every `increment`
//! seconds) and how to ask (timeout per request, attempts, backoff, seconds per request). Out: a
//! [`Grid`] with one price per grid time, or a [`FetchError`] saying which request failed and why.
//!
//! The rule is upstream's (`synth/validator/price_data_provider.py`): the real price at a grid time
//! is the close `c` of the 1-minute candle whose `t` equals that time exactly; no such candle, NaN.
//! A candle is only final once its minute has ended, and the proof that it has is a later candle
//! in the answer (a witness), so the range asked runs one candle past the last grid time. Upstream
//! refuses the whole request when the last grid time has no witness; here the unsettled tail is NaN
//! and [`Grid::settled_until`] says where the settled prices end, so a caller fetching a prompt
//! that is still running gets what is known so far and decides for itself.
//!
//! The answer, as the Benchmarks API documents it: `{"s":"ok","t":[unix s…],"o":[…],"h":[…],
//! "l":[…],"c":[…],"v":[…]}` (an empty range is `"ok"` with empty arrays), `{"s":"no_data"}`
//! (TradingView's UDF form, possibly with `nextTime`) or `{"s":"error","errmsg":"…"}`. Only `s`,
//! `t`, `c` and `errmsg` are read. No per-request range limit is documented, neither for the
//! Benchmarks shim nor for Pyth Pro's History API, so a long range is cut into requests of at most
//! one day ([`DEFAULT_CHUNK_SECONDS`], 1440 one-minute candles), asked one after the other: the
//! documented rate limit is 90 requests per 10 s per IP for the TradingView endpoint, and whoever
//! passes it gets HTTP 429 for the next 60 s.
//!
//! The endpoint is https. This crate's reqwest has no TLS unless it is built with the `tls` feature
//! (rustls with the ring provider and the Mozilla roots compiled in: 11 more crates on Linux, about
//! 40 s of compile time for them in a debug build); without it an https URL is a
//! [`FetchError::NoTls`] before anything is sent, and plain http (a local mirror, the tests'
//! loopback server) works either way. The feature's one catch: reqwest then has rustls without a
//! default crypto provider, so a process that also builds other clients (the engine's) must call
//! `tls::install_provider` first; [`build_client`] configures its own and needs nothing.

use std::error::Error as _;
use std::time::Duration;

use serde::Deserialize;

/// Pyth Benchmarks' TradingView shim, the history endpoint upstream's validator scored against
/// before it moved to a Pyth Pro URL that answers the same query in the same shape.
pub const DEFAULT_URL: &str = "https://benchmarks.pyth.network/v1/shims/tradingview/history";

/// Seconds one request covers by default: one day, 1440 one-minute candles (no limit is
/// documented; this keeps each answer small, about 130 KB).
pub const DEFAULT_CHUNK_SECONDS: i64 = 86_400;

/// Length of one candle, and how far past the last grid time the witness is looked for.
const CANDLE_SECONDS: i64 = 60;

/// The largest grid accepted: ten million points (19 years at one a minute). The grid is allocated
/// up front, so a typo in `from` must not become a multi-gigabyte allocation.
const MAX_POINTS: i64 = 10_000_000;

/// The largest answer read. A day of candles is ~130 KB; anything near this is not an answer.
const MAX_BODY: usize = 32 << 20;

/// How much of an error answer's body is kept in [`FetchError::Status`].
const BODY_EXCERPT: usize = 200;

/// The Pyth symbol for one of the validator's asset names (case-insensitive).
///
/// Upstream's validator asked Pyth for these, and this maps them the same way:
///
/// | asset | symbol |
/// |---|---|
/// | BTC, ETH, SOL, XRP, HYPE | `Crypto.<ASSET>/USD` |
/// | SPYX, NVDAX, TSLAX, AAPLX, GOOGLX (tokenized equities) | `Crypto.<ASSET>/USD` |
/// | XAU | `Crypto.XAUT/USD` (Tether Gold, the token upstream scored gold against) |
/// | SPCX | `Pyth.HL.SPCX/USDC` |
///
/// Anything else becomes `Crypto.<ASSET>/USD`, which Pyth answers with an error or no data if it
/// does not exist. For those, and to score against a different feed, the caller passes the
/// symbol itself (`prices fetch --symbol`): spot gold is `Metal.XAU/USD`, US equities are
/// `Equity.US.<TICKER>/USD`. Upstream never took WTIOIL or SP500 from Pyth (it asks Hyperliquid),
/// so they have no mapping here.
pub fn symbol_for(asset: &str) -> String {
    let asset = asset.trim().to_ascii_uppercase();
    match asset.as_str() {
        "XAU" => "Crypto.XAUT/USD".to_owned(),
        "SPCX" => "Pyth.HL.SPCX/USDC".to_owned(),
        _ => format!("Crypto.{asset}/USD"),
    }
}

/// What to fetch and how to ask for it.
#[derive(Clone, Debug)]
pub struct FetchOptions {
    /// The history endpoint; the query (`symbol`, `resolution`, `from`, `to`) is appended to
    /// whatever query it already has.
    pub url: String,
    /// A Pyth symbol such as `Crypto.BTC/USD` (see [`symbol_for`]).
    pub symbol: String,
    /// First grid time (unix seconds).
    pub from: i64,
    /// Last grid time (unix seconds); `to - from` must be a multiple of `increment`.
    pub to: i64,
    /// Seconds between grid times (> 0).
    pub increment: i64,
    /// The most one request may take, from connecting to the last byte of its answer.
    pub timeout: Duration,
    /// Tries per request (≥ 1): timeouts, failed connections, HTTP 429 and 5xx are tried again.
    pub attempts: u32,
    /// The wait before the second try; it doubles before each further one.
    pub backoff: Duration,
    /// Seconds one request covers (≥ 60): its `from` and `to` are at most `chunk_seconds - 1`
    /// apart, so it holds at most `chunk_seconds / 60` one-minute candles.
    pub chunk_seconds: i64,
}

impl FetchOptions {
    /// Options for `symbol` on the grid `from..=to` every `increment` seconds, against
    /// [`DEFAULT_URL`]: 30 s per request, 3 tries 0.5 s then 1 s apart, one day per request.
    pub fn new(symbol: impl Into<String>, from: i64, to: i64, increment: i64) -> FetchOptions {
        FetchOptions {
            url: DEFAULT_URL.to_owned(),
            symbol: symbol.into(),
            from,
            to,
            increment,
            timeout: Duration::from_secs(30),
            attempts: 3,
            backoff: Duration::from_millis(500),
            chunk_seconds: DEFAULT_CHUNK_SECONDS,
        }
    }
}

/// The real prices on the grid.
#[derive(Clone, Debug)]
pub struct Grid {
    /// `from, from + increment, …, to`.
    pub timestamps: Vec<i64>,
    /// The close of the candle at each grid time; NaN where there is no candle at exactly that
    /// time or where it is not settled.
    pub prices: Vec<f64>,
    /// The last grid time with a later candle in the answers (a settled one, though its price may
    /// still be NaN for want of a candle of its own); `None` when no grid time is settled.
    pub settled_until: Option<i64>,
    /// HTTP requests sent, tries included.
    pub requests: usize,
    /// Candles received over all answers, the ones between grid times and past `to` included.
    pub candles: usize,
}

impl Grid {
    /// The grid for `from..=to` every `increment`, every price NaN.
    fn empty(from: i64, to: i64, increment: i64) -> Result<Grid, FetchError> {
        if increment <= 0 {
            return Err(FetchError::Options(format!("increment must be > 0 seconds, got {increment}")));
        }
        if to < from {
            return Err(FetchError::Options(format!("to ({to}) is before from ({from})")));
        }
        // i128: `to - from` of two arbitrary i64 can overflow i64.
        let span = to as i128 - from as i128;
        if span % increment as i128 != 0 {
            return Err(FetchError::Options(format!(
                "to - from ({span} s) is not a multiple of the increment ({increment} s)"
            )));
        }
        let points = span / increment as i128 + 1;
        if points > MAX_POINTS as i128 {
            return Err(FetchError::Options(format!("{points} grid points, more than the {MAX_POINTS} allowed")));
        }
        let points = points as usize;
        let timestamps: Vec<i64> = (0..points as i64).map(|i| from + i * increment).collect();
        Ok(Grid { timestamps, prices: vec![f64::NAN; points], settled_until: None, requests: 0, candles: 0 })
    }

    /// Writes the closes of the candles that open exactly at a grid time; the others are only
    /// counted. When one answer repeats a time another already gave, the later answer wins.
    fn place(&mut self, increment: i64, t: &[i64], c: &[f64]) {
        let from = self.timestamps[0];
        let last = *self.timestamps.last().unwrap_or(&from);
        for (&t, &c) in t.iter().zip(c) {
            if (from..=last).contains(&t) && (t - from) % increment == 0 {
                self.prices[((t - from) / increment) as usize] = c;
            }
        }
        self.candles += t.len();
    }

    /// Applies the witness rule: `latest` is the latest candle time in any answer; a grid time at
    /// or after it has no later candle, so it is NaN.
    fn settle(&mut self, latest: Option<i64>) {
        let settled = latest.map_or(0, |latest| self.timestamps.partition_point(|&g| g < latest));
        self.prices[settled..].fill(f64::NAN);
        self.settled_until = settled.checked_sub(1).map(|i| self.timestamps[i]);
    }
}

/// Why the prices could not be fetched. `from`/`to` name the request that failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The options describe no grid or no request (`increment <= 0`, `to` before `from`, a bad
    /// URL, no attempts, ...). Nothing was sent.
    #[error("prices fetch: {0}")]
    Options(String),
    /// The URL is https and this build has no TLS. Nothing was sent.
    #[error(
        "prices fetch: {url} is https, but this build has no TLS: rebuild with `--features tls` \
         (or point it at an http:// mirror)"
    )]
    NoTls { url: String },
    /// A status other than 2xx: after every try for 429 and 5xx, at once for the rest. `body` is
    /// the start of the answer (at most 200 bytes).
    #[error("prices fetch: HTTP {status} for from={from} to={to} after {attempts} attempt(s): {body}")]
    Status { status: u16, body: String, attempts: u32, from: i64, to: i64 },
    /// No whole answer within `timeout`, on every try.
    #[error("prices fetch: no whole answer within {timeout:?} for from={from} to={to}, {attempts} attempt(s)")]
    Timeout { timeout: Duration, attempts: u32, from: i64, to: i64 },
    /// No connection, a broken one, or a failed TLS handshake, on every try.
    #[error("prices fetch: connection failed for from={from} to={to} after {attempts} attempt(s): {message}")]
    Connection { message: String, attempts: u32, from: i64, to: i64 },
    /// `{"s":"error","errmsg":…}` (an unknown symbol, say). Not tried again.
    #[error("prices fetch: Pyth answered an error for from={from} to={to}: {errmsg}")]
    Api { errmsg: String, from: i64, to: i64 },
    /// Not an answer of the documented shape, or one that breaks its rules. Not tried again.
    #[error("prices fetch: malformed answer for from={from} to={to}: {reason}")]
    Malformed { reason: String, from: i64, to: i64 },
    /// The HTTP client or the runtime of [`fetch_blocking`] could not be built.
    #[error("prices fetch: building the HTTP client: {0}")]
    Client(String),
}

/// A client for [`fetch`]: no proxy from the environment, `timeout` for connecting and for each
/// whole request, and, with the `tls` feature, rustls with the ring provider and the Mozilla roots
/// (configured on this client, so nothing process-wide is needed for it).
pub fn build_client(timeout: Duration) -> Result<reqwest::Client, FetchError> {
    let builder = reqwest::Client::builder().no_proxy().connect_timeout(timeout).timeout(timeout);
    #[cfg(feature = "tls")]
    let builder = builder.tls_backend_preconfigured(tls_config()?);
    builder.build().map_err(|e| FetchError::Client(chain(&e)))
}

/// rustls on ring with webpki-roots. HTTP/1.1 only, as reqwest is built without HTTP/2.
///
/// rustls 0.23.48 deprecates the ring provider because it has no post-quantum key exchange. The
/// answers are public prices, so what that protects (recorded traffic decrypted years later) is not
/// at stake here, and ring spares the build aws-lc's C library.
#[cfg(feature = "tls")]
#[allow(deprecated)]
fn tls_config() -> Result<rustls::ClientConfig, FetchError> {
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| FetchError::Client(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Fetches the grid described by `opts`, one request after the other (see the module doc).
pub async fn fetch(client: &reqwest::Client, opts: &FetchOptions) -> Result<Grid, FetchError> {
    let url = endpoint(opts)?;
    let mut grid = Grid::empty(opts.from, opts.to, opts.increment)?;
    if opts.attempts == 0 {
        return Err(FetchError::Options("attempts must be at least 1".to_owned()));
    }
    if opts.chunk_seconds < CANDLE_SECONDS {
        return Err(FetchError::Options(format!(
            "chunk_seconds must be at least {CANDLE_SECONDS} (one candle), got {}",
            opts.chunk_seconds
        )));
    }
    // The witness of the last grid time's candle is the next candle, one minute on.
    let end = opts
        .to
        .checked_add(CANDLE_SECONDS)
        .ok_or_else(|| FetchError::Options(format!("to ({}) is too large", opts.to)))?;
    let mut latest: Option<i64> = None;
    let mut from = opts.from;
    loop {
        let to = from.saturating_add(opts.chunk_seconds - 1).min(end);
        if let Some((t, c)) = ask(client, &url, opts, from, to, &mut grid.requests).await? {
            latest = latest.max(t.last().copied());
            grid.place(opts.increment, &t, &c);
        }
        if to >= end {
            break;
        }
        from = to + 1;
    }
    grid.settle(latest);
    Ok(grid)
}

/// [`fetch`] for a caller without a runtime: its own current-thread runtime and a client from
/// [`build_client`] with `opts.timeout`. Not to be called from inside a tokio runtime.
pub fn fetch_blocking(opts: &FetchOptions) -> Result<Grid, FetchError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| FetchError::Client(format!("starting the runtime: {e}")))?;
    let client = build_client(opts.timeout)?;
    runtime.block_on(fetch(&client, opts))
}

/// The endpoint as a URL, refused up front when it needs TLS this build does not have.
fn endpoint(opts: &FetchOptions) -> Result<reqwest::Url, FetchError> {
    let url = reqwest::Url::parse(&opts.url).map_err(|e| FetchError::Options(format!("url {:?}: {e}", opts.url)))?;
    match url.scheme() {
        "http" => Ok(url),
        "https" if cfg!(feature = "tls") => Ok(url),
        "https" => Err(FetchError::NoTls { url: opts.url.clone() }),
        other => Err(FetchError::Options(format!("url {:?}: scheme {other:?} is not http(s)", opts.url))),
    }
}

/// One request's candles (`None` for `no_data`), after as many tries as `opts` allows.
async fn ask(
    client: &reqwest::Client,
    url: &reqwest::Url,
    opts: &FetchOptions,
    from: i64,
    to: i64,
    requests: &mut usize,
) -> Result<Option<(Vec<i64>, Vec<f64>)>, FetchError> {
    let mut url = url.clone();
    url.query_pairs_mut()
        .append_pair("symbol", &opts.symbol)
        .append_pair("resolution", "1")
        .append_pair("from", &from.to_string())
        .append_pair("to", &to.to_string());
    let mut attempt = 0;
    loop {
        attempt += 1;
        *requests += 1;
        let outcome = tokio::time::timeout(opts.timeout, exchange(client, &url)).await;
        let error = match outcome {
            Ok(Ok((status, body))) if (200..300).contains(&status) => {
                return match parse(&body) {
                    Ok(Answer::Candles(t, c)) => Ok(Some((t, c))),
                    Ok(Answer::NoData) => Ok(None),
                    Ok(Answer::Error(errmsg)) => Err(FetchError::Api { errmsg, from, to }),
                    Err(reason) => Err(FetchError::Malformed { reason, from, to }),
                };
            }
            Ok(Ok((status, body))) => {
                let excerpt = String::from_utf8_lossy(&body[..body.len().min(BODY_EXCERPT)]).trim().to_owned();
                FetchError::Status { status, body: excerpt, attempts: attempt, from, to }
            }
            Ok(Err(Failed::TooLarge)) => {
                let reason = format!("the answer is larger than {} MiB", MAX_BODY >> 20);
                return Err(FetchError::Malformed { reason, from, to });
            }
            Ok(Err(Failed::Http(e))) if e.is_timeout() => {
                FetchError::Timeout { timeout: opts.timeout, attempts: attempt, from, to }
            }
            Ok(Err(Failed::Http(e))) => FetchError::Connection { message: chain(&e), attempts: attempt, from, to },
            Err(_) => FetchError::Timeout { timeout: opts.timeout, attempts: attempt, from, to },
        };
        // A malformed answer or a 4xx would come back the same; a rate limit, a server error or
        // the network may not.
        let retry = match &error {
            FetchError::Status { status, .. } => *status == 429 || *status >= 500,
            FetchError::Timeout { .. } | FetchError::Connection { .. } => true,
            _ => false,
        };
        if !retry || attempt >= opts.attempts {
            return Err(error);
        }
        tokio::time::sleep(opts.backoff.saturating_mul(1 << (attempt - 1).min(16))).await;
    }
}

enum Failed {
    Http(reqwest::Error),
    TooLarge,
}

/// One GET: the status and the whole body (up to [`MAX_BODY`]).
async fn exchange(client: &reqwest::Client, url: &reqwest::Url) -> Result<(u16, Vec<u8>), Failed> {
    let mut response = client
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(Failed::Http)?;
    let status = response.status().as_u16();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Failed::Http)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(Failed::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

/// The answer's fields this client reads; the others (`o`, `h`, `l`, `v`, `nextTime`) are skipped.
#[derive(Deserialize)]
struct Wire {
    s: String,
    t: Option<Vec<i64>>,
    c: Option<Vec<f64>>,
    errmsg: Option<String>,
}

#[derive(Debug, PartialEq)]
enum Answer {
    Candles(Vec<i64>, Vec<f64>),
    NoData,
    Error(String),
}

/// One answer, checked: `t` strictly increasing, one finite positive close per time.
fn parse(body: &[u8]) -> Result<Answer, String> {
    let wire: Wire = serde_json::from_slice(body).map_err(|e| format!("not the expected JSON ({e})"))?;
    match wire.s.as_str() {
        "ok" => {}
        "no_data" => return Ok(Answer::NoData),
        "error" => return Ok(Answer::Error(wire.errmsg.unwrap_or_else(|| "(no errmsg)".to_owned()))),
        other => return Err(format!("unknown status s = {other:?}")),
    }
    let (Some(t), Some(c)) = (wire.t, wire.c) else {
        return Err("s = \"ok\" without both `t` and `c`".to_owned());
    };
    if t.len() != c.len() {
        return Err(format!("{} times (`t`) but {} closes (`c`)", t.len(), c.len()));
    }
    if let Some(i) = t.windows(2).position(|w| w[1] <= w[0]) {
        return Err(format!("`t` is not strictly increasing: {} then {}", t[i], t[i + 1]));
    }
    if let Some(i) = c.iter().position(|c| !(c.is_finite() && *c > 0.0)) {
        return Err(format!("close {} at t = {} is not a positive number", c[i], t[i]));
    }
    Ok(Answer::Candles(t, c))
}

/// An error with its causes, `a: b: c` (reqwest's own message alone rarely says what happened).
fn chain(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_040; // a minute boundary

    fn same(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
    }

    #[test]
    fn grid_shape_and_bad_ranges() {
        let g = Grid::empty(T0, T0 + 600, 300).unwrap();
        assert_eq!(g.timestamps, [T0, T0 + 300, T0 + 600]);
        assert!(g.prices.iter().all(|p| p.is_nan()));
        assert_eq!(Grid::empty(T0, T0, 60).unwrap().timestamps, [T0]);
        for (from, to, inc) in [(T0, T0 + 600, 0), (T0, T0 + 600, -60), (T0, T0 - 60, 60), (T0, T0 + 650, 300)] {
            assert!(matches!(Grid::empty(from, to, inc), Err(FetchError::Options(_))), "{from} {to} {inc}");
        }
        assert!(matches!(Grid::empty(i64::MIN, i64::MAX, 1), Err(FetchError::Options(_))));
    }

    #[test]
    fn closes_at_exact_grid_times_only() {
        let mut g = Grid::empty(T0, T0 + 600, 300).unwrap();
        // Every minute but T0 + 300; and one candle off the minute.
        let t: Vec<i64> = (0..=11).map(|m| T0 + 60 * m).filter(|&t| t != T0 + 300).chain([T0 + 630]).collect();
        let mut t = t;
        t.sort();
        let c: Vec<f64> = t.iter().map(|&t| (t - T0) as f64 + 1.0).collect();
        g.place(300, &t, &c);
        g.settle(t.last().copied());
        assert!(same(&g.prices, &[1.0, f64::NAN, 601.0]));
        assert_eq!(g.candles, t.len());
        assert_eq!(g.settled_until, Some(T0 + 600));
    }

    #[test]
    fn witness_rule() {
        let t: Vec<i64> = (0..=10).map(|m| T0 + 60 * m).collect();
        let c = vec![5.0; t.len()];
        // The latest candle is the last grid time itself: everything before it is settled.
        let mut g = Grid::empty(T0, T0 + 600, 300).unwrap();
        g.place(300, &t, &c);
        g.settle(Some(T0 + 600));
        assert!(same(&g.prices, &[5.0, 5.0, f64::NAN]));
        assert_eq!(g.settled_until, Some(T0 + 300));
        // One second past a grid time is already a later candle (not minute-aligned, but later).
        let mut g = Grid::empty(T0, T0 + 600, 300).unwrap();
        g.place(300, &t, &c);
        g.settle(Some(T0 + 301));
        assert!(same(&g.prices, &[5.0, 5.0, f64::NAN]));
        assert_eq!(g.settled_until, Some(T0 + 300));
        // No candle at all, or none later than the first grid time.
        for latest in [None, Some(T0), Some(T0 - 60)] {
            let mut g = Grid::empty(T0, T0 + 600, 300).unwrap();
            g.place(300, &t, &c);
            g.settle(latest);
            assert!(g.prices.iter().all(|p| p.is_nan()), "{latest:?}");
            assert_eq!(g.settled_until, None);
        }
        // A settled grid time without a candle of its own stays NaN but counts as settled.
        let mut g = Grid::empty(T0, T0 + 600, 300).unwrap();
        g.place(300, &[T0, T0 + 660], &[7.0, 8.0]);
        g.settle(Some(T0 + 660));
        assert!(same(&g.prices, &[7.0, f64::NAN, f64::NAN]));
        assert_eq!(g.settled_until, Some(T0 + 600));
    }

    #[test]
    fn parse_answers() {
        assert_eq!(
            parse(br#"{"s":"ok","t":[1,2],"o":[1,1],"h":[1,1],"l":[1,1],"c":[3.5,4],"v":[0,0]}"#),
            Ok(Answer::Candles(vec![1, 2], vec![3.5, 4.0]))
        );
        assert_eq!(parse(br#"{"s":"ok","t":[],"c":[]}"#), Ok(Answer::Candles(vec![], vec![])));
        assert_eq!(parse(br#"{"s":"no_data","nextTime":1700000000}"#), Ok(Answer::NoData));
        assert_eq!(
            parse(br#"{"s":"error","errmsg":"Symbol not found"}"#),
            Ok(Answer::Error("Symbol not found".into()))
        );
        for (body, needle) in [
            (&br#"<html>"#[..], "not the expected JSON"),
            (br#"{"t":[1],"c":[1]}"#, "not the expected JSON"),
            (br#"{"s":"maybe"}"#, "unknown status"),
            (br#"{"s":"ok","t":[1]}"#, "without both"),
            (br#"{"s":"ok","t":[1,2],"c":[1]}"#, "2 times (`t`) but 1 closes"),
            (br#"{"s":"ok","t":[2,2],"c":[1,1]}"#, "not strictly increasing"),
            (br#"{"s":"ok","t":[3,2],"c":[1,1]}"#, "not strictly increasing"),
            (br#"{"s":"ok","t":[1,2],"c":[1,0]}"#, "not a positive number"),
            (br#"{"s":"ok","t":[1,2],"c":[1,-3]}"#, "not a positive number"),
            (br#"{"s":"ok","t":[1,2],"c":[1,null]}"#, "not the expected JSON"),
            (br#"{"s":"ok","t":[1.5],"c":[1]}"#, "not the expected JSON"),
        ] {
            let e = parse(body).unwrap_err();
            assert!(e.contains(needle), "{}: {e}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn symbols() {
        assert_eq!(symbol_for("BTC"), "Crypto.BTC/USD");
        assert_eq!(symbol_for("hype"), "Crypto.HYPE/USD");
        assert_eq!(symbol_for("NVDAX"), "Crypto.NVDAX/USD");
        assert_eq!(symbol_for("XAU"), "Crypto.XAUT/USD");
        assert_eq!(symbol_for("SPCX"), "Pyth.HL.SPCX/USDC");
    }

    #[test]
    fn endpoints() {
        let mut opts = FetchOptions::new("Crypto.BTC/USD", T0, T0, 60);
        opts.url = "http://127.0.0.1:9/history".into();
        assert!(endpoint(&opts).is_ok());
        opts.url = "ftp://example.com/".into();
        assert!(matches!(endpoint(&opts), Err(FetchError::Options(_))));
        opts.url = "not a url".into();
        assert!(matches!(endpoint(&opts), Err(FetchError::Options(_))));
        opts.url = DEFAULT_URL.into();
        assert_eq!(endpoint(&opts).is_ok(), cfg!(feature = "tls"));
    }
}
