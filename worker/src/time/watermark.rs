//! Watermark generation at the source: the [`WatermarkStrategy`] of a table and
//! [`SourceWatermarks`], one generator per split of a source reader combined into the
//! reader's output — Flink's `WatermarkStrategy`, `BoundedOutOfOrdernessWatermarks`,
//! `WatermarksWithIdleness` and the split-local `WatermarkOutputMultiplexer`.
//!
//! The combination follows Flink's `CombinedWatermarkStatus`: the minimum over the
//! splits that are neither idle nor finished; `Idle` when every unfinished split is
//! idle; a finished split no longer holds the others back; when every split has
//! finished the final `MAX_WATERMARK` is emitted. The output never goes back.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Array, ArrayRef, AsArray, TimestampMillisecondArray};
use arrow::compute::max;
use arrow::datatypes::{
    DataType, Field, Int64Type, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::message::{MAX_WATERMARK, MIN_WATERMARK, Timestamp, WatermarkStatus};
use crate::time::valve::ValveOutput;

/// How a source assigns event time and generates watermarks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatermarkStrategy {
    /// No event time: sources emit only the final MAX watermark at end of input.
    None,
    /// Flink's `forBoundedOutOfOrderness`: watermark = max timestamp seen - delay - 1 ms.
    BoundedOutOfOrderness {
        column: String,
        max_out_of_orderness: Duration,
        idle_timeout: Option<Duration>,
    },
    /// Ingestion time: the source appends/overwrites column `column`
    /// (`Timestamp(Millisecond, None)`) with the clock's arrival time of each batch;
    /// watermarks follow that time (delay 0).
    IngestionTime {
        column: String,
        idle_timeout: Option<Duration>,
    },
}

/// The watermark generator state of one split.
#[derive(Debug, Clone)]
struct SplitWatermarks {
    /// The split's own watermark (`MIN_WATERMARK` before its first timestamp).
    watermark: Timestamp,
    /// When the split last had rows (or was first checked for idleness).
    last_activity: Option<Timestamp>,
    idle: bool,
    finished: bool,
}

/// One watermark generator per split, combined into the reader's watermark and status.
#[derive(Debug)]
pub struct SourceWatermarks {
    /// Index of the event-time column in the output schema (none for `None`).
    time_column: Option<usize>,
    /// Ingestion time: the stamped column replaces input column `Some(i)`, or is appended.
    ingestion: Option<Option<usize>>,
    /// Subtracted from the max timestamp (bounded out-of-orderness, plus Flink's 1 ms).
    delay_ms: i64,
    idle_timeout_ms: Option<i64>,
    output_schema: SchemaRef,
    splits: Vec<SplitWatermarks>,
    /// Set by [`SourceWatermarks::end_of_input`]: the whole input ended.
    ended: bool,
    last_watermark: Timestamp,
    last_status: WatermarkStatus,
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn is_time_type(t: &DataType) -> bool {
    matches!(t, DataType::Timestamp(_, _) | DataType::Int64)
}

impl SourceWatermarks {
    /// Checks the strategy's column against the source `schema` (bounded
    /// out-of-orderness needs an existing timestamp or Int64-millisecond column).
    pub fn new(strategy: WatermarkStrategy, schema: &SchemaRef, splits: usize) -> Result<Self> {
        let mut out = SourceWatermarks {
            time_column: None,
            ingestion: None,
            delay_ms: 0,
            idle_timeout_ms: None,
            output_schema: schema.clone(),
            splits: vec![
                SplitWatermarks {
                    watermark: MIN_WATERMARK,
                    last_activity: None,
                    idle: false,
                    finished: false,
                };
                splits
            ],
            ended: false,
            last_watermark: MIN_WATERMARK,
            last_status: WatermarkStatus::Active,
        };
        match strategy {
            WatermarkStrategy::None => {}
            WatermarkStrategy::BoundedOutOfOrderness {
                column,
                max_out_of_orderness,
                idle_timeout,
            } => {
                let (index, field) = schema.column_with_name(&column).ok_or_else(|| {
                    RuntimeError::option(
                        "watermark",
                        format!("event-time column '{column}' is not in the source schema"),
                    )
                })?;
                if !is_time_type(field.data_type()) {
                    return Err(RuntimeError::option(
                        "watermark",
                        format!(
                            "event-time column '{column}' must be a TIMESTAMP or BIGINT (epoch ms), not {}",
                            field.data_type()
                        ),
                    ));
                }
                out.time_column = Some(index);
                out.delay_ms = duration_ms(max_out_of_orderness).saturating_add(1);
                out.idle_timeout_ms = idle_timeout.map(duration_ms);
            }
            WatermarkStrategy::IngestionTime {
                column,
                idle_timeout,
            } => {
                let stamped = Arc::new(Field::new(
                    &column,
                    DataType::Timestamp(TimeUnit::Millisecond, None),
                    false,
                ));
                let mut fields: Vec<_> = schema.fields().iter().cloned().collect();
                let existing = schema.index_of(&column).ok();
                let index = match existing {
                    Some(i) => {
                        fields[i] = stamped;
                        i
                    }
                    None => {
                        fields.push(stamped);
                        fields.len() - 1
                    }
                };
                out.output_schema =
                    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
                out.ingestion = Some(existing);
                out.time_column = Some(index);
                out.delay_ms = 1;
                out.idle_timeout_ms = idle_timeout.map(duration_ms);
            }
        }
        Ok(out)
    }

