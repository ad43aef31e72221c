//! Object storage against an S3-compatible server on loopback (moto's server mode, from the
//! `.venv`): cycle files written to `s3://…` byte for byte as on disk, never over an existing
//! object unless asked, large objects through a multipart upload and a conditional copy with no
//! temp object left behind, a failed upload that keeps the cycle, and `score` reading cycles from
//! and writing scores to the bucket.
#![cfg(feature = "s3")]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::Killed;
use synth_forward::store::{Remote, StoreError};

/// A moto S3 server on 127.0.0.1 with one bucket, and the environment that points at it.
struct Moto {
    _server: Killed,
    endpoint: String,
}

impl Moto {
    fn start(bucket: &str) -> Moto {
        let python = common::python();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let server = Command::new(&python)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto's server (scripts/setup-venv.sh installs moto[server])");
        let server = Killed(server);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not listen on {port} within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        // Create the bucket (moto checks no signature).
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(s, "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "creating the bucket: {answer}");
        Moto { _server: server, endpoint: format!("http://127.0.0.1:{port}") }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    /// The library's view of `url`, configured as the binary's is (the same settings, given
    /// directly: tests run side by side and must not share the environment).
    fn remote(&self, url: &str) -> Remote {
        Remote::parse_with(url, self.env().into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v))).unwrap()
    }

    fn cli(&self, args: &[&str]) -> (bool, serde_json::Value, String) {
        let out = Command::new(common::BIN).args(args).envs(self.env()).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let summary = stdout.lines().last().and_then(|l| serde_json::from_str(l).ok()).unwrap_or_default();
        (out.status.success(), summary, String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() { out.extend(files_under(&p)) } else { out.push(p) }
        }
    }
    out.sort();
    out
}

const KEY: &str = "data/layout-2/3600_60_100_f64/asset=BTC/date=2026-11-24/1795521660.parquet";

#[test]
fn cycle_files_and_scores_in_a_bucket() {
    let moto = Moto::start("cycles");
    let tmp = tempfile::tempdir().unwrap();
    let (local, staging) = (tmp.path().join("local"), tmp.path().join("staging"));
    let arg = |p: &Path| p.display().to_string();
    let (ok, _, err) = moto.cli(&["replay", "fixtures/small.cycle.arrow", "--out", &arg(&local)]);
    assert!(ok, "{err}");
    let replay = |extra: &[&str]| {
        let mut args = vec!["replay", "fixtures/small.cycle.arrow", "--out", "s3://cycles/data/"];
        let staging = arg(&staging);
        args.extend(["--staging", staging.as_str()]);
        args.extend(extra);
        moto.cli(&args.iter().map(|s| &**s).collect::<Vec<_>>())
    };
    let (ok, s, err) = replay(&[]);
    assert!(ok, "{err}");
    assert_eq!(s["parquet"], format!("s3://cycles/{KEY}"), "{s}");
    let remote = moto.remote("s3://cycles/data");
    let key = remote.key(KEY.strip_prefix("data/").unwrap());
    let on_disk = std::fs::read(&files_under(&local)[0]).unwrap();
    assert_eq!(remote.get(&key).unwrap(), on_disk, "the object is the file, byte for byte");
    assert!(files_under(&staging).is_empty(), "the staged copy is removed once stored");
    assert_eq!(std::fs::read_dir(&staging).unwrap().count(), 0, "and its folder");

    // Again: refused, the object untouched, the cycle kept in staging; then replaced on request.
    let (ok, _, err) = replay(&[]);
    assert!(!ok && err.contains("already exists") && err.contains("the cycle is kept in"), "{err}");
    let kept = files_under(&staging);
    assert_eq!(kept.len(), 1);
    assert!(err.contains(&kept[0].display().to_string()), "the error names the kept file: {err}");
    assert_eq!(remote.get(&key).unwrap(), on_disk);
    let (ok, _, err) = replay(&["--overwrite"]);
    assert!(ok, "{err}");

    // Score straight from the bucket into it, and compare with scoring the local file.
    let prices = tmp.path().join("btc.csv");
    let mut text = String::from("asset,timestamp,price\n");
    for k in 0..70 {
        text.push_str(&format!("BTC,{},{}\n", 1_795_521_660 + 60 * k, 91_234.56 + (k % 7) as f64 * 3.25));
    }
    std::fs::write(&prices, text).unwrap();
    let prices_arg = arg(&prices);
    let from_bucket = [
        "score",
        "s3://cycles/data/layout-2/3600_60_100_f64",
        "--prices",
        prices_arg.as_str(),
        "--out",
        "s3://cycles/data",
    ];
    let (ok, s, err) = moto.cli(&from_bucket);
    assert!(ok, "{err}");
    assert_eq!((s["files"].as_u64(), s["cycles_scored"].as_u64()), (Some(1), Some(1)), "{s}");
    let scores_key =
        remote.key("layout-2/scores_median10x-cap-p95-fill/asset=BTC/date=2026-11-24/1795521660_3600.parquet");
    assert!(remote.exists(&scores_key).unwrap());
    let (ok, s2, err) = moto.cli(&["score", &arg(&local), "--prices", &arg(&prices), "--out", &arg(&local)]);
    assert!(ok, "{err}");
    let local_scores = std::fs::read(s2["written"][0].as_str().unwrap()).unwrap();
    let read = |bytes: bytes::Bytes| {
        let r = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap().build().unwrap();
        r.map(Result::unwrap).collect::<Vec<_>>()
    };
    let (a, b) = (read(remote.get(&scores_key).unwrap()), read(bytes::Bytes::from(local_scores)));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.columns(), y.columns(), "scores from the bucket equal scores from the disk");
    }
    // Scored already: left alone.
    let (ok, again, _) = moto.cli(&from_bucket);
    assert!(ok);
    assert_eq!(again["already_scored"], 1, "{again}");
}

