//! COUNT(*), COUNT(col) and SUM accumulators. SUM keeps Flink's result types: the
//! input type for integers (wrapping on overflow, as Java's `long`/`int` do) and floats,
//! DECIMAL(38, s) for decimals (a sum beyond 38 digits becomes NULL, as Flink's
//! `DecimalData` addition does, and the next value starts it again). A count of
//! non-null values per slot makes SUM retractable and NULL when nothing was added.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, Int64Array, PrimitiveArray};
use arrow::datatypes::*;

use super::GroupAccumulator;
use crate::runtime::error::{Result, RuntimeError};

fn input<'a>(values: Option<&'a ArrayRef>) -> Result<&'a ArrayRef> {
    values.ok_or_else(|| RuntimeError::Graph("aggregate input column missing".into()))
}

#[derive(Debug)]
pub struct CountAcc {
    star: bool,
    counts: Vec<i64>,
}

impl CountAcc {
    pub fn new(star: bool) -> CountAcc {
        CountAcc {
            star,
            counts: Vec::new(),
        }
    }

    fn add(&mut self, values: Option<&ArrayRef>, rows: &[u32], slots: &[u32], d: i64) {
        match values {
            Some(v) if !self.star && v.null_count() > 0 => {
                for (&r, &s) in rows.iter().zip(slots) {
                    if v.is_valid(r as usize) {
                        self.counts[s as usize] += d;
                    }
                }
            }
            _ => {
                for &s in slots {
                    self.counts[s as usize] += d;
                }
            }
        }
    }
}

impl GroupAccumulator for CountAcc {
    fn result_type(&self) -> DataType {
        DataType::Int64
    }
    fn ensure_slots(&mut self, n: usize) {
        if self.counts.len() < n {
            self.counts.resize(n, 0);
        }
    }
    fn update(&mut self, values: Option<&ArrayRef>, rows: &[u32], slots: &[u32]) -> Result<()> {
        self.add(values, rows, slots, 1);
        Ok(())
    }
    fn retract(&mut self, values: Option<&ArrayRef>, rows: &[u32], slots: &[u32]) -> Result<()> {
        self.add(values, rows, slots, -1);
        Ok(())
    }
    fn merge(&mut self, dst: u32, src: u32) -> Result<()> {
        self.counts[dst as usize] += self.counts[src as usize];
        Ok(())
    }
    fn reset(&mut self, slot: u32) {
        self.counts[slot as usize] = 0;
    }
    fn evaluate(&self, slots: &[u32]) -> Result<ArrayRef> {
        Ok(Arc::new(Int64Array::from_iter_values(
            slots.iter().map(|&s| self.counts[s as usize]),
        )))
    }
    fn size_bytes(&self) -> usize {
        self.counts.capacity() * 8
    }
}

/// SUM over integers and floats, result in the input type.
#[derive(Debug)]
pub struct SumAcc<T: ArrowPrimitiveType> {
    data_type: DataType,
    sums: Vec<T::Native>,
    counts: Vec<i64>,
}

impl<T: ArrowPrimitiveType> SumAcc<T> {
    fn new(data_type: DataType) -> Self {
        SumAcc {
            data_type,
            sums: Vec::new(),
            counts: Vec::new(),
        }
    }

    fn add(
        &mut self,
        values: Option<&ArrayRef>,
        rows: &[u32],
        slots: &[u32],
        retract: bool,
    ) -> Result<()> {
        let v = input(values)?.as_primitive::<T>();
        let raw = v.values();
        let (d, nulls) = (if retract { -1 } else { 1 }, v.null_count() > 0);
        for (&r, &s) in rows.iter().zip(slots) {
            let (r, s) = (r as usize, s as usize);
            if nulls && v.is_null(r) {
                continue;
            }
            self.sums[s] = if retract {
                self.sums[s].sub_wrapping(raw[r])
            } else {
                self.sums[s].add_wrapping(raw[r])
            };
            self.counts[s] += d;
        }
        Ok(())
    }
}

impl<T: ArrowPrimitiveType + std::fmt::Debug> GroupAccumulator for SumAcc<T> {
    fn result_type(&self) -> DataType {
        self.data_type.clone()
    }
    fn ensure_slots(&mut self, n: usize) {
        if self.sums.len() < n {
            self.sums.resize(n, T::Native::ZERO);
            self.counts.resize(n, 0);
        }
    }
    fn update(&mut self, values: Option<&ArrayRef>, rows: &[u32], slots: &[u32]) -> Result<()> {
        self.add(values, rows, slots, false)
    }
    fn retract(&mut self, values: Option<&ArrayRef>, rows: &[u32], slots: &[u32]) -> Result<()> {
        self.add(values, rows, slots, true)
    }
    fn merge(&mut self, dst: u32, src: u32) -> Result<()> {
        let (d, s) = (dst as usize, src as usize);
        self.sums[d] = self.sums[d].add_wrapping(self.sums[s]);
        self.counts[d] += self.counts[s];
        Ok(())
    }
    fn reset(&mut self, slot: u32) {
        self.sums[slot as usize] = T::Native::ZERO;
        self.counts[slot as usize] = 0;
    }
    fn evaluate(&self, slots: &[u32]) -> Result<ArrayRef> {
        let a: PrimitiveArray<T> = slots
            .iter()
            .map(|&s| (self.counts[s as usize] > 0).then(|| self.sums[s as usize]))
            .collect();
        Ok(Arc::new(a.with_data_type(self.data_type.clone())))
    }
    fn size_bytes(&self) -> usize {
        self.sums.capacity() * std::mem::size_of::<T::Native>() + self.counts.capacity() * 8
    }
}

