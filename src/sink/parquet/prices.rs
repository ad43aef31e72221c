//! The `paths` column chunk, written through the low-level Parquet column writer: the compact
//! layout, PLAIN, codecs other than ZSTD/none, and page statistics. (The float64 and float32
//! layouts' BYTE_STREAM_SPLIT pages are built by hand in `pages.rs`, ≈ 1.5× less CPU.)
//!
//! In: a run of rows' price slots (`rows × paths × points` f64, row-major) and which rows are
//! CORRECT. Out: the values and levels written into the row group's `paths` column writer, whose
//! pages land directly in the row group's buffer (no intermediate chunk copy).
//!
//! The generic Arrow writer derives definition/repetition levels by walking the nested
//! `FixedSizeList<FixedSizeList<f64>>` (~7 ns per value on this machine). The structure is
//! perfectly regular, so the levels of one CORRECT row are a fixed template built once per file
//! ([`Levels`]) and every row reuses it; a null row is one `(def 0, rep 0)` entry.
//!
//! The compact layout stores `round(p × 10^scale)` as INT64 (DECIMAL(18, scale)); [`min_scale`]
//! picks the smallest scale at which every price round-trips bit for bit.

use parquet::column::writer::ColumnWriter;
use parquet::errors::ParquetError;
use parquet::schema::types::ColumnDescPtr;

/// How prices are stored in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriceLayout {
    /// DOUBLE, bit for bit.
    Float64,
    /// FLOAT: each price rounded to the nearest float32 (`p as f32`, ties to even).
    Float32,
    /// INT64 DECIMAL(18, scale): `price = value / 10^scale`, exact for every stored price.
    Decimal { scale: u8 },
}

impl PriceLayout {
    /// The price type's short name in the file's table name (`schemas/output.md`, "Files"):
    /// `f64`, `f32`, or `dec<scale>` for DECIMAL(18, scale).
    pub fn short_name(self) -> String {
        match self {
            PriceLayout::Float64 => "f64".to_owned(),
            PriceLayout::Float32 => "f32".to_owned(),
            PriceLayout::Decimal { scale } => format!("dec{scale}"),
        }
    }

    /// The value of the file's `synth.prices.encoding` key: `float64`, `float32` or
    /// `decimal(18,<scale>)`.
    pub fn encoding_name(self) -> String {
        match self {
            PriceLayout::Float64 => "float64".to_owned(),
            PriceLayout::Float32 => "float32".to_owned(),
            PriceLayout::Decimal { scale } => format!("decimal(18,{scale})"),
        }
    }
}

/// Largest decimal scale the compact layout tries (DECIMAL(18, s) needs `s ≤ 18`).
pub const MAX_SCALE: u8 = 18;

const POW10: [f64; 19] =
    [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18];

/// Largest magnitude of a scaled price: below 2^53 the integer is exact as f64, so
/// `(m as f64) / 10^s` is one correctly rounded division (10^s ≤ 10^22 is exact too), which is
/// what Arrow's decimal → float64 cast computes.
const MAX_MANTISSA: f64 = 9_007_199_254_740_992.0; // 2^53

/// `p` as an integer at `scale`, if `m / 10^scale` gives back exactly `p` (same bits).
#[inline(always)]
pub fn to_scaled(p: f64, scale: u8) -> Option<i64> {
    let pow = POW10[scale as usize];
    let m = (p * pow).round();
    if m.is_nan() || m.abs() >= MAX_MANTISSA {
        return None;
    }
    let m = m as i64;
    ((m as f64 / pow).to_bits() == p.to_bits()).then_some(m)
}

/// The smallest scale ≥ `from` at which every value of `values` is exactly representable, or
/// the index of the first value that no scale ≤ [`MAX_SCALE`] represents.
pub fn min_scale(values: &[f64], from: u8) -> Result<u8, usize> {
    let mut s = from;
    for (i, &p) in values.iter().enumerate() {
        while to_scaled(p, s).is_none() {
            if s == MAX_SCALE {
                return Err(i);
            }
            s += 1;
        }
    }
    Ok(s)
}

/// The definition and repetition levels of one non-null row (one CORRECT miner), built once.
#[derive(Debug)]
pub struct Levels {
    def: Vec<i16>,
    rep: Vec<i16>,
    null_def: Vec<i16>,
}

impl Levels {
    /// Levels for `paths × points` values of the leaf described by `desc` (max rep level 2:
    /// a value starting a row has rep 0, one starting a path rep 1, any other rep 2).
    pub fn new(desc: &ColumnDescPtr, paths: usize, points: usize) -> Levels {
        let max_def = desc.max_def_level();
        let max_rep = desc.max_rep_level();
        debug_assert_eq!(max_rep, 2);
        let mut rep = vec![max_rep; paths * points];
        for p in 0..paths {
            if let Some(r) = rep.get_mut(p * points) {
                *r = max_rep - 1;
            }
        }
        if let Some(r) = rep.first_mut() {
            *r = 0;
        }
        Levels { def: vec![max_def; paths * points], rep, null_def: Vec::new() }
    }

    /// Prices per CORRECT row (`paths × points`).
    pub fn slot_len(&self) -> usize {
        self.def.len()
    }

    fn nulls(&mut self, n: usize) -> &[i16] {
        if self.null_def.len() < n {
            self.null_def.resize(n, 0);
        }
        &self.null_def[..n]
    }
}

/// Why a row's prices could not be stored.
#[derive(Debug)]
pub enum EncodeError {
    Parquet(ParquetError),
    /// Row `row` (relative to the chunk), value `index` of its slot is not exact at `scale`.
    NotRepresentable {
        row: usize,
        index: usize,
        value: f64,
        scale: u8,
    },
}

