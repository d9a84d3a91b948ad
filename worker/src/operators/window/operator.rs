//! [`WindowAggregateOperator`]: TUMBLE / HOP / CUMULATE window aggregates (Flink's
//! `WindowAggOperator`). Each row is added to the accumulator of every (key, window)
//! it belongs to that has not fired yet; state is a `StateTable` per key group from
//! `key bytes ++ window_start ++ window_end` to an accumulator slot, plus an index of
//! pending windows by `window_end` for firing. A window fires when the watermark (or
//! processing time) reaches `window_end - 1`. An event-time row whose windows have all
//! fired is late: dropped and counted in `late_records_dropped`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use super::{FiredWindows, WindowAggregateSpec, WindowAssigner, WindowTime, output_schema};
use crate::operators::aggregate::AggregateSet;
use crate::operators::keys::KeyEncoder;
use crate::operators::rowtime::event_times;
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::message::{MIN_WATERMARK, Timestamp};
use crate::runtime::operator::{Operator, OperatorContext, Output};
use crate::state::memory::MemoryBudget;
use crate::state::table::StateTable;

/// Bytes charged per entry of the firing index besides its key bytes.
const INDEX_ENTRY_OVERHEAD: usize = 48;

#[derive(Debug)]
struct State {
    aggs: AggregateSet,
    /// `key ++ start ++ end` → accumulator slot.
    windows: StateTable<Vec<u8>, u32>,
    /// window_end → (key group, state key) of the windows pending with that end.
    by_end: BTreeMap<Timestamp, Vec<(u32, Vec<u8>)>>,
    index_bytes: usize,
    memory: Arc<MemoryBudget>,
}

impl Drop for State {
    fn drop(&mut self) {
        self.memory.release(self.index_bytes);
    }
}

#[derive(Debug)]
pub struct WindowAggregateOperator {
    name: String,
    spec: WindowAggregateSpec,
    input: SchemaRef,
    keys: KeyEncoder,
    schema: SchemaRef,
    state: Option<State>,
    watermark: Timestamp,
    // Reused per batch.
    assigned: Vec<(Timestamp, Timestamp)>,
    scratch: Vec<u8>,
}

fn state_key(scratch: &mut Vec<u8>, key: &[u8], start: Timestamp, end: Timestamp) {
    scratch.clear();
    scratch.extend_from_slice(key);
    scratch.extend_from_slice(&start.to_be_bytes());
    scratch.extend_from_slice(&end.to_be_bytes());
}

fn split_state_key(k: &[u8]) -> (&[u8], Timestamp) {
    let (key, tail) = k.split_at(k.len() - 16);
    let mut start = [0u8; 8];
    start.copy_from_slice(&tail[..8]);
    (key, i64::from_be_bytes(start))
}

impl WindowAggregateOperator {
    pub fn new(name: &str, spec: WindowAggregateSpec, input: SchemaRef) -> Result<Self> {
        if matches!(spec.assigner, WindowAssigner::Session { .. }) {
            return Err(RuntimeError::Graph(
                "SESSION windows need SessionWindowAggregateOperator".into(),
            ));
        }
        spec.assigner.validated()?;
        let keys = KeyEncoder::new(&input, &spec.key_columns)?;
        let fields = spec
            .aggregates
            .iter()
            .map(|a| a.result_field(&input))
            .collect::<Result<Vec<_>>>()?;
        Ok(WindowAggregateOperator {
            name: name.to_string(),
            schema: output_schema(&keys, &fields),
            spec,
            input,
            keys,
            state: None,
            watermark: MIN_WATERMARK,
            assigned: Vec::new(),
            scratch: Vec::new(),
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
                windows: StateTable::new(ctx.subtask.key_group_range, ctx.memory.clone()),
                by_end: BTreeMap::new(),
                index_bytes: 0,
                memory: ctx.memory.clone(),
            });
        }
        Ok(())
    }

    /// Fires every window with `end - 1 <= time`, in order of `window_end`.
    fn fire(&mut self, time: Timestamp, out: &mut Output) -> Result<()> {
        let Some(st) = self.state.as_mut() else {
            return Ok(());
        };
        let mut fired = FiredWindows::default();
        while let Some(entry) = st.by_end.first_entry() {
            if *entry.key() - 1 > time {
                break;
            }
            let end = *entry.key();
            for (kg, sk) in entry.remove() {
                let size = sk.len() + INDEX_ENTRY_OVERHEAD;
                st.memory.release(size);
                st.index_bytes -= size;
                let Some(slot) = st.windows.remove(kg, &sk) else {
                    continue;
                };
                let (key, start) = split_state_key(&sk);
                fired.push(key.to_vec(), start, end, slot);
                if fired.is_full() {
                    fired.flush(&self.keys, &mut st.aggs, &self.schema, out)?;
                }
            }
        }
        fired.flush(&self.keys, &mut st.aggs, &self.schema, out)
    }
}

impl Operator for WindowAggregateOperator {
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
        let Some(st) = self.state.as_mut() else {
            return Ok(());
        };
        let (mut rows, mut slots) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let mut late = 0u64;
        // The last window looked up: consecutive rows of one key and window skip the table.
        let mut last: Option<(usize, u32)> = None;
        for (row, &ts) in times.iter().enumerate() {
            self.assigned.clear();
            self.spec.assigner.assign(ts, &mut self.assigned);
            let kg = encoded.key_groups[row];
            let mut kept = false;
            for &(start, end) in &self.assigned {
                if event_time && end - 1 <= self.watermark {
                    continue;
                }
                kept = true;
                let key = encoded.key(row);
                if let Some((prev_row, slot)) = last {
                    if self.assigned.len() == 1
                        && encoded.key(prev_row) == key
                        && times[prev_row] >= start
                        && times[prev_row] < end
                    {
                        rows.push(row as u32);
                        slots.push(slot);
                        last = Some((row, slot));
                        continue;
                    }
                }
                state_key(&mut self.scratch, key, start, end);
                let slot = match st.windows.get(kg, &self.scratch) {
                    Some(&slot) => slot,
                    None => {
                        let slot = st.aggs.alloc()?;
                        st.windows.insert(kg, self.scratch.clone(), slot)?;
                        let size = self.scratch.len() + INDEX_ENTRY_OVERHEAD;
                        st.memory.reserve(size)?;
                        st.index_bytes += size;
                        st.by_end
                            .entry(end)
                            .or_default()
                            .push((kg, self.scratch.clone()));
                        slot
                    }
                };
                rows.push(row as u32);
                slots.push(slot);
                last = Some((row, slot));
            }
            if !kept {
                late += 1;
            }
        }
        st.aggs.update_batch(&batch, &rows, &slots)?;
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
