//! Watermark generation at the source (Flink's `WatermarkStrategy`), one generator per
//! split: bounded out-of-orderness over an event-time column, or ingestion time — the
//! source stamps each batch's arrival time into a column and follows it. Splits are
//! combined like input channels (min over active splits); a split without data for
//! the idle timeout turns idle so it does not stall the job.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Array, ArrayRef, AsArray, TimestampMillisecondArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;

use super::valve::{StatusWatermarkValve, ValveOutput};
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::message::{Timestamp, WatermarkStatus};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatermarkStrategy {
    /// No event time: only the final watermark at the end of a bounded input.
    None,
    /// Watermark = max timestamp seen − max_out_of_orderness − 1 ms (Flink's
    /// `BoundedOutOfOrdernessWatermarks`).
    BoundedOutOfOrderness {
        column: String,
        max_out_of_orderness: Duration,
        idle_timeout: Option<Duration>,
    },
    /// The source writes the arrival time into `column` (TIMESTAMP(3)), then watermarks
    /// follow it with no delay.
    IngestionTime {
        column: String,
        idle_timeout: Option<Duration>,
    },
}

#[derive(Debug, Clone, Copy)]
struct Split {
    max_timestamp: Timestamp,
    last_data_ms: Option<Timestamp>,
    idle: bool,
    finished: bool,
}

#[derive(Debug)]
pub struct SourceWatermarks {
    strategy: WatermarkStrategy,
    schema: SchemaRef,
    /// Index of the time column in the output schema.
    column: Option<usize>,
    delay_ms: i64,
    idle_timeout_ms: Option<i64>,
    splits: Vec<Split>,
    valve: StatusWatermarkValve,
}

impl SourceWatermarks {
    pub fn new(strategy: WatermarkStrategy, schema: &SchemaRef, splits: usize) -> Result<Self> {
        let splits = splits.max(1);
        let (schema, column, delay_ms, idle) = match &strategy {
            WatermarkStrategy::None => (schema.clone(), None, 0, None),
            WatermarkStrategy::BoundedOutOfOrderness {
                column,
                max_out_of_orderness,
                idle_timeout,
            } => {
                let (i, field) = schema.column_with_name(column).ok_or_else(|| {
                    RuntimeError::Graph(format!(
                        "watermark column '{column}' is not in the source schema"
                    ))
                })?;
                if !matches!(
                    field.data_type(),
                    DataType::Timestamp(_, _) | DataType::Int64
                ) {
                    return Err(RuntimeError::Graph(format!(
                        "watermark column '{column}' is {}, not a TIMESTAMP",
                        field.data_type()
                    )));
                }
                (
                    schema.clone(),
                    Some(i),
                    max_out_of_orderness.as_millis() as i64,
                    *idle_timeout,
                )
            }
            WatermarkStrategy::IngestionTime {
                column,
                idle_timeout,
            } => {
                let ts = DataType::Timestamp(TimeUnit::Millisecond, None);
                let mut fields: Vec<Field> =
                    schema.fields().iter().map(|f| f.as_ref().clone()).collect();
                let i = match fields.iter().position(|f| f.name() == column) {
                    Some(i) => {
                        fields[i] = Field::new(column, ts, false);
                        i
                    }
                    None => {
                        fields.push(Field::new(column, ts, false));
                        fields.len() - 1
                    }
                };
                (Arc::new(Schema::new(fields)), Some(i), 0, *idle_timeout)
            }
        };
        Ok(SourceWatermarks {
            strategy,
            schema,
            column,
            delay_ms,
            idle_timeout_ms: idle.map(|d| d.as_millis() as i64),
            splits: vec![
                Split {
                    max_timestamp: Timestamp::MIN,
                    last_data_ms: None,
                    idle: false,
                    finished: false,
                };
                splits
            ],
            valve: StatusWatermarkValve::new(splits),
        })
    }