impl From<ParquetError> for EncodeError {
    fn from(e: ParquetError) -> Self {
        EncodeError::Parquet(e)
    }
}

/// Writes one `paths` column chunk's values into `writer` (the row group's `paths` column, whose
/// pages go straight into the row group's buffer). `values` holds `valid.len()` slots of `slot`
/// prices each; a row is written as its slot when `valid[row]`, as a null otherwise. The caller
/// closes the writer.
pub fn write_paths(
    writer: &mut ColumnWriter<'_>,
    layout: PriceLayout,
    levels: &Levels,
    values: &[f64],
    valid: &[bool],
) -> Result<(), EncodeError> {
    let slot = levels.def.len();
    debug_assert_eq!(values.len(), slot * valid.len());
    let correct = valid.iter().any(|&v| v);
    let mut nulls = Levels { def: Vec::new(), rep: Vec::new(), null_def: Vec::new() };
    match (writer, layout) {
        (ColumnWriter::DoubleColumnWriter(w), PriceLayout::Float64) => for_each_run(valid, |start, len, ok| {
            if ok {
                for r in start..start + len {
                    w.write_batch(&values[r * slot..(r + 1) * slot], Some(&levels.def), Some(&levels.rep))?;
                }
            } else {
                let z = nulls.nulls(len);
                w.write_batch(&[], Some(z), Some(z))?;
            }
            Ok::<(), EncodeError>(())
        }),
        (ColumnWriter::FloatColumnWriter(w), PriceLayout::Float32) => {
            let mut floats = vec![0f32; if correct { slot } else { 0 }];
            for_each_run(valid, |start, len, ok| {
                if ok {
                    for r in start..start + len {
                        for (o, &p) in floats.iter_mut().zip(&values[r * slot..(r + 1) * slot]) {
                            *o = p as f32;
                        }
                        w.write_batch(&floats, Some(&levels.def), Some(&levels.rep))?;
                    }
                } else {
                    let z = nulls.nulls(len);
                    w.write_batch(&[], Some(z), Some(z))?;
                }
                Ok::<(), EncodeError>(())
            })
        }
        (ColumnWriter::Int64ColumnWriter(w), PriceLayout::Decimal { scale }) => {
            let mut ints = vec![0i64; if correct { slot } else { 0 }];
            for_each_run(valid, |start, len, ok| {
                if ok {
                    for r in start..start + len {
                        let row = &values[r * slot..(r + 1) * slot];
                        let mut bad = None;
                        for (i, (o, &p)) in ints.iter_mut().zip(row).enumerate() {
                            match to_scaled(p, scale) {
                                Some(m) => *o = m,
                                None => {
                                    bad = Some(i);
                                    break;
                                }
                            }
                        }
                        if let Some(index) = bad {
                            return Err(EncodeError::NotRepresentable { row: r, index, value: row[index], scale });
                        }
                        w.write_batch(&ints, Some(&levels.def), Some(&levels.rep))?;
                    }
                } else {
                    let z = nulls.nulls(len);
                    w.write_batch(&[], Some(z), Some(z))?;
                }
                Ok::<(), EncodeError>(())
            })
        }
        (w, layout) => Err(EncodeError::Parquet(ParquetError::General(format!(
            "paths leaf is {:?}, which does not match the price layout {layout:?}",
            w_type(w)
        )))),
    }
}

fn w_type(w: &ColumnWriter<'_>) -> &'static str {
    match w {
        ColumnWriter::DoubleColumnWriter(_) => "DOUBLE",
        ColumnWriter::FloatColumnWriter(_) => "FLOAT",
        ColumnWriter::Int64ColumnWriter(_) => "INT64",
        _ => "another physical type",
    }
}

/// Calls `f(start, len, valid)` for each maximal run of equal validity.
fn for_each_run<E>(valid: &[bool], mut f: impl FnMut(usize, usize, bool) -> Result<(), E>) -> Result<(), E> {
    let mut start = 0;
    while start < valid.len() {
        let v = valid[start];
        let len = valid[start..].iter().take_while(|&&x| x == v).count();
        f(start, len, v)?;
        start += len;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_is_the_smallest_exact_one() {
        assert_eq!(min_scale(&[91234.56, 91234.5], 0), Ok(2));
        assert_eq!(min_scale(&[91234.567, 1.0], 0), Ok(3));
        assert_eq!(min_scale(&[100.0, 2.0], 0), Ok(0));
        assert_eq!(min_scale(&[0.1], 0), Ok(1));
        assert_eq!(min_scale(&[1.0], 4), Ok(4));
        assert_eq!(min_scale(&[1.000000000000001], 0), Ok(15));
        // 0.1 + 0.2 = 0.30000000000000004: 17 digits, 3·10^16 > 2^53.
        assert_eq!(min_scale(&[0.1 + 0.2], 0), Err(0));
        // Too many digits for 2^53 at any scale, and non-finite values.
        assert_eq!(min_scale(&[1.0, 91234.56789012345], 0), Err(1));
        assert_eq!(min_scale(&[f64::NAN], 0), Err(0));
        assert_eq!(min_scale(&[f64::INFINITY], 0), Err(0));
        // -0.0 would come back as +0.0.
        assert_eq!(min_scale(&[-0.0], 0), Err(0));
    }

    #[test]
    fn scaled_values_decode_to_the_same_bits() {
        let mut x = 12345.678f64;
        for _ in 0..10_000 {
            x = (x * 1.000_37 * 1e3).round() / 1e3;
            let m = to_scaled(x, 3).expect("3 decimals");
            assert_eq!((m as f64 / 1e3).to_bits(), x.to_bits());
        }
    }
}
