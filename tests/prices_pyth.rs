//! The Pyth history client against a loopback server that answers as Pyth does (or fails as it
//! might): the grid and the witness rule end to end, chunking, `no_data`, `s = "error"`, malformed
//! answers, which failures are tried again and which are not, the per-request timeout, and the
//! query string. Nothing leaves 127.0.0.1, and every test is bounded in time.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use synth_forward::prices::pyth::{self, FetchError, FetchOptions, Grid};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A minute boundary, the first grid time of most tests.
const T0: i64 = 1_700_000_040;
/// The most any one test may take.
const BOUND: Duration = Duration::from_secs(20);

/// What the server does with one request.
enum Reply {
    /// HTTP 200 with this JSON.
    Json(String),
    /// This status and body.
    Status(u16, &'static str),
    /// Read the request, then never answer (the connection stays open until the test ends).
    Stall,
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
struct Seen {
    /// The raw query string, as sent.
    query: String,
    from: i64,
    to: i64,
}

impl Seen {
    fn param(&self, name: &str) -> Option<&str> {
        self.query.split('&').find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
    }
}

type Handler = dyn Fn(usize, &Seen) -> Reply + Send + Sync;

/// An HTTP/1.1 server on 127.0.0.1: one request per connection, answered by `handler` (given the
/// request's index, from 0, and the request).
struct Server {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    async fn start(handler: impl Fn(usize, &Seen) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1/shims/tradingview/history", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                tokio::spawn(serve(stream, handler.clone(), log.clone()));
            }
        });
        Server { url, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn options(&self, from: i64, to: i64, increment: i64) -> FetchOptions {
        let mut opts = FetchOptions::new("Crypto.BTC/USD", from, to, increment);
        opts.url = self.url.clone();
        opts.timeout = Duration::from_secs(5);
        opts.backoff = Duration::from_millis(10);
        opts
    }
}

async fn serve(mut stream: tokio::net::TcpStream, handler: Arc<Handler>, log: Arc<Mutex<Vec<Seen>>>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let target = head.split(' ').nth(1).unwrap_or("");
    let query = target.split_once('?').map_or("", |(_, q)| q).to_owned();
    let mut seen = Seen { query, from: 0, to: 0 };
    seen.from = seen.param("from").and_then(|v| v.parse().ok()).unwrap_or(i64::MIN);
    seen.to = seen.param("to").and_then(|v| v.parse().ok()).unwrap_or(i64::MIN);
    let index = {
        let mut log = log.lock().unwrap();
        log.push(seen.clone());
        log.len() - 1
    };
    let (status, body) = match handler(index, &seen) {
        Reply::Json(body) => (200, body),
        Reply::Status(status, body) => (status, body.to_owned()),
        Reply::Stall => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return;
        }
    };
    let response = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The close of the made-up market at `t`: distinct for every minute, so a wrong candle shows.
fn close(t: i64) -> f64 {
    100.0 + (t - T0) as f64 / 60.0 * 0.25
}

/// An `"ok"` answer with a candle at each of `times` (OHLC all the close, as the shape is all
/// that matters here).
fn ok(times: impl IntoIterator<Item = i64>) -> String {
    let t: Vec<i64> = times.into_iter().collect();
    let c: Vec<f64> = t.iter().map(|&t| close(t)).collect();
    let list = |v: &[f64]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",");
    let times = t.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",");
    let zeros = vec!["0"; t.len()].join(",");
    format!(r#"{{"s":"ok","t":[{times}],"o":[{c}],"h":[{c}],"l":[{c}],"c":[{c}],"v":[{zeros}]}}"#, c = list(&c))
}

/// Every minute in the request's `[from, to]`, as Pyth answers for a feed that never pauses.
fn minutes(seen: &Seen) -> impl Iterator<Item = i64> {
    let first = seen.from + (60 - seen.from.rem_euclid(60)) % 60;
    (first..=seen.to).step_by(60)
}

async fn fetch(opts: &FetchOptions) -> Result<Grid, FetchError> {
    let client = pyth::build_client(opts.timeout).unwrap();
    tokio::time::timeout(BOUND, pyth::fetch(&client, opts)).await.expect("fetch took longer than the test's bound")
}

