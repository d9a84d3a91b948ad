//! [`IntervalJoinOperator`]: Flink SQL's event-time interval join (`TimeIntervalJoin`):
//! `l.k = r.k AND lower <= l.ts - r.ts <= upper`. Each arriving row joins the rows of
//! the other side buffered under its key whose times fall in its interval, then is
//! buffered itself (keyed state by key group, charged to managed memory) until the
//! watermark passes the last time a row of the other side could still match it: a left
//! row at `tl` expires at `tl - lower`, a right row at `tr` at `tr + upper`, each by an
//! event-time timer. Outer joins emit the rows that never matched, padded with NULLs,
//! when they expire. As in Flink, a row behind the watermark still joins what is
//! buffered, and the emitted watermark is held back by the larger relative bound
//! (`KeyedCoProcessOperatorWithWatermarkDelay`).

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use super::{
    BufferedRow, JoinType, JoinedRows, RowCodec, check_columns, has_null_key, join_output_schema,
};
use crate::operators::keys::KeyEncoder;
use crate::operators::rowtime::event_times;
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::message::{MAX_WATERMARK, MIN_WATERMARK, Timestamp};
use crate::runtime::operator::{Operator, OperatorContext, Output};
use crate::state::keyed::KeyBytes;
use crate::state::table::StateTable;
use crate::time::timers::InternalTimerService;

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
struct State {
    buffers: [StateTable<KeyBytes, Vec<BufferedRow>>; 2],
    timers: InternalTimerService<u8>,
}

pub struct IntervalJoinOperator {
    name: String,
    spec: IntervalJoinSpec,
    codecs: [RowCodec; 2],
    keys: [KeyEncoder; 2],
    schema: SchemaRef,
    state: Option<State>,
    joined: JoinedRows,
    watermark: Timestamp,
    emitted_watermark: Timestamp,
}

impl std::fmt::Debug for IntervalJoinOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntervalJoinOperator")
            .field("name", &self.name)
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
        if spec.left_keys.is_empty() || types(&keys[0]) != types(&keys[1]) {
            return Err(RuntimeError::Graph(format!(
                "interval join: the key columns must pair up with equal types, got {:?} and {:?}",
                types(&keys[0]),
                types(&keys[1])
            )));
        }
        Ok(IntervalJoinOperator {
            name: name.to_string(),
            schema: join_output_schema(&left, &right, spec.join_type),
            codecs: [RowCodec::new(left)?, RowCodec::new(right)?],
            keys,
            spec,
            state: None,
            joined: JoinedRows::default(),
            watermark: MIN_WATERMARK,
            emitted_watermark: MIN_WATERMARK,
        })
    }

    pub fn output_schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn state(&mut self) -> Result<&mut State> {
        self.state
            .as_mut()
            .ok_or_else(|| RuntimeError::Graph(format!("{}: used before open()", self.name)))
    }

    /// Bytes the buffered rows and timers hold in managed memory.
    pub fn state_size_bytes(&self) -> usize {
        self.state.as_ref().map_or(0, |s| {
            s.buffers[0].size_bytes() + s.buffers[1].size_bytes() + s.timers.size_bytes()
        })
    }
}

impl Operator for IntervalJoinOperator {
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
        let (side, other) = (input, 1 - input);
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
        let keys = self.keys[side].encode(&batch, ctx.subtask.max_parallelism)?;
        let rows = self.codecs[side].encode(&batch)?;
        let outer = self.spec.join_type.is_outer(side);
        let mut matches: Vec<Box<[u8]>> = Vec::new();
        for r in 0..batch.num_rows() {
            let row = rows.row(r);
            if has_null_key(&batch, &key_columns, r) {
                if outer {
                    self.joined
                        .padded(side, &self.codecs, &self.schema, row.as_ref(), out)?;
                }
                continue;
            }
            let (time, group) = (times[r], keys.key_groups[r]);
            let key: KeyBytes = Arc::from(keys.key(r));
            let (lo, hi) = self.spec.other_range(side, time);
            matches.clear();
            let watermark = self.watermark;
            let expiry = self.spec.expiry(side, time);
            let state = self.state()?;
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
                if state.buffers[side]
                    .update(group, &key, |b| b.push(entry.clone()))?
                    .is_none()
                {
                    state.buffers[side].insert(group, key.clone(), vec![entry])?;
                }
                state
                    .timers
                    .register_event_time_timer(&key, group, side as u8, expiry)?;
            } else if !matched && outer {
                self.joined
                    .padded(side, &self.codecs, &self.schema, row.as_ref(), out)?;
            }
            for m in &matches {
                let (l, r) = if side == 0 {
                    (row.as_ref(), m.as_ref())
                } else {
                    (m.as_ref(), row.as_ref())
                };
                self.joined.pair(&self.codecs, &self.schema, l, r, out)?;
            }
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
        let spec = self.spec.clone();
        loop {
            let state = self.state()?;
            let Some(timer) = state.timers.poll_event_time_timer(watermark) else {
                break;
            };
            let side = timer.namespace as usize;
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
                    self.joined
                        .padded(side, &self.codecs, &self.schema, &b.row, out)?;
                }
            }
        }
        self.joined.flush(&self.codecs, &self.schema, out)?;
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
        self.joined.flush(&self.codecs, &self.schema, out)
    }
}

#[cfg(test)]
#[path = "interval_tests.rs"]
pub(crate) mod tests;
