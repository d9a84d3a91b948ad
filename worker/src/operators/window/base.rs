//! [`WindowOperator`]: the operator both window aggregates are (Flink's
//! `WindowOperator`), generic over a [`WindowKind`]. It owns what they share: key
//! encoding and the output schema, the time that drives the windows (event time and
//! the watermark, or processing time and a timer), the per-subtask state
//! ([`WindowState`]: accumulators, a `StateTable` of each key's pending windows and the
//! [`FiringIndex`] of pending windows by `window_end`), late-row counting and firing due
//! windows in order of `window_end`. The kind says how rows join windows (TUMBLE / HOP /
//! CUMULATE in [`super::operator`], SESSION in [`super::session`]) and which windows
//! an index entry stands for.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::SchemaRef;

use super::{FiredWindows, WindowAggregateSpec, WindowTime, output_schema};
use crate::operators::aggregate::AggregateSet;
use crate::operators::keyed_input::{KeyedAggregates, count_late, get_or_create};
use crate::operators::keyed_rocks::RocksAggregates;
use crate::operators::keys::{EncodedKeys, KeyEncoder};
use crate::operators::rowtime::event_times;
use crate::runtime::error::Result;
use crate::runtime::message::CheckpointBarrier;
use crate::runtime::message::{MIN_WATERMARK, Timestamp};
use crate::runtime::operator::{Operator, OperatorContext, Output};
use crate::state::memory::MemoryBudget;
use crate::state::rocksdb::handle::refuse_on_heap;
use crate::state::table::{StateSize, StateTable};

/// Bytes charged per entry of the firing index besides its key bytes.
const INDEX_ENTRY_OVERHEAD: usize = 48;

/// A window due to fire: key bytes, start, end, accumulator slot.
pub type DueWindow = (Vec<u8>, Timestamp, Timestamp, u32);

/// Pending windows by `window_end`: the (key group, state key) of each, charged to
/// managed memory. Entries may outlive their window (a session that grew); the kind
/// skips those when they come due.
#[derive(Debug)]
pub struct FiringIndex {
    by_end: BTreeMap<Timestamp, Vec<(u32, Vec<u8>)>>,
    bytes: usize,
    memory: Arc<MemoryBudget>,
}

impl FiringIndex {
    fn new(memory: Arc<MemoryBudget>) -> Self {
        FiringIndex {
            by_end: BTreeMap::new(),
            bytes: 0,
            memory,
        }
    }

    pub fn add(&mut self, end: Timestamp, key_group: u32, key: &[u8]) -> Result<()> {
        let size = key.len() + INDEX_ENTRY_OVERHEAD;
        self.memory.reserve(size)?;
        self.bytes += size;
        self.by_end
            .entry(end)
            .or_default()
            .push((key_group, key.to_vec()));
        Ok(())
    }

    /// Removes the entries of the earliest `window_end` if it fires at `time`
    /// (`end - 1 <= time`).
    fn pop_due(&mut self, time: Timestamp) -> Option<(Timestamp, Vec<(u32, Vec<u8>)>)> {
        let entry = self.by_end.first_entry()?;
        if *entry.key() - 1 > time {
            return None;
        }
        let end = *entry.key();
        let entries = entry.remove();
        let size: usize = entries
            .iter()
            .map(|(_, k)| k.len() + INDEX_ENTRY_OVERHEAD)
            .sum();
        self.memory.release(size);
        self.bytes -= size;
        Some((end, entries))
    }

    fn next_end(&self) -> Option<Timestamp> {
        self.by_end.first_key_value().map(|(end, _)| *end)
    }
}

impl Drop for FiringIndex {
    fn drop(&mut self) {
        self.memory.release(self.bytes);
    }
}

/// A window operator's state in one subtask. On the rocksdb backend the
/// accumulators live in `rocks` and `keyed` only lends transient slots; the firing
/// index stays on the heap (Flink's `HEAP` timer service) and is rebuilt from
/// RocksDB's keys on restore.
#[derive(Debug)]
pub struct WindowState<V> {
    pub keyed: KeyedAggregates<V>,
    pub index: FiringIndex,
    pub rocks: Option<RocksAggregates>,
}

impl<V: StateSize> WindowState<V> {
    fn new(spec: &WindowAggregateSpec, input: &SchemaRef, ctx: &OperatorContext) -> Result<Self> {
        Ok(WindowState {
            keyed: KeyedAggregates::new(&spec.aggregates, input, false, ctx)?,
            index: FiringIndex::new(ctx.memory.clone()),
            rocks: None,
        })
    }
}