    /// The schema of emitted batches (with the ingestion-time column).
    pub fn output_schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Stamps (ingestion time) and observes a batch from `split`.
    pub fn on_batch(
        &mut self,
        split: usize,
        batch: RecordBatch,
        now_ms: Timestamp,
    ) -> Result<(RecordBatch, Vec<ValveOutput>)> {
        let Some(column) = self.column else {
            return Ok((batch, Vec::new()));
        };
        let batch = match &self.strategy {
            WatermarkStrategy::IngestionTime { .. } => self.stamp(batch, column, now_ms)?,
            _ => batch,
        };
        let max = max_millis(batch.column(column))?;
        let mut out = Vec::new();
        let Some(state) = self.splits.get_mut(split) else {
            return Err(RuntimeError::Graph(format!(
                "source reported split {split} of {}",
                self.splits.len()
            )));
        };
        state.last_data_ms = Some(now_ms);
        if state.idle {
            state.idle = false;
            out.extend(self.valve.input_status(split, WatermarkStatus::Active));
        }
        let state = &mut self.splits[split];
        if let Some(max) = max
            && max > state.max_timestamp
        {
            state.max_timestamp = max;
            let wm = max.saturating_sub(self.delay_ms).saturating_sub(1);
            out.extend(self.valve.input_watermark(split, wm));
        }
        Ok((batch, out))
    }

    /// Marks splits idle that saw no data for the idle timeout.
    pub fn on_tick(&mut self, now_ms: Timestamp) -> Vec<ValveOutput> {
        let mut out = Vec::new();
        let Some(timeout) = self.idle_timeout_ms else {
            return out;
        };
        for i in 0..self.splits.len() {
            let s = &mut self.splits[i];
            if s.idle || s.finished {
                continue;
            }
            let since = *s.last_data_ms.get_or_insert(now_ms);
            if now_ms - since >= timeout {
                s.idle = true;
                out.extend(self.valve.input_status(i, WatermarkStatus::Idle));
            }
        }
        out
    }

    /// A finished split no longer holds the others back.
    pub fn split_finished(&mut self, split: usize) -> Vec<ValveOutput> {
        match self.splits.get_mut(split) {
            Some(s) if !s.finished => {
                s.finished = true;
                let mut out = Vec::new();
                if s.idle {
                    s.idle = false;
                    out.extend(self.valve.input_status(split, WatermarkStatus::Active));
                }
                // Like an ended channel: its watermark is the maximum, which leaves the
                // minimum to the splits still running.
                out.extend(self.valve.input_watermark(split, Timestamp::MAX));
                // ...but the source's watermark must not jump to MAX before the end of
                // the whole input: that is the task's final watermark.
                out.retain(|o| *o != ValveOutput::Watermark(Timestamp::MAX));
                out
            }
            _ => Vec::new(),
        }
    }

    fn stamp(&self, batch: RecordBatch, column: usize, now_ms: Timestamp) -> Result<RecordBatch> {
        let stamp: ArrayRef = Arc::new(TimestampMillisecondArray::from(vec![
            now_ms;
            batch.num_rows()
        ]));
        let mut columns = batch.columns().to_vec();
        if column < columns.len() {
            columns[column] = stamp;
        } else {
            columns.push(stamp);
        }
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}

/// The largest non-null time in milliseconds of a timestamp or BIGINT (ms) column.
fn max_millis(column: &ArrayRef) -> Result<Option<Timestamp>> {
    let millis = match column.data_type() {
        DataType::Timestamp(TimeUnit::Millisecond, _) | DataType::Int64 => {
            cast(column, &DataType::Int64)?
        }
        DataType::Timestamp(_, _) => {
            let ms = cast(column, &DataType::Timestamp(TimeUnit::Millisecond, None))?;
            cast(&ms, &DataType::Int64)?
        }
        other => {
            return Err(RuntimeError::Graph(format!(
                "time column is {other}, not a TIMESTAMP"
            )));
        }
    };
    let a = millis.as_primitive::<Int64Type>();
    Ok(if a.null_count() == a.len() {
        None
    } else {
        arrow::compute::max(a)
    })
}

#[cfg(test)]
mod tests {
    use arrow::array::Int64Array;

