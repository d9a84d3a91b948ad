//! What the accumulators share: reading the input column, walking the non-null
//! `(row, slot)` pairs of an update, and the per-slot columns of SUM and AVG — running
//! sums with their non-null counts ([`SumCounts`]) and, for DECIMAL, the flags of sums
//! that overflowed 38 digits ([`DecimalSums`]) — grown, reset, merged and measured here.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Decimal128Array};
use arrow::buffer::NullBuffer;
use arrow::datatypes::Decimal128Type;

use super::count_sum::decimal38_add;
use crate::runtime::error::{Result, RuntimeError};

/// The input column of an aggregate that takes one.
pub fn input(values: Option<&ArrayRef>) -> Result<&ArrayRef> {
    values.ok_or_else(|| RuntimeError::Graph("aggregate input column missing".into()))
}

/// The pairs `(rows[i], slots[i])` whose row is not null in a column with `nulls`.
pub fn valid_pairs<'a>(
    nulls: Option<&'a NullBuffer>,
    rows: &'a [u32],
    slots: &'a [u32],
) -> impl Iterator<Item = (usize, usize)> + 'a {
    rows.iter()
        .zip(slots)
        .map(|(&r, &s)| (r as usize, s as usize))
        .filter(move |&(r, _)| nulls.is_none_or(|n| n.is_valid(r)))
}

/// `update` and `retract` of an accumulator: with no argument, one whose
/// `add(values, rows, slots, retract)` does both; with a path, a DECIMAL accumulator
/// whose `slots: DecimalSums` take each value with it (see [`DecimalSums::accumulate`]).
macro_rules! update_and_retract_by_add {
    () => {
        $crate::operators::aggregate::slots::update_and_retract_by_add!(
            @with |acc, values, rows, slots, retract| acc.add(values, rows, slots, retract)
        );
    };
    ($add_one:path) => {
        $crate::operators::aggregate::slots::update_and_retract_by_add!(
            @with |acc, values, rows, slots, retract| {
                acc.slots.accumulate(values, rows, slots, retract, $add_one)
            }
        );
    };
    (@with |$acc:ident, $values:ident, $rows:ident, $slots:ident, $retract:ident| $body:expr) => {
        fn update(
            &mut self,
            values: Option<&::arrow::array::ArrayRef>,
            rows: &[u32],
            slots: &[u32],
        ) -> $crate::runtime::error::Result<()> {
            let ($acc, $values, $rows, $slots, $retract) = (self, values, rows, slots, false);
            $body
        }
        fn retract(
            &mut self,
            values: Option<&::arrow::array::ArrayRef>,
            rows: &[u32],
            slots: &[u32],
        ) -> $crate::runtime::error::Result<()> {
            let ($acc, $values, $rows, $slots, $retract) = (self, values, rows, slots, true);
            $body
        }
    };
}
pub(crate) use update_and_retract_by_add;

/// A running sum and the count of non-null values added, per slot.
#[derive(Debug)]
pub struct SumCounts<S> {
    pub sums: Vec<S>,
    pub counts: Vec<i64>,
}

impl<S: Copy + Default> SumCounts<S> {
    pub fn new() -> Self {
        SumCounts {
            sums: Vec::new(),
            counts: Vec::new(),
        }
    }

    pub fn ensure_slots(&mut self, n: usize) {
        if self.sums.len() < n {
            self.sums.resize(n, S::default());
            self.counts.resize(n, 0);
        }
    }

    /// Adds (or, with `retract`, subtracts) the non-null `raw[rows[i]]` into
    /// `slots[i]`, with the sum type's `add`/`sub`.
    #[allow(clippy::too_many_arguments)]
    pub fn accumulate(
        &mut self,
        raw: &[S],
        nulls: Option<&NullBuffer>,
        rows: &[u32],
        slots: &[u32],
        retract: bool,
        add: impl Fn(S, S) -> S,
        sub: impl Fn(S, S) -> S,
    ) {
        for (r, s) in valid_pairs(nulls, rows, slots) {
            if retract {
                self.sums[s] = sub(self.sums[s], raw[r]);
                self.counts[s] -= 1;
            } else {
                self.sums[s] = add(self.sums[s], raw[r]);
                self.counts[s] += 1;
            }
        }
    }

