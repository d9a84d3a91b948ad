//! [`WindowJoinOperator`]: Flink SQL's window join (`WindowJoinOperator`) — both inputs
//! come from the same window TVF and join on `window_start`, `window_end` and keys.
//! Rows are buffered per (key, window) in keyed state by key group (charged to managed
//! memory); when the watermark reaches `window_end - 1` an event-time timer joins the
//! window's rows of both sides, emits them (outer joins pad the side whose other side
//! is empty) and drops the window's state. A row whose window has already fired is
//! late: dropped and counted in `late_records_dropped`. The watermark passes unchanged.
//! On the hashmap backend checkpoints store the buffered rows in the canonical keyed
//! snapshot ([`super::snapshot`]); on rocksdb the rows are RocksDB entries
//! ([`super::rocks`]): checkpoints incremental, savepoints canonical, and firing a
//! window reads and deletes its entries. A restore re-registers each window's timer.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use super::rocks::RocksRows;
use super::sides::{JoinSides, SideBuffers, opened};
use super::snapshot;
use super::{BufferedRow, JoinType, check_columns, has_null_key};
use crate::operators::rowtime::event_times;
use crate::runtime::error::Result;
use crate::runtime::message::CheckpointBarrier;
use crate::runtime::message::{MIN_WATERMARK, Timestamp};
use crate::runtime::operator::{Operator, OperatorContext, Output};
use crate::state::keyed::KeyBytes;
use crate::state::rocksdb::handle::refuse_on_heap;

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

type State = SideBuffers<(KeyBytes, Window), Window>;

pub struct WindowJoinOperator {
    sides: JoinSides,
    spec: WindowJoinSpec,
    state: Option<State>,
    /// Snapshots to load at `open` (several when rescaled).
    restore: Vec<Vec<u8>>,
    watermark: Timestamp,
}

impl std::fmt::Debug for WindowJoinOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowJoinOperator")
            .field("name", &self.sides.name)
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
        let sides = JoinSides::new(
            name,
            "window join",
            (left, right),
            (&spec.left_keys, &spec.right_keys),
            spec.join_type,
            false,
        )?;
        Ok(WindowJoinOperator {
            sides,
            spec,
            state: None,
            restore: Vec::new(),
            watermark: MIN_WATERMARK,
        })
    }

    pub fn output_schema(&self) -> SchemaRef {
        self.sides.schema.clone()
    }

    /// Bytes the buffered rows and timers hold in managed memory.
    pub fn state_size_bytes(&self) -> usize {
        self.state.as_ref().map_or(0, State::size_bytes)
    }

    /// Bytes of rows buffered on the heap, and rows stored in RocksDB (tests).
    #[cfg(test)]
    pub(crate) fn buffered(&self) -> (usize, usize) {
        let st = self.state.as_ref();
        let rocks = st.and_then(|st| st.rocks.as_ref());
        (
            st.map_or(0, State::buffered_bytes),
            rocks.map_or(0, |r| r.len().unwrap_or(0)),
        )
    }

    /// Joins and emits one fired (key, window) and drops its state.
    fn fire(
        &mut self,
        key_group: u32,
        key: KeyBytes,
        window: Window,
        out: &mut Output,
    ) -> Result<()> {
        let state = opened(&mut self.state, &self.sides.name)?;
        let state_key = (key, window);
        if let Some(rocks) = state.rocks.as_mut() {
            let (sides, join_type) = (&mut self.sides, self.spec.join_type);
            let mut right: Vec<Box<[u8]>> = Vec::new();
            rocks.take(
                1,
                key_group,
                &state_key,
                |_| true,
                |_, row| {
                    right.push(row.into());
                    Ok(())
                },
            )?;
            let pad_left = right.is_empty() && join_type.is_outer(0);
            let left = rocks.take(
                0,
                key_group,
                &state_key,
                |_| true,
                |_, l| {
                    for r in &right {
                        sides.pair(l, r, out)?;
                    }
                    match pad_left {
                        true => sides.padded(0, l, out),
                        false => Ok(()),
                    }
                },
            )?;
            if left == 0 && join_type.is_outer(1) {
                for r in &right {
                    sides.padded(1, r, out)?;
                }
            }
            return Ok(());
        }
        let left = state.buffers[0]
            .remove(key_group, &state_key)
            .unwrap_or_default();
        let right = state.buffers[1]
            .remove(key_group, &state_key)
            .unwrap_or_default();
        for l in &left {
            for r in &right {
                self.sides.pair(&l.row, &r.row, out)?;
            }
        }
        for (side, rows, other) in [(0, &left, &right), (1, &right, &left)] {
            if other.is_empty() && self.spec.join_type.is_outer(side) {
                for b in rows {
                    self.sides.padded(side, &b.row, out)?;
                }
            }
        }
        Ok(())
    }
}