/// The largest magnitude a DECIMAL(38, s) holds, unscaled.
pub const DECIMAL38_MAX: i128 = 99_999_999_999_999_999_999_999_999_999_999_999_999;

/// Adds two DECIMAL(38, s) values; `None` when the sum needs more than 38 digits.
pub fn decimal38_add(a: i128, b: i128) -> Option<i128> {
    a.checked_add(b).filter(|v| v.abs() <= DECIMAL38_MAX)
}

/// SUM over DECIMAL(p, s) → DECIMAL(38, s).
#[derive(Debug)]
pub struct DecimalSumAcc {
    scale: i8,
    sums: Vec<i128>,
    /// Set when the sum overflowed 38 digits (Flink's NULL sum, restarted by the next value).
    overflowed: Vec<bool>,
    counts: Vec<i64>,
}

impl DecimalSumAcc {
    fn add_one(&mut self, s: usize, v: i128) {
        if self.overflowed[s] {
            self.sums[s] = v;
            self.overflowed[s] = false;
        } else {
            match decimal38_add(self.sums[s], v) {
                Some(sum) => self.sums[s] = sum,
                None => self.overflowed[s] = true,
            }
        }
    }

    fn add(
        &mut self,
        values: Option<&ArrayRef>,
        rows: &[u32],
        slots: &[u32],
        retract: bool,
    ) -> Result<()> {
        let v = input(values)?.as_primitive::<Decimal128Type>();
        for (&r, &s) in rows.iter().zip(slots) {
            let (r, s) = (r as usize, s as usize);
            if v.is_null(r) {
                continue;
            }
            if retract {
                self.add_one(s, -v.value(r));
                self.counts[s] -= 1;
            } else {
                self.add_one(s, v.value(r));
                self.counts[s] += 1;
            }
        }
        Ok(())
    }
}

impl GroupAccumulator for DecimalSumAcc {
    fn result_type(&self) -> DataType {
        DataType::Decimal128(38, self.scale)
    }
    fn ensure_slots(&mut self, n: usize) {
        if self.sums.len() < n {
            self.sums.resize(n, 0);
            self.overflowed.resize(n, false);
            self.counts.resize(n, 0);
        }
    }
    fn update(&mut self, values: Option<&ArrayRef>, rows: &[u32], slots: &[u32]) -> Result<()> {
        self.add(values, rows, slots, false)
    }
    fn retract(&mut self, values: Option<&ArrayRef>, rows: &[u32], slots: &[u32]) -> Result<()> {
        self.add(values, rows, slots, true)
    }
    fn merge(&mut self, dst: u32, src: u32) -> Result<()> {
        let (d, s) = (dst as usize, src as usize);
        self.counts[d] += self.counts[s];
        if !self.overflowed[s] && self.counts[s] > 0 {
            self.add_one(d, self.sums[s]);
        }
        Ok(())
    }
    fn reset(&mut self, slot: u32) {
        let s = slot as usize;
        (self.sums[s], self.overflowed[s], self.counts[s]) = (0, false, 0);
    }
    fn evaluate(&self, slots: &[u32]) -> Result<ArrayRef> {
        let a: Decimal128Array = slots
            .iter()
            .map(|&s| {
                let s = s as usize;
                (self.counts[s] > 0 && !self.overflowed[s]).then(|| self.sums[s])
            })
            .collect();
        Ok(Arc::new(a.with_precision_and_scale(38, self.scale)?))
    }
    fn size_bytes(&self) -> usize {
        self.sums.capacity() * 16 + self.overflowed.capacity() + self.counts.capacity() * 8
    }
}

/// SUM's accumulator for `input`, or `None` if SUM does not take that type.
pub fn create_sum(input: &DataType) -> Option<Box<dyn GroupAccumulator>> {
    let t = input.clone();
    Some(match input {
        DataType::Int8 => Box::new(SumAcc::<Int8Type>::new(t)),
        DataType::Int16 => Box::new(SumAcc::<Int16Type>::new(t)),
        DataType::Int32 => Box::new(SumAcc::<Int32Type>::new(t)),
        DataType::Int64 => Box::new(SumAcc::<Int64Type>::new(t)),
        DataType::UInt8 => Box::new(SumAcc::<UInt8Type>::new(t)),
        DataType::UInt16 => Box::new(SumAcc::<UInt16Type>::new(t)),
        DataType::UInt32 => Box::new(SumAcc::<UInt32Type>::new(t)),
        DataType::UInt64 => Box::new(SumAcc::<UInt64Type>::new(t)),
        DataType::Float32 => Box::new(SumAcc::<Float32Type>::new(t)),
        DataType::Float64 => Box::new(SumAcc::<Float64Type>::new(t)),
        DataType::Decimal128(_, scale) => Box::new(DecimalSumAcc {
            scale: *scale,
            sums: Vec::new(),
            overflowed: Vec::new(),
            counts: Vec::new(),
        }),
        _ => return None,
    })
}
