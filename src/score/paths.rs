//! A cycle's `paths` column read as doubles, whatever engine produced it.
//!
//! In: the column as our files hold it (`fixed_size_list<fixed_size_list<float64|float32|
//! decimal>>`) or as other engines hand it over (Spark's `list<list<double>>`). Out: each row's
//! prices, path after path, as one slice of doubles, checked when asked for: whole paths of the
//! prompt's length, contiguous, no null price. Nothing is copied for a float64 leaf.

use arrow::array::{Array, ArrayRef, AsArray, FixedSizeListArray, ListArray};
use arrow::datatypes::{DataType, Float64Type};

/// Where path `k` of a `paths` column's items sits in the leaf (start, length), if not null.
type PathRange = Box<dyn Fn(usize) -> Option<(usize, usize)> + Send + Sync>;

/// A `paths` column read as doubles: the cycle files' fixed-size lists, or the plain lists other
/// engines turn them into (Spark). Each row is checked when it is asked for: its paths must be
/// whole (`points` prices each), contiguous and free of nulls.
pub struct Paths {
    leaf: ArrayRef,
    /// Each row's paths (first path, count), `None` for a null row.
    rows: Vec<Option<(usize, usize)>>,
    path: PathRange,
}

impl Paths {
    pub fn of(column: &ArrayRef) -> Result<Paths, String> {
        let (inner, rows): (ArrayRef, Vec<Option<(usize, usize)>>) = match column.data_type() {
            DataType::FixedSizeList(..) => {
                let outer: &FixedSizeListArray = column.as_fixed_size_list();
                let n = outer.value_length() as usize;
                let rows = (0..outer.len()).map(|r| outer.is_valid(r).then(|| (outer.value_offset_at(r), n))).collect();
                (outer.values().clone(), rows)
            }
            DataType::List(_) => {
                let outer: &ListArray = column.as_list::<i32>();
                let o = outer.value_offsets();
                let rows = (0..outer.len())
                    .map(|r| outer.is_valid(r).then(|| (o[r] as usize, (o[r + 1] - o[r]) as usize)))
                    .collect();
                (outer.values().clone(), rows)
            }
            other => return Err(format!("paths has type {other}, not a list of paths")),
        };
        let (leaf, path): (ArrayRef, PathRange) = match inner.data_type() {
            DataType::FixedSizeList(..) => {
                let l: FixedSizeListArray = inner.as_fixed_size_list().clone();
                let n = l.value_length() as usize;
                (l.values().clone(), Box::new(move |k| l.is_valid(k).then(|| (l.value_offset_at(k), n))))
            }
            DataType::List(_) => {
                let l: ListArray = inner.as_list::<i32>().clone();
                (
                    l.values().clone(),
                    Box::new(move |k| {
                        let o = l.value_offsets();
                        l.is_valid(k).then(|| (o[k] as usize, (o[k + 1] - o[k]) as usize))
                    }),
                )
            }
            other => return Err(format!("paths' items have type {other}, not lists of prices")),
        };
        let leaf = if leaf.data_type() == &DataType::Float64 {
            leaf
        } else {
            // float32 and decimal leaves widen exactly to the doubles the miner sent (the writer
            // checked every decimal reads back to its double).
            arrow::compute::cast(&leaf, &DataType::Float64).map_err(|e| format!("paths' prices: {e}"))?
        };
        Ok(Paths { leaf, rows, path })
    }

    /// Row `r`'s prices, path after path (`None` for a null row), checked to be whole paths of
    /// `points` prices, contiguous, without a null price.
    pub fn row(&self, r: usize, points: usize) -> Result<Option<&[f64]>, String> {
        let Some((first, n)) = self.rows[r] else { return Ok(None) };
        let mut at = None;
        for k in first..first + n {
            let (start, len) = (self.path)(k).ok_or_else(|| format!("row {r}: a path is null"))?;
            if len != points {
                return Err(format!("row {r}: a path of {len} prices, the prompt has {points}"));
            }
            let expected = at.map_or(start, |a| a + (k - first) * points);
            if start != expected {
                return Err(format!("row {r}: paths are not contiguous"));
            }
            at.get_or_insert(start);
        }
        let at = at.unwrap_or(0);
        let values = &self.leaf.as_primitive::<Float64Type>().values()[..];
        if self.leaf.null_count() > 0 && (at..at + n * points).any(|i| self.leaf.is_null(i)) {
            return Err(format!("row {r}: a price is null"));
        }
        values.get(at..at + n * points).map(Some).ok_or_else(|| format!("row {r}: paths out of range"))
    }
}
