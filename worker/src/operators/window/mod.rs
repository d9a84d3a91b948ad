//! Time-window aggregation (Flink SQL's window TVF aggregates): TUMBLE, HOP and
//! CUMULATE ([`operator`]) and SESSION with merging ([`session`]), in event time (a
//! time column and watermarks) or processing time (`ctx.clock`). Output columns: the
//! key columns, `window_start`, `window_end` (TIMESTAMP(3)), then the aggregates.
//! Both are a [`base::WindowOperator`]. This module holds the spec, the output schema and
//! the emission of fired windows in batches of at most [`MAX_OUTPUT_BATCH_ROWS`].

pub mod assigner;
pub mod base;
pub mod operator;
pub mod session;

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

pub use assigner::WindowAssigner;
pub use operator::WindowAggregateOperator;
pub use session::SessionWindowAggregateOperator;

use super::aggregate::{AggregateSet, AggregateSpec};
use super::keys::KeyEncoder;
use crate::runtime::error::Result;
use crate::runtime::message::Timestamp;
use crate::runtime::operator::{Operator, Output};

/// Most rows in one emitted batch of fired windows.
pub const MAX_OUTPUT_BATCH_ROWS: usize = 8192;

/// Which time drives the windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowTime {
    /// Rows carry their time in this column; watermarks fire windows.
    EventTime { time_column: usize },
    /// Rows are assigned by the clock when they arrive; timers fire windows.
    ProcessingTime,
}

/// A window aggregate: `GROUP BY keys, window_start, window_end` over a window TVF.
#[derive(Debug, Clone)]
pub struct WindowAggregateSpec {
    pub assigner: WindowAssigner,
    pub time: WindowTime,
    pub key_columns: Vec<usize>,
    pub aggregates: Vec<AggregateSpec>,
}

/// The operator for `spec` over rows of `input`.
pub fn create_window_aggregate(
    name: &str,
    spec: WindowAggregateSpec,
    input: SchemaRef,
) -> Result<Box<dyn Operator>> {
    Ok(match spec.assigner.validated()? {
        WindowAssigner::Session { gap } => {
            Box::new(SessionWindowAggregateOperator::new(name, gap, spec, input)?)
        }
        _ => Box::new(WindowAggregateOperator::new(name, spec, input)?),
    })
}

/// Key fields, `window_start`, `window_end`, aggregate fields.
pub(crate) fn output_schema(keys: &KeyEncoder, aggregates: &[Field]) -> SchemaRef {
    let ts = DataType::Timestamp(TimeUnit::Millisecond, None);
    let mut fields: Vec<Field> = keys.fields().to_vec();
    fields.push(Field::new("window_start", ts.clone(), false));
    fields.push(Field::new("window_end", ts, false));
    fields.extend(aggregates.iter().cloned());
    Arc::new(Schema::new(fields))
}

/// Fired windows collected for emission; emits a batch every [`MAX_OUTPUT_BATCH_ROWS`].
#[derive(Debug, Default)]
pub(crate) struct FiredWindows {
    keys: Vec<Vec<u8>>,
    starts: Vec<Timestamp>,
    ends: Vec<Timestamp>,
    slots: Vec<u32>,
}

impl FiredWindows {
    pub fn push(&mut self, key: Vec<u8>, start: Timestamp, end: Timestamp, slot: u32) {
        self.keys.push(key);
        self.starts.push(start);
        self.ends.push(end);
        self.slots.push(slot);
    }

    /// A batch's worth collected: flush now.
    pub fn is_full(&self) -> bool {
        self.slots.len() >= MAX_OUTPUT_BATCH_ROWS
    }

    /// Emits the collected windows' results and frees their accumulator slots.
    pub fn flush(
        &mut self,
        keys: &KeyEncoder,
        aggs: &mut AggregateSet,
        schema: &SchemaRef,
        out: &mut Output,
    ) -> Result<()> {
        if self.slots.is_empty() {
            return Ok(());
        }
        let mut columns: Vec<ArrayRef> = keys.decode(self.keys.iter().map(|k| k.as_slice()))?;
        columns.push(Arc::new(TimestampMillisecondArray::from(std::mem::take(
            &mut self.starts,
        ))));
        columns.push(Arc::new(TimestampMillisecondArray::from(std::mem::take(
            &mut self.ends,
        ))));
        columns.extend(aggs.evaluate(&self.slots)?);
        for &slot in &self.slots {
            aggs.free(slot);
        }
        self.slots.clear();
        self.keys.clear();
        out.emit(RecordBatch::try_new(schema.clone(), columns)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod rocksdb_tests;