impl Operator for WindowJoinOperator {
    fn name(&self) -> &str {
        &self.sides.name
    }

    fn snapshot_state(&mut self, barrier: &CheckpointBarrier) -> Result<Option<Vec<u8>>> {
        match &mut self.state {
            Some(State {
                rocks: Some(rocks), ..
            }) => rocks
                .snapshot::<(KeyBytes, Window)>(&self.sides, barrier)
                .map(Some),
            Some(st) => snapshot::snapshot(&self.sides, st).map(Some),
            None => Ok(None),
        }
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        if let Some(rocks) = self.state.as_mut().and_then(|st| st.rocks.as_mut()) {
            rocks.notify_checkpoint_complete(checkpoint_id);
        }
        Ok(())
    }

    fn restore_state(&mut self, state: &[u8]) -> Result<()> {
        self.restore.push(state.to_vec());
        Ok(())
    }

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        let mut st = State::open(ctx);
        let restore = std::mem::take(&mut self.restore);
        let timers = &mut st.timers;
        let opened = RocksRows::open(
            ctx,
            &self.sides,
            &restore,
            |_side, group, key: &(KeyBytes, Window), _time| {
                timers
                    .register_event_time_timer(&key.0, group, key.1, key.1.1 - 1)
                    .map(|_| ())
            },
        )?;
        if let Some((rocks, rows)) = opened {
            tracing::debug!(job = %ctx.subtask.job_name, vertex = %ctx.subtask.vertex_name, subtask = ctx.subtask.index, operator = %self.sides.name, rows, timers = st.timers.num_event_time_timers(), "window join state in rocksdb");
            st.rocks = Some(rocks);
            self.state = Some(st);
            return Ok(());
        }
        for bytes in restore {
            refuse_on_heap(&bytes, &self.sides.name)?;
            let rows = snapshot::restore(
                &self.sides,
                &mut st,
                &bytes,
                |st, _side, group, key, _row| {
                    st.timers
                        .register_event_time_timer(&key.0, group, key.1, key.1.1 - 1)
                        .map(|_| ())
                },
            )?;
            tracing::debug!(job = %ctx.subtask.job_name, vertex = %ctx.subtask.vertex_name, subtask = ctx.subtask.index, operator = %self.sides.name, rows, "window join state restored");
        }
        self.state = Some(st);
        Ok(())
    }

    fn process_batch(
        &mut self,
        input: usize,
        batch: RecordBatch,
        ctx: &OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        let side = self.sides.side(input)?;
        let (key_columns, (start_col, end_col)) = if side == 0 {
            (self.spec.left_keys.clone(), self.spec.left_window)
        } else {
            (self.spec.right_keys.clone(), self.spec.right_window)
        };
        let starts = event_times(&batch, start_col)?;
        let ends = event_times(&batch, end_col)?;
        let keys = self.sides.keys[side].encode(&batch, ctx.subtask.max_parallelism)?;
        let rows = self.sides.codecs[side].encode(&batch)?;
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
                    self.sides.padded(side, rows.row(r).as_ref(), out)?;
                }
                continue;
            }
            let group = keys.key_groups[r];
            let key: KeyBytes = Arc::from(keys.key(r));
            let state = opened(&mut self.state, &self.sides.name)?;
            let state_key = (key, window);
            let row = rows.row(r);
            match state.rocks.as_mut() {
                Some(rocks) => rocks.put(side, group, &state_key, window.1, false, row.as_ref())?,
                None => {
                    let entry = BufferedRow {
                        time: window.1,
                        row: row.as_ref().into(),
                        matched: false,
                    };
                    state.push(side, group, &state_key, entry)?;
                }
            }
            state
                .timers
                .register_event_time_timer(&state_key.0, group, window, window.1 - 1)?;
        }
        if let Some(rocks) = self.state.as_mut().and_then(|st| st.rocks.as_mut()) {
            rocks.flush()?;
        }
        if late > 0 {
            ctx.metrics
                .late_records_dropped
                .fetch_add(late, Ordering::Relaxed);
        }
        self.sides.flush(out)
    }

    fn process_watermark(
        &mut self,
        watermark: Timestamp,
        _ctx: &OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        self.watermark = self.watermark.max(watermark);
        while let Some(timer) = opened(&mut self.state, &self.sides.name)?
            .timers
            .poll_event_time_timer(watermark)
        {
            self.fire(timer.key_group, timer.key, timer.namespace, out)?;
        }
        if let Some(rocks) = self.state.as_mut().and_then(|st| st.rocks.as_mut()) {
            rocks.flush()?;
        }
        self.sides.flush(out)?;
        out.emit_watermark(watermark);
        Ok(())
    }

    fn finish(&mut self, _ctx: &OperatorContext, out: &mut Output) -> Result<()> {
        self.sides.flush(out)
    }
}

#[cfg(test)]
#[path = "window_tests.rs"]
pub(crate) mod tests;
