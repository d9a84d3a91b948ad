//! [`WindowTableFunctionOperator`]: a window TVF not followed by a window aggregate
//! (Flink's `WindowTableFunctionOperator`), as a window join consumes it: every row is
//! emitted once per TUMBLE / HOP / CUMULATE window it belongs to, with `window_start`,
//! `window_end` and `window_time` (`window_end - 1`, TIMESTAMP(3)) appended. Stateless.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, TimestampMillisecondArray, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use super::MAX_OUTPUT_BATCH_ROWS;
use crate::operators::rowtime::event_times;
use crate::operators::window::WindowAssigner;
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::message::Timestamp;
use crate::runtime::operator::{Operator, OperatorContext, Output};

#[derive(Debug)]
pub struct WindowTableFunctionOperator {
    name: String,
    assigner: WindowAssigner,
    time_column: usize,
    schema: SchemaRef,
}

/// The input's fields, then `window_start`, `window_end`, `window_time`.
pub fn window_tvf_schema(input: &Schema) -> SchemaRef {
    let ts = DataType::Timestamp(TimeUnit::Millisecond, None);
    let mut fields: Vec<Field> = input.fields().iter().map(|f| f.as_ref().clone()).collect();
    for name in ["window_start", "window_end", "window_time"] {
        fields.push(Field::new(name, ts.clone(), false));
    }
    Arc::new(Schema::new(fields))
}

impl WindowTableFunctionOperator {
    pub fn new(
        name: &str,
        assigner: WindowAssigner,
        time_column: usize,
        input: &Schema,
    ) -> Result<Self> {
        if matches!(assigner, WindowAssigner::Session { .. }) {
            return Err(RuntimeError::Graph(
                "a SESSION window TVF can only be aggregated".into(),
            ));
        }
        super::check_columns(input, &[time_column], "time")?;
        Ok(WindowTableFunctionOperator {
            name: name.to_string(),
            assigner: assigner.validated()?,
            time_column,
            schema: window_tvf_schema(input),
        })
    }

    pub fn output_schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn emit(
        &self,
        batch: &RecordBatch,
        rows: &[u32],
        windows: &[(Timestamp, Timestamp)],
        out: &mut Output,
    ) -> Result<()> {
        let indices = UInt32Array::from(rows.to_vec());
        let mut columns: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .map(|c| take(c.as_ref(), &indices, None))
            .collect::<std::result::Result<_, _>>()?;
        let col = |f: fn(&(Timestamp, Timestamp)) -> Timestamp| -> ArrayRef {
            Arc::new(TimestampMillisecondArray::from(
                windows.iter().map(f).collect::<Vec<_>>(),
            ))
        };
        columns.push(col(|w| w.0));
        columns.push(col(|w| w.1));
        columns.push(col(|w| w.1 - 1));
        out.emit(RecordBatch::try_new(self.schema.clone(), columns)?);
        Ok(())
    }
}

impl Operator for WindowTableFunctionOperator {
    fn name(&self) -> &str {
        &self.name
    }

    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        _ctx: &OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        let times = event_times(&batch, self.time_column)?;
        let (mut rows, mut windows, mut assigned) = (Vec::new(), Vec::new(), Vec::new());
        for (r, &t) in times.iter().enumerate() {
            assigned.clear();
            self.assigner.assign(t, &mut assigned);
            for &w in &assigned {
                rows.push(r as u32);
                windows.push(w);
            }
            if rows.len() >= MAX_OUTPUT_BATCH_ROWS {
                self.emit(&batch, &rows, &windows, out)?;
                rows.clear();
                windows.clear();
            }
        }
        if !rows.is_empty() {
            self.emit(&batch, &rows, &windows, out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operators::join::interval::tests::{rows, side_schema, ts};
    use crate::operators::test_util::{context, drain};
    use crate::time::clock::ManualClock;

    #[test]
    fn stamps_each_row_with_every_window_it_belongs_to() {
        let schema = side_schema("");
        let ctx = context(ManualClock::new(0));
        let hop = WindowAssigner::hop(5, 10).unwrap();
        let mut op = WindowTableFunctionOperator::new("tvf", hop, 1, &schema).unwrap();
        assert_eq!(op.output_schema().fields().len(), 6);
        let mut out = Output::default();
        op.process_batch(
            0,
            rows(&schema, &[(Some(1), 7, "a"), (None, 10, "b")]),
            &ctx,
            &mut out,
        )
        .unwrap();
        let (got, _) = drain(&mut out);
        let row = |k: &str, t: i64, v: &str, s: i64, e: i64| {
            format!("{k}|{}|{v}|{}|{}|{}", ts(t), ts(s), ts(e), ts(e - 1))
        };
        assert_eq!(
            got,
            vec![
                row("1", 7, "a", 5, 15),
                row("1", 7, "a", 0, 10),
                row("NULL", 10, "b", 10, 20),
                row("NULL", 10, "b", 5, 15)
            ]
        );
        let tumble = WindowAssigner::tumble(10).unwrap();
        let mut op = WindowTableFunctionOperator::new("tvf", tumble, 1, &schema).unwrap();
        op.process_batch(0, rows(&schema, &[(Some(1), 19, "a")]), &ctx, &mut out)
            .unwrap();
        assert_eq!(drain(&mut out).0, vec![row("1", 19, "a", 10, 20)]);
        assert!(
            WindowTableFunctionOperator::new(
                "tvf",
                WindowAssigner::session(5).unwrap(),
                1,
                &schema
            )
            .is_err()
        );
        assert!(WindowTableFunctionOperator::new("tvf", tumble, 9, &schema).is_err());
    }
}