fn assert_prices(grid: &Grid, expected: &[f64]) {
    assert_eq!(grid.prices.len(), expected.len());
    for (i, (got, want)) in grid.prices.iter().zip(expected).enumerate() {
        assert!(got == want || (got.is_nan() && want.is_nan()), "point {i}: {got} != {want}");
    }
}

#[tokio::test]
async fn closes_at_exact_grid_times() {
    // Every minute but T0 + 600, plus a candle off the minute between grid times.
    let server = Server::start(|_, seen| {
        let mut t: Vec<i64> = minutes(seen).filter(|&t| t != T0 + 600).collect();
        t.push(T0 + 330);
        t.sort();
        Reply::Json(ok(t))
    })
    .await;
    let grid = fetch(&server.options(T0, T0 + 1800, 300)).await.unwrap();

    assert_eq!(grid.timestamps, (0..=6).map(|i| T0 + 300 * i).collect::<Vec<_>>());
    let mut expected: Vec<f64> = grid.timestamps.iter().map(|&t| close(t)).collect();
    expected[2] = f64::NAN;
    assert_prices(&grid, &expected);
    assert_eq!(grid.settled_until, Some(T0 + 1800));
    assert_eq!(grid.requests, 1);
    // 31 minutes asked plus the witness minute, less the missing one, plus the odd one.
    assert_eq!(grid.candles, 32 - 1 + 1);
    let seen = server.seen();
    assert_eq!((seen[0].from, seen[0].to), (T0, T0 + 1860));
}

#[tokio::test]
async fn last_point_needs_a_later_candle() {
    // The feed has nothing after the last grid time yet.
    let server = Server::start(|_, seen| Reply::Json(ok(minutes(seen).filter(|&t| t <= T0 + 600)))).await;
    let grid = fetch(&server.options(T0, T0 + 600, 300)).await.unwrap();
    assert_prices(&grid, &[close(T0), close(T0 + 300), f64::NAN]);
    assert_eq!(grid.settled_until, Some(T0 + 300));

    // With the witness minute there, the last point is settled.
    let server = Server::start(|_, seen| Reply::Json(ok(minutes(seen)))).await;
    let grid = fetch(&server.options(T0, T0 + 600, 300)).await.unwrap();
    assert_prices(&grid, &[close(T0), close(T0 + 300), close(T0 + 600)]);
    assert_eq!(grid.settled_until, Some(T0 + 600));
}

#[tokio::test]
async fn long_ranges_are_chunked() {
    let server = Server::start(|_, seen| Reply::Json(ok(minutes(seen)))).await;
    let mut opts = server.options(T0, T0 + 3 * 3600, 300);
    opts.chunk_seconds = 3600;
    let grid = fetch(&opts).await.unwrap();

    let asked: Vec<(i64, i64)> = server.seen().iter().map(|s| (s.from, s.to)).collect();
    assert_eq!(
        asked,
        [
            (T0, T0 + 3599),
            (T0 + 3600, T0 + 7199),
            (T0 + 7200, T0 + 10_799),
            // The last request runs one candle past the last grid time, for its witness.
            (T0 + 10_800, T0 + 10_860),
        ]
    );
    assert_eq!(grid.requests, 4);
    assert_eq!(grid.candles, 3 * 60 + 2);
    assert_eq!(grid.timestamps.len(), 37);
    let expected: Vec<f64> = grid.timestamps.iter().map(|&t| close(t)).collect();
    assert_prices(&grid, &expected);
    assert_eq!(grid.settled_until, Some(T0 + 3 * 3600));
}

