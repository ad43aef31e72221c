//! Recordings written by us come back exactly: every column, nulls, headers, empty vs null bodies,
//! one batch or many, uncompressed, ZSTD or LZ4; and a file appears whole or not at all.

use std::path::Path;

use synth_forward::call::CallError;
use synth_forward::recording::{self, Compression, RecordedCall, Recording, RecordingWriter};
use synth_forward::request::{Axon, CycleRequest, Protocol, Rules, SimulationInput};

fn request(uids: &[u16]) -> CycleRequest {
    CycleRequest {
        simulation_input: SimulationInput {
            asset: "BTC".into(),
            start_time: "2026-11-24T12:01:00+00:00".into(),
            time_increment: 60,
            time_length: 3600,
            num_simulations: 1000,
        },
        timeout_s: 60.0,
        protocol: Protocol::Synapse,
        axons: uids
            .iter()
            .map(|&uid| Axon {
                uid,
                ip: "127.0.0.1".into(),
                port: 9000u16.wrapping_add(uid),
                hotkey: format!("5Hotkey{uid:03}"),
            })
            .collect(),
        // Not the default: the recording must keep the rules it was made under.
        rules: Some(Rules::V2),
        request_time: None,
    }
}

fn h(pairs: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
    Some(pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect())
}

/// One row of every kind the columns can hold.
fn calls(req: &CycleRequest) -> Vec<RecordedCall> {
    let a = |i: usize| (req.axons[i].uid, req.axons[i].hotkey.clone());
    let mut v = vec![
        // Completed, with headers and a body.
        RecordedCall {
            uid: a(0).0,
            hotkey: a(0).1,
            status: Some(200),
            error: None,
            ttfb_ms: Some(1234.5),
            elapsed_ms: 1240.25,
            headers: h(&[
                ("date", "Tue, 24 Nov 2026 12:00:01 GMT"),
                ("content-length", "7"),
                ("x-dup", "1"),
                ("x-dup", "2"),
            ]),
            body: Some(b"{\"a\":1}".to_vec()),
        },
        // Timed out: nothing arrived.
        RecordedCall {
            uid: a(1).0,
            hotkey: a(1).1,
            status: None,
            error: Some(CallError::Timeout),
            ttfb_ms: None,
            elapsed_ms: 60_003.0,
            headers: None,
            body: None,
        },
        // Completed with an empty body and an empty header list (not null).
        RecordedCall {
            uid: a(2).0,
            hotkey: a(2).1,
            status: Some(204),
            error: None,
            ttfb_ms: Some(0.0),
            elapsed_ms: 3.5,
            headers: Some(vec![]),
            body: Some(vec![]),
        },
        // Too large: status and headers came, the body is what was read before the cap.
        RecordedCall {
            uid: a(3).0,
            hotkey: a(3).1,
            status: Some(200),
            error: Some(CallError::TooLarge),
            ttfb_ms: Some(10.0),
            elapsed_ms: 20.0,
            headers: h(&[("content-length", "999999999")]),
            body: Some(vec![0u8, 255, b'"', b'\n', 0x80]),
        },
    ];
    // The remaining error kinds, with a non-ASCII header value.
    for (k, e) in
        [CallError::Connect, CallError::Reset, CallError::Protocol, CallError::Cancelled].into_iter().enumerate()
    {
        let (uid, hotkey) = a(4 + k);
        v.push(RecordedCall {
            uid,
            hotkey,
            status: None,
            error: Some(e),
            ttfb_ms: if e == CallError::Reset { Some(5.0) } else { None },
            elapsed_ms: 1.0 + k as f64,
            headers: if e == CallError::Protocol { h(&[("séparé", "ünïcode ✓")]) } else { None },
            body: if e == CallError::Reset { Some(b"partial".to_vec()) } else { None },
        });
    }
    v
}

const UIDS: [u16; 8] = [7, 3, 250, 0, 65535, 12, 9, 1];
const STARTED_AT: &str = "2026-11-24T12:00:00.250Z";

fn assert_same(rec: &Recording, req: &CycleRequest, calls: &[RecordedCall]) {
    assert_eq!(&rec.request, req);
    assert_eq!(rec.started_at, STARTED_AT);
    assert_eq!(rec.rows(), calls.len());
    let mut body_bytes = 0;
    for (i, c) in calls.iter().enumerate() {
        assert_eq!(rec.uid(i), c.uid);
        assert_eq!(rec.hotkey(i), c.hotkey);
        assert_eq!(&rec.recorded(i), c, "row {i}");
        let raw = rec.call(i);
        assert_eq!(raw.status, c.status);
        assert_eq!(raw.error, c.error);
        assert_eq!(raw.ttfb_ms, c.ttfb_ms);
        assert_eq!(raw.elapsed_ms, c.elapsed_ms);
        assert_eq!(raw.body, c.body.as_deref());
        let hs = rec.headers(i).map(|v| v.into_iter().map(|(n, v)| (n.to_owned(), v.to_owned())).collect::<Vec<_>>());
        assert_eq!(hs, c.headers);
        body_bytes += c.body.as_ref().map_or(0, |b| b.len() as u64);
    }
    assert_eq!(rec.body_bytes(), body_bytes);
    // Empty is not null, for bodies and headers alike.
    assert_eq!(rec.call(2).body, Some(&[][..]));
    assert_eq!(rec.headers(2), Some(vec![]));
    assert_eq!(rec.call(1).body, None);
    assert_eq!(rec.headers(1), None);
    assert_eq!(rec.header(0, "Content-Length"), Some("7"));
    assert_eq!(rec.header(0, "x-dup"), Some("1"));
    assert_eq!(rec.header(1, "date"), None);
}

