//! [`OverAggregateOperator`]: event-time OVER aggregates (`PARTITION BY keys ORDER BY
//! time`), Flink's `RowTime{Rows,Range}{Unbounded,Bounded}PrecedingFunction`s. Rows wait
//! until the watermark reaches their timestamp, then are processed in timestamp order
//! (ties in arrival order); every row is emitted with one column per aggregate.
//!
//! Frames: ROWS/RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW, ROWS BETWEEN n
//! PRECEDING AND CURRENT ROW and RANGE BETWEEN INTERVAL PRECEDING AND CURRENT ROW. In
//! RANGE frames rows with equal timestamps share one result. Bounded frames retract
//! rows leaving the frame: each key keeps the aggregate inputs of the rows in its frame
//! only (at most n rows for ROWS; the rows within the interval for RANGE), as Flink keeps
//! them in state. Late rows are dropped and counted as Flink does: unbounded frames drop
//! rows at or behind the watermark; bounded frames drop rows at or before the last
//! timestamp processed for their key (Flink starts that at 0, so rows at time <= 0 are
//! dropped there too).
//!
//! On `hashmap` waiting rows stay in their input batches and each key's state is a heap
//! table entry; on `rocksdb` all of it lives in the subtask's RocksDB instance
//! ([`rocks`]) and only the timers of the waiting rows stay on the heap. At most
//! [`MAX_PENDING_ROWS`] may wait. The heap state is checkpointed in the canonical keyed
//! snapshot ([`snapshot`]: accumulators, frame rows and waiting rows by key group);
//! RocksDB checkpoints are incremental, and savepoints canonical on both backends.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch};
use arrow::compute::{concat, interleave_record_batch};
use arrow::datatypes::{Schema, SchemaRef};

use self::frame::{KeyState, for_each_group, process_rows};
use self::rocks::RocksOver;
use super::aggregate::AggregateSpec;
use super::keyed_input::{KeyedAggregates, count_late, emit_in_batches, get_or_create};
use super::keys::KeyEncoder;
use super::rowtime::event_times;
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::message::CheckpointBarrier;
use crate::runtime::message::{MIN_WATERMARK, Timestamp};
use crate::runtime::operator::{Operator, OperatorContext, Output};
use crate::state::memory::MemoryBudget;
use crate::state::rocksdb::handle::refuse_on_heap;

/// Most rows waiting for the watermark in one subtask.
pub const MAX_PENDING_ROWS: usize = 4 << 20;
/// Most rows in one emitted batch.
pub const MAX_OUTPUT_BATCH_ROWS: usize = 8192;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverFrame {
    RowsUnbounded,
    RangeUnbounded,
    /// ROWS BETWEEN `n` PRECEDING AND CURRENT ROW.
    Rows {
        preceding: u64,
    },
    /// RANGE BETWEEN INTERVAL `ms` PRECEDING AND CURRENT ROW.
    Range {
        preceding_ms: i64,
    },
}

impl OverFrame {
    fn bounded(self) -> bool {
        matches!(self, OverFrame::Rows { .. } | OverFrame::Range { .. })
    }
}

#[derive(Debug, Clone)]
pub struct OverSpec {
    pub frame: OverFrame,
    pub partition_columns: Vec<usize>,
    pub time_column: usize,
    pub aggregates: Vec<AggregateSpec>,
}

#[derive(Debug)]
struct State {
    /// On rocksdb the table stays empty and `aggs` only lends slots for a batch.
    keyed: KeyedAggregates<KeyState>,
    /// The state on the rocksdb backend (set at `open`).
    rocks: Option<RocksOver>,
    /// Input batches holding waiting rows, with how many of their rows still wait.
    batches: HashMap<u64, (RecordBatch, usize)>,
    /// Waiting rows by time, in arrival order: (batch, row).
    waiting: BTreeMap<Timestamp, Vec<(u64, usize)>>,
    next_batch: u64,
    waiting_rows: usize,
    batch_bytes: usize,
    memory: Arc<MemoryBudget>,
    /// The job's max parallelism (key groups of the waiting rows in a snapshot).
    max_parallelism: u32,
}

