//! [`IntervalJoinOperator`]: Flink SQL's event-time interval join (`TimeIntervalJoin`):
//! `l.k = r.k AND lower <= l.ts - r.ts <= upper`. Each arriving row joins the rows of
//! the other side buffered under its key whose times fall in its interval, then is
//! buffered itself (keyed state by key group, charged to managed memory) until the
//! watermark passes the last time a row of the other side could still match it: a left
//! row at `tl` expires at `tl - lower`, a right row at `tr` at `tr + upper`, each by an
//! event-time timer. Outer joins emit the rows that never matched, padded with NULLs,
//! when they expire. As in Flink, a row behind the watermark still joins what is
//! buffered, and the emitted watermark is held back by the larger relative bound
//! (`KeyedCoProcessOperatorWithWatermarkDelay`). On the hashmap backend checkpoints
//! store the buffered rows in the canonical keyed snapshot ([`super::snapshot`]); on
//! rocksdb the rows are RocksDB entries ([`super::rocks`]): checkpoints incremental,
//! savepoints canonical. A restore re-registers the rows' timers.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use super::rocks::RocksRows;
use super::sides::{JoinSides, SideBuffers, opened};
use super::snapshot;
use super::{BufferedRow, JoinType, check_columns, has_null_key};
use crate::operators::rowtime::event_times;
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::message::CheckpointBarrier;
use crate::runtime::message::{MAX_WATERMARK, MIN_WATERMARK, Timestamp};
use crate::runtime::operator::{Operator, OperatorContext, Output};
use crate::state::keyed::KeyBytes;
use crate::state::rocksdb::handle::refuse_on_heap;

/// `left.keys = right.keys AND lower_bound <= left.time - right.time <= upper_bound`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntervalJoinSpec {
    pub join_type: JoinType,
    pub left_keys: Vec<usize>,
    pub right_keys: Vec<usize>,
    /// The event-time attribute column of each side.
    pub left_time: usize,
    pub right_time: usize,
    /// Milliseconds, inclusive.
    pub lower_bound: i64,
    pub upper_bound: i64,
}

impl IntervalJoinSpec {
    /// The time at which a row of `side` at `time` can no longer match anything.
    fn expiry(&self, side: usize, time: Timestamp) -> Timestamp {
        if side == 0 {
            time.saturating_sub(self.lower_bound)
        } else {
            time.saturating_add(self.upper_bound)
        }
    }

    /// The times of the other side's rows a row of `side` at `time` joins.
    fn other_range(&self, side: usize, time: Timestamp) -> (Timestamp, Timestamp) {
        if side == 0 {
            (
                time.saturating_sub(self.upper_bound),
                time.saturating_sub(self.lower_bound),
            )
        } else {
            (
                time.saturating_add(self.lower_bound),
                time.saturating_add(self.upper_bound),
            )
        }
    }

    /// How far the output watermark is held back (Flink: the larger relative size).
    pub fn watermark_delay(&self) -> i64 {
        (-self.lower_bound).max(self.upper_bound).max(0)
    }
}

/// Per-key buffers of both sides and their clean-up timers (namespace = side).
type State = SideBuffers<KeyBytes, u8>;

pub struct IntervalJoinOperator {
    sides: JoinSides,
    spec: IntervalJoinSpec,
    state: Option<State>,
    /// Snapshots to load at `open` (several when rescaled).
    restore: Vec<Vec<u8>>,
    watermark: Timestamp,
    emitted_watermark: Timestamp,
}

impl std::fmt::Debug for IntervalJoinOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntervalJoinOperator")
            .field("name", &self.sides.name)
            .field("spec", &self.spec)
            .finish()
    }
}

