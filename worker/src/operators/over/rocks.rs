//! The OVER aggregate on the rocksdb backend ([`RocksOver`]). Each subtask keeps its
//! keyed state in its own RocksDB instance, in three key spaces told apart by a tag
//! byte before the partition key (`instance::db_key` puts the key group first):
//! - `0 ++ key` → the key's last processed time, its frame's first sequence number
//!   and length (three 8-byte little-endian numbers), then its accumulators' state
//!   (`keyed_rocks::StateCodec`);
//! - `1 ++ key ++ seq` (u64 big-endian, so a key's frame is in order) → a row of its
//!   bounded frame: its time, then its aggregate inputs in Arrow's row format;
//! - `2 ++ key ++ time ++ seq` (big-endian, the time's sign bit flipped) → an input
//!   row waiting for the watermark, in Arrow's row format; `seq` is the subtask's
//!   arrival counter, so ties keep arrival order.
//!
//! Only the waiting rows' timers stay on the heap (Flink's heap timers): `(time, seq,
//! key group, key)`, charged to managed memory, rebuilt from the `2` keys on restore.
//! A batch's late check multi-reads its keys' `0` entries (bounded frames) and its
//! rows are written in one write batch. When the watermark passes, due rows are read
//! with one multi-get per chunk of about [`READ_ROWS`] rows (a chunk ends between
//! times) and processed as on the heap (`super::frame`); the chunk's keys are
//! multi-read, the frame rows leaving are read ahead (`super::rocks_frame`), and
//! the keys, frame changes and the rows' deletion are written in one write batch.

use std::collections::HashMap;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::row::{RowConverter, SortField};
use rocksdb::WriteBatch;

use super::frame::{for_each_group, process_rows};
use super::rocks_frame::{ChunkKey, FrameOp};
pub(super) use super::rocks_layout::*;
use super::{MAX_OUTPUT_BATCH_ROWS, MAX_PENDING_ROWS, OverSpec, result_columns};
use crate::key_groups::KeyGroupRange;
use crate::operators::aggregate::AggregateSet;
use crate::operators::keyed_input::emit_in_batches;
use crate::operators::keyed_rocks::{Opened, StateCodec, open_instance};
use crate::operators::keys::{EncodedKeys, KeyEncoder};
use crate::operators::rowtime::event_times;
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::message::Timestamp;
use crate::runtime::operator::{OperatorContext, Output};
use crate::state::rocksdb::KeyedStateDb;
use crate::state::rocksdb::incremental::IncrementalSnapshots;
use crate::state::rocksdb::instance::db_key;

/// Rows read per chunk when the watermark passes (a chunk ends between times, so it
/// holds more when one time has more rows).
pub const READ_ROWS: usize = 4096;

/// What emitting results needs from the operator.
pub(super) struct Emit<'a> {
    pub spec: &'a OverSpec,
    pub keys: &'a KeyEncoder,
    pub schema: &'a SchemaRef,
    pub max_parallelism: u32,
}

/// One OVER subtask's state in its RocksDB instance.
#[derive(Debug)]
pub struct RocksOver {
    pub(super) db: KeyedStateDb,
    pub(super) snapshots: IncrementalSnapshots,
    pub(super) range: KeyGroupRange,
    pub(super) accs: StateCodec,
    /// The aggregates' prepared input types (`None`: no input).
    pub(super) input_types: Vec<Option<DataType>>,
    /// Encodes the frame rows' inputs (`None`: no aggregate has one).
    pub(super) frame_codec: Option<RowConverter>,
    /// Encodes the input rows.
    pub(super) rows: RowConverter,
    pub(super) input: SchemaRef,
    pub(super) timers: Timers,
    pub(super) next_seq: u64,
}

impl RocksOver {
    /// The state of OVER operator `name` on the rocksdb backend (`None` on hashmap, or
    /// when accumulators or input types have no RocksDB format: heap state, logged),
    /// with `restore` loaded; returns it and how many canonical entries it loaded.
    pub(super) fn open(
        ctx: &OperatorContext,
        name: &str,
        aggs: &mut AggregateSet,
        input: &SchemaRef,
        restore: &[Vec<u8>],
    ) -> Result<Option<(RocksOver, usize)>> {
        if ctx.state_backend.rocksdb().is_none() {
            return Ok(None);
        }
        let heap = |reason: String| {
            tracing::warn!(job = %ctx.subtask.job_name, vertex = %ctx.subtask.vertex_name, subtask = ctx.subtask.index, operator = %name, reason = %reason, "state backend rocksdb: OVER keeps its state on the heap");
            Ok(None)
        };
        if let Err(RuntimeError::CheckpointUnsupported(what)) = aggs.state(&[]) {
            return heap(what);
        }
        let converter = |types: Vec<DataType>| {
            RowConverter::new(types.into_iter().map(SortField::new).collect())
        };
        let rows = match converter(
            input
                .fields()
                .iter()
                .map(|f| f.data_type().clone())
                .collect(),
        ) {
            Ok(rows) => rows,
            Err(e) => return heap(format!("input rows: {e}")),
        };
        let input_types = super::snapshot::input_types(aggs, input)?;
        let typed: Vec<DataType> = input_types.iter().flatten().cloned().collect();
        let frame_codec = match typed.is_empty() {
            true => None,
            false => Some(converter(typed)?),
        };
        let accs = StateCodec::new(aggs, false)?;
        let Some(Opened {
            db,
            snapshots,
            range,
            canonical,
        }) = open_instance(ctx, name, restore)?
        else {
            return Ok(None);
        };
        let mut state = RocksOver {
            db,
            snapshots,
            range,
            accs,
            input_types,
            frame_codec,
            rows,
            input: input.clone(),
            timers: Timers::new(ctx.memory.clone()),
            next_seq: 0,
        };
        state.rebuild_timers()?;
        let mut restored = 0;
        for bytes in canonical {
            restored += state.load_canonical(aggs, bytes)?;
        }
        Ok(Some((state, restored)))
    }