impl State {
    fn new(spec: &OverSpec, input: &SchemaRef, ctx: &OperatorContext) -> Result<Self> {
        let retract = spec.frame.bounded();
        Ok(State {
            keyed: KeyedAggregates::new(&spec.aggregates, input, retract, ctx)?,
            rocks: None,
            batches: HashMap::new(),
            waiting: BTreeMap::new(),
            next_batch: 0,
            waiting_rows: 0,
            batch_bytes: 0,
            memory: ctx.memory.clone(),
            max_parallelism: ctx.subtask.max_parallelism,
        })
    }

    /// Adds `rows` (times `times`) as waiting for the watermark, after those waiting.
    fn add_waiting(
        &mut self,
        name: &str,
        rows: RecordBatch,
        picked: impl Iterator<Item = (Timestamp, usize)>,
    ) -> Result<()> {
        let id = self.next_batch;
        let mut kept = 0;
        for (ts, row) in picked {
            self.waiting.entry(ts).or_default().push((id, row));
            kept += 1;
        }
        if kept == 0 {
            return Ok(());
        }
        if self.waiting_rows + kept > MAX_PENDING_ROWS {
            return Err(RuntimeError::Task {
                task: name.to_string(),
                message: format!("more than {MAX_PENDING_ROWS} rows wait for the watermark"),
            });
        }
        let size = rows.get_array_memory_size();
        self.memory.reserve(size)?;
        self.batch_bytes += size;
        self.waiting_rows += kept;
        self.batches.insert(id, (rows, kept));
        self.next_batch += 1;
        Ok(())
    }
}

impl Drop for State {
    fn drop(&mut self) {
        self.memory.release(self.batch_bytes);
    }
}

#[derive(Debug)]
pub struct OverAggregateOperator {
    name: String,
    spec: OverSpec,
    input: SchemaRef,
    keys: KeyEncoder,
    schema: SchemaRef,
    state: Option<State>,
    watermark: Timestamp,
    /// Snapshots to load at `open` (several when rescaled).
    restore: Vec<Vec<u8>>,
}

impl OverAggregateOperator {
    pub fn new(name: &str, spec: OverSpec, input: SchemaRef) -> Result<Self> {
        if let OverFrame::Range { preceding_ms } = spec.frame
            && preceding_ms < 0
        {
            return Err(RuntimeError::Graph(
                "RANGE preceding interval must be >= 0".into(),
            ));
        }
        let keys = KeyEncoder::new(&input, &spec.partition_columns)?;
        let mut fields: Vec<_> = input.fields().iter().map(|f| f.as_ref().clone()).collect();
        for a in &spec.aggregates {
            fields.push(a.result_field(&input)?);
        }
        Ok(OverAggregateOperator {
            name: name.to_string(),
            schema: Arc::new(Schema::new(fields)),
            spec,
            input,
            keys,
            state: None,
            watermark: MIN_WATERMARK,
            restore: Vec::new(),
        })
    }

    pub fn output_schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn state(&mut self, ctx: &OperatorContext) -> Result<&mut State> {
        let (spec, input) = (&self.spec, &self.input);
        get_or_create(&mut self.state, || State::new(spec, input, ctx))
    }

