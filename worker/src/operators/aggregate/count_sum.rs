//! COUNT(*), COUNT(col) and SUM accumulators. SUM keeps Flink's result types: the
//! input type for integers (wrapping on overflow, as Java's `long`/`int` do) and floats,
//! DECIMAL(38, s) for decimals (a sum beyond 38 digits becomes NULL, as Flink's
//! `DecimalData` addition does, and the next value starts it again). A count of
//! non-null values per slot makes SUM retractable and NULL when nothing was added.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, PrimitiveArray};
use arrow::datatypes::*;

use super::slots::{DecimalSums, SumCounts, input, update_and_retract_by_add};
use super::{GroupAccumulator, state};
use crate::runtime::error::Result;

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
    fn state(&self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        Ok(state::counts_state(&self.counts, slots))
    }
    fn load_state(&mut self, columns: &[ArrayRef], slots: &[u32]) -> Result<()> {
        state::load_counts(&mut self.counts, columns, slots)
    }
}

/// SUM over integers and floats, result in the input type.
#[derive(Debug)]
pub struct SumAcc<T: ArrowPrimitiveType> {
    data_type: DataType,
    slots: SumCounts<T::Native>,
}

impl<T: ArrowPrimitiveType> SumAcc<T> {
    fn new(data_type: DataType) -> Self {
        SumAcc {
            data_type,
            slots: SumCounts::new(),
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
        self.slots.accumulate(
            v.values(),
            v.nulls(),
            rows,
            slots,
            retract,
            T::Native::add_wrapping,
            T::Native::sub_wrapping,
        );
        Ok(())
    }
}

impl<T: ArrowPrimitiveType + std::fmt::Debug> GroupAccumulator for SumAcc<T> {
    fn result_type(&self) -> DataType {
        self.data_type.clone()
    }
    fn ensure_slots(&mut self, n: usize) {
        self.slots.ensure_slots(n);
    }
    update_and_retract_by_add!();
    fn merge(&mut self, dst: u32, src: u32) -> Result<()> {
        self.slots.merge(dst, src, T::Native::add_wrapping);
        Ok(())
    }
    fn reset(&mut self, slot: u32) {
        self.slots.reset(slot);
    }
    fn evaluate(&self, slots: &[u32]) -> Result<ArrayRef> {
        let SumCounts { sums, counts } = &self.slots;
        let a: PrimitiveArray<T> = slots
            .iter()
            .map(|&s| (counts[s as usize] > 0).then(|| sums[s as usize]))
            .collect();
        Ok(Arc::new(a.with_data_type(self.data_type.clone())))
    }
    fn size_bytes(&self) -> usize {
        self.slots.size_bytes()
    }
    fn state(&self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        Ok(self.slots.state::<T>(slots))
    }
    fn load_state(&mut self, columns: &[ArrayRef], slots: &[u32]) -> Result<()> {
        self.slots.load_state::<T>(columns, slots)
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
    /// An overflowed sum is Flink's NULL sum, restarted by the next value.
    slots: DecimalSums,
}

impl GroupAccumulator for DecimalSumAcc {
    fn result_type(&self) -> DataType {
        DataType::Decimal128(38, self.scale)
    }
    fn ensure_slots(&mut self, n: usize) {
        self.slots.ensure_slots(n);
    }
    update_and_retract_by_add!(DecimalSums::add_restarting);
    fn merge(&mut self, dst: u32, src: u32) -> Result<()> {
        let (d, s) = (dst as usize, src as usize);
        let slots = &mut self.slots;
        slots.counts[d] += slots.counts[s];
        if !slots.overflowed[s] && slots.counts[s] > 0 {
            slots.add_restarting(d, slots.sums[s]);
        }
        Ok(())
    }
    fn reset(&mut self, slot: u32) {
        self.slots.reset(slot);
    }
    fn evaluate(&self, slots: &[u32]) -> Result<ArrayRef> {
        self.slots
            .evaluate(slots, self.scale, |sum, count| (count > 0).then_some(sum))
    }
    fn size_bytes(&self) -> usize {
        self.slots.size_bytes()
    }
    fn state(&self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        Ok(self.slots.state(slots))
    }
    fn load_state(&mut self, columns: &[ArrayRef], slots: &[u32]) -> Result<()> {
        self.slots.load_state(columns, slots)
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
            slots: DecimalSums::default(),
        }),
        _ => return None,
    })
}
