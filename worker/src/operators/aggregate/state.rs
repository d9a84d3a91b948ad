//! Accumulator state as Arrow columns: the canonical form a checkpoint or savepoint
//! stores aggregate state in, whatever the state backend. Each accumulator turns the
//! state of some slots into a few columns ([`GroupAccumulator::state`]) and loads them
//! back into fresh slots ([`GroupAccumulator::load_state`]); the helpers here read a
//! snapshot's columns with their types checked (a snapshot is outside input: a wrong
//! column is an error, never a panic).

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, AsArray, BooleanArray, Int64Array, PrimitiveArray,
};
use arrow::datatypes::{Decimal128Type, Int64Type};

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

/// A retractable accumulator (OVER frames) keeps multisets no snapshot holds yet.
pub fn retractable_unsupported() -> RuntimeError {
    RuntimeError::CheckpointUnsupported("state of retractable MIN/MAX (bounded OVER frames)".into())
}