/// How rows join windows, and which windows an index entry stands for.
pub trait WindowKind: Debug + Send {
    /// A key's pending windows, as its state table stores them.
    type Windows: StateSize + Debug + Send;
    /// [`Self::add_rows`] on the rocksdb backend (`st.rocks` is set): the windows
    /// the batch touches are loaded from RocksDB into transient slots, updated and
    /// written back.
    fn add_rows_rocks(
        &mut self,
        st: &mut WindowState<Self::Windows>,
        batch: &RecordBatch,
        times: &[Timestamp],
        keys: &EncodedKeys,
        late_at: Option<Timestamp>,
    ) -> Result<u64>;

    /// [`Self::take_due`] on the rocksdb backend: loads the windows of index entries
    /// `entries` (due at `end`) that fire at `time` from `rocks` into slots of `aggs`,
    /// deletes them, and pushes them to `due`.
    fn take_due_rocks(
        rocks: &RocksAggregates,
        aggs: &mut AggregateSet,
        entries: &[(u32, Vec<u8>)],
        end: Timestamp,
        time: Timestamp,
        due: &mut Vec<DueWindow>,
    ) -> Result<()>;

    /// The firing-index entry (time, index key) of a RocksDB state key (rebuilding
    /// the index on restore).
    fn rocks_index_entry(state_key: &[u8]) -> Result<(Timestamp, &[u8])>;

    /// State keys as the canonical snapshot's `[key_text, namespace]` columns.
    fn describe(keys: &KeyEncoder, state_keys: &[&[u8]]) -> Result<[ArrayRef; 2]>;

    /// Adds every row of `batch` to its windows. Under event time `late_at` is the
    /// watermark: rows that join no window ending after it are dropped. Returns how
    /// many rows were dropped.
    fn add_rows(
        &mut self,
        st: &mut WindowState<Self::Windows>,
        batch: &RecordBatch,
        times: &[Timestamp],
        keys: &EncodedKeys,
        late_at: Option<Timestamp>,
    ) -> Result<u64>;

    /// Removes from `windows` the windows of index entry `(key_group, key)` (due at
    /// `end`) that fire at `time`, and pushes them to `due`.
    fn take_due(
        windows: &mut StateTable<Vec<u8>, Self::Windows>,
        key_group: u32,
        key: Vec<u8>,
        end: Timestamp,
        time: Timestamp,
        due: &mut Vec<DueWindow>,
    ) -> Result<()>;

    /// The state in the canonical snapshot form (see
    /// [`crate::operators::keyed_snapshot`]); kinds without one decline checkpoints.
    fn snapshot(
        &self,
        _st: &WindowState<Self::Windows>,
        _keys: &KeyEncoder,
        name: &str,
    ) -> Result<Vec<u8>> {
        crate::runtime::operator::unsupported_state(name).map(|_| Vec::new())
    }

    /// Loads a snapshot into empty state (the rows of the subtask's key groups);
    /// returns how many entries it restored.
    fn restore(
        &self,
        _st: &mut WindowState<Self::Windows>,
        _bytes: &[u8],
        name: &str,
    ) -> Result<usize> {
        crate::runtime::operator::unsupported_state(name).map(|_| 0)
    }
}

/// A window aggregate operator of kind `W`.
#[derive(Debug)]
pub struct WindowOperator<W: WindowKind> {
    name: String,
    spec: WindowAggregateSpec,
    input: SchemaRef,
    keys: KeyEncoder,
    schema: SchemaRef,
    watermark: Timestamp,
    kind: W,
    state: Option<WindowState<W::Windows>>,
    /// Snapshots to load when the state is created (at `open`): one, or every earlier
    /// subtask's when the job was rescaled (each contributes its key groups of ours).
    restore: Vec<Vec<u8>>,
}

impl<W: WindowKind> WindowOperator<W> {
    pub(super) fn with_kind(
        name: &str,
        spec: WindowAggregateSpec,
        input: SchemaRef,
        kind: W,
    ) -> Result<Self> {
        let keys = KeyEncoder::new(&input, &spec.key_columns)?;
        let fields = spec
            .aggregates
            .iter()
            .map(|a| a.result_field(&input))
            .collect::<Result<Vec<_>>>()?;
        Ok(WindowOperator {
            name: name.to_string(),
            schema: output_schema(&keys, &fields),
            spec,
            input,
            keys,
            watermark: MIN_WATERMARK,
            kind,
            state: None,
            restore: Vec::new(),
        })
    }

    pub fn output_schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn state(&mut self, ctx: &OperatorContext) -> Result<&mut WindowState<W::Windows>> {
        let (spec, input) = (&self.spec, &self.input);
        get_or_create(&mut self.state, || WindowState::new(spec, input, ctx))
    }

    fn processing_time(&self) -> bool {
        self.spec.time == WindowTime::ProcessingTime
    }