    /// The output schema (adds the ingestion-time column when the source lacks it).
    pub fn output_schema(&self) -> SchemaRef {
        self.output_schema.clone()
    }

    /// The reader's current output watermark.
    pub fn current_watermark(&self) -> Timestamp {
        self.last_watermark
    }

    /// Stamps (ingestion time) and observes a batch of split `split`; returns the batch
    /// to emit and what to emit after it.
    pub fn on_batch(
        &mut self,
        split: usize,
        batch: RecordBatch,
        now_ms: Timestamp,
    ) -> Result<(RecordBatch, Vec<ValveOutput>)> {
        let num_splits = self.splits.len();
        let batch = self.stamp(batch, now_ms)?;
        let Some(time_column) = self.time_column else {
            return Ok((batch, Vec::new()));
        };
        let state = self.splits.get_mut(split).ok_or_else(|| {
            RuntimeError::Graph(format!(
                "split {split} out of range (reader has {num_splits})"
            ))
        })?;
        if state.finished || batch.num_rows() == 0 {
            return Ok((batch, Vec::new()));
        }
        state.last_activity = Some(now_ms);
        state.idle = false;
        if let Some(max_ts) = max_timestamp_ms(batch.column(time_column))? {
            let watermark = max_ts.saturating_sub(self.delay_ms);
            state.watermark = state.watermark.max(watermark);
        }
        let mut out = Vec::new();
        self.combine(&mut out);
        Ok((batch, out))
    }

    /// Called periodically (and when the source waits): marks splits idle after
    /// `idle_timeout` without rows; the output turns `Idle` when all are. A reader
    /// without splits is idle at once.
    pub fn on_tick(&mut self, now_ms: Timestamp) -> Vec<ValveOutput> {
        if let Some(timeout) = self.idle_timeout_ms {
            for s in self.splits.iter_mut().filter(|s| !s.finished && !s.idle) {
                let since = *s.last_activity.get_or_insert(now_ms);
                if now_ms.saturating_sub(since) >= timeout {
                    s.idle = true;
                }
            }
        }
        let mut out = Vec::new();
        self.combine(&mut out);
        out
    }

    /// Split `split` is exhausted: it no longer holds the others back. After the last
    /// split, the final `MAX_WATERMARK`.
    pub fn split_finished(&mut self, split: usize) -> Vec<ValveOutput> {
        if let Some(s) = self.splits.get_mut(split) {
            s.finished = true;
        }
        let mut out = Vec::new();
        self.combine(&mut out);
        out
    }

    /// The whole input ended (bounded source): the final `MAX_WATERMARK`.
    pub fn end_of_input(&mut self) -> Vec<ValveOutput> {
        self.ended = true;
        self.splits.iter_mut().for_each(|s| s.finished = true);
        let mut out = Vec::new();
        self.combine(&mut out);
        out
    }

