//! Keyed aggregate state in RocksDB (the `rocksdb` state backend of the window
//! aggregates and GROUP BY). The state of one state key (a key and its window, or a
//! GROUP BY key) is one RocksDB value: for GROUP BY the row count (i64, little-endian),
//! then the accumulators' state columns ([`AggregateSet::state`]) of its slot as one
//! row of Arrow's row format (`arrow::row`, compact and typed; not stable across Arrow
//! versions, so a RocksDB checkpoint restores on the same Eddy version — savepoints
//! are canonical). Per batch an operator loads the states of the keys it touches into
//! transient accumulator slots ([`RocksAggregates::load`]), updates them column-wise,
//! and writes them back in one batch ([`RocksAggregates::store`]); nothing of the
//! state stays on the heap.
//!
//! Checkpoints are incremental RocksDB checkpoints (`state::rocksdb::incremental`);
//! savepoints are the canonical keyed snapshot (`keyed_snapshot`), written a scan
//! chunk at a time. A restore adopts a downloaded checkpoint of its own key groups as
//! its database, imports the key groups of its range from others (rescaling), and
//! loads canonical snapshots (a savepoint of either backend).

use std::path::Path;

use arrow::array::ArrayRef;
use arrow::row::{RowConverter, SortField};
use rocksdb::WriteBatch;

use super::aggregate::AggregateSet;
use super::keyed_snapshot::{self, Describe, SNAPSHOT_BATCH_ROWS, SnapshotWriter};
use crate::key_groups::KeyGroupRange;
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::message::CheckpointBarrier;
use crate::runtime::operator::OperatorContext;
use crate::state::rocksdb::KeyedStateDb;
use crate::state::rocksdb::handle::DownloadedSnapshot;
use crate::state::rocksdb::incremental::IncrementalSnapshots;
use crate::state::rocksdb::instance::db_key;

/// Encodes accumulator state as RocksDB values (also used by operators with their own
/// value layout around the accumulators, as OVER's).
#[derive(Debug)]
pub struct StateCodec {
    /// `None`: the aggregates keep no state columns (no aggregates).
    converter: Option<RowConverter>,
    counted: bool,
}

impl StateCodec {
    /// A codec of `aggs`' state; `counted` prefixes each value with a row count.
    pub fn new(aggs: &AggregateSet, counted: bool) -> Result<StateCodec> {
        let template = aggs.state(&[])?;
        let converter = if template.is_empty() {
            None
        } else {
            Some(RowConverter::new(
                template
                    .iter()
                    .map(|c| SortField::new(c.data_type().clone()))
                    .collect(),
            )?)
        };
        Ok(StateCodec { converter, counted })
    }

    /// The values of `slots` (with `counts` when counted), in order.
    pub fn encode(
        &self,
        aggs: &AggregateSet,
        slots: &[u32],
        counts: &[i64],
    ) -> Result<Vec<Vec<u8>>> {
        let mut values: Vec<Vec<u8>> = (0..slots.len())
            .map(|i| match (self.counted, counts.get(i)) {
                (true, Some(c)) => c.to_le_bytes().to_vec(),
                _ => Vec::new(),
            })
            .collect();
        if let Some(converter) = &self.converter {
            let rows = converter.convert_columns(&aggs.state(slots)?)?;
            for (i, value) in values.iter_mut().enumerate() {
                value.extend_from_slice(rows.row(i).as_ref());
            }
        }
        Ok(values)
    }

    /// Loads values into fresh slots of `aggs`: the slots and row counts, in order.
    pub fn decode(
        &self,
        aggs: &mut AggregateSet,
        values: &[&[u8]],
    ) -> Result<(Vec<u32>, Vec<i64>)> {
        let mut counts = Vec::with_capacity(values.len());
        let mut rows = Vec::with_capacity(values.len());
        for v in values {
            if self.counted {
                let (count, rest) = v.split_first_chunk::<8>().ok_or_else(|| {
                    RuntimeError::Graph("rocksdb state: a value without its row count".into())
                })?;
                counts.push(i64::from_le_bytes(*count));
                rows.push(rest);
            } else {
                counts.push(0);
                rows.push(*v);
            }
        }
        let columns: Vec<ArrayRef> = match &self.converter {
            Some(converter) => {
                let parser = converter.parser();
                converter.convert_rows(rows.iter().map(|r| parser.parse(r)))?
            }
            None => Vec::new(),
        };
        let slots = aggs.load_state(&columns, values.len())?;
        Ok((slots, counts))
    }
}

/// A keyed operator subtask's RocksDB instance as [`open_instance`] opens it.
#[derive(Debug)]
pub struct Opened<'r> {
    pub db: KeyedStateDb,
    pub snapshots: IncrementalSnapshots,
    /// The subtask's key groups.
    pub range: KeyGroupRange,
    /// The canonical snapshots of `restore` (savepoints), for the operator to load.
    pub canonical: Vec<&'r [u8]>,
}