    use super::ValveOutput::*;
    use super::*;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("v", DataType::Int64, false),
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        ]))
    }

    fn batch(ts: &[Option<i64>]) -> RecordBatch {
        RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(Int64Array::from(vec![0; ts.len()])),
                Arc::new(TimestampMillisecondArray::from(ts.to_vec())),
            ],
        )
        .unwrap()
    }

    fn bounded(idle: Option<u64>) -> WatermarkStrategy {
        WatermarkStrategy::BoundedOutOfOrderness {
            column: "ts".into(),
            max_out_of_orderness: Duration::from_millis(100),
            idle_timeout: idle.map(Duration::from_millis),
        }
    }

    #[test]
    fn bounded_out_of_orderness_per_split_min_over_splits() {
        let mut w = SourceWatermarks::new(bounded(None), &schema(), 2).unwrap();
        let (_, out) = w
            .on_batch(0, batch(&[Some(1000), Some(900), None]), 0)
            .unwrap();
        assert_eq!(out, vec![], "split 1 has no watermark yet");
        let (_, out) = w.on_batch(1, batch(&[Some(500)]), 0).unwrap();
        assert_eq!(out, vec![Watermark(399)]);
        let (_, out) = w.on_batch(1, batch(&[Some(2000)]), 0).unwrap();
        assert_eq!(out, vec![Watermark(899)], "min(1000, 2000) - 100 - 1");
        assert_eq!(w.split_finished(0), vec![Watermark(1899)]);
    }

    #[test]
    fn an_idle_split_stops_holding_back_the_watermark() {
        let mut w = SourceWatermarks::new(bounded(Some(50)), &schema(), 2).unwrap();
        w.on_batch(0, batch(&[Some(1000)]), 0).unwrap();
        w.on_batch(1, batch(&[Some(100)]), 0).unwrap();
        w.on_batch(0, batch(&[Some(5000)]), 40).unwrap();
        assert_eq!(w.on_tick(45), vec![]);
        assert_eq!(
            w.on_tick(60),
            vec![Watermark(4899)],
            "split 1 idle since 0, split 0 fresh"
        );
        // Split 1 comes back: active again; it is behind, so it does not pull the watermark back.
        let (_, out) = w.on_batch(1, batch(&[Some(200)]), 70).unwrap();
        assert_eq!(out, vec![]);
        assert!(
            w.on_tick(200).contains(&Status(WatermarkStatus::Idle)),
            "all splits idle -> source idle"
        );
    }

    #[test]
    fn ingestion_time_stamps_arrival_and_follows_it() {
        let src = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        let strategy = WatermarkStrategy::IngestionTime {
            column: "arrival".into(),
            idle_timeout: None,
        };
        let mut w = SourceWatermarks::new(strategy, &src, 1).unwrap();
        assert_eq!(w.output_schema().field(1).name(), "arrival");
        let b = RecordBatch::try_new(src.clone(), vec![Arc::new(Int64Array::from(vec![1, 2]))])
            .unwrap();
        let (stamped, out) = w.on_batch(0, b, 12_345).unwrap();
        let col = stamped
            .column(1)
            .as_primitive::<arrow::datatypes::TimestampMillisecondType>();
        assert_eq!(col.values().to_vec(), vec![12_345, 12_345]);
        assert_eq!(out, vec![Watermark(12_344)]);
    }

    #[test]
    fn unknown_or_non_time_column_is_rejected() {
        let s = schema();
        let bad = WatermarkStrategy::BoundedOutOfOrderness {
            column: "nope".into(),
            max_out_of_orderness: Duration::ZERO,
            idle_timeout: None,
        };
        assert!(SourceWatermarks::new(bad, &s, 1).is_err());
        let s2 = Arc::new(Schema::new(vec![Field::new("ts", DataType::Utf8, false)]));
        assert!(SourceWatermarks::new(bounded(None), &s2, 1).is_err());
    }
}
