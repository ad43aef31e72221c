//! Every way a recording can be wrong gives one clear line, and no bad file makes the reader panic.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Array, Int32Array, LargeBinaryArray, ListArray, StringArray, StructArray, UInt16Array,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, Fields, Schema};
use arrow::ipc::writer::FileWriter;
use arrow::record_batch::RecordBatch;

use synth_forward::recording::{self, Compression, RecordedCall, Recording, RecordingError};
use synth_forward::request::{Axon, CycleRequest, Protocol, SimulationInput};

const STARTED_AT: &str = "2026-11-24T12:00:00.250Z";

fn request() -> CycleRequest {
    CycleRequest {
        simulation_input: SimulationInput {
            asset: "BTC".into(),
            start_time: "2026-11-24T12:01:00+00:00".into(),
            time_increment: 60,
            time_length: 3600,
            num_simulations: 100,
        },
        timeout_s: 60.0,
        protocol: Protocol::Synapse,
        axons: vec![
            Axon { uid: 5, ip: "127.0.0.1".into(), port: 9005, hotkey: "5Five".into() },
            Axon { uid: 2, ip: "127.0.0.1".into(), port: 9002, hotkey: "5Two".into() },
        ],
        rules: None,
        request_time: None,
    }
}

/// The contract's columns for the two rows of [`request`], built by hand so tests can bend them.
struct Cols {
    fields: Vec<Field>,
    arrays: Vec<ArrayRef>,
}

fn good_cols() -> Cols {
    let entry =
        Fields::from(vec![Field::new("name", DataType::Utf8, false), Field::new("value", DataType::Utf8, false)]);
    let item = Arc::new(Field::new("item", DataType::Struct(entry.clone()), false));
    let entries = StructArray::new(
        entry,
        vec![Arc::new(StringArray::from(vec!["content-length"])) as ArrayRef, Arc::new(StringArray::from(vec!["2"]))],
        None,
    );
    let headers = ListArray::new(
        item.clone(),
        OffsetBuffer::new(vec![0, 1, 1].into()),
        Arc::new(entries),
        Some(vec![true, false].into()),
    );
    Cols {
        fields: vec![
            Field::new("uid", DataType::UInt16, false),
            Field::new("hotkey", DataType::Utf8, false),
            Field::new("status", DataType::UInt16, true),
            Field::new("error", DataType::Utf8, true),
            Field::new("ttfb_ms", DataType::Float64, true),
            Field::new("elapsed_ms", DataType::Float64, false),
            Field::new("headers", DataType::List(item), true),
            Field::new("body", DataType::LargeBinary, true),
        ],
        arrays: vec![
            Arc::new(UInt16Array::from(vec![5, 2])),
            Arc::new(StringArray::from(vec!["5Five", "5Two"])),
            Arc::new(UInt16Array::from(vec![Some(200), None])),
            Arc::new(StringArray::from(vec![None, Some("timeout")])),
            Arc::new(Float64Array::from(vec![Some(10.0), None])),
            Arc::new(Float64Array::from(vec![12.0, 60_001.0])),
            Arc::new(headers),
            Arc::new(LargeBinaryArray::from(vec![Some(&b"{}"[..]), None])),
        ],
    }
}

fn good_meta() -> HashMap<String, String> {
    HashMap::from([
        ("synth.recording.version".to_owned(), "1".to_owned()),
        ("synth.request".to_owned(), request().to_json()),
        ("synth.started_at".to_owned(), STARTED_AT.to_owned()),
    ])
}

fn write_raw(dir: &Path, name: &str, cols: Cols, meta: HashMap<String, String>) -> PathBuf {
    let path = dir.join(name);
    let schema = Arc::new(Schema::new_with_metadata(cols.fields, meta));
    let batch = RecordBatch::try_new(schema.clone(), cols.arrays).unwrap();
    let mut w = FileWriter::try_new(std::fs::File::create(&path).unwrap(), &schema).unwrap();
    w.write(&batch).unwrap();
    w.finish().unwrap();
    path
}

fn read_err(path: &Path) -> (RecordingError, String) {
    let e = Recording::read(path).expect_err("a bad recording must not read");
    let msg = e.to_string();
    assert!(!msg.contains('\n'), "one line: {msg}");
    (e, msg)
}

