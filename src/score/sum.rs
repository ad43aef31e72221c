//! NumPy's sum of a float64 array, bit for bit.
//!
//! In: the values (contiguous, as upstream's `crps_values_block.sum()` sees a fresh array). Out:
//! what `numpy.ndarray.sum()` returns. NumPy's add-reduction starts from the first element and adds
//! the pairwise sum of the rest ([`pairwise`]): fewer than 8 values summed one by one from 0.0; up
//! to 128 in eight interleaved partial sums combined as `((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7))`,
//! the last `n % 8` added one by one; longer runs split in two halves, the first a multiple of 8
//! long, summed recursively.

/// NumPy's block size: runs up to this long are summed in eight lanes.
const BLOCK: usize = 128;

/// `numpy.sum` of a 1-D float64 array (0.0 for an empty one).
pub fn numpy_sum(values: &[f64]) -> f64 {
    0.0 + pairwise(values)
}

/// NumPy's pairwise summation (`DOUBLE_pairwise_sum`) of `values`.
pub fn pairwise(values: &[f64]) -> f64 {
    let n = values.len();
    if n < 8 {
        let mut sum = 0.0;
        for v in values {
            sum += v;
        }
        sum
    } else if n <= BLOCK {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&values[..8]);
        let whole = n - n % 8;
        for chunk in values[8..whole].chunks_exact(8) {
            for (lane, v) in r.iter_mut().zip(chunk) {
                *lane += v;
            }
        }
        let mut sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for v in &values[whole..] {
            sum += v;
        }
        sum
    } else {
        let mut half = n / 2;
        half -= half % 8;
        pairwise(&values[..half]) + pairwise(&values[half..])
    }
}