#[test]
fn large_objects_appear_whole_and_only_once() {
    let moto = Moto::start("big");
    let remote = moto.remote("s3://big/p");
    let tmp = tempfile::tempdir().unwrap();
    // 40 MiB: three parts of the multipart upload.
    let path = tmp.path().join("big.parquet");
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let data: Vec<u8> = (0..40 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(&path, &data).unwrap();
    let key = remote.key("layout-2/t/asset=BTC/date=2026-11-24/1.parquet");
    remote.upload(&path, &key, false).unwrap();
    assert_eq!(remote.get(&key).unwrap(), data);

    // Not over an existing object unless asked.
    let other = tmp.path().join("other.parquet");
    std::fs::write(&other, &data[..20 << 20]).unwrap();
    match remote.upload(&other, &key, false) {
        Err(StoreError::Exists(url)) => assert_eq!(url, "s3://big/p/layout-2/t/asset=BTC/date=2026-11-24/1.parquet"),
        other => panic!("expected Exists, got {other:?}"),
    }
    assert_eq!(remote.get(&key).unwrap().len(), 40 << 20);
    // Without the look-up (a writer that lost a race): the conditional completion refuses.
    assert!(matches!(remote.place(&other, &key, false), Err(StoreError::Exists(_))));
    assert_eq!(remote.get(&key).unwrap().len(), 40 << 20);
    remote.upload(&other, &key, true).unwrap();
    assert_eq!(remote.get(&key).unwrap().len(), 20 << 20);
    // No temp object is left, and listing a dataset never shows one.

    // Two writers of one new key at once: both may pass the look-up, the conditional
    // completion lets exactly one in, and the object is that one's, whole.
    let race = remote.key("layout-2/t/asset=BTC/date=2026-11-24/2.parquet");
    let halves = [(&path, 40usize << 20), (&other, 20usize << 20)];
    let results: Vec<(usize, Result<(), StoreError>)> = std::thread::scope(|s| {
        let handles: Vec<_> = halves
            .iter()
            .map(|&(p, len)| {
                let r = moto.remote("s3://big/p");
                let race = race.clone();
                s.spawn(move || (len, r.upload(p, &race, false)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let won: Vec<usize> = results.iter().filter(|(_, r)| r.is_ok()).map(|(len, _)| *len).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    assert!(results.iter().any(|(_, r)| matches!(r, Err(StoreError::Exists(_)))), "{results:?}");
    assert_eq!(remote.get(&race).unwrap().len(), won[0]);
    // Small objects go in one conditional PUT.
    let small = remote.key("small.parquet");
    remote.put(&small, bytes::Bytes::from_static(b"first"), false).unwrap();
    assert!(matches!(remote.put(&small, bytes::Bytes::from_static(b"second"), false), Err(StoreError::Exists(_))));
    assert_eq!(remote.get(&small).unwrap(), &b"first"[..]);
    remote.delete(&small).unwrap();

    assert_eq!(moto.remote("s3://big").list("").unwrap(), vec![key.clone(), race.clone()], "no temp object left");
    assert_eq!(remote.list_parquet("").unwrap(), vec![key.clone(), race.clone()]);

    // A bucket that does not exist: a clear error, nothing stored.
    let missing = moto.remote("s3://nope/p");
    let err = missing.upload(&other, &missing.key("x.parquet"), false).unwrap_err().to_string();
    assert!(err.contains("s3://nope/p/x.parquet"), "{err}");
}
