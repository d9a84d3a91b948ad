//! Accumulator state as Arrow columns: the canonical form a checkpoint or savepoint
//! stores aggregate state in, whatever the state backend. Each accumulator turns the
//! state of some slots into a few columns ([`GroupAccumulator::state`]) and loads them
//! back into fresh slots ([`GroupAccumulator::load_state`]); the helpers here read a
//! snapshot's columns with their types checked (a snapshot is outside input: a wrong
//! column is an error, never a panic). A retractable MIN/MAX (OVER frames) adds its
//! multisets as two list columns ([`multiset_columns`]) after its current extreme.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, AsArray, BooleanArray, Int64Array, ListArray,
    PrimitiveArray, UInt64Array,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Decimal128Type, Field, Int64Type, UInt64Type};

use super::slots::{DecimalSums, SumCounts};
use crate::runtime::error::{Result, RuntimeError};

fn invalid(what: &str) -> RuntimeError {
    RuntimeError::Graph(format!("aggregate state snapshot: {what}"))
}

/// Column `i` of a snapshot's state columns as a primitive array of `T` with `len` rows.
pub fn primitive<T: ArrowPrimitiveType>(
    columns: &[ArrayRef],
    i: usize,
    len: usize,
) -> Result<&PrimitiveArray<T>> {
    let column = columns
        .get(i)
        .ok_or_else(|| invalid(&format!("column {i} missing")))?;
    let a = column
        .as_primitive_opt::<T>()
        .ok_or_else(|| invalid(&format!("column {i} has type {}", column.data_type())))?;
    if a.len() != len {
        return Err(invalid(&format!(
            "column {i} has {} rows, not {len}",
            a.len()
        )));
    }
    Ok(a)
}

/// COUNT's state: the counts.
pub fn counts_state(counts: &[i64], slots: &[u32]) -> Vec<ArrayRef> {
    vec![Arc::new(Int64Array::from_iter_values(
        slots.iter().map(|&s| counts[s as usize]),
    ))]
}

pub fn load_counts(counts: &mut [i64], columns: &[ArrayRef], slots: &[u32]) -> Result<()> {
    let c = primitive::<Int64Type>(columns, 0, slots.len())?;
    for (i, &s) in slots.iter().enumerate() {
        counts[s as usize] = c.value(i);
    }
    Ok(())
}

impl<S: Copy + Default> SumCounts<S> {
    /// The sums (as `T`) and their non-null counts.
    pub fn state<T: ArrowPrimitiveType<Native = S>>(&self, slots: &[u32]) -> Vec<ArrayRef> {
        let sums =
            PrimitiveArray::<T>::from_iter_values(slots.iter().map(|&s| self.sums[s as usize]));
        let mut columns: Vec<ArrayRef> = vec![Arc::new(sums)];
        columns.extend(counts_state(&self.counts, slots));
        columns
    }

    pub fn load_state<T: ArrowPrimitiveType<Native = S>>(
        &mut self,
        columns: &[ArrayRef],
        slots: &[u32],
    ) -> Result<()> {
        let sums = primitive::<T>(columns, 0, slots.len())?;
        for (i, &s) in slots.iter().enumerate() {
            self.sums[s as usize] = sums.value(i);
        }
        load_counts(&mut self.counts, &columns[1..], slots)
    }
}

impl DecimalSums {
    /// The unscaled sums, their overflow flags and their non-null counts.
    pub fn state(&self, slots: &[u32]) -> Vec<ArrayRef> {
        let sums = PrimitiveArray::<Decimal128Type>::from_iter_values(
            slots.iter().map(|&s| self.sums[s as usize]),
        );
        let overflowed: BooleanArray = slots
            .iter()
            .map(|&s| Some(self.overflowed[s as usize]))
            .collect();
        let mut columns: Vec<ArrayRef> = vec![Arc::new(sums), Arc::new(overflowed)];
        columns.extend(counts_state(&self.counts, slots));
        columns
    }

    pub fn load_state(&mut self, columns: &[ArrayRef], slots: &[u32]) -> Result<()> {
        let sums = primitive::<Decimal128Type>(columns, 0, slots.len())?;
        let overflowed = columns
            .get(1)
            .and_then(|c| c.as_boolean_opt())
            .filter(|c| c.len() == slots.len())
            .ok_or_else(|| invalid("overflow flags missing"))?;
        for (i, &s) in slots.iter().enumerate() {
            self.sums[s as usize] = sums.value(i);
            self.overflowed[s as usize] = overflowed.value(i);
        }
        load_counts(&mut self.counts, &columns[2..], slots)
    }
}

/// MIN/MAX of primitives: the current extremes (NULL: no value yet).
pub fn load_extremes<T: ArrowPrimitiveType>(
    values: &mut [Option<T::Native>],
    columns: &[ArrayRef],
    slots: &[u32],
) -> Result<()> {
    let a = primitive::<T>(columns, 0, slots.len())?;
    for (i, &s) in slots.iter().enumerate() {
        values[s as usize] = a.is_valid(i).then(|| a.value(i));
    }
    Ok(())
}

/// A retractable MIN/MAX's multisets (value → count) as two list columns: each slot's
/// distinct values in ascending order (`values`: their concatenation, `lengths`: how
/// many per slot) and, in a second list of the same shape, their counts.
pub fn multiset_columns(
    values: ArrayRef,
    lengths: &[usize],
    counts: Vec<u64>,
) -> Result<[ArrayRef; 2]> {
    let offsets = OffsetBuffer::from_lengths(lengths.iter().copied());
    let item = |t: &DataType| Arc::new(Field::new("item", t.clone(), false));
    let values = ListArray::try_new(item(values.data_type()), offsets.clone(), values, None)?;
    let counts = ListArray::try_new(
        item(&DataType::UInt64),
        offsets,
        Arc::new(UInt64Array::from(counts)),
        None,
    )?;
    Ok([Arc::new(values), Arc::new(counts)])
}

/// The multisets [`multiset_columns`] wrote at columns `at` and `at + 1`: per row, its
/// values (to be downcast by the caller) and their counts, checked to pair up.
pub fn multiset_rows(
    columns: &[ArrayRef],
    at: usize,
    len: usize,
) -> Result<Vec<(ArrayRef, UInt64Array)>> {
    let list = |i: usize| {
        columns
            .get(i)
            .and_then(|c| c.as_list_opt::<i32>())
            .filter(|c| c.len() == len)
            .ok_or_else(|| invalid(&format!("multiset column {i} missing")))
    };
    let (values, counts) = (list(at)?, list(at + 1)?);
    (0..len)
        .map(|row| {
            let v = values.value(row);
            let c = counts.value(row);
            let c = c
                .as_primitive_opt::<UInt64Type>()
                .filter(|c| c.len() == v.len())
                .ok_or_else(|| invalid("multiset counts do not pair with its values"))?
                .clone();
            Ok((v, c))
        })
        .collect()
}
