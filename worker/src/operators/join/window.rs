//! [`WindowJoinOperator`]: Flink SQL's window join (`WindowJoinOperator`) — both inputs
//! come from the same window TVF and join on `window_start`, `window_end` and keys.
//! Rows are buffered per (key, window) in keyed state by key group (charged to managed
//! memory); when the watermark reaches `window_end - 1` an event-time timer joins the
//! window's rows of both sides, emits them (outer joins pad the side whose other side
//! is empty) and drops the window's state. A row whose window has already fired is
//! late: dropped and counted in `late_records_dropped`. The watermark passes unchanged.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use super::{
    BufferedRow, JoinType, JoinedRows, RowCodec, check_columns, has_null_key, join_output_schema,
};
use crate::operators::keys::KeyEncoder;
use crate::operators::rowtime::event_times;
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::message::{MIN_WATERMARK, Timestamp};
use crate::runtime::operator::{Operator, OperatorContext, Output};
use crate::state::keyed::KeyBytes;
use crate::state::table::StateTable;
use crate::time::timers::InternalTimerService;

/// `L.window_start = R.window_start AND L.window_end = R.window_end AND L.keys = R.keys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowJoinSpec {
    pub join_type: JoinType,
    pub left_keys: Vec<usize>,
    pub right_keys: Vec<usize>,
    /// `(window_start, window_end)` columns of each side.
    pub left_window: (usize, usize),
    pub right_window: (usize, usize),
}

/// A window: `(start, end)`.
type Window = (Timestamp, Timestamp);

struct State {
    buffers: [StateTable<(KeyBytes, Window), Vec<BufferedRow>>; 2],
    timers: InternalTimerService<Window>,
}

pub struct WindowJoinOperator {
    name: String,
    spec: WindowJoinSpec,
    codecs: [RowCodec; 2],
    keys: [KeyEncoder; 2],
    schema: SchemaRef,
    state: Option<State>,
    joined: JoinedRows,
    watermark: Timestamp,
}

impl std::fmt::Debug for WindowJoinOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowJoinOperator")
            .field("name", &self.name)
            .field("spec", &self.spec)
            .finish()
    }
}

impl WindowJoinOperator {
    pub fn new(
        name: &str,
        spec: WindowJoinSpec,
        left: SchemaRef,
        right: SchemaRef,
    ) -> Result<Self> {
        check_columns(&left, &[spec.left_window.0, spec.left_window.1], "window")?;
        check_columns(
            &right,
            &[spec.right_window.0, spec.right_window.1],
            "window",
        )?;
        let keys = [
            KeyEncoder::new(&left, &spec.left_keys)?,
            KeyEncoder::new(&right, &spec.right_keys)?,
        ];
        let types = |k: &KeyEncoder| {
            k.fields()
                .iter()
                .map(|f| f.data_type().clone())
                .collect::<Vec<_>>()
        };
        if types(&keys[0]) != types(&keys[1]) {
            return Err(RuntimeError::Graph(format!(
                "window join: the key columns must pair up with equal types, got {:?} and {:?}",
                types(&keys[0]),
                types(&keys[1])
            )));
        }
        Ok(WindowJoinOperator {
            name: name.to_string(),
            schema: join_output_schema(&left, &right, spec.join_type),
            codecs: [RowCodec::new(left)?, RowCodec::new(right)?],
            keys,
            spec,
            state: None,
            joined: JoinedRows::default(),
            watermark: MIN_WATERMARK,
        })
    }

    pub fn output_schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Bytes the buffered rows and timers hold in managed memory.
    pub fn state_size_bytes(&self) -> usize {
        self.state.as_ref().map_or(0, |s| {
            s.buffers[0].size_bytes() + s.buffers[1].size_bytes() + s.timers.size_bytes()
        })
    }

    fn state(&mut self) -> Result<&mut State> {
        self.state
            .as_mut()
            .ok_or_else(|| RuntimeError::Graph(format!("{}: used before open()", self.name)))
    }