    /// Processes every waiting row with time <= `time`.
    fn advance(&mut self, time: Timestamp, ctx: &OperatorContext, out: &mut Output) -> Result<()> {
        let Some(st) = self.state.as_mut() else {
            return Ok(());
        };
        if let Some(rocks) = &mut st.rocks {
            let at = rocks::Emit {
                spec: &self.spec,
                keys: &self.keys,
                schema: &self.schema,
                max_parallelism: ctx.subtask.max_parallelism,
            };
            return rocks.advance(&mut st.keyed.aggs, &at, time, out);
        }
        let ready = match time.checked_add(1) {
            Some(after) => {
                let later = st.waiting.split_off(&after);
                std::mem::replace(&mut st.waiting, later)
            }
            None => std::mem::take(&mut st.waiting),
        };
        if ready.is_empty() {
            return Ok(());
        }
        // Gather the ready rows, in processing order, into one batch.
        let mut ids: Vec<u64> = Vec::new();
        let mut index_of: HashMap<u64, usize> = HashMap::new();
        let mut picks = Vec::new();
        for (_, rows) in ready {
            for (b, r) in rows {
                let i = *index_of.entry(b).or_insert_with(|| {
                    ids.push(b);
                    ids.len() - 1
                });
                picks.push((i, r));
            }
        }
        let sources: Vec<&RecordBatch> = ids
            .iter()
            .map(|b| st.batches.get(b).map(|e| &e.0))
            .collect::<Option<_>>()
            .ok_or_else(|| RuntimeError::Graph("OVER: waiting row lost its batch".into()))?;
        let batch = interleave_record_batch(&sources, &picks)?;
        for &(i, _) in &picks {
            let id = ids[i];
            if let Some(e) = st.batches.get_mut(&id) {
                e.1 -= 1;
                if e.1 == 0 {
                    let size = e.0.get_array_memory_size();
                    st.batches.remove(&id);
                    st.memory.release(size);
                    st.batch_bytes -= size;
                }
            }
        }
        st.waiting_rows -= picks.len();
        let results = self.compute(&batch, ctx)?;
        let mut columns = batch.columns().to_vec();
        columns.extend(results);
        let all = RecordBatch::try_new(self.schema.clone(), columns)?;
        emit_in_batches(&all, MAX_OUTPUT_BATCH_ROWS, out);
        Ok(())
    }

    /// The aggregate columns of `batch` (ready rows sorted by time).
    fn compute(&mut self, batch: &RecordBatch, ctx: &OperatorContext) -> Result<Vec<ArrayRef>> {
        let times = event_times(batch, self.spec.time_column)?;
        let encoded = self.keys.encode(batch, ctx.subtask.max_parallelism)?;
        let frame = self.spec.frame;
        let Some(st) = self.state.as_mut() else {
            return Ok(Vec::new());
        };
        let input = st.keyed.aggs.prepare(batch)?;
        let mut results: Vec<Option<Vec<ArrayRef>>> = vec![None; batch.num_rows()];
        let keyed = &mut st.keyed;
        for_each_group(&times, &encoded, |ts, first, rows| {
            let (kg, key) = (encoded.key_groups[first], encoded.key(first).to_vec());
            keyed.ensure_key(kg, &key, |aggs| {
                Ok(KeyState {
                    slot: aggs.alloc()?,
                    last_ts: 0,
                    frame: VecDeque::new(),
                    frame_bytes: 0,
                })
            })?;
            let (aggs, res) = (&mut keyed.aggs, &mut results);
            keyed
                .table
                .update(kg, &key, |ks| {
                    let slot = ks.slot;
                    process_rows(ks, slot, frame, ts, rows, aggs, &input, res)?;
                    ks.last_ts = ts;
                    Ok::<(), RuntimeError>(())
                })?
                .transpose()?;
            Ok(())
        })?;
        result_columns(results, self.spec.aggregates.len())
    }
}

/// One column per aggregate from each row's results.
fn result_columns(results: Vec<Option<Vec<ArrayRef>>>, aggregates: usize) -> Result<Vec<ArrayRef>> {
    let mut columns = Vec::with_capacity(aggregates);
    for a in 0..aggregates {
        let parts: Vec<&dyn Array> = results
            .iter()
            .map(|r| r.as_ref().map(|v| v[a].as_ref()))
            .collect::<Option<_>>()
            .ok_or_else(|| RuntimeError::Graph("OVER: a ready row got no result".into()))?;
        columns.push(concat(&parts)?);
    }
    Ok(columns)
}

