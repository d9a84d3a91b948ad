//! [`SessionWindowAggregateOperator`]: SESSION(gap) window aggregates per key with
//! merging (Flink's `MergingWindowSet` + `SessionWindowAssigner`). A row at `t` opens
//! `[t, t + gap)`; it merges with every pending session of its key it intersects
//! (Flink's `TimeWindow.intersects`: bounds inclusive, so sessions that touch merge),
//! and their accumulators merge. A session fires when time reaches `end - 1`. An
//! event-time row whose own window is already past the watermark and that merges with
//! no pending session is late: dropped and counted.
//!
//! State: a `StateTable` per key group from key bytes to the key's pending sessions
//! `(start, end, slot)` sorted by start, and an index `end → keys` for firing; index
//! entries left behind when a session grows are skipped when they come due.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use super::{FiredWindows, WindowAggregateSpec, WindowTime, output_schema};
use crate::operators::aggregate::AggregateSet;
use crate::operators::keys::KeyEncoder;
use crate::operators::rowtime::event_times;
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::message::{MIN_WATERMARK, Timestamp};
use crate::runtime::operator::{Operator, OperatorContext, Output};
use crate::state::memory::MemoryBudget;
use crate::state::table::StateTable;

const INDEX_ENTRY_OVERHEAD: usize = 48;

/// A pending session: start, end (exclusive), accumulator slot.
type Session = (Timestamp, Timestamp, u32);

#[derive(Debug)]
struct State {
    aggs: AggregateSet,
    sessions: StateTable<Vec<u8>, Vec<Session>>,
    by_end: BTreeMap<Timestamp, Vec<(u32, Vec<u8>)>>,
    index_bytes: usize,
    memory: Arc<MemoryBudget>,
}

impl Drop for State {
    fn drop(&mut self) {
        self.memory.release(self.index_bytes);
    }
}

impl State {
    fn index(&mut self, end: Timestamp, kg: u32, key: &[u8]) -> Result<()> {
        let size = key.len() + INDEX_ENTRY_OVERHEAD;
        self.memory.reserve(size)?;
        self.index_bytes += size;
        self.by_end.entry(end).or_default().push((kg, key.to_vec()));
        Ok(())
    }
}

/// Row updates not yet applied to the accumulators.
#[derive(Debug, Default)]
struct Pending {
    rows: Vec<u32>,
    slots: Vec<u32>,
}

/// Merges the window `[start, end)` into a key's sorted pending sessions. Returns the
/// slot it joined and the session's new end if that grew, or `None` if it intersects no
/// session (the caller opens one).
fn add_to_sessions(
    list: &mut Vec<Session>,
    start: Timestamp,
    end: Timestamp,
    aggs: &mut AggregateSet,
    input: &crate::operators::aggregate::PreparedInput,
    pending: &mut Pending,
) -> Result<Option<(u32, Option<Timestamp>)>> {
    // Sessions this window intersects (bounds inclusive, as Flink's TimeWindow).
    let mut hits = (0..list.len()).filter(|&i| list[i].0 <= end && list[i].1 >= start);
    let Some(first) = hits.next() else {
        return Ok(None);
    };
    let rest: Vec<usize> = hits.collect();
    let (mut s, mut e, dst) = list[first];
    let old_end = e;
    if !rest.is_empty() {
        // A merge frees slots: apply the waiting updates first.
        aggs.update(input, &pending.rows, &pending.slots)?;
        pending.rows.clear();
        pending.slots.clear();
    }
    for &i in &rest {
        aggs.merge(dst, list[i].2)?;
        s = s.min(list[i].0);
        e = e.max(list[i].1);
    }
    for &i in rest.iter().rev() {
        list.remove(i);
    }
    list[first] = (s.min(start), e.max(end), dst);
    let new_end = list[first].1;
    Ok(Some((dst, (new_end != old_end).then_some(new_end))))
}

#[derive(Debug)]
pub struct SessionWindowAggregateOperator {
    name: String,
    gap: i64,
    spec: WindowAggregateSpec,
    input: SchemaRef,
    keys: KeyEncoder,
    schema: SchemaRef,
    state: Option<State>,
    watermark: Timestamp,
}

impl SessionWindowAggregateOperator {
    pub fn new(name: &str, gap: i64, spec: WindowAggregateSpec, input: SchemaRef) -> Result<Self> {
        if gap <= 0 {
            return Err(RuntimeError::Graph("session gap must be positive".into()));
        }
        let keys = KeyEncoder::new(&input, &spec.key_columns)?;
        let fields = spec
            .aggregates
            .iter()
            .map(|a| a.result_field(&input))
            .collect::<Result<Vec<_>>>()?;
        Ok(SessionWindowAggregateOperator {
            name: name.to_string(),
            gap,
            schema: output_schema(&keys, &fields),
            spec,
            input,
            keys,
            state: None,
            watermark: MIN_WATERMARK,
        })
    }

    pub fn output_schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn init(&mut self, ctx: &OperatorContext) -> Result<()> {
        if self.state.is_none() {
            self.state = Some(State {
                aggs: AggregateSet::new(
                    &self.spec.aggregates,
                    &self.input,
                    false,
                    ctx.memory.clone(),
                )?,
                sessions: StateTable::new(ctx.subtask.key_group_range, ctx.memory.clone()),
                by_end: BTreeMap::new(),
                index_bytes: 0,
                memory: ctx.memory.clone(),
            });
        }
        Ok(())
    }