    /// Fires every window with `end - 1 <= time`, in order of `window_end`.
    fn fire(&mut self, time: Timestamp, out: &mut Output) -> Result<()> {
        let Some(st) = self.state.as_mut() else {
            return Ok(());
        };
        let mut fired = FiredWindows::default();
        let mut due = Vec::new();
        while let Some((end, entries)) = st.index.pop_due(time) {
            if let Some(rocks) = &st.rocks {
                for chunk in entries.chunks(super::MAX_OUTPUT_BATCH_ROWS) {
                    W::take_due_rocks(rocks, &mut st.keyed.aggs, chunk, end, time, &mut due)?;
                    for (key, start, end, slot) in due.drain(..) {
                        fired.push(key, start, end, slot);
                        if fired.is_full() {
                            fired.flush(&self.keys, &mut st.keyed.aggs, &self.schema, out)?;
                        }
                    }
                }
                continue;
            }
            for (kg, key) in entries {
                W::take_due(&mut st.keyed.table, kg, key, end, time, &mut due)?;
                for (key, start, end, slot) in due.drain(..) {
                    fired.push(key, start, end, slot);
                    if fired.is_full() {
                        fired.flush(&self.keys, &mut st.keyed.aggs, &self.schema, out)?;
                    }
                }
            }
        }
        fired.flush(&self.keys, &mut st.keyed.aggs, &self.schema, out)
    }
}

impl<W: WindowKind> Operator for WindowOperator<W> {
    fn name(&self) -> &str {
        &self.name
    }

    fn snapshot_state(&mut self, barrier: &CheckpointBarrier) -> Result<Option<Vec<u8>>> {
        match &mut self.state {
            Some(WindowState {
                keyed,
                rocks: Some(rocks),
                ..
            }) => {
                let keys = &self.keys;
                let describe = |state_keys: &[&[u8]]| W::describe(keys, state_keys);
                rocks
                    .snapshot(&mut keyed.aggs, barrier, &describe)
                    .map(Some)
            }
            Some(st) => self.kind.snapshot(st, &self.keys, &self.name).map(Some),
            None => Ok(None),
        }
    }

    fn restore_state(&mut self, state: &[u8]) -> Result<()> {
        self.restore.push(state.to_vec());
        Ok(())
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        if let Some(rocks) = self.state.as_mut().and_then(|st| st.rocks.as_mut()) {
            rocks.notify_checkpoint_complete(checkpoint_id);
        }
        Ok(())
    }

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        self.state(ctx)?;
        let Some(st) = self.state.as_mut() else {
            return Ok(());
        };
        let restore = std::mem::take(&mut self.restore);
        let (job, vertex, subtask) = (
            &ctx.subtask.job_name,
            &ctx.subtask.vertex_name,
            ctx.subtask.index,
        );
        if let Some((rocks, entries)) =
            RocksAggregates::open(ctx, &self.name, &mut st.keyed.aggs, false, &restore)?
        {
            let index = &mut st.index;
            rocks.for_each_key(|kg, key| {
                let (end, entry) = W::rocks_index_entry(key)?;
                index.add(end, kg, entry)
            })?;
            tracing::debug!(job = %job, vertex = %vertex, subtask, operator = %self.name, entries, "window state in rocksdb");
            st.rocks = Some(rocks);
            return Ok(());
        }
        for bytes in restore {
            refuse_on_heap(&bytes, &self.name)?;
            let entries = self.kind.restore(st, &bytes, &self.name)?;
            tracing::debug!(job = %job, vertex = %vertex, subtask, operator = %self.name, entries, "window state restored");
        }
        Ok(())
    }

    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        ctx: &OperatorContext,
        _out: &mut Output,
    ) -> Result<()> {
        let (times, late_at) = match self.spec.time {
            WindowTime::EventTime { time_column } => {
                (event_times(&batch, time_column)?, Some(self.watermark))
            }
            WindowTime::ProcessingTime => (vec![ctx.clock.now_ms(); batch.num_rows()], None),
        };
        let encoded = self.keys.encode(&batch, ctx.subtask.max_parallelism)?;
        let (spec, input) = (&self.spec, &self.input);
        let st = get_or_create(&mut self.state, || WindowState::new(spec, input, ctx))?;
        let late = if st.rocks.is_some() {
            self.kind
                .add_rows_rocks(st, &batch, &times, &encoded, late_at)?
        } else {
            self.kind.add_rows(st, &batch, &times, &encoded, late_at)?
        };
        count_late(ctx, late);
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
            if !self.processing_time() {
                self.fire(watermark, out)?;
            }
        }
        out.emit_watermark(watermark);
        Ok(())
    }

    fn next_processing_time_timer(&self) -> Option<Timestamp> {
        if !self.processing_time() {
            return None;
        }
        self.state.as_ref()?.index.next_end().map(|end| end - 1)
    }

    fn on_processing_time(
        &mut self,
        now: Timestamp,
        _ctx: &OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        if self.processing_time() {
            self.fire(now, out)?;
        }
        Ok(())
    }

    fn finish(&mut self, _ctx: &OperatorContext, out: &mut Output) -> Result<()> {
        self.fire(Timestamp::MAX, out)
    }
}