#[test]
fn the_hand_built_file_is_good() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_raw(dir.path(), "good.arrow", good_cols(), good_meta());
    let rec = Recording::read(&p).unwrap();
    assert_eq!(rec.rows(), 2);
    assert_eq!(rec.call(0).body, Some(&b"{}"[..]));
    assert_eq!(rec.headers(0), Some(vec![("content-length", "2")]));
}

#[test]
fn missing_file() {
    let (e, msg) = read_err(Path::new("/nonexistent/dir/x.cycle.arrow"));
    assert!(matches!(e, RecordingError::NotFound { .. }), "{msg}");
    assert_eq!(msg, "recording /nonexistent/dir/x.cycle.arrow: file not found");
}

#[test]
fn not_an_arrow_file() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        ("empty", &b""[..]),
        ("text", &b"{\"this is\": \"json, not arrow\"}\n"[..]),
        ("magic-only", &b"ARROW1\0\0ARROW1"[..]),
        ("magic-and-junk", &b"ARROW1\0\0xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\xff\xff\xff\x7fARROW1"[..]),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let (e, msg) = read_err(&p);
        assert!(matches!(e, RecordingError::NotArrow { .. }), "{name}: {msg}");
        assert!(msg.contains("not an Arrow IPC file"), "{msg}");
    }
    // A directory is not a file either.
    let (e, _) = read_err(dir.path());
    assert!(matches!(e, RecordingError::NotArrow { .. }));
}

#[test]
fn an_arrow_stream_is_not_a_recording() {
    let dir = tempfile::tempdir().unwrap();
    let cols = good_cols();
    let schema = Arc::new(Schema::new_with_metadata(cols.fields, good_meta()));
    let batch = RecordBatch::try_new(schema.clone(), cols.arrays).unwrap();
    let p = dir.path().join("stream.arrows");
    let mut w = arrow::ipc::writer::StreamWriter::try_new(std::fs::File::create(&p).unwrap(), &schema).unwrap();
    w.write(&batch).unwrap();
    w.finish().unwrap();
    let (e, _) = read_err(&p);
    assert!(matches!(e, RecordingError::NotArrow { .. }));
}

#[test]
fn version() {
    let dir = tempfile::tempdir().unwrap();
    let mut meta = good_meta();
    meta.remove("synth.recording.version");
    let (e, msg) = read_err(&write_raw(dir.path(), "a", good_cols(), meta));
    assert!(matches!(e, RecordingError::MissingVersion { .. }), "{msg}");
    assert!(msg.ends_with("schema metadata has no synth.recording.version, this build reads 1"), "{msg}");

    let mut meta = good_meta();
    meta.insert("synth.recording.version".into(), "2".into());
    let (e, msg) = read_err(&write_raw(dir.path(), "b", good_cols(), meta));
    assert!(matches!(e, RecordingError::Version { .. }), "{msg}");
    assert!(msg.ends_with("unsupported recording version 2, this build reads 1"), "{msg}");
}

#[test]
fn request_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let mut meta = good_meta();
    meta.remove("synth.request");
    let (e, msg) = read_err(&write_raw(dir.path(), "a", good_cols(), meta));
    assert!(matches!(e, RecordingError::MissingRequest { .. }), "{msg}");

    let req = request().to_json();
    let bad_protocol = req.replace("\"synapse\"", "\"grpc\"");
    let dup = {
        let mut r = request();
        r.axons[1].uid = 5;
        r.to_json()
    };
    let zero_inc = req.replace("\"time_increment\":60", "\"time_increment\":0");
    for (i, bad) in ["", "{", "[]", "{\"axons\": []}", &bad_protocol, &dup, &zero_inc].into_iter().enumerate() {
        let mut meta = good_meta();
        meta.insert("synth.request".into(), bad.to_owned());
        let (e, msg) = read_err(&write_raw(dir.path(), &format!("b{i}"), good_cols(), meta));
        assert!(matches!(e, RecordingError::BadRequest { .. }), "{bad}: {msg}");
        assert!(msg.contains("synth.request is not a valid cycle request"), "{msg}");
    }
}