#[tokio::test]
async fn no_data_is_nan_not_an_error() {
    // The first hour has no data; the second (and its witness) has.
    let server = Server::start(|i, seen| match i {
        0 => Reply::Json(r#"{"s":"no_data","nextTime":1700003640}"#.into()),
        _ => Reply::Json(ok(minutes(seen))),
    })
    .await;
    let mut opts = server.options(T0, T0 + 7200, 1800);
    opts.chunk_seconds = 3600;
    let grid = fetch(&opts).await.unwrap();
    assert_prices(&grid, &[f64::NAN, f64::NAN, close(T0 + 3600), close(T0 + 5400), close(T0 + 7200)]);
    assert_eq!(grid.settled_until, Some(T0 + 7200));

    // Nothing at all: every point NaN, nothing settled.
    let server = Server::start(|_, _| Reply::Json(r#"{"s":"no_data"}"#.into())).await;
    let grid = fetch(&server.options(T0, T0 + 600, 300)).await.unwrap();
    assert!(grid.prices.iter().all(|p| p.is_nan()));
    assert_eq!(grid.settled_until, None);
    assert_eq!(grid.candles, 0);
}

#[tokio::test]
async fn an_error_answer_carries_its_message() {
    let server =
        Server::start(|_, _| Reply::Json(r#"{"s":"error","errmsg":"Symbol Crypto.NOPE/USD not found"}"#.into())).await;
    let e = fetch(&server.options(T0, T0 + 600, 300)).await.unwrap_err();
    assert!(matches!(e, FetchError::Api { .. }), "{e:?}");
    assert!(e.to_string().contains("Symbol Crypto.NOPE/USD not found"), "{e}");
    assert_eq!(server.seen().len(), 1, "an error answer is not asked again");
}

#[tokio::test]
async fn malformed_answers_are_refused_once() {
    for (body, needle) in [
        ("<html>busy</html>", "not the expected JSON"),
        (r#"{"s":"ok","t":[1700000040,1700000100],"c":[1.0]}"#, "2 times (`t`) but 1 closes"),
        (r#"{"s":"ok","t":[1700000100,1700000040],"c":[1.0,2.0]}"#, "not strictly increasing"),
        (r#"{"s":"ok","t":[1700000040],"c":[0]}"#, "not a positive number"),
        (r#"{"s":"ok","c":[1.0]}"#, "without both"),
    ] {
        let server = Server::start(move |_, _| Reply::Json(body.into())).await;
        let e = fetch(&server.options(T0, T0 + 600, 300)).await.unwrap_err();
        assert!(matches!(e, FetchError::Malformed { .. }), "{body}: {e:?}");
        assert!(e.to_string().contains(needle), "{body}: {e}");
        assert_eq!(server.seen().len(), 1, "{body}: a malformed answer is not asked again");
    }
}

#[tokio::test]
async fn server_errors_are_tried_again() {
    let server = Server::start(|i, seen| match i {
        0 => Reply::Status(500, "upstream hiccup"),
        1 => Reply::Status(429, "slow down"),
        _ => Reply::Json(ok(minutes(seen))),
    })
    .await;
    let grid = fetch(&server.options(T0, T0 + 600, 300)).await.unwrap();
    assert_prices(&grid, &[close(T0), close(T0 + 300), close(T0 + 600)]);
    assert_eq!(grid.requests, 3);
    assert_eq!(server.seen().len(), 3);

    // Out of tries: the last status and the start of its body.
    let server = Server::start(|_, _| Reply::Status(503, "maintenance until noon")).await;
    let e = fetch(&server.options(T0, T0 + 600, 300)).await.unwrap_err();
    assert!(matches!(e, FetchError::Status { status: 503, attempts: 3, .. }), "{e:?}");
    assert!(e.to_string().contains("maintenance until noon"), "{e}");
    assert_eq!(server.seen().len(), 3);
}

#[tokio::test]
async fn client_errors_are_not() {
    let server = Server::start(|_, _| Reply::Status(400, r#"{"detail":"bad resolution"}"#)).await;
    let e = fetch(&server.options(T0, T0 + 600, 300)).await.unwrap_err();
    assert!(matches!(e, FetchError::Status { status: 400, attempts: 1, .. }), "{e:?}");
    assert!(e.to_string().contains("bad resolution"), "{e}");
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn a_stalled_server_times_out_after_every_attempt() {
    let server = Server::start(|_, _| Reply::Stall).await;
    let mut opts = server.options(T0, T0 + 600, 300);
    opts.timeout = Duration::from_millis(300);
    opts.attempts = 3;
    opts.backoff = Duration::from_millis(20);
    let started = Instant::now();
    let e = fetch(&opts).await.unwrap_err();
    let took = started.elapsed();
    assert!(matches!(e, FetchError::Timeout { attempts: 3, .. }), "{e:?}");
    assert_eq!(server.seen().len(), 3);
    // Three timeouts and two waits (20 ms, 40 ms), with room for a slow machine.
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test]
async fn a_refused_connection_is_a_connection_error() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let mut opts = FetchOptions::new("Crypto.BTC/USD", T0, T0 + 600, 300);
    opts.url = format!("http://127.0.0.1:{port}/history");
    opts.timeout = Duration::from_secs(2);
    opts.attempts = 2;
    opts.backoff = Duration::from_millis(10);
    let e = fetch(&opts).await.unwrap_err();
    assert!(matches!(e, FetchError::Connection { attempts: 2, .. }), "{e:?}");
}

#[tokio::test]
async fn the_query_string() {
    let server = Server::start(|_, seen| Reply::Json(ok(minutes(seen)))).await;
    let mut opts = server.options(T0, T0 + 3600, 60);
    opts.symbol = pyth::symbol_for("xau");
    fetch(&opts).await.unwrap();
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].query, format!("symbol=Crypto.XAUT%2FUSD&resolution=1&from={T0}&to={}", T0 + 3660));

    // A query already on the URL (a key, a channel) is kept, ours appended.
    let server = Server::start(|_, seen| Reply::Json(ok(minutes(seen)))).await;
    let mut opts = server.options(T0, T0 + 60, 60);
    opts.url.push_str("?channel=fixed_rate%40200ms");
    opts.symbol = "Equity.US.AAPL/USD".into();
    fetch(&opts).await.unwrap();
    assert_eq!(
        server.seen()[0].query,
        format!("channel=fixed_rate%40200ms&symbol=Equity.US.AAPL%2FUSD&resolution=1&from={T0}&to={}", T0 + 120)
    );
}

#[tokio::test]
async fn bad_options_are_refused_before_any_request() {
    let server = Server::start(|_, seen| Reply::Json(ok(minutes(seen)))).await;
    let cases: [fn(&mut FetchOptions); 5] = [
        |o| o.increment = 0,
        |o| o.to = o.from - 300,
        |o| o.to = o.from + 301,
        |o| o.attempts = 0,
        |o| o.chunk_seconds = 59,
    ];
    for (i, change) in cases.into_iter().enumerate() {
        let mut opts = server.options(T0, T0 + 600, 300);
        change(&mut opts);
        let e = fetch(&opts).await.unwrap_err();
        assert!(matches!(e, FetchError::Options(_)), "case {i}: {e:?}");
    }
    assert!(server.seen().is_empty());
}

#[cfg(not(feature = "tls"))]
#[tokio::test]
async fn https_needs_the_tls_feature() {
    let opts = FetchOptions::new("Crypto.BTC/USD", T0, T0 + 600, 300);
    assert_eq!(opts.url, pyth::DEFAULT_URL);
    let e = fetch(&opts).await.unwrap_err();
    assert!(matches!(e, FetchError::NoTls { .. }), "{e:?}");
    assert!(e.to_string().contains("--features tls"), "{e}");
}

#[test]
fn blocking() {
    // The server runs on its own thread and runtime; the caller has none.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let server = Server::start(|_, seen| Reply::Json(ok(minutes(seen)))).await;
            tx.send(server.url.clone()).unwrap();
            tokio::time::sleep(BOUND).await;
        });
    });
    let url = rx.recv_timeout(BOUND).unwrap();
    let mut opts = FetchOptions::new("Crypto.ETH/USD", T0, T0 + 3600, 60);
    opts.url = url;
    opts.timeout = Duration::from_secs(5);
    let grid = pyth::fetch_blocking(&opts).unwrap();
    assert_eq!(grid.prices.len(), 61);
    assert_eq!(grid.settled_until, Some(T0 + 3600));
    assert!(grid.prices.iter().zip(&grid.timestamps).all(|(&p, &t)| p == close(t)));
}

#[cfg(feature = "tls")]
#[tokio::test]
async fn https_is_spoken_with_the_tls_feature() {
    // A plain-HTTP peer behind an https URL: the handshake fails, as a connection error.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n").await;
        }
    });
    let mut opts = FetchOptions::new("Crypto.BTC/USD", T0, T0 + 600, 300);
    opts.url = format!("https://{addr}/history");
    opts.timeout = Duration::from_secs(5);
    opts.attempts = 1;
    let e = fetch(&opts).await.unwrap_err();
    assert!(matches!(e, FetchError::Connection { .. }), "{e:?}");
}

#[cfg(feature = "tls")]
#[test]
fn other_clients_build_once_the_provider_is_installed() {
    // With `tls`, reqwest has rustls but no provider of its own: a client without a preconfigured
    // backend (the engine's) needs the process default first.
    synth_forward::tls::install_provider();
    synth_forward::fetch::build_client().unwrap();
}

/// The binary, run off the runtime's threads (the loopback server keeps answering meanwhile):
/// `(success, summary, stderr)`.
async fn cli(args: Vec<String>) -> (bool, serde_json::Value, String) {
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_synth-forward")).args(&args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let summary = stdout.lines().last().and_then(|l| serde_json::from_str(l).ok()).unwrap_or_default();
        (out.status.success(), summary, String::from_utf8_lossy(&out.stderr).into_owned())
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn prices_fetch_then_score() {
    // The committed small cycle: BTC, 1 h at 1 min from START_UNIX.
    let start = synth_forward::fixture::START_UNIX;
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).display().to_string();
    let (done, _, err) =
        cli(vec!["replay".into(), "fixtures/small.cycle.arrow".into(), "--out".into(), d("out")]).await;
    assert!(done, "{err}");
    // A feed that has everything up to `settled` and nothing after.
    let settled = Arc::new(Mutex::new(start + 3600 + 60));
    let until = settled.clone();
    let server = Server::start(move |_, seen| {
        let until = *until.lock().unwrap();
        Reply::Json(ok(minutes(seen).filter(|&t| t <= until)))
    })
    .await;
    let fetch = |out: &str, extra: &[&str]| {
        let mut args: Vec<String> = ["prices", "fetch", "--asset", "BTC", "--from", "2026-11-24T12:01:00+00:00"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend([
            "--to".into(),
            (start + 3600).to_string(),
            "--url".into(),
            server.url.clone(),
            "--out".into(),
            d(out),
        ]);
        args.extend(extra.iter().map(|s| s.to_string()));
        cli(args)
    };
    let (done, s, err) = fetch("btc.parquet", &[]).await;
    assert!(done, "{err}");
    assert_eq!(
        (s["points"].as_u64(), s["missing"].as_u64(), s["settled"].as_bool()),
        (Some(61), Some(0), Some(true)),
        "{s}"
    );
    assert_eq!(s["symbol"], "Crypto.BTC/USD");
    let (done, _, err) = fetch("btc.parquet", &[]).await;
    assert!(!done && err.contains("already exists"), "{err}");
    let score = |prices: String| {
        cli(vec![
            "score".into(),
            d("out"),
            "--prices".into(),
            prices,
            "--out".into(),
            d("scores"),
            "--overwrite".into(),
        ])
    };
    let (done, s, err) = score(d("btc.parquet")).await;
    assert!(done, "{err}");
    assert_eq!((s["cycles_scored"].as_u64(), s["miners_scored"].as_u64()), (Some(1), Some(7)), "{s}");

    // Before the last minute has closed: that point is left empty, and the cycle waits.
    *settled.lock().unwrap() = start + 3600;
    let (done, s, err) = fetch("early.csv", &[]).await;
    assert!(done, "{err}");
    assert_eq!((s["missing"].as_u64(), s["settled"].as_bool()), (Some(1), Some(false)), "{s}");
    let text = std::fs::read_to_string(d("early.csv")).unwrap();
    assert!(text.ends_with(&format!("BTC,{},\n", start + 3600)), "{text}");
    let (done, s, err) = score(d("early.csv")).await;
    assert!(done, "{err}");
    assert_eq!((s["cycles_scored"].as_u64(), s["unscorable"].as_u64()), (Some(0), Some(1)), "{s}");
}
