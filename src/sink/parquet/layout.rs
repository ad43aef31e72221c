//! Which layout a file's prices take, and how a whole batch is cut into row groups.
//!
//! In: a cycle's batch (compact mode needs every price before the first group). Out: the
//! [`PriceLayout`] (float64, float32, or the smallest exact decimal scale) and the row-group ranges of a
//! one-shot write.

use std::ops::Range;

use arrow::array::{Array, AsArray, RecordBatch};
use rayon::prelude::*;

use super::prices::{self, PriceLayout};
use super::writer::{leaf_values, uid_at};
use super::{PriceEncoding, SinkError};

/// The compact layout's scale for these rows, or `None` (compact impossible). Scans every valid
/// row of `paths` on the current rayon pool.
pub fn choose_layout(batch: &RecordBatch, encoding: PriceEncoding) -> Result<PriceLayout, SinkError> {
    if let Some(layout) = encoding.streaming_layout() {
        return Ok(layout);
    }
    let paths = batch
        .column(batch.num_columns() - 1)
        .as_fixed_size_list_opt()
        .ok_or_else(|| SinkError::Schema("the last column, paths, is not a fixed-size list".into()))?;
    let values = leaf_values(paths)?;
    let slot = if paths.is_empty() { 0 } else { values.len() / paths.len() };
    if slot == 0 {
        // No price to store (0 simulations): nothing to scale, the plain layout holds the lists.
        return Ok(PriceLayout::Float64);
    }
    let per_row: Vec<Result<u8, (usize, usize)>> = (0..paths.len())
        .into_par_iter()
        .filter(|&r| paths.is_valid(r))
        .map(|r| prices::min_scale(&values[r * slot..(r + 1) * slot], 0).map_err(|i| (r, i)))
        .collect();
    let mut scale = 0;
    for res in per_row {
        match res {
            Ok(s) => scale = scale.max(s),
            Err((row, index)) => {
                if encoding == PriceEncoding::CompactOrFloat64 {
                    return Ok(PriceLayout::Float64);
                }
                return Err(SinkError::NotRepresentable {
                    uid: uid_at(batch, row),
                    index,
                    value: values[row * slot + index],
                    scale: prices::MAX_SCALE,
                });
            }
        }
    }
    Ok(PriceLayout::Decimal { scale })
}

/// Splits rows into consecutive runs holding at most `max_correct` valid rows each (null rows are
/// nearly free to encode, so they ride along with the next valid ones).
pub fn plan_row_groups(valid: &[bool], max_correct: usize) -> Vec<Range<usize>> {
    let max_correct = max_correct.max(1);
    if valid.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let (mut start, mut count) = (0, 0);
    for (i, &v) in valid.iter().enumerate() {
        if v {
            if count == max_correct {
                out.push(start..i);
                start = i;
                count = 0;
            }
            count += 1;
        }
    }
    out.push(start..valid.len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_groups_hold_at_most_n_valid_rows() {
        let v = [false, true, true, false, true, false, false, true, true, false];
        assert_eq!(plan_row_groups(&v, 2), vec![0..4, 4..8, 8..10]);
        assert_eq!(plan_row_groups(&v, 100), vec![0..10]);
        assert!(plan_row_groups(&[], 4).is_empty());
        assert_eq!(plan_row_groups(&[false, false], 1), vec![0..2]);
        assert_eq!(plan_row_groups(&[true, true], 1), vec![0..1, 1..2]);
    }
}