    fn stamp(&self, batch: RecordBatch, now_ms: Timestamp) -> Result<RecordBatch> {
        let Some(existing) = self.ingestion else {
            return Ok(batch);
        };
        let rows = batch.num_rows();
        let stamped: ArrayRef = Arc::new(TimestampMillisecondArray::from(vec![now_ms; rows]));
        let mut columns = batch.columns().to_vec();
        match existing {
            Some(i) if i < columns.len() => columns[i] = stamped,
            _ => columns.push(stamped),
        }
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(
            self.output_schema.clone(),
            columns,
            &options,
        )?)
    }

    /// Recomputes the combined status and watermark; appends what changed.
    fn combine(&mut self, out: &mut Vec<ValveOutput>) {
        let mut live = self.splits.iter().filter(|s| !s.finished).peekable();
        let (status, watermark) = if live.peek().is_none() {
            if self.ended || !self.splits.is_empty() {
                (WatermarkStatus::Active, Some(MAX_WATERMARK))
            } else {
                (WatermarkStatus::Idle, None)
            }
        } else {
            match live.filter(|s| !s.idle).map(|s| s.watermark).min() {
                Some(min) => (WatermarkStatus::Active, Some(min)),
                None => (WatermarkStatus::Idle, None),
            }
        };
        if status != self.last_status {
            self.last_status = status;
            out.push(ValveOutput::Status(status));
        }
        if let Some(w) = watermark.filter(|w| *w > self.last_watermark) {
            self.last_watermark = w;
            out.push(ValveOutput::Watermark(w));
        }
    }
}

/// The greatest non-null timestamp of a column, in milliseconds.
fn max_timestamp_ms(column: &ArrayRef) -> Result<Option<Timestamp>> {
    let wrong = || {
        RuntimeError::option(
            "watermark",
            format!(
                "event-time column has type {}, not TIMESTAMP or BIGINT",
                column.data_type()
            ),
        )
    };
    let ms = match column.data_type() {
        DataType::Int64 => max(column.as_primitive::<Int64Type>()),
        DataType::Timestamp(TimeUnit::Second, _) => {
            max(column.as_primitive::<TimestampSecondType>()).map(|s| s.saturating_mul(1000))
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            max(column.as_primitive::<TimestampMillisecondType>())
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            max(column.as_primitive::<TimestampMicrosecondType>()).map(|us| us.div_euclid(1000))
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            max(column.as_primitive::<TimestampNanosecondType>()).map(|ns| ns.div_euclid(1_000_000))
        }
        _ => return Err(wrong()),
    };
    Ok(ms)
}

#[cfg(test)]
mod tests {
    use arrow::array::{
        Int64Array, StringArray, TimestampMicrosecondArray, TimestampNanosecondArray,
    };

    use super::*;
    use ValveOutput::{Status, Watermark};
    use WatermarkStatus::{Active, Idle};