impl IntervalJoinOperator {
    pub fn new(
        name: &str,
        spec: IntervalJoinSpec,
        left: SchemaRef,
        right: SchemaRef,
    ) -> Result<Self> {
        if spec.lower_bound > spec.upper_bound {
            return Err(RuntimeError::Graph(format!(
                "interval join: lower bound {} ms is above upper bound {} ms",
                spec.lower_bound, spec.upper_bound
            )));
        }
        check_columns(&left, &[spec.left_time], "time")?;
        check_columns(&right, &[spec.right_time], "time")?;
        let sides = JoinSides::new(
            name,
            "interval join",
            (left, right),
            (&spec.left_keys, &spec.right_keys),
            spec.join_type,
            true,
        )?;
        Ok(IntervalJoinOperator {
            sides,
            spec,
            state: None,
            restore: Vec::new(),
            watermark: MIN_WATERMARK,
            emitted_watermark: MIN_WATERMARK,
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
}

impl Operator for IntervalJoinOperator {
    fn name(&self) -> &str {
        &self.sides.name
    }

    fn snapshot_state(&mut self, barrier: &CheckpointBarrier) -> Result<Option<Vec<u8>>> {
        match &mut self.state {
            Some(State {
                rocks: Some(rocks), ..
            }) => rocks.snapshot::<KeyBytes>(&self.sides, barrier).map(Some),
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
        let spec = &self.spec;
        let restore = std::mem::take(&mut self.restore);
        let timers = &mut st.timers;
        let opened = RocksRows::open(ctx, &self.sides, &restore, |side, group, key, time| {
            timers
                .register_event_time_timer(key, group, side as u8, spec.expiry(side, time))
                .map(|_| ())
        })?;
        if let Some((rocks, rows)) = opened {
            tracing::debug!(job = %ctx.subtask.job_name, vertex = %ctx.subtask.vertex_name, subtask = ctx.subtask.index, operator = %self.sides.name, rows, timers = st.timers.num_event_time_timers(), "interval join state in rocksdb");
            st.rocks = Some(rocks);
            self.state = Some(st);
            return Ok(());
        }
        for bytes in restore {
            refuse_on_heap(&bytes, &self.sides.name)?;
            let rows =
                snapshot::restore(&self.sides, &mut st, &bytes, |st, side, group, key, row| {
                    let expiry = spec.expiry(side, row.time);
                    st.timers
                        .register_event_time_timer(key, group, side as u8, expiry)
                        .map(|_| ())
                })?;
            tracing::debug!(job = %ctx.subtask.job_name, vertex = %ctx.subtask.vertex_name, subtask = ctx.subtask.index, operator = %self.sides.name, rows, "interval join state restored");
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
        let other = 1 - side;
        let time_column = if side == 0 {
            self.spec.left_time
        } else {
            self.spec.right_time
        };
        let key_columns = if side == 0 {
            self.spec.left_keys.clone()
        } else {
            self.spec.right_keys.clone()
        };
        let times = event_times(&batch, time_column)?;
        let keys = self.sides.keys[side].encode(&batch, ctx.subtask.max_parallelism)?;
        let rows = self.sides.codecs[side].encode(&batch)?;
        let outer = self.spec.join_type.is_outer(side);
        let mut matches: Vec<Box<[u8]>> = Vec::new();
        for (r, &time) in times.iter().enumerate() {
            let row = rows.row(r);
            if has_null_key(&batch, &key_columns, r) {
                if outer {
                    self.sides.padded(side, row.as_ref(), out)?;
                }
                continue;
            }
            let group = keys.key_groups[r];
            let key: KeyBytes = Arc::from(keys.key(r));
            let (lo, hi) = self.spec.other_range(side, time);
            matches.clear();
            let watermark = self.watermark;
            let expiry = self.spec.expiry(side, time);
            let state = opened(&mut self.state, &self.sides.name)?;
            if let Some(rocks) = state.rocks.as_mut() {
                let (sides, this) = (&mut self.sides, row.as_ref());
                let mark = self.spec.join_type.is_outer(other);
                let matched = rocks.probe(other, group, &key, (lo, hi), mark, |m| {
                    if side == 0 {
                        sides.pair(this, m, out)
                    } else {
                        sides.pair(m, this, out)
                    }
                })?;
                if expiry > watermark {
                    rocks.put(side, group, &key, time, matched, this)?;
                    state
                        .timers
                        .register_event_time_timer(&key, group, side as u8, expiry)?;
                } else if !matched && outer {
                    sides.padded(side, this, out)?;
                }
                continue;
            }
            state.buffers[other].update(group, &key, |buffered| {
                for b in buffered.iter_mut().filter(|b| (lo..=hi).contains(&b.time)) {
                    b.matched = true;
                    matches.push(b.row.clone());
                }
            })?;
            let matched = !matches.is_empty();
            if expiry > watermark {
                let entry = BufferedRow {
                    time,
                    row: row.as_ref().into(),
                    matched,
                };
                state.push(side, group, &key, entry)?;
                state
                    .timers
                    .register_event_time_timer(&key, group, side as u8, expiry)?;
            } else if !matched && outer {
                self.sides.padded(side, row.as_ref(), out)?;
            }
            for m in &matches {
                let (l, r) = if side == 0 {
                    (row.as_ref(), m.as_ref())
                } else {
                    (m.as_ref(), row.as_ref())
                };
                self.sides.pair(l, r, out)?;
            }
        }
        if let Some(rocks) = self.state.as_mut().and_then(|st| st.rocks.as_mut()) {
            rocks.flush()?;
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
        let spec = self.spec.clone();
        // On rocksdb: the (side, key) whose expired rows this watermark took (their
        // deletes are pending, so a second timer of the key must not take them again).
        let mut taken: HashSet<(usize, u32, KeyBytes)> = HashSet::new();
        loop {
            let state = opened(&mut self.state, &self.sides.name)?;
            let Some(timer) = state.timers.poll_event_time_timer(watermark) else {
                break;
            };
            let side = timer.namespace as usize;
            if let Some(rocks) = state.rocks.as_mut() {
                if !taken.insert((side, timer.key_group, timer.key.clone())) {
                    continue;
                }
                let (sides, outer) = (&mut self.sides, spec.join_type.is_outer(side));
                let expired = |t| spec.expiry(side, t) <= watermark;
                rocks.take(
                    side,
                    timer.key_group,
                    &timer.key,
                    expired,
                    |matched, row| match outer && !matched {
                        true => sides.padded(side, row, out),
                        false => Ok(()),
                    },
                )?;
                continue;
            }
            let Some(mut rows) = state.buffers[side].remove(timer.key_group, &timer.key) else {
                continue;
            };
            let (expired, kept): (Vec<BufferedRow>, Vec<BufferedRow>) = rows
                .drain(..)
                .partition(|b| spec.expiry(side, b.time) <= watermark);
            if !kept.is_empty() {
                state.buffers[side].insert(timer.key_group, timer.key.clone(), kept)?;
            }
            if spec.join_type.is_outer(side) {
                for b in expired.iter().filter(|b| !b.matched) {
                    self.sides.padded(side, &b.row, out)?;
                }
            }
        }
        if let Some(rocks) = self.state.as_mut().and_then(|st| st.rocks.as_mut()) {
            rocks.flush()?;
        }
        self.sides.flush(out)?;
        let held = if watermark == MAX_WATERMARK {
            MAX_WATERMARK
        } else {
            watermark.saturating_sub(spec.watermark_delay())
        };
        if held > self.emitted_watermark {
            self.emitted_watermark = held;
            out.emit_watermark(held);
        }
        Ok(())
    }

    fn finish(&mut self, _ctx: &OperatorContext, out: &mut Output) -> Result<()> {
        self.sides.flush(out)
    }
}

#[cfg(test)]
#[path = "interval_tests.rs"]
pub(crate) mod tests;