    /// Stores the rows of `batch` (keys `encoded`, times `times`) that are not late
    /// as waiting; `late_at`: the watermark (unbounded frames), else a row is late at
    /// or before its key's last processed time. Returns how many were late.
    pub(super) fn add_batch(
        &mut self,
        name: &str,
        batch: &RecordBatch,
        times: &[Timestamp],
        encoded: &EncodedKeys,
        late_at: Option<Timestamp>,
    ) -> Result<u64> {
        let n = batch.num_rows();
        let last: Vec<Timestamp> = match late_at {
            Some(watermark) => vec![watermark; n],
            None => self.last_times(encoded, n)?,
        };
        let picked: Vec<usize> = (0..n).filter(|&r| times[r] > last[r]).collect();
        let late = (n - picked.len()) as u64;
        if picked.is_empty() {
            return Ok(late);
        }
        if self.timers.len() + picked.len() > MAX_PENDING_ROWS {
            return Err(RuntimeError::Task {
                task: name.to_string(),
                message: format!("more than {MAX_PENDING_ROWS} rows wait for the watermark"),
            });
        }
        let rows = self.rows.convert_columns(batch.columns())?;
        let mut write = WriteBatch::default();
        for r in picked {
            let (seq, kg, key) = (self.next_seq, encoded.key_groups[r], encoded.key(r));
            self.next_seq += 1;
            write.put(db_key(kg, &waiting_key(key, times[r], seq))?, rows.row(r));
            self.timers.add(times[r], seq, kg, key)?;
        }
        self.db.write(write)?;
        Ok(late)
    }

