//! The recording contract (`schemas/recording.md`): what a recording promises beyond being a
//! readable IPC file.
//!
//! In: the schema arrow-ipc parsed, then the record batches it decoded (both from `ipc.rs`).
//! Out: from the schema, the request and start time stored in its metadata and the projection that
//! puts the contract's columns in contract order; from the batches, the rows as a [`Recording`].
//! Or the [`RecordingError`] naming the broken promise: the metadata (version, request, start
//! time), a column's name, type or nullability, the row count, a row's uid and hotkey against the
//! request, a null where the contract forbids one, an unknown `error`, a non-finite `elapsed_ms`.
//!
//! The row checks are fused with building the rows: each value is checked as it is copied into the
//! [`Recording`]'s plain vectors; bodies and headers stay in the batches' arrays.

use arrow::array::{Array, AsArray, Float64Array, LargeBinaryArray, ListArray, RecordBatch, StructArray};
use arrow::datatypes::{DataType, Schema, UInt16Type};

use super::{HeaderCol, Recording};
use crate::call::CallError;
use crate::recording::{
    META_REQUEST, META_STARTED_AT, META_VERSION, RecordingError, VERSION, col, contract_fields, is_rfc3339_utc,
};
use crate::request::{CycleRequest, Rules};

/// `synth.recording.version`, `synth.request`, `synth.started_at`, in that order of importance.
pub(super) fn check_metadata(schema: &Schema, p: &str) -> Result<(CycleRequest, String), RecordingError> {
    let md = schema.metadata();
    match md.get(META_VERSION) {
        None => return Err(RecordingError::MissingVersion { path: p.to_owned() }),
        Some(v) if v != VERSION => {
            return Err(RecordingError::Version { path: p.to_owned(), found: v.clone() });
        }
        Some(_) => {}
    }
    let req = md.get(META_REQUEST).ok_or_else(|| RecordingError::MissingRequest { path: p.to_owned() })?;
    let request = parse_request(req).map_err(|reason| RecordingError::BadRequest { path: p.to_owned(), reason })?;
    let started_at = md.get(META_STARTED_AT).ok_or_else(|| RecordingError::MissingStartedAt { path: p.to_owned() })?;
    if !is_rfc3339_utc(started_at) {
        return Err(RecordingError::BadStartedAt { path: p.to_owned(), value: started_at.clone() });
    }
    Ok((request, started_at.clone()))
}

/// The request as stored, with the same checks as a request file (`CycleRequest::from_json`).
/// A recording without `rules` predates them: its cycle was judged by the v2 rules, so it replays
/// under v2 (a request file without `rules` means today's, v3).
fn parse_request(json: &str) -> Result<CycleRequest, String> {
    let mut request = CycleRequest::from_json(json.as_bytes()).map_err(|e| e.to_string())?;
    request.rules.get_or_insert(Rules::V2);
    Ok(request)
}

fn type_name(t: &DataType) -> String {
    match t {
        DataType::List(f) => format!("list<{}>", type_name(f.data_type())),
        DataType::Struct(fs) => format!(
            "struct<{}>",
            fs.iter().map(|f| format!("{}: {}", f.name(), type_name(f.data_type()))).collect::<Vec<_>>().join(", ")
        ),
        DataType::Utf8 => "utf8".into(),
        DataType::LargeUtf8 => "large_utf8".into(),
        DataType::Binary => "binary".into(),
        DataType::LargeBinary => "large_binary".into(),
        DataType::UInt16 => "uint16".into(),
        DataType::Float64 => "float64".into(),
        other => other.to_string().to_lowercase(),
    }
}

/// Every contract column must be there with its exact type; a not-null column must be declared
/// not null (a nullable declaration of a nullable column is not required: stricter is fine).
/// Inside `headers`, only the types are checked, not the nullability of the list item or the
/// struct members (pyarrow's defaults differ from ours); nulls there are rejected per row.
/// Returns the projection that puts the contract's columns in contract order.
pub(super) fn check_columns(schema: &Schema, p: &str) -> Result<Vec<usize>, RecordingError> {
    let mut projection = Vec::with_capacity(col::ALL.len());
    for (want, name) in contract_fields().iter().zip(col::ALL) {
        let expected = format!("{}{}", type_name(want.data_type()), if want.is_nullable() { "" } else { " not null" });
        let (idx, f) = schema.column_with_name(name).ok_or_else(|| RecordingError::MissingColumn {
            path: p.to_owned(),
            column: name,
            expected: expected.clone(),
        })?;
        let same_type = match (f.data_type(), want.data_type()) {
            (DataType::List(got), DataType::List(_)) => match got.data_type() {
                DataType::Struct(fs) => {
                    fs.len() == 2
                        && fs[0].name() == "name"
                        && fs[1].name() == "value"
                        && fs.iter().all(|f| f.data_type() == &DataType::Utf8)
                }
                _ => false,
            },
            (a, b) => a == b,
        };
        if !same_type {
            return Err(RecordingError::ColumnType {
                path: p.to_owned(),
                column: name,
                found: type_name(f.data_type()),
                expected,
            });
        }
        if f.is_nullable() && !want.is_nullable() {
            return Err(RecordingError::Nullable { path: p.to_owned(), column: name });
        }
        projection.push(idx);
    }
    Ok(projection)
}

