//! Scoring rows already in Arrow (what `synth_forward.score_arrow` runs under Spark): the same
//! numbers as scoring the cycle file, whatever the batch looks like: Spark's types (int32 uids,
//! plain strings, `list<list<double>>` paths), rows shuffled, a cycle split over batches and put
//! together again by `normalise`, a cycle the prices do not settle, a malformed row.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::{cast, concat_batches, take_record_batch};
use arrow::datatypes::{DataType, Field, Float64Type, Schema};
use synth_forward::prices::{RealPrices, Series};
use synth_forward::score::cycle::CycleFile;
use synth_forward::score::prompt::Normalisation;
use synth_forward::score::rows::{UNSCORABLE, normalise, score_rows};
use synth_forward::source::replay::ReplayOptions;
use synth_forward::{Engine, ParquetOptions, ParquetSink};

const START: i64 = synth_forward::fixture::START_UNIX;

fn prices(until: i64) -> RealPrices {
    let mut p = 91_234.56f64;
    let mut s = Series::default();
    for k in 0..=((until - START) / 60) {
        s.timestamps.push(START + 60 * k);
        s.prices.push((p * 100.0).round() / 100.0);
        p *= 1.0 + ((k * 7919 % 13) as f64 - 6.0) * 1e-4;
    }
    RealPrices::from_series([("BTC".to_owned(), s)])
}

/// The committed small cycle as a Parquet file, and its rows read back.
fn small_cycle(dir: &std::path::Path) -> (std::path::PathBuf, RecordBatch) {
    let engine = Engine::new().unwrap();
    let sink = ParquetSink::new(dir, ParquetOptions::default());
    let sink: Box<dyn synth_forward::Sink> = Box::new(sink);
    engine.replay(std::path::Path::new("fixtures/small.cycle.arrow"), vec![sink], &ReplayOptions::default()).unwrap();
    let file = walk(dir).into_iter().find(|p| p.extension().is_some_and(|e| e == "parquet")).unwrap();
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).unwrap())
            .unwrap()
            .build()
            .unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    let batch = concat_batches(&batches[0].schema(), &batches).unwrap();
    (file, batch)
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