fn no_temp_files(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "temp files left behind: {left:?}");
}

#[test]
fn round_trip_every_compression() {
    let dir = tempfile::tempdir().unwrap();
    let req = request(&UIDS);
    let calls = calls(&req);
    for compression in [Compression::None, Compression::Zstd, Compression::Lz4] {
        let path = dir.path().join(format!("{compression:?}.cycle.arrow"));
        let s = recording::write(&path, &req, STARTED_AT, &calls, compression).unwrap();
        assert_eq!((s.rows, s.batches), (calls.len(), 1));
        assert_eq!(s.file_bytes, std::fs::metadata(&path).unwrap().len());
        let rec = Recording::read(&path).unwrap();
        assert_eq!(rec.batches(), 1);
        assert_same(&rec, &req, &calls);
    }
    no_temp_files(dir.path());
}

#[test]
fn zstd_really_compresses() {
    let dir = tempfile::tempdir().unwrap();
    let req = request(&UIDS);
    let mut calls = calls(&req);
    calls[0].body = Some(b"91234.56,".repeat(20_000));
    let plain = dir.path().join("plain.cycle.arrow");
    let zstd = dir.path().join("zstd.cycle.arrow");
    let a = recording::write(&plain, &req, STARTED_AT, &calls, Compression::None).unwrap();
    let b = recording::write(&zstd, &req, STARTED_AT, &calls, Compression::Zstd).unwrap();
    assert!(b.file_bytes * 10 < a.file_bytes, "zstd {} vs plain {}", b.file_bytes, a.file_bytes);
    assert_same(&Recording::read(&zstd).unwrap(), &req, &calls);
}

#[test]
fn many_batches_read_as_one_recording() {
    let dir = tempfile::tempdir().unwrap();
    let req = request(&UIDS);
    let calls = calls(&req);
    for compression in [Compression::None, Compression::Zstd] {
        let path = dir.path().join(format!("batches-{compression:?}.cycle.arrow"));
        let mut w = RecordingWriter::create(&path, &req, STARTED_AT, compression).unwrap();
        w.write(&calls[..3]).unwrap();
        w.write(&[]).unwrap(); // no batch
        w.write(&calls[3..4]).unwrap();
        w.write(&calls[4..]).unwrap();
        assert!(!path.exists(), "visible before finish");
        let s = w.finish().unwrap();
        assert_eq!(s.batches, 3);
        let rec = Recording::read(&path).unwrap();
        assert_eq!(rec.batches(), 3);
        assert_same(&rec, &req, &calls);
    }
    no_temp_files(dir.path());
}

#[test]
fn unfinished_writer_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let req = request(&UIDS);
    let calls = calls(&req);
    let path = dir.path().join("x.cycle.arrow");
    {
        let mut w = RecordingWriter::create(&path, &req, STARTED_AT, Compression::None).unwrap();
        w.write(&calls[..2]).unwrap();
    }
    assert!(!path.exists());
    no_temp_files(dir.path());
    // Finishing short of the request's axons is refused, and leaves nothing either.
    let mut w = RecordingWriter::create(&path, &req, STARTED_AT, Compression::None).unwrap();
    w.write(&calls[..2]).unwrap();
    let e = w.finish().unwrap_err().to_string();
    assert!(e.contains("2 rows written but the request lists 8 axons"), "{e}");
    assert!(!path.exists());
    no_temp_files(dir.path());
}

#[test]
fn writer_refuses_rows_out_of_request_order() {
    let dir = tempfile::tempdir().unwrap();
    let req = request(&UIDS);
    let mut calls = calls(&req);
    calls.swap(0, 1);
    let path = dir.path().join("x.cycle.arrow");
    let e = recording::write(&path, &req, STARTED_AT, &calls, Compression::None).unwrap_err().to_string();
    assert!(e.contains("row 0 is uid 3"), "{e}");
    let e = recording::write(&path, &req, "2026-11-24 12:00", &calls, Compression::None).unwrap_err().to_string();
    assert!(e.contains("not an RFC 3339 UTC time"), "{e}");
    assert!(!path.exists());
    no_temp_files(dir.path());
}

#[test]
fn rewriting_replaces_the_file_whole() {
    let dir = tempfile::tempdir().unwrap();
    let req = request(&UIDS);
    let mut calls = calls(&req);
    let path = dir.path().join("x.cycle.arrow");
    recording::write(&path, &req, STARTED_AT, &calls, Compression::None).unwrap();
    calls[0].body = Some(b"second".to_vec());
    recording::write(&path, &req, STARTED_AT, &calls, Compression::Zstd).unwrap();
    assert_eq!(Recording::read(&path).unwrap().call(0).body, Some(&b"second"[..]));
}