/// The batches' rows, checked against the request and the contract, as a [`Recording`] (which
/// keeps each batch's body and headers arrays; `file_bytes` is only reported).
pub(super) fn rows_from_batches(
    request: CycleRequest,
    started_at: String,
    batches: &[RecordBatch],
    file_bytes: u64,
    p: &str,
) -> Result<Recording, RecordingError> {
    let n: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if n != request.axons.len() {
        return Err(RecordingError::RowCount { path: p.to_owned(), rows: n, axons: request.axons.len() });
    }
    let bad = |row: usize, what: String| RecordingError::BadRow { path: p.to_owned(), row, what };
    let mut rec = Recording {
        request,
        started_at,
        uid: Vec::with_capacity(n),
        hotkey: Vec::with_capacity(n),
        status: Vec::with_capacity(n),
        error: Vec::with_capacity(n),
        ttfb_ms: Vec::with_capacity(n),
        elapsed_ms: Vec::with_capacity(n),
        at: Vec::with_capacity(n),
        bodies: Vec::with_capacity(batches.len()),
        headers: Vec::with_capacity(batches.len()),
        body_bytes: 0,
        file_bytes,
    };
    for (b, batch) in batches.iter().enumerate() {
        // The projection put the columns in contract order and check_columns fixed their types,
        // so these casts cannot fail; `as_*` would panic if they did, and `ipc::guarded` would
        // catch that.
        let c = batch.columns();
        let uid = c[0].as_primitive::<UInt16Type>();
        let hotkey = c[1].as_string::<i32>();
        let status = c[2].as_primitive::<UInt16Type>();
        let error = c[3].as_string::<i32>();
        let ttfb: &Float64Array = c[4].as_primitive();
        let elapsed: &Float64Array = c[5].as_primitive();
        let headers: &ListArray = c[6].as_list();
        let body: &LargeBinaryArray = c[7].as_binary();
        check_not_null(
            &[(col::UID, uid as &dyn Array), (col::HOTKEY, hotkey), (col::ELAPSED_MS, elapsed)],
            rec.uid.len(),
            &bad,
        )?;
        let entries: &StructArray = headers.values().as_struct();
        let names = entries.column(0).as_string::<i32>().clone();
        let values = entries.column(1).as_string::<i32>().clone();
        for i in 0..batch.num_rows() {
            let row = rec.uid.len();
            let axon = &rec.request.axons[row];
            let (u, h) = (uid.value(i), hotkey.value(i));
            if u != axon.uid || h != axon.hotkey {
                return Err(bad(
                    row,
                    format!(
                        "uid {u} hotkey {h} but the request's axon {row} is uid {} hotkey {}",
                        axon.uid, axon.hotkey
                    ),
                ));
            }
            let err = if error.is_valid(i) {
                let s = error.value(i);
                Some(s.parse::<CallError>().map_err(|_| RecordingError::UnknownError {
                    path: p.to_owned(),
                    row,
                    value: s.to_owned(),
                })?)
            } else {
                None
            };
            if headers.is_valid(i) {
                let offs = headers.value_offsets();
                for j in offs[i] as usize..offs[i + 1] as usize {
                    if entries.is_null(j) || names.is_null(j) || values.is_null(j) {
                        return Err(bad(row, "a header entry, name or value is null".into()));
                    }
                }
            }
            let elapsed_ms = elapsed.value(i);
            if !elapsed_ms.is_finite() {
                return Err(bad(row, format!("elapsed_ms is {elapsed_ms}")));
            }
            rec.uid.push(u);
            rec.hotkey.push(h.to_owned());
            rec.status.push(status.is_valid(i).then(|| status.value(i)));
            rec.error.push(err);
            rec.ttfb_ms.push(ttfb.is_valid(i).then(|| ttfb.value(i)));
            rec.elapsed_ms.push(elapsed_ms);
            rec.at.push((b as u32, i as u32));
            if body.is_valid(i) {
                rec.body_bytes += body.value_length(i) as u64;
            }
        }
        rec.bodies.push(body.clone());
        rec.headers.push(HeaderCol { list: headers.clone(), names, values });
    }
    Ok(rec)
}

/// A column declared not null must hold no nulls (arrow checks this too; we say which column).
fn check_not_null(
    cols: &[(&'static str, &dyn Array)],
    first_row: usize,
    bad: &dyn Fn(usize, String) -> RecordingError,
) -> Result<(), RecordingError> {
    for (name, a) in cols {
        if a.null_count() > 0 {
            let i = (0..a.len()).find(|&i| a.is_null(i)).unwrap_or(0);
            return Err(bad(first_row + i, format!("{name} is null")));
        }
    }
    Ok(())
}