    /// Each row's key's last processed time (0 for a new key, as Flink's).
    fn last_times(&self, encoded: &EncodedKeys, n: usize) -> Result<Vec<Timestamp>> {
        let mut index_of: HashMap<&[u8], usize> = HashMap::new();
        let mut db_keys = Vec::new();
        let mut which = Vec::with_capacity(n);
        for row in 0..n {
            let key = encoded.key(row);
            let i = match index_of.get(key) {
                Some(&i) => i,
                None => {
                    db_keys.push(db_key(encoded.key_groups[row], &aggregates_key(key))?);
                    index_of.insert(key, db_keys.len() - 1);
                    db_keys.len() - 1
                }
            };
            which.push(i);
        }
        let last = self
            .db
            .multi_get(&db_keys)?
            .iter()
            .map(|v| match v {
                Some(v) => Header::decode(v).map(|(h, _)| h.last_ts),
                None => Ok(0),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(which.into_iter().map(|i| last[i]).collect())
    }

    /// Processes the waiting rows with time <= `time`, a chunk at a time.
    pub(super) fn advance(
        &mut self,
        aggs: &mut AggregateSet,
        at: &Emit<'_>,
        time: Timestamp,
        out: &mut Output,
    ) -> Result<()> {
        loop {
            let due = self.timers.pop_due(time, READ_ROWS);
            if due.is_empty() {
                return Ok(());
            }
            let db_keys = due
                .iter()
                .map(|(ts, seq, kg, key)| db_key(*kg, &waiting_key(key, *ts, *seq)))
                .collect::<Result<Vec<_>>>()?;
            let values = self.db.multi_get(&db_keys)?;
            let parser = self.rows.parser();
            let rows = values
                .iter()
                .map(|v| {
                    v.as_deref().map(|b| parser.parse(b)).ok_or_else(|| {
                        RuntimeError::Graph("OVER: a waiting row is missing from rocksdb".into())
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let batch = RecordBatch::try_new(self.input.clone(), self.rows.convert_rows(rows)?)?;
            let results = self.compute(aggs, at, &batch, db_keys)?;
            let mut columns = batch.columns().to_vec();
            columns.extend(results);
            let all = RecordBatch::try_new(at.schema.clone(), columns)?;
            emit_in_batches(&all, MAX_OUTPUT_BATCH_ROWS, out);
        }
    }

    /// The aggregate columns of `batch` (ready rows in processing order, stored under
    /// `waiting`, deleted with the chunk's writes).
    fn compute(
        &mut self,
        aggs: &mut AggregateSet,
        at: &Emit<'_>,
        batch: &RecordBatch,
        waiting: Vec<Vec<u8>>,
    ) -> Result<Vec<ArrayRef>> {
        let times = event_times(batch, at.spec.time_column)?;
        let encoded = at.keys.encode(batch, at.max_parallelism)?;
        let mut keys: Vec<ChunkKey<'_>> = Vec::new();
        let done = self.compute_keys(aggs, at, batch, &times, &encoded, &mut keys, waiting);
        for k in keys.iter().filter(|k| k.slot != ChunkKey::NO_SLOT) {
            aggs.free(k.slot);
        }
        done
    }

    #[allow(clippy::too_many_arguments)]
    fn compute_keys<'k>(
        &mut self,
        aggs: &mut AggregateSet,
        at: &Emit<'_>,
        batch: &RecordBatch,
        times: &[Timestamp],
        encoded: &'k EncodedKeys,
        keys: &mut Vec<ChunkKey<'k>>,
        waiting: Vec<Vec<u8>>,
    ) -> Result<Vec<ArrayRef>> {
        let frame = at.spec.frame;
        let mut index_of: HashMap<&[u8], usize> = HashMap::new();
        let mut which = Vec::with_capacity(times.len());
        let mut db_keys = Vec::new();
        for (row, &ts) in times.iter().enumerate() {
            let key = encoded.key(row);
            let i = match index_of.get(key) {
                Some(&i) => i,
                None => {
                    let kg = encoded.key_groups[row];
                    db_keys.push(db_key(kg, &aggregates_key(key))?);
                    keys.push(ChunkKey::new(kg, key));
                    index_of.insert(key, keys.len() - 1);
                    keys.len() - 1
                }
            };
            keys[i].added += 1;
            keys[i].max_ts = ts;
            which.push(i);
        }
        // The keys' state: accumulators into transient slots.
        let values = self.db.multi_get(&db_keys)?;
        let mut found = Vec::new();
        let mut stored: Vec<&[u8]> = Vec::new();
        for (i, v) in values.iter().enumerate() {
            if let Some(v) = v {
                let (header, accs) = Header::decode(v)?;
                keys[i].set_header(header);
                found.push(i);
                stored.push(accs);
            }
        }
        let (slots, _) = self.accs.decode(aggs, &stored)?;
        for (&i, slot) in found.iter().zip(slots) {
            keys[i].slot = slot;
        }
        for k in keys.iter_mut().filter(|k| k.slot == ChunkKey::NO_SLOT) {
            k.slot = aggs.alloc()?;
        }
        self.read_leaving(frame, keys)?;

        let input = aggs.prepare(batch)?;
        let mut results: Vec<Option<Vec<ArrayRef>>> = vec![None; batch.num_rows()];
        for_each_group(times, encoded, |ts, first, rows| {
            let k = &mut keys[which[first]];
            let slot = k.slot;
            process_rows(k, slot, frame, ts, rows, aggs, &input, &mut results)?;
            k.last_ts = ts;
            Ok(())
        })?;

        // One write batch: the keys, their frames' changes, the processed rows gone.
        let mut write = WriteBatch::default();
        let slots: Vec<u32> = keys.iter().map(|k| k.slot).collect();
        let accs = self.accs.encode(aggs, &slots, &[])?;
        for (k, accs) in keys.iter().zip(accs) {
            let mut value = Vec::with_capacity(HEADER + accs.len());
            k.header().encode(&mut value);
            value.extend_from_slice(&accs);
            write.put(db_key(k.kg, &aggregates_key(k.key))?, value);
        }
        let frame_rows = match &self.frame_codec {
            Some(codec) if keys.iter().any(|k| !k.ops.is_empty()) => {
                let typed: Vec<ArrayRef> = input.columns().iter().flatten().cloned().collect();
                Some(codec.convert_columns(&typed)?)
            }
            _ => None,
        };
        for k in keys.iter() {
            for op in &k.ops {
                match *op {
                    FrameOp::Put(seq, ts, row) => {
                        let mut value = ts.to_le_bytes().to_vec();
                        if let Some(rows) = &frame_rows {
                            value.extend_from_slice(rows.row(row as usize).as_ref());
                        }
                        write.put(db_key(k.kg, &frame_key(k.key, seq))?, value);
                    }
                    FrameOp::Delete(seq) => write.delete(db_key(k.kg, &frame_key(k.key, seq))?),
                }
            }
        }
        for key in waiting {
            write.delete(key);
        }
        self.db.write(write)?;
        result_columns(results, at.spec.aggregates.len())
    }

    pub(super) fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) {
        self.snapshots.notify_complete(checkpoint_id);
    }
}