    /// Adds slot `src` into slot `dst`.
    pub fn merge(&mut self, dst: u32, src: u32, add: impl Fn(S, S) -> S) {
        let (d, s) = (dst as usize, src as usize);
        self.sums[d] = add(self.sums[d], self.sums[s]);
        self.counts[d] += self.counts[s];
    }

    pub fn reset(&mut self, slot: u32) {
        self.sums[slot as usize] = S::default();
        self.counts[slot as usize] = 0;
    }

    pub fn size_bytes(&self) -> usize {
        self.sums.capacity() * std::mem::size_of::<S>() + self.counts.capacity() * 8
    }
}

/// DECIMAL(38, s) sums per slot, their overflow flags and non-null counts.
#[derive(Debug, Default)]
pub struct DecimalSums {
    pub sums: Vec<i128>,
    /// The sum overflowed 38 digits: Flink's sum is NULL.
    pub overflowed: Vec<bool>,
    pub counts: Vec<i64>,
}

impl DecimalSums {
    pub fn ensure_slots(&mut self, n: usize) {
        if self.sums.len() < n {
            self.sums.resize(n, 0);
            self.overflowed.resize(n, false);
            self.counts.resize(n, 0);
        }
    }

    /// Adds `v` to slot `s`; an overflow stays (AVG's sum).
    pub fn add_sticky(&mut self, s: usize, v: i128) {
        match decimal38_add(self.sums[s], v) {
            Some(sum) => self.sums[s] = sum,
            None => self.overflowed[s] = true,
        }
    }

    /// Adds `v` to slot `s`; after an overflow the next value starts the sum again
    /// (SUM's `DecimalData` addition).
    pub fn add_restarting(&mut self, s: usize, v: i128) {
        if self.overflowed[s] {
            self.sums[s] = v;
            self.overflowed[s] = false;
        } else {
            self.add_sticky(s, v);
        }
    }

    /// Adds (or, with `retract`, subtracts) the non-null decimals of `values` with
    /// `add_one` and counts them.
    pub fn accumulate(
        &mut self,
        values: Option<&ArrayRef>,
        rows: &[u32],
        slots: &[u32],
        retract: bool,
        add_one: fn(&mut Self, usize, i128),
    ) -> Result<()> {
        let a = input(values)?.as_primitive::<Decimal128Type>();
        for (r, s) in valid_pairs(a.nulls(), rows, slots) {
            let v = if retract { -a.value(r) } else { a.value(r) };
            add_one(self, s, v);
            self.counts[s] += if retract { -1 } else { 1 };
        }
        Ok(())
    }

    /// DECIMAL(38, `scale`) results of `slots`: `result(sum, count)` where the slot
    /// has values and its sum has not overflowed, NULL otherwise.
    pub fn evaluate(
        &self,
        slots: &[u32],
        scale: i8,
        result: impl Fn(i128, i64) -> Option<i128>,
    ) -> Result<ArrayRef> {
        let a: Decimal128Array = slots
            .iter()
            .map(|&s| {
                let s = s as usize;
                if self.counts[s] == 0 || self.overflowed[s] {
                    return None;
                }
                result(self.sums[s], self.counts[s])
            })
            .collect();
        Ok(Arc::new(a.with_precision_and_scale(38, scale)?))
    }

    pub fn reset(&mut self, slot: u32) {
        let s = slot as usize;
        (self.sums[s], self.overflowed[s], self.counts[s]) = (0, false, 0);
    }

    pub fn size_bytes(&self) -> usize {
        self.sums.capacity() * 16 + self.overflowed.capacity() + self.counts.capacity() * 8
    }
}