/// The RocksDB instance of operator `name`'s subtask on the rocksdb backend (`None`
/// on hashmap): it adopts a downloaded checkpoint of exactly its key groups as its
/// database, or imports its key-group range from each downloaded checkpoint in
/// `restore` (rescaling); the other snapshots (canonical) are returned to load.
pub fn open_instance<'r>(
    ctx: &OperatorContext,
    name: &str,
    restore: &'r [Vec<u8>],
) -> Result<Option<Opened<'r>>> {
    let Some(slot) = ctx.state_backend.rocksdb() else {
        return Ok(None);
    };
    let range = ctx.subtask.key_group_range;
    let db_name = format!("{name}-{}", ctx.subtask.index);
    let mut downloaded = Vec::new();
    let mut canonical = Vec::new();
    for bytes in restore {
        match DownloadedSnapshot::decode(bytes) {
            Some(handle) => downloaded.push(handle?),
            None => canonical.push(bytes.as_slice()),
        }
    }
    let own = |h: &DownloadedSnapshot| h.key_groups == (range.start, range.end);
    let (db, snapshots) = match downloaded.as_slice() {
        [one] if own(one) => (
            KeyedStateDb::adopt(slot, &db_name, Path::new(&one.dir))?,
            IncrementalSnapshots::new(&one.shared),
        ),
        others => {
            let db = KeyedStateDb::create(slot, &db_name)?;
            for h in others {
                let n = db.import(Path::new(&h.dir), range)?;
                tracing::debug!(operator = %name, subtask = ctx.subtask.index, from = %h.dir, entries = n, "rocksdb state imported");
            }
            (db, IncrementalSnapshots::new(&[]))
        }
    };
    Ok(Some(Opened {
        db,
        snapshots,
        range,
        canonical,
    }))
}

/// One keyed operator subtask's aggregate state in its RocksDB instance.
#[derive(Debug)]
pub struct RocksAggregates {
    db: KeyedStateDb,
    codec: StateCodec,
    snapshots: IncrementalSnapshots,
    range: KeyGroupRange,
}

/// A state key loaded into a transient slot.
#[derive(Debug, Clone, Copy)]
pub struct Loaded {
    pub slot: u32,
    pub count: i64,
}

impl RocksAggregates {
    /// The state of operator `name` on the rocksdb backend (`None` on hashmap, and
    /// for accumulators without a state format — a retractable MIN/MAX — which keep
    /// heap state, logged as a warning), with the snapshots in `restore` loaded;
    /// returns it and how many entries were loaded from canonical snapshots.
    pub fn open(
        ctx: &OperatorContext,
        name: &str,
        aggs: &mut AggregateSet,
        counted: bool,
        restore: &[Vec<u8>],
    ) -> Result<Option<(RocksAggregates, usize)>> {
        if ctx.state_backend.rocksdb().is_none() {
            return Ok(None);
        }
        if let Err(RuntimeError::CheckpointUnsupported(what)) = aggs.state(&[]) {
            tracing::warn!(job = %ctx.subtask.job_name, vertex = %ctx.subtask.vertex_name, subtask = ctx.subtask.index, operator = %name, reason = %what, "state backend rocksdb: these accumulators have no state format; the operator keeps its state on the heap");
            return Ok(None);
        }
        let codec = StateCodec::new(aggs, counted)?;
        let Some(Opened {
            db,
            snapshots,
            range,
            canonical,
        }) = open_instance(ctx, name, restore)?
        else {
            return Ok(None);
        };
        let mut state = RocksAggregates {
            db,
            codec,
            snapshots,
            range,
        };
        let mut restored = 0;
        for bytes in canonical {
            restored += state.load_canonical(aggs, bytes)?;
        }
        Ok(Some((state, restored)))
    }

    fn load_canonical(&mut self, aggs: &mut AggregateSet, bytes: &[u8]) -> Result<usize> {
        let counted = self.codec.counted;
        let mut entries: Vec<(u32, Vec<u8>, u32, i64)> = Vec::new();
        let n = keyed_snapshot::read_entries(
            aggs,
            self.range,
            bytes,
            counted,
            |(kg, key, slot, count)| {
                entries.push((kg, key.to_vec(), slot, count.unwrap_or(0)));
                Ok(())
            },
        )?;
        for chunk in entries.chunks(SNAPSHOT_BATCH_ROWS) {
            let refs: Vec<(u32, &[u8], u32, i64)> = chunk
                .iter()
                .map(|(kg, k, s, c)| (*kg, k.as_slice(), *s, *c))
                .collect();
            self.store(aggs, &refs)?;
        }
        for (_, _, slot, _) in entries {
            aggs.free(slot);
        }
        Ok(n)
    }