    fn schema(t: DataType) -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, true),
            Field::new("ts", t, true),
        ]))
    }

    fn batch(schema: &SchemaRef, ts: ArrayRef) -> RecordBatch {
        let ids: ArrayRef = Arc::new(StringArray::from(vec![Some("x"); ts.len()]));
        RecordBatch::try_new(schema.clone(), vec![ids, ts]).unwrap()
    }

    fn millis(v: Vec<Option<i64>>) -> ArrayRef {
        Arc::new(TimestampMillisecondArray::from(v))
    }

    fn bounded(delay_ms: u64, idle_ms: Option<u64>) -> WatermarkStrategy {
        WatermarkStrategy::BoundedOutOfOrderness {
            column: "ts".into(),
            max_out_of_orderness: Duration::from_millis(delay_ms),
            idle_timeout: idle_ms.map(Duration::from_millis),
        }
    }

    #[test]
    fn bounded_out_of_orderness_is_the_min_over_splits() {
        let s = schema(DataType::Timestamp(TimeUnit::Millisecond, None));
        let mut w = SourceWatermarks::new(bounded(5000, None), &s, 2).unwrap();
        let (_, out) = w
            .on_batch(0, batch(&s, millis(vec![Some(1000), Some(9000), None])), 0)
            .unwrap();
        assert!(out.is_empty(), "split 1 has no timestamp yet: {out:?}");
        let (_, out) = w
            .on_batch(1, batch(&s, millis(vec![Some(20_000)])), 0)
            .unwrap();
        assert_eq!(out, vec![Watermark(3999)], "9000 - 5000 - 1");
        // Out-of-order rows never move a split back.
        let (_, out) = w
            .on_batch(0, batch(&s, millis(vec![Some(2000)])), 0)
            .unwrap();
        assert!(out.is_empty());
        let (_, out) = w
            .on_batch(0, batch(&s, millis(vec![Some(30_000)])), 0)
            .unwrap();
        assert_eq!(out, vec![Watermark(14_999)]);
        assert_eq!(w.current_watermark(), 14_999);
        // All-null batch: nothing to learn.
        let (_, out) = w
            .on_batch(1, batch(&s, millis(vec![None, None])), 0)
            .unwrap();
        assert!(out.is_empty());
        assert!(w.on_batch(2, batch(&s, millis(vec![Some(1)])), 0).is_err());
    }

    #[test]
    fn converts_every_timestamp_unit_and_int64_millis() {
        let cases: Vec<(DataType, ArrayRef)> = vec![
            (
                DataType::Int64,
                Arc::new(Int64Array::from(vec![Some(7001), None])),
            ),
            (
                DataType::Timestamp(TimeUnit::Second, Some("UTC".into())),
                Arc::new(arrow::array::TimestampSecondArray::from(vec![7, 3]).with_timezone("UTC")),
            ),
            (
                DataType::Timestamp(TimeUnit::Microsecond, None),
                Arc::new(TimestampMicrosecondArray::from(vec![7_001_999, 5])),
            ),
            (
                DataType::Timestamp(TimeUnit::Nanosecond, None),
                Arc::new(TimestampNanosecondArray::from(vec![7_001_999_999])),
            ),
        ];
        for (t, ts) in cases {
            let s = schema(t.clone());
            let mut w = SourceWatermarks::new(bounded(0, None), &s, 1).unwrap();
            let (_, out) = w.on_batch(0, batch(&s, ts), 0).unwrap();
            let expected = if t == DataType::Timestamp(TimeUnit::Second, Some("UTC".into())) {
                6999
            } else {
                7000
            };
            assert_eq!(out, vec![Watermark(expected)], "{t}");
        }
    }

    #[test]
    fn checks_the_event_time_column() {
        let s = schema(DataType::Utf8);
        assert!(
            SourceWatermarks::new(bounded(0, None), &s, 1).is_err(),
            "wrong type"
        );
        let s = schema(DataType::Int64);
        let missing = WatermarkStrategy::BoundedOutOfOrderness {
            column: "nope".into(),
            max_out_of_orderness: Duration::ZERO,
            idle_timeout: None,
        };
        assert!(
            SourceWatermarks::new(missing, &s, 1).is_err(),
            "missing column"
        );
    }

    #[test]
    fn idle_splits_leave_the_min_and_all_idle_turns_idle() {
        let s = schema(DataType::Int64);
        let mut w = SourceWatermarks::new(bounded(0, Some(1000)), &s, 2).unwrap();
        let ts = |v: i64| -> ArrayRef { Arc::new(Int64Array::from(vec![v])) };
        assert!(
            w.on_batch(0, batch(&s, ts(5000)), 500)
                .unwrap()
                .1
                .is_empty()
        );
        // Split 1 never had data: its idleness clock starts at the first tick.
        assert!(w.on_tick(600).is_empty());
        assert!(
            w.on_batch(0, batch(&s, ts(4000)), 1400)
                .unwrap()
                .1
                .is_empty()
        );
        assert!(
            w.on_tick(1599).is_empty(),
            "split 1 idle only 1000 ms after 600"
        );
        assert_eq!(w.on_tick(1600), vec![Watermark(4999)]);
        // Split 0 goes quiet too (1000 ms after its rows at 1400): the reader turns idle.
        assert!(w.on_tick(2399).is_empty());
        assert_eq!(w.on_tick(2400), vec![Status(Idle)]);
        assert!(w.on_tick(5000).is_empty(), "no repeats");
        // Rows on split 1 make it (and the reader) active again.
        let (_, out) = w.on_batch(1, batch(&s, ts(9000)), 5100).unwrap();
        assert_eq!(out, vec![Status(Active), Watermark(8999)]);
        // A split behind the output holds it back but never moves it back.
        let (_, out) = w.on_batch(0, batch(&s, ts(6000)), 5200).unwrap();
        assert!(out.is_empty());
        assert_eq!(w.current_watermark(), 8999);
    }

    #[test]
    fn finished_splits_release_their_hold_and_the_last_emits_max() {
        let s = schema(DataType::Int64);
        let mut w = SourceWatermarks::new(bounded(0, None), &s, 2).unwrap();
        let ts: ArrayRef = Arc::new(Int64Array::from(vec![100]));
        assert!(w.on_batch(0, batch(&s, ts), 0).unwrap().1.is_empty());
        assert_eq!(w.split_finished(1), vec![Watermark(99)]);
        assert_eq!(w.split_finished(0), vec![Watermark(MAX_WATERMARK)]);
        assert!(w.split_finished(0).is_empty());
    }

    #[test]
    fn no_strategy_emits_only_the_final_watermark() {
        let s = schema(DataType::Int64);
        let mut w = SourceWatermarks::new(WatermarkStrategy::None, &s, 2).unwrap();
        let ts: ArrayRef = Arc::new(Int64Array::from(vec![100]));
        let (b, out) = w.on_batch(0, batch(&s, ts), 0).unwrap();
        assert_eq!(b.num_rows(), 1);
        assert!(out.is_empty());
        assert!(w.on_tick(1_000_000).is_empty());
        assert!(w.split_finished(0).is_empty());
        assert_eq!(w.split_finished(1), vec![Watermark(MAX_WATERMARK)]);
        // A reader without splits is idle, and ends with MAX.
        let mut empty = SourceWatermarks::new(WatermarkStrategy::None, &s, 0).unwrap();
        assert_eq!(empty.on_tick(0), vec![Status(Idle)]);
        assert_eq!(
            empty.end_of_input(),
            vec![Status(Active), Watermark(MAX_WATERMARK)]
        );
    }

    #[test]
    fn ingestion_time_stamps_arrival_time() {
        let strategy = |c: &str| WatermarkStrategy::IngestionTime {
            column: c.into(),
            idle_timeout: None,
        };
        // Appended when the source lacks the column.
        let s = schema(DataType::Int64);
        let mut w = SourceWatermarks::new(strategy("arrival"), &s, 1).unwrap();
        let out_schema = w.output_schema();
        assert_eq!(out_schema.fields().len(), 3);
        let ts: ArrayRef = Arc::new(Int64Array::from(vec![1, 2]));
        let (b, out) = w.on_batch(0, batch(&s, ts), 42_000).unwrap();
        assert_eq!(b.schema(), out_schema);
        let stamped = b.column(2).as_primitive::<TimestampMillisecondType>();
        assert_eq!(stamped.values().to_vec(), vec![42_000, 42_000]);
        assert_eq!(out, vec![Watermark(41_999)]);
        // Overwritten (with the timestamp type) when it has it.
        let mut w = SourceWatermarks::new(strategy("id"), &s, 1).unwrap();
        assert_eq!(w.output_schema().fields().len(), 2);
        assert_eq!(
            w.output_schema().field(0).data_type(),
            &DataType::Timestamp(TimeUnit::Millisecond, None)
        );
        let ts: ArrayRef = Arc::new(Int64Array::from(vec![1]));
        let (b, _) = w.on_batch(0, batch(&s, ts), 7).unwrap();
        assert_eq!(
            b.column(0)
                .as_primitive::<TimestampMillisecondType>()
                .value(0),
            7
        );
    }
}