#[test]
fn started_at_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let mut meta = good_meta();
    meta.remove("synth.started_at");
    let (e, _) = read_err(&write_raw(dir.path(), "a", good_cols(), meta));
    assert!(matches!(e, RecordingError::MissingStartedAt { .. }));
    for (i, bad) in ["", "yesterday", "2026-11-24 12:00:00", "2026-11-24T12:00:00+02:00"].into_iter().enumerate() {
        let mut meta = good_meta();
        meta.insert("synth.started_at".into(), bad.into());
        let (e, msg) = read_err(&write_raw(dir.path(), &format!("b{i}"), good_cols(), meta));
        assert!(matches!(e, RecordingError::BadStartedAt { .. }), "{bad}: {msg}");
    }
    // `Z` and `+00:00` are both UTC.
    let mut meta = good_meta();
    meta.insert("synth.started_at".into(), "2026-11-24T12:00:00+00:00".into());
    Recording::read(&write_raw(dir.path(), "c", good_cols(), meta)).unwrap();
}

#[test]
fn missing_column() {
    let dir = tempfile::tempdir().unwrap();
    for (i, name) in
        ["uid", "hotkey", "status", "error", "ttfb_ms", "elapsed_ms", "headers", "body"].into_iter().enumerate()
    {
        let mut cols = good_cols();
        cols.fields.remove(i);
        cols.arrays.remove(i);
        let (e, msg) = read_err(&write_raw(dir.path(), name, cols, good_meta()));
        assert!(matches!(e, RecordingError::MissingColumn { .. }), "{msg}");
        assert!(msg.contains(&format!("missing column {name} (")), "{msg}");
    }
}

#[test]
fn extra_columns_and_any_order_are_fine() {
    let dir = tempfile::tempdir().unwrap();
    let mut cols = good_cols();
    cols.fields.reverse();
    cols.arrays.reverse();
    cols.fields.insert(3, Field::new("note", DataType::Int32, true));
    cols.arrays.insert(3, Arc::new(Int32Array::from(vec![1, 2])));
    let rec = Recording::read(&write_raw(dir.path(), "x", cols, good_meta())).unwrap();
    assert_eq!(rec.uid(1), 2);
    assert_eq!(rec.call(1).error, Some(synth_forward::call::CallError::Timeout));
}

#[test]
fn wrong_type() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(usize, Field, ArrayRef, &str)> = vec![
        (
            2,
            Field::new("status", DataType::Int32, true),
            Arc::new(Int32Array::from(vec![Some(200), None])),
            "column status is int32, expected uint16",
        ),
        (
            1,
            Field::new("hotkey", DataType::LargeUtf8, false),
            Arc::new(arrow::array::LargeStringArray::from(vec!["5Five", "5Two"])),
            "column hotkey is large_utf8, expected utf8 not null",
        ),
        (
            7,
            Field::new("body", DataType::Binary, true),
            Arc::new(arrow::array::BinaryArray::from(vec![Some(&b"{}"[..]), None])),
            "column body is binary, expected large_binary",
        ),
        (
            6,
            Field::new("headers", DataType::Utf8, true),
            Arc::new(StringArray::from(vec![Some("a: b"), None])),
            "column headers is utf8, expected list<struct<name: utf8, value: utf8>>",
        ),
    ];
    for (i, (idx, field, array, want)) in cases.into_iter().enumerate() {
        let mut cols = good_cols();
        cols.fields[idx] = field;
        cols.arrays[idx] = array;
        let (e, msg) = read_err(&write_raw(dir.path(), &format!("t{i}"), cols, good_meta()));
        assert!(matches!(e, RecordingError::ColumnType { .. }), "{msg}");
        assert!(msg.ends_with(want), "{msg}");
    }
}

#[test]
fn wrong_nullability() {
    let dir = tempfile::tempdir().unwrap();
    for (idx, name) in [(0, "uid"), (1, "hotkey"), (5, "elapsed_ms")] {
        let mut cols = good_cols();
        cols.fields[idx] = cols.fields[idx].clone().with_nullable(true);
        let (e, msg) = read_err(&write_raw(dir.path(), name, cols, good_meta()));
        assert!(matches!(e, RecordingError::Nullable { .. }), "{msg}");
        assert!(msg.ends_with(&format!("column {name} is nullable, expected not null")), "{msg}");
    }
    // Declaring a nullable column not null is stricter than needed, and fine.
    let mut cols = good_cols();
    cols.fields[7] = cols.fields[7].clone().with_nullable(false);
    cols.arrays[7] = Arc::new(LargeBinaryArray::from(vec![&b"{}"[..], b""]));
    Recording::read(&write_raw(dir.path(), "stricter", cols, good_meta())).unwrap();
}