impl Operator for OverAggregateOperator {
    fn name(&self) -> &str {
        &self.name
    }

    fn snapshot_state(&mut self, barrier: &CheckpointBarrier) -> Result<Option<Vec<u8>>> {
        match &mut self.state {
            Some(State {
                keyed,
                rocks: Some(rocks),
                ..
            }) => rocks
                .snapshot(&mut keyed.aggs, barrier, &self.keys)
                .map(Some),
            Some(st) => snapshot::snapshot(st, &self.keys, &self.input).map(Some),
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
        let restore = std::mem::take(&mut self.restore);
        let (name, input) = (self.name.clone(), self.input.clone());
        let st = self.state(ctx)?;
        if let Some((rocks, entries)) =
            RocksOver::open(ctx, &name, &mut st.keyed.aggs, &input, &restore)?
        {
            tracing::debug!(job = %ctx.subtask.job_name, vertex = %ctx.subtask.vertex_name, subtask = ctx.subtask.index, operator = %name, entries, "OVER state in rocksdb");
            st.rocks = Some(rocks);
            return Ok(());
        }
        for bytes in restore {
            refuse_on_heap(&bytes, &name)?;
            let entries = snapshot::restore(st, &name, &input, &bytes)?;
            tracing::debug!(job = %ctx.subtask.job_name, vertex = %ctx.subtask.vertex_name, subtask = ctx.subtask.index, operator = %name, entries, "OVER state restored");
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
        let times = event_times(&batch, self.spec.time_column)?;
        let bounded = self.spec.frame.bounded();
        if let Some(st) = self.state.as_mut()
            && let Some(rocks) = &mut st.rocks
        {
            let encoded = self.keys.encode(&batch, ctx.subtask.max_parallelism)?;
            let late_at = (!bounded).then_some(self.watermark);
            let late = rocks.add_batch(&self.name, &batch, &times, &encoded, late_at)?;
            count_late(ctx, late);
            return Ok(());
        }
        let encoded = if bounded {
            Some(self.keys.encode(&batch, ctx.subtask.max_parallelism)?)
        } else {
            None
        };
        let watermark = self.watermark;
        let (spec, input) = (&self.spec, &self.input);
        let st = get_or_create(&mut self.state, || State::new(spec, input, ctx))?;
        let mut picked = Vec::new();
        let mut late = 0u64;
        let mut scratch = Vec::new();
        for (row, &ts) in times.iter().enumerate() {
            let is_late = match &encoded {
                // Flink's bounded functions: behind the key's last triggering time (0 at first).
                Some(keys) => {
                    scratch.clear();
                    scratch.extend_from_slice(keys.key(row));
                    let last = st
                        .keyed
                        .table
                        .get(keys.key_groups[row], &scratch)
                        .map_or(0, |k| k.last_ts);
                    ts <= last
                }
                None => ts <= watermark,
            };
            if is_late {
                late += 1;
                continue;
            }
            picked.push((ts, row));
        }
        count_late(ctx, late);
        st.add_waiting(&self.name, batch, picked.into_iter())
    }

    fn process_watermark(
        &mut self,
        watermark: Timestamp,
        ctx: &OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        if watermark > self.watermark {
            self.watermark = watermark;
            self.advance(watermark, ctx, out)?;
        }
        out.emit_watermark(watermark);
        Ok(())
    }

    fn finish(&mut self, ctx: &OperatorContext, out: &mut Output) -> Result<()> {
        self.advance(Timestamp::MAX, ctx, out)
    }
}

mod frame;
mod rocks;
mod rocks_frame;
mod rocks_layout;
mod rocks_snapshot;
#[cfg(test)]
mod rocksdb_tests;
mod snapshot;
#[cfg(test)]
mod tests;
