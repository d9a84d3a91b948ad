//! Key hashing for key groups. A key's hash decides its key group, and state is stored
//! and snapshotted by key group, so the hash must never change between Eddy versions
//! or machines: it is xxHash64 (a published, fixed algorithm) over a canonical byte
//! encoding of each key column's value — never Rust's `Hash` or Arrow's row format.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Decimal128Type, Float64Type, Int64Type, UInt64Type};
use twox_hash::XxHash64;

use crate::key_groups::key_group_for_hash;
use crate::runtime::error::Result;

const SEED: u64 = 0x0edd_2026;
const NULL_HASH: u64 = 0x9e37_79b9_7f4a_7c15;

/// One stable 64-bit hash per row over the given key columns.
pub fn hash_rows(columns: &[ArrayRef], num_rows: usize) -> Result<Vec<u64>> {
    let mut hashes = vec![SEED; num_rows];
    for column in columns {
        debug_assert_eq!(column.len(), num_rows);
        combine_column(column, &mut hashes)?;
    }
    Ok(hashes)
}

/// The key group of every row (see [`key_group_for_hash`]).
pub fn key_groups(columns: &[ArrayRef], num_rows: usize, max_parallelism: u32) -> Result<Vec<u32>> {
    Ok(hash_rows(columns, num_rows)?
        .into_iter()
        .map(|h| key_group_for_hash(h, max_parallelism))
        .collect())
}

fn mix(acc: &mut u64, value_hash: u64) {
    *acc = (acc.rotate_left(31) ^ value_hash).wrapping_mul(0x8528_9e3c_a5c1_a4cd);
}

fn combine_with<F: Fn(usize) -> u64>(column: &dyn Array, hashes: &mut [u64], f: F) {
    for (row, acc) in hashes.iter_mut().enumerate() {
        let h = if column.is_null(row) {
            NULL_HASH
        } else {
            f(row)
        };
        mix(acc, h);
    }
}

fn combine_column(column: &ArrayRef, hashes: &mut [u64]) -> Result<()> {
    let bytes_hash = |b: &[u8]| XxHash64::oneshot(SEED, b);
    match column.data_type() {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 | DataType::Date32 => {
            let c = cast(column, &DataType::Int64)?;
            let a = c.as_primitive::<Int64Type>();
            combine_with(a, hashes, |i| bytes_hash(&a.value(i).to_le_bytes()));
        }
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            let c = cast(column, &DataType::UInt64)?;
            let a = c.as_primitive::<UInt64Type>();
            combine_with(a, hashes, |i| bytes_hash(&a.value(i).to_le_bytes()));
        }
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            let c = cast(column, &DataType::Float64)?;
            let a = c.as_primitive::<Float64Type>();
            combine_with(a, hashes, |i| {
                let v = a.value(i);
                // -0.0 equals 0.0 and all NaNs are one key, as in SQL grouping.
                let v = if v == 0.0 {
                    0.0
                } else if v.is_nan() {
                    f64::NAN
                } else {
                    v
                };
                bytes_hash(&v.to_bits().to_le_bytes())
            });
        }
        DataType::Timestamp(_, _)
        | DataType::Date64
        | DataType::Time64(_)
        | DataType::Duration(_) => {
            let c = cast(column, &DataType::Int64)?;
            let a = c.as_primitive::<Int64Type>();
            combine_with(a, hashes, |i| bytes_hash(&a.value(i).to_le_bytes()));
        }
        DataType::Decimal128(_, _) => {
            let a = column.as_primitive::<Decimal128Type>();
            combine_with(a, hashes, |i| bytes_hash(&a.value(i).to_le_bytes()));
        }
        DataType::Boolean => {
            let a = column.as_boolean();
            combine_with(a, hashes, |i| bytes_hash(&[a.value(i) as u8]));
        }
        DataType::Utf8 => {
            let a = column.as_string::<i32>();
            combine_with(a, hashes, |i| bytes_hash(a.value(i).as_bytes()));
        }
        DataType::LargeUtf8 => {
            let a = column.as_string::<i64>();
            combine_with(a, hashes, |i| bytes_hash(a.value(i).as_bytes()));
        }
        DataType::Utf8View => {
            let a = column.as_string_view();
            combine_with(a, hashes, |i| bytes_hash(a.value(i).as_bytes()));
        }
        DataType::Binary => {
            let a = column.as_binary::<i32>();
            combine_with(a, hashes, |i| bytes_hash(a.value(i)));
        }
        _ => {
            // Anything else hashes by its canonical text form.
            let c = cast(column, &DataType::Utf8)?;
            let a = c.as_string::<i32>();
            combine_with(a, hashes, |i| bytes_hash(a.value(i).as_bytes()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int32Array, Int64Array, StringArray};

    use super::*;

    #[test]
    fn hash_is_stable_and_width_independent() {
        let a: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), Some(2), None]));
        let b: ArrayRef = Arc::new(Int32Array::from(vec![Some(1), Some(2), None]));
        let ha = hash_rows(&[a.clone()], 3).unwrap();
        assert_eq!(ha, hash_rows(&[b], 3).unwrap());
        assert_ne!(ha[0], ha[1]);
        // Pinned values: changing them breaks every snapshot's key groups.
        let s: ArrayRef = Arc::new(StringArray::from(vec!["alice", "bob"]));
        let groups = key_groups(&[s], 2, 128).unwrap();
        assert_eq!(
            groups,
            key_groups(
                &[Arc::new(StringArray::from(vec!["alice", "bob"])) as ArrayRef],
                2,
                128
            )
            .unwrap()
        );
        let pinned = hash_rows(&[a], 3).unwrap();
        assert_eq!(pinned, PINNED.to_vec(), "key hash changed: {pinned:?}");
    }

    const PINNED: [u64; 3] = [
        11265922440904504805,
        375544282926679450,
        10275062745979670737,
    ];
}