    /// Joins and emits one fired (key, window) and drops its state.
    fn fire(
        &mut self,
        key_group: u32,
        key: KeyBytes,
        window: Window,
        out: &mut Output,
    ) -> Result<()> {
        let state = self.state()?;
        let state_key = (key, window);
        let left = state.buffers[0]
            .remove(key_group, &state_key)
            .unwrap_or_default();
        let right = state.buffers[1]
            .remove(key_group, &state_key)
            .unwrap_or_default();
        for l in &left {
            for r in &right {
                self.joined
                    .pair(&self.codecs, &self.schema, &l.row, &r.row, out)?;
            }
        }
        for (side, rows, other) in [(0, &left, &right), (1, &right, &left)] {
            if other.is_empty() && self.spec.join_type.is_outer(side) {
                for b in rows {
                    self.joined
                        .padded(side, &self.codecs, &self.schema, &b.row, out)?;
                }
            }
        }
        Ok(())
    }
}

impl Operator for WindowJoinOperator {
    fn name(&self) -> &str {
        &self.name
    }

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        let range = ctx.subtask.key_group_range;
        self.state = Some(State {
            buffers: [
                StateTable::new(range, ctx.memory.clone()),
                StateTable::new(range, ctx.memory.clone()),
            ],
            timers: InternalTimerService::new(range, ctx.memory.clone()),
        });
        Ok(())
    }

    fn process_batch(
        &mut self,
        input: usize,
        batch: RecordBatch,
        ctx: &OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        if input > 1 {
            return Err(RuntimeError::Graph(format!(
                "{}: no input {input}",
                self.name
            )));
        }
        let side = input;
        let (key_columns, (start_col, end_col)) = if side == 0 {
            (self.spec.left_keys.clone(), self.spec.left_window)
        } else {
            (self.spec.right_keys.clone(), self.spec.right_window)
        };
        let starts = event_times(&batch, start_col)?;
        let ends = event_times(&batch, end_col)?;
        let keys = self.keys[side].encode(&batch, ctx.subtask.max_parallelism)?;
        let rows = self.codecs[side].encode(&batch)?;
        let outer = self.spec.join_type.is_outer(side);
        let watermark = self.watermark;
        let mut late = 0u64;
        for r in 0..batch.num_rows() {
            let window = (starts[r], ends[r]);
            if window.1 - 1 <= watermark {
                late += 1;
                continue;
            }
            if has_null_key(&batch, &key_columns, r) {
                if outer {
                    self.joined.padded(
                        side,
                        &self.codecs,
                        &self.schema,
                        rows.row(r).as_ref(),
                        out,
                    )?;
                }
                continue;
            }
            let group = keys.key_groups[r];
            let key: KeyBytes = Arc::from(keys.key(r));
            let entry = BufferedRow {
                time: window.1,
                row: rows.row(r).as_ref().into(),
                matched: false,
            };
            let state = self.state()?;
            let state_key = (key, window);
            if state.buffers[side]
                .update(group, &state_key, |b| b.push(entry.clone()))?
                .is_none()
            {
                state.buffers[side].insert(group, state_key.clone(), vec![entry])?;
            }
            state
                .timers
                .register_event_time_timer(&state_key.0, group, window, window.1 - 1)?;
        }
        if late > 0 {
            ctx.metrics
                .late_records_dropped
                .fetch_add(late, Ordering::Relaxed);
        }
        self.joined.flush(&self.codecs, &self.schema, out)
    }

    fn process_watermark(
        &mut self,
        watermark: Timestamp,
        _ctx: &OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        self.watermark = self.watermark.max(watermark);
        while let Some(timer) = self.state()?.timers.poll_event_time_timer(watermark) {
            self.fire(timer.key_group, timer.key, timer.namespace, out)?;
        }
        self.joined.flush(&self.codecs, &self.schema, out)?;
        out.emit_watermark(watermark);
        Ok(())
    }

    fn finish(&mut self, _ctx: &OperatorContext, out: &mut Output) -> Result<()> {
        self.joined.flush(&self.codecs, &self.schema, out)
    }
}

#[cfg(test)]
#[path = "window_tests.rs"]
mod tests;
