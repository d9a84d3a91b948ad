//! AVG accumulators with Flink's result types: integers are summed in BIGINT (wrapping)
//! and the average is the truncated quotient cast back to the input type; floats are
//! summed in DOUBLE and the result has the input type; DECIMAL(p, s) is summed in
//! DECIMAL(38, s) (NULL once it overflows) and divided into DECIMAL(38, max(6, s)),
//! rounded half-up as `DecimalDataUtils.divide` does.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type};

use super::GroupAccumulator;
use super::count_sum::DECIMAL38_MAX;
use super::slots::{DecimalSums, SumCounts, input, update_and_retract_by_add};
use crate::runtime::error::Result;

/// The running sum type of an average.
pub trait AvgSum: Copy + Default + Send + std::fmt::Debug + 'static {
    const SUM_TYPE: DataType;
    /// The Arrow type of the sums (snapshots store them as such).
    type Arrow: arrow::datatypes::ArrowPrimitiveType<Native = Self>;
    fn values(a: &ArrayRef) -> &[Self];
    fn add(self, v: Self) -> Self;
    fn sub(self, v: Self) -> Self;
    /// The averages of `slots` (NULL where the count is 0), in the sum type.
    fn averages(sums: &[Self], counts: &[i64], slots: &[u32]) -> ArrayRef;
}

impl AvgSum for i64 {
    const SUM_TYPE: DataType = DataType::Int64;
    type Arrow = Int64Type;
    fn values(a: &ArrayRef) -> &[i64] {
        a.as_primitive::<Int64Type>().values()
    }
    fn add(self, v: i64) -> i64 {
        self.wrapping_add(v)
    }
    fn sub(self, v: i64) -> i64 {
        self.wrapping_sub(v)
    }
    fn averages(sums: &[i64], counts: &[i64], slots: &[u32]) -> ArrayRef {
        // Java's long division truncates toward zero, as Rust's does.
        Arc::new(Int64Array::from_iter(slots.iter().map(|&s| {
            let s = s as usize;
            (counts[s] > 0).then(|| sums[s].wrapping_div(counts[s]))
        })))
    }
}

impl AvgSum for f64 {
    const SUM_TYPE: DataType = DataType::Float64;
    type Arrow = Float64Type;
    fn values(a: &ArrayRef) -> &[f64] {
        a.as_primitive::<Float64Type>().values()
    }
    fn add(self, v: f64) -> f64 {
        self + v
    }
    fn sub(self, v: f64) -> f64 {
        self - v
    }
    fn averages(sums: &[f64], counts: &[i64], slots: &[u32]) -> ArrayRef {
        Arc::new(Float64Array::from_iter(slots.iter().map(|&s| {
            let s = s as usize;
            (counts[s] > 0).then(|| sums[s] / counts[s] as f64)
        })))
    }
}

/// AVG over integers (sum in i64) or floats (sum in f64).
#[derive(Debug)]
pub struct AvgAcc<S: AvgSum> {
    result_type: DataType,
    slots: SumCounts<S>,
}

impl<S: AvgSum> AvgAcc<S> {
    fn new(result_type: DataType) -> Self {
        AvgAcc {
            result_type,
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
        let a = input(values)?;
        let raw = S::values(a);
        self.slots
            .accumulate(raw, a.nulls(), rows, slots, retract, S::add, S::sub);
        Ok(())
    }
}

impl<S: AvgSum> GroupAccumulator for AvgAcc<S> {
    fn result_type(&self) -> DataType {
        self.result_type.clone()
    }
    fn ensure_slots(&mut self, n: usize) {
        self.slots.ensure_slots(n);
    }
    fn prepare(&self, values: &ArrayRef) -> Result<ArrayRef> {
        Ok(cast(values, &S::SUM_TYPE)?)
    }
    update_and_retract_by_add!();
    fn merge(&mut self, dst: u32, src: u32) -> Result<()> {
        self.slots.merge(dst, src, S::add);
        Ok(())
    }
    fn reset(&mut self, slot: u32) {
        self.slots.reset(slot);
    }
    fn evaluate(&self, slots: &[u32]) -> Result<ArrayRef> {
        let averages = S::averages(&self.slots.sums, &self.slots.counts, slots);
        Ok(cast(&averages, &self.result_type)?)
    }
    fn size_bytes(&self) -> usize {
        self.slots.size_bytes()
    }
    fn state(&self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        Ok(self.slots.state::<S::Arrow>(slots))
    }
    fn load_state(&mut self, columns: &[ArrayRef], slots: &[u32]) -> Result<()> {
        self.slots.load_state::<S::Arrow>(columns, slots)
    }
}

/// AVG over DECIMAL(p, s): sum in DECIMAL(38, s), result DECIMAL(38, max(6, s)).
#[derive(Debug)]
pub struct DecimalAvgAcc {
    scale: i8,
    result_scale: i8,
    /// Once a sum overflows 38 digits Flink's sum is NULL from then on.
    slots: DecimalSums,
}

/// `sum / count` with `sum` at `scale`, the result at `scale + extra` digits, rounded
/// half-up (away from zero); `None` beyond 38 digits.
pub fn decimal_avg(sum: i128, count: i64, extra: u32) -> Option<i128> {
    let count = i128::from(count);
    let factor = 10i128.pow(extra);
    let (q, r) = (sum / count, sum % count);
    let frac = r * factor;
    let (mut fq, fr) = (frac / count, frac % count);
    if fr.abs() * 2 >= count {
        fq += frac.signum();
    }
    q.checked_mul(factor)?
        .checked_add(fq)
        .filter(|v| v.abs() <= DECIMAL38_MAX)
}

impl GroupAccumulator for DecimalAvgAcc {
    fn result_type(&self) -> DataType {
        DataType::Decimal128(38, self.result_scale)
    }
    fn ensure_slots(&mut self, n: usize) {
        self.slots.ensure_slots(n);
    }
    update_and_retract_by_add!(DecimalSums::add_sticky);
    fn merge(&mut self, dst: u32, src: u32) -> Result<()> {
        let (d, s) = (dst as usize, src as usize);
        let slots = &mut self.slots;
        slots.add_sticky(d, slots.sums[s]);
        slots.overflowed[d] |= slots.overflowed[s];
        slots.counts[d] += slots.counts[s];
        Ok(())
    }
    fn reset(&mut self, slot: u32) {
        self.slots.reset(slot);
    }
    fn evaluate(&self, slots: &[u32]) -> Result<ArrayRef> {
        let extra = (self.result_scale - self.scale) as u32;
        self.slots.evaluate(slots, self.result_scale, |sum, count| {
            decimal_avg(sum, count, extra)
        })
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

/// AVG's accumulator for `input`, or `None` if AVG does not take that type.
pub fn create_avg(input: &DataType) -> Option<Box<dyn GroupAccumulator>> {
    let result_type = input.clone();
    Some(match input {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32 => Box::new(AvgAcc::<i64>::new(result_type)),
        DataType::Float32 | DataType::Float64 => Box::new(AvgAcc::<f64>::new(result_type)),
        DataType::Decimal128(_, scale) if *scale >= 0 => Box::new(DecimalAvgAcc {
            scale: *scale,
            result_scale: (*scale).max(6),
            slots: DecimalSums::default(),
        }),
        _ => return None,
    })
}