    /// Loads the state of `keys` (key group, state key) into fresh slots of `aggs`;
    /// `None` for a key without state.
    pub fn load(
        &self,
        aggs: &mut AggregateSet,
        keys: &[(u32, &[u8])],
    ) -> Result<Vec<Option<Loaded>>> {
        let db_keys = keys
            .iter()
            .map(|(kg, k)| db_key(*kg, k))
            .collect::<Result<Vec<_>>>()?;
        let values = self.db.multi_get(&db_keys)?;
        let found: Vec<&[u8]> = values.iter().flatten().map(Vec::as_slice).collect();
        let (slots, counts) = self.codec.decode(aggs, &found)?;
        let mut loaded = slots.into_iter().zip(counts);
        Ok(values
            .iter()
            .map(|v| {
                v.as_ref()
                    .and_then(|_| loaded.next())
                    .map(|(slot, count)| Loaded { slot, count })
            })
            .collect())
    }

    /// Loads the states of `key_group` whose state key starts with `prefix` and is
    /// `len` bytes long (a key's entries when `prefix` is the key and every entry adds
    /// a fixed-size namespace) into fresh slots of `aggs`, in key order.
    pub fn load_prefix(
        &self,
        aggs: &mut AggregateSet,
        key_group: u32,
        prefix: &[u8],
        len: usize,
    ) -> Result<Vec<(Vec<u8>, Loaded)>> {
        let found: Vec<(Vec<u8>, Vec<u8>)> = self
            .db
            .scan_prefix(key_group, prefix)?
            .into_iter()
            .filter(|(k, _)| k.len() == len)
            .collect();
        let values: Vec<&[u8]> = found.iter().map(|(_, v)| v.as_slice()).collect();
        let (slots, counts) = self.codec.decode(aggs, &values)?;
        Ok(found
            .into_iter()
            .zip(slots.into_iter().zip(counts))
            .map(|((k, _), (slot, count))| (k, Loaded { slot, count }))
            .collect())
    }

    /// Writes the state of the slots of `entries` (key group, state key, slot, row
    /// count) in one batch.
    pub fn store(&self, aggs: &AggregateSet, entries: &[(u32, &[u8], u32, i64)]) -> Result<()> {
        self.write(aggs, entries, &[])
    }

    /// Deletes the state of `keys`.
    pub fn delete(&self, keys: &[(u32, &[u8])]) -> Result<()> {
        self.write_changes(WriteBatch::default(), keys)
    }

    /// [`Self::store`] of `entries` and [`Self::delete`] of `deleted`, in one batch.
    pub fn write(
        &self,
        aggs: &AggregateSet,
        entries: &[(u32, &[u8], u32, i64)],
        deleted: &[(u32, &[u8])],
    ) -> Result<()> {
        let slots: Vec<u32> = entries.iter().map(|e| e.2).collect();
        let counts: Vec<i64> = entries.iter().map(|e| e.3).collect();
        let values = self.codec.encode(aggs, &slots, &counts)?;
        let mut batch = WriteBatch::default();
        for ((kg, key, _, _), value) in entries.iter().zip(values) {
            batch.put(db_key(*kg, key)?, value);
        }
        self.write_changes(batch, deleted)
    }

    fn write_changes(&self, mut batch: WriteBatch, deleted: &[(u32, &[u8])]) -> Result<()> {
        for (kg, key) in deleted {
            batch.delete(db_key(*kg, key)?);
        }
        self.db.write(batch)
    }

    /// Calls `f` with every (key group, state key) of the subtask's range (rebuilding
    /// heap timers on restore).
    pub fn for_each_key(&self, mut f: impl FnMut(u32, &[u8]) -> Result<()>) -> Result<()> {
        self.db.scan(self.range, |chunk| {
            for (kg, key, _) in chunk {
                f(*kg, key)?;
            }
            Ok(())
        })
    }

    /// The operator's snapshot: a savepoint's canonical keyed snapshot, or a
    /// checkpoint's local RocksDB checkpoint handle (uploaded by the writer).
    pub fn snapshot(
        &mut self,
        aggs: &mut AggregateSet,
        barrier: &CheckpointBarrier,
        describe: Describe<'_>,
    ) -> Result<Vec<u8>> {
        if !barrier.savepoint {
            return self
                .snapshots
                .snapshot(&self.db, barrier.checkpoint_id, self.range)?
                .encode();
        }
        let mut writer = SnapshotWriter::new(aggs, self.codec.counted)?;
        let codec = &self.codec;
        self.db.scan(self.range, |chunk| {
            let values: Vec<&[u8]> = chunk.iter().map(|(_, _, v)| v.as_slice()).collect();
            let (slots, counts) = codec.decode(aggs, &values)?;
            let entries: Vec<keyed_snapshot::Entry<'_>> = chunk
                .iter()
                .zip(slots.iter().zip(&counts))
                .map(|((kg, key, _), (slot, count))| {
                    (*kg, key.as_slice(), *slot, codec.counted.then_some(*count))
                })
                .collect();
            let written = writer.write(aggs, &entries, describe);
            for slot in slots {
                aggs.free(slot);
            }
            written
        })?;
        writer.finish()
    }

    pub fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) {
        self.snapshots.notify_complete(checkpoint_id);
    }
}