/// The batch as Spark hands it to `mapInArrow`: int32 uids, plain strings, plain lists.
fn as_spark(batch: &RecordBatch) -> RecordBatch {
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
        let to = match f.name().as_str() {
            "uid" => DataType::Int32,
            "format_validation" | "hotkey" => DataType::Utf8,
            "paths" => {
                let inner = DataType::List(Arc::new(Field::new("element", DataType::Float64, true)));
                DataType::List(Arc::new(Field::new("element", inner, true)))
            }
            _ => f.data_type().clone(),
        };
        columns.push(cast(c, &to).unwrap());
        fields.push(Field::new(f.name(), to, true));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

/// Every column but the ones named, as comparable rows.
fn same_scores(a: &RecordBatch, b: &RecordBatch) {
    assert_eq!(a.num_rows(), b.num_rows());
    for name in [
        "uid",
        "hotkey",
        "total_crps",
        "prompt_score",
        "score_capped",
        "percentile95",
        "lowest_score",
        "crps_data",
        "error",
    ] {
        let (x, y) = (a.column_by_name(name).unwrap(), b.column_by_name(name).unwrap());
        assert_eq!(x.to_data(), y.to_data(), "column {name}");
    }
}

#[test]
fn rows_score_as_the_file_does() {
    let tmp = tempfile::tempdir().unwrap();
    let (file, batch) = small_cycle(tmp.path());
    let real = prices(START + 3600 + 120);
    let form = Normalisation::MedianCapP95Fill;
    let from_file = CycleFile::open(&file).unwrap().score(&real, form).unwrap();
    let scored = from_file.column_by_name("total_crps").unwrap().as_primitive::<Float64Type>();
    assert!(scored.values().iter().filter(|&&v| v != -1.0).count() >= 5);

    // Our own types, the asset given.
    let whole = score_rows(&batch, &real, Some("BTC"), form, true).unwrap();
    same_scores(&whole, &from_file);
    assert!(whole.column_by_name("asset").unwrap().as_string::<i32>().iter().all(|a| a == Some("BTC")));

    // Spark's types, rows reversed, the cycle split over two batches, then normalised together.
    let spark = as_spark(&batch);
    let n = spark.num_rows();
    let reversed =
        take_record_batch(&spark, &arrow::array::UInt32Array::from_iter_values((0..n as u32).rev())).unwrap();
    let (a, b) = (reversed.slice(0, n / 2), reversed.slice(n / 2, n - n / 2));
    let part_a = score_rows(&a, &real, Some("BTC"), form, false).unwrap();
    assert_eq!(
        part_a.column_by_name("prompt_score").unwrap().null_count(),
        part_a.num_rows(),
        "no prompt score from a part"
    );
    let part_b = score_rows(&b, &real, Some("BTC"), form, false).unwrap();
    let parts = concat_batches(&part_a.schema(), &[part_b, part_a]).unwrap();
    same_scores(&normalise(&parts, form).unwrap(), &from_file);

    // The older normalisation, both ways.
    let p90 = CycleFile::open(&file).unwrap().score(&real, Normalisation::P90Cap).unwrap();
    same_scores(&score_rows(&spark, &real, Some("BTC"), Normalisation::P90Cap, true).unwrap(), &p90);
}

#[test]
fn unsettled_cycles_and_bad_rows_cost_only_themselves() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, batch) = small_cycle(tmp.path());
    let form = Normalisation::MedianCapP95Fill;
    // Prices stop before the last grid time: every row says why, none has a prompt score.
    let out = score_rows(&batch, &prices(START + 1800), Some("BTC"), form, true).unwrap();
    let error = out.column_by_name("error").unwrap().as_string::<i32>();
    assert!(error.iter().all(|e| e.is_some_and(|e| e.starts_with(UNSCORABLE) && e.contains("last grid time"))));
    assert_eq!(out.column_by_name("prompt_score").unwrap().null_count(), out.num_rows());
    let normalised = normalise(&out, form).unwrap();
    assert_eq!(normalised.column_by_name("prompt_score").unwrap().null_count(), out.num_rows());

    // The cycle twice in one batch: its field would double, so it is not scored, and says why.
    let twice = concat_batches(&batch.schema(), &[batch.clone(), batch.clone()]).unwrap();
    let out = score_rows(&twice, &prices(START + 3700), Some("BTC"), form, true).unwrap();
    let error = out.column_by_name("error").unwrap().as_string::<i32>();
    assert_eq!(out.num_rows(), 2 * batch.num_rows());
    assert!(error.iter().all(|e| e.is_some_and(|e| e.starts_with(UNSCORABLE) && e.contains("more than once"))));

    // A CORRECT row whose paths are one price short (as another engine might hand it over).
    let spark = as_spark(&batch);
    let verdict = spark.column_by_name("format_validation").unwrap().as_string::<i32>();
    let r = (0..spark.num_rows()).find(|&r| verdict.value(r) == "CORRECT").unwrap();
    let paths = spark.column_by_name("paths").unwrap().as_list::<i32>();
    let rows: Vec<ArrayRef> = (0..spark.num_rows())
        .map(|i| {
            let row = paths.value(i);
            if i != r {
                return row;
            }
            let paths = row.as_list::<i32>();
            let short: Vec<Option<Vec<Option<f64>>>> = (0..paths.len())
                .map(|k| {
                    let p = paths.value(k);
                    let p = p.as_primitive::<Float64Type>();
                    Some(p.values()[..p.len() - usize::from(k == 3)].iter().map(|&v| Some(v)).collect())
                })
                .collect();
            let short = arrow::array::ListArray::from_iter_primitive::<Float64Type, _, _>(short);
            cast(&short, row.data_type()).unwrap()
        })
        .collect();
    let refs: Vec<&dyn Array> = rows.iter().map(|a| a.as_ref()).collect();
    let values = arrow::compute::concat(&refs).unwrap();
    let mut offsets = vec![0i32];
    for a in &rows {
        offsets.push(offsets.last().unwrap() + a.len() as i32);
    }
    let broken = arrow::array::ListArray::new(
        Arc::new(Field::new("element", values.data_type().clone(), true)),
        arrow::buffer::OffsetBuffer::new(offsets.into()),
        values,
        paths.nulls().cloned(),
    );
    let i = spark.schema().index_of("paths").unwrap();
    let mut columns = spark.columns().to_vec();
    columns[i] = Arc::new(broken);
    let mut fields: Vec<Field> = spark.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields[i] = Field::new("paths", columns[i].data_type().clone(), true);
    let bad = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    let out = score_rows(&bad, &prices(START + 3700), Some("BTC"), form, true).unwrap();
    let error = out.column_by_name("error").unwrap().as_string::<i32>();
    let uid = spark.column_by_name("uid").unwrap().as_primitive::<arrow::datatypes::Int32Type>().value(r);
    let at = out
        .column_by_name("uid")
        .unwrap()
        .as_primitive::<arrow::datatypes::UInt16Type>()
        .values()
        .iter()
        .position(|&u| i32::from(u) == uid)
        .unwrap();
    assert!(error.value(at).contains("a path of 60 prices, the prompt has 61"), "{:?}", error.value(at));
    let total = out.column_by_name("total_crps").unwrap().as_primitive::<Float64Type>();
    assert_eq!(total.value(at), -1.0);
    assert!(total.values().iter().filter(|&&v| v != -1.0).count() >= 4, "the other miners are scored");
}