    /// Fires every session with `end - 1 <= time`, in order of `window_end`.
    fn fire(&mut self, time: Timestamp, out: &mut Output) -> Result<()> {
        let Some(st) = self.state.as_mut() else {
            return Ok(());
        };
        let mut fired = FiredWindows::default();
        while let Some(entry) = st.by_end.first_entry() {
            if *entry.key() - 1 > time {
                break;
            }
            for (kg, key) in entry.remove() {
                let size = key.len() + INDEX_ENTRY_OVERHEAD;
                st.memory.release(size);
                st.index_bytes -= size;
                let mut due = Vec::new();
                let left = st.sessions.update(kg, &key, |list| {
                    list.retain(|s| {
                        let fire = s.1 - 1 <= time;
                        if fire {
                            due.push(*s);
                        }
                        !fire
                    });
                    list.len()
                })?;
                if left == Some(0) {
                    st.sessions.remove(kg, &key);
                }
                for (start, end, slot) in due {
                    fired.push(key.clone(), start, end, slot);
                    if fired.is_full() {
                        fired.flush(&self.keys, &mut st.aggs, &self.schema, out)?;
                    }
                }
            }
        }
        fired.flush(&self.keys, &mut st.aggs, &self.schema, out)
    }
}

impl Operator for SessionWindowAggregateOperator {
    fn name(&self) -> &str {
        &self.name
    }

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        self.init(ctx)
    }

    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        ctx: &OperatorContext,
        _out: &mut Output,
    ) -> Result<()> {
        self.init(ctx)?;
        let n = batch.num_rows();
        let (times, event_time) = match self.spec.time {
            WindowTime::EventTime { time_column } => (event_times(&batch, time_column)?, true),
            WindowTime::ProcessingTime => (vec![ctx.clock.now_ms(); n], false),
        };
        let encoded = self.keys.encode(&batch, ctx.subtask.max_parallelism)?;
        let (gap, watermark) = (self.gap, self.watermark);
        let Some(st) = self.state.as_mut() else {
            return Ok(());
        };
        let input = st.aggs.prepare(&batch)?;
        // Updates wait here until a merge frees a slot they might point at.
        let mut pending = Pending::default();
        let mut late = 0u64;
        let mut scratch = Vec::new();
        for (row, &ts) in times.iter().enumerate() {
            let kg = encoded.key_groups[row];
            scratch.clear();
            scratch.extend_from_slice(encoded.key(row));
            let (start, end) = (ts, ts + gap);
            let aggs = &mut st.aggs;
            let merged = st.sessions.update(kg, &scratch, |list| {
                add_to_sessions(list, start, end, aggs, &input, &mut pending)
            })?;
            let (slot, grown_end) = match merged {
                Some(result) => match result? {
                    Some(found) => found,
                    None if event_time && end - 1 <= watermark => {
                        late += 1;
                        continue;
                    }
                    None => {
                        let slot = st.aggs.alloc()?;
                        st.sessions.update(kg, &scratch, |list| {
                            list.push((start, end, slot));
                            list.sort_unstable();
                        })?;
                        (slot, Some(end))
                    }
                },
                None if event_time && end - 1 <= watermark => {
                    late += 1;
                    continue;
                }
                None => {
                    let slot = st.aggs.alloc()?;
                    st.sessions
                        .insert(kg, scratch.clone(), vec![(start, end, slot)])?;
                    (slot, Some(end))
                }
            };
            if let Some(e) = grown_end {
                st.index(e, kg, &scratch)?;
            }
            pending.rows.push(row as u32);
            pending.slots.push(slot);
        }
        let Pending { rows, slots } = pending;
        st.aggs.update(&input, &rows, &slots)?;
        if late > 0 {
            ctx.metrics
                .late_records_dropped
                .fetch_add(late, Ordering::Relaxed);
        }
        Ok(())
    }

    fn process_watermark(
        &mut self,
        watermark: Timestamp,
        _ctx: &OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        if watermark > self.watermark {
            self.watermark = watermark;
            if matches!(self.spec.time, WindowTime::EventTime { .. }) {
                self.fire(watermark, out)?;
            }
        }
        out.emit_watermark(watermark);
        Ok(())
    }

    fn next_processing_time_timer(&self) -> Option<Timestamp> {
        match self.spec.time {
            WindowTime::ProcessingTime => self
                .state
                .as_ref()?
                .by_end
                .first_key_value()
                .map(|(end, _)| end - 1),
            WindowTime::EventTime { .. } => None,
        }
    }

    fn on_processing_time(
        &mut self,
        now: Timestamp,
        _ctx: &OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        match self.spec.time {
            WindowTime::ProcessingTime => self.fire(now, out),
            WindowTime::EventTime { .. } => Ok(()),
        }
    }

    fn finish(&mut self, _ctx: &OperatorContext, out: &mut Output) -> Result<()> {
        self.fire(Timestamp::MAX, out)
    }
}