#[test]
fn unknown_error_value() {
    let dir = tempfile::tempdir().unwrap();
    for (i, bad) in ["boom", "Timeout", "", "time_out"].into_iter().enumerate() {
        let mut cols = good_cols();
        cols.arrays[3] = Arc::new(StringArray::from(vec![None, Some(bad)]));
        let (e, msg) = read_err(&write_raw(dir.path(), &format!("e{i}"), cols, good_meta()));
        assert!(matches!(e, RecordingError::UnknownError { row: 1, .. }), "{msg}");
        assert!(
            msg.ends_with(&format!(
                "row 1: error {bad:?} is not one of timeout, connect, reset, too_large, protocol, cancelled"
            )),
            "{msg}"
        );
    }
}

#[test]
fn rows_must_match_the_request() {
    let dir = tempfile::tempdir().unwrap();
    // Rows in another order than the request's axons.
    let mut cols = good_cols();
    cols.arrays[0] = Arc::new(UInt16Array::from(vec![2, 5]));
    let (e, msg) = read_err(&write_raw(dir.path(), "order", cols, good_meta()));
    assert!(matches!(e, RecordingError::BadRow { row: 0, .. }), "{msg}");
    // One axon more in the request than rows in the file.
    let mut meta = good_meta();
    let mut req = request();
    req.axons.push(Axon { uid: 9, ip: "127.0.0.1".into(), port: 9009, hotkey: "5Nine".into() });
    meta.insert("synth.request".into(), req.to_json());
    let (e, msg) = read_err(&write_raw(dir.path(), "count", good_cols(), meta));
    assert!(matches!(e, RecordingError::RowCount { rows: 2, axons: 3, .. }), "{msg}");
}

#[test]
fn null_header_entries_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let entry = Fields::from(vec![Field::new("name", DataType::Utf8, true), Field::new("value", DataType::Utf8, true)]);
    let item = Arc::new(Field::new("item", DataType::Struct(entry.clone()), true));
    let entries = StructArray::new(
        entry,
        vec![
            Arc::new(StringArray::from(vec![Some("content-length")])) as ArrayRef,
            Arc::new(StringArray::from(vec![None::<&str>])),
        ],
        None,
    );
    let mut cols = good_cols();
    cols.fields[6] = Field::new("headers", DataType::List(item.clone()), true);
    cols.arrays[6] = Arc::new(ListArray::new(item, OffsetBuffer::new(vec![0, 1, 1].into()), Arc::new(entries), None));
    let (e, msg) = read_err(&write_raw(dir.path(), "h", cols, good_meta()));
    assert!(matches!(e, RecordingError::BadRow { row: 0, .. }), "{msg}");
}

/// Truncations and byte flips anywhere in a real recording give an error or (rarely, where the
/// damage lands in a body) a recording, never a panic or an abort.
#[test]
fn damaged_files_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let req = request();
    let calls: Vec<RecordedCall> = req
        .axons
        .iter()
        .map(|a| RecordedCall {
            uid: a.uid,
            hotkey: a.hotkey.clone(),
            status: Some(200),
            error: None,
            ttfb_ms: Some(1.0),
            elapsed_ms: 2.0,
            headers: Some(vec![("content-type".into(), "application/json".into())]),
            body: Some(b"[91234.56,91230.271]".repeat(40)),
        })
        .collect();
    let mut caught = 0;
    for compression in [Compression::None, Compression::Zstd] {
        let good = dir.path().join("good.arrow");
        recording::write(&good, &req, STARTED_AT, &calls, compression).unwrap();
        let bytes = std::fs::read(&good).unwrap();
        let bad = dir.path().join("bad.arrow");
        for cut in (0..bytes.len()).step_by(7) {
            std::fs::write(&bad, &bytes[..cut]).unwrap();
            assert!(Recording::read(&bad).is_err(), "truncated at {cut}");
        }
        let mut x: u64 = 0x9E3779B97F4A7C15;
        for _ in 0..3000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut b = bytes.clone();
            let at = (x % b.len() as u64) as usize;
            b[at] ^= 1 << ((x >> 32) % 8);
            std::fs::write(&bad, &b).unwrap();
            if let Err(RecordingError::Decode { reason, .. }) = Recording::read(&bad) {
                caught += usize::from(reason.starts_with("arrow-ipc panicked"));
            }
        }
    }
    eprintln!("decoder panics caught: {caught}");
}
