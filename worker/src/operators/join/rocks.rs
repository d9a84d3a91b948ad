//! The joins' buffered rows in RocksDB (the `rocksdb` state backend): [`RocksRows`],
//! one [`KeyedStateDb`] per join subtask. As Flink's interval join keeps a
//! `MapState<time, List<(row, matched)>>` per side, each buffered row is one entry:
//!
//! - key: `key group u16 BE` ++ `side u8` ++ `join key length u32 BE` ++ join key ++
//!   (window join: `window_start` ++ `window_end`) ++ `time` ++ `sequence u64 BE`,
//!   times as i64 with the sign bit flipped, big-endian (byte order = time order), so
//!   one key's rows of one side are contiguous and in time order: a probe scans only
//!   the time range it joins, expiry scans from the oldest row;
//! - value: `matched u8` (0 or 1) ++ the row's `arrow::row` bytes.
//!
//! Writes of one input batch or one watermark go into one `WriteBatch` (flushed early
//! past [`MAX_WRITE_BATCH_BYTES`]). Nothing of the rows stays on the heap; the
//! event-time clean-up timers do, rebuilt from the stored keys on restore.
//! Checkpoints are incremental RocksDB checkpoints; savepoints are the canonical join
//! snapshot ([`super::snapshot`]), written a scan chunk at a time. A restore adopts a
//! downloaded checkpoint of its own key groups, imports its key-group range from
//! others (rescaling), and loads canonical snapshots (a savepoint of either backend).

use std::sync::Arc;

use rocksdb::WriteBatch;

use super::BufferedRow;
use super::sides::JoinSides;
use super::snapshot::{self, BufferKey, Entry, JoinSnapshotWriter};
use crate::key_groups::KeyGroupRange;
use crate::operators::keyed_rocks::open_instance;
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::message::{CheckpointBarrier, Timestamp};
use crate::runtime::operator::OperatorContext;
use crate::state::rocksdb::KeyedStateDb;
use crate::state::rocksdb::incremental::IncrementalSnapshots;
use crate::state::rocksdb::instance::db_key;

/// Bytes of pending writes past which they are written before the batch ends
/// (explicit limit on the write batch).
pub const MAX_WRITE_BATCH_BYTES: usize = 16 << 20;

/// Past every `time ++ sequence` suffix: the exclusive end of a prefix's entries.
const SUFFIX_END: [u8; 17] = [0xff; 17];

/// A timestamp as key bytes whose order is the numeric order.
fn ordered(t: Timestamp) -> [u8; 8] {
    ((t as u64) ^ (1 << 63)).to_be_bytes()
}

fn unordered(b: [u8; 8]) -> Timestamp {
    (u64::from_be_bytes(b) ^ (1 << 63)) as Timestamp
}

fn corrupt(what: &str) -> RuntimeError {
    RuntimeError::Graph(format!("join state in rocksdb: {what}"))
}

/// The state-key prefix of `key`'s rows of `side`: `side ++ len ++ key ++ [window]`.
fn prefix<K: BufferKey>(side: usize, key: &K) -> Result<Vec<u8>> {
    let k = key.key();
    let len = u32::try_from(k.len()).map_err(|_| corrupt("a join key over 4 GiB"))?;
    let mut out = Vec::with_capacity(1 + 4 + k.len() + 16 + 16);
    out.push(side as u8);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(k);
    if let Some((start, end)) = key.window() {
        out.extend_from_slice(&ordered(start));
        out.extend_from_slice(&ordered(end));
    }
    Ok(out)
}

fn take8(bytes: &[u8], at: usize) -> Result<[u8; 8]> {
    bytes
        .get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| corrupt("a key cut short"))
}

/// A stored state key: side, join key (and window), time, sequence number.
fn decode_key<K: BufferKey>(state_key: &[u8]) -> Result<(usize, K, Timestamp, u64)> {
    let (&side, rest) = state_key
        .split_first()
        .ok_or_else(|| corrupt("an empty key"))?;
    let len = rest
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_be_bytes)
        .ok_or_else(|| corrupt("a key without its length"))? as usize;
    let key = rest
        .get(4..4 + len)
        .ok_or_else(|| corrupt("a key cut short"))?;
    let mut at = 1 + 4 + len;
    let window = if K::WINDOWED {
        let w = (
            unordered(take8(state_key, at)?),
            unordered(take8(state_key, at + 8)?),
        );
        at += 16;
        Some(w)
    } else {
        None
    };
    let time = unordered(take8(state_key, at)?);
    let seq = u64::from_be_bytes(take8(state_key, at + 8)?);
    if side > 1 || state_key.len() != at + 16 {
        return Err(corrupt("a key of another layout"));
    }
    Ok((
        side as usize,
        K::from_parts(Arc::from(key), window)?,
        time,
        seq,
    ))
}

/// A stored value: matched flag, row bytes.
fn decode_value(value: &[u8]) -> Result<(bool, &[u8])> {
    match value.split_first() {
        Some((&flag, row)) if flag <= 1 => Ok((flag == 1, row)),
        _ => Err(corrupt("a value without its matched flag")),
    }
}

fn value(matched: bool, row: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(1 + row.len());
    v.push(u8::from(matched));
    v.extend_from_slice(row);
    v
}

/// One join subtask's buffered rows in its RocksDB instance.
pub(crate) struct RocksRows {
    db: KeyedStateDb,
    snapshots: IncrementalSnapshots,
    range: KeyGroupRange,
    /// The next row's sequence number (unique per side, key and time).
    next_seq: u64,
    /// Writes not yet applied (empty between operator calls).
    batch: WriteBatch,
}

impl std::fmt::Debug for RocksRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksRows")
            .field("db", &self.db)
            .field("range", &self.range)
            .field("next_seq", &self.next_seq)
            .field("pending_writes", &self.batch.len())
            .finish()
    }
}

impl RocksRows {
    /// The rows of join `sides` on the rocksdb backend (`None` on hashmap), with the
    /// snapshots in `restore` loaded; `on_row(side, key group, key, time)` is called
    /// for every row then stored (to register its timer). Returns it and how many rows
    /// came from canonical snapshots.
    pub fn open<K: BufferKey>(
        ctx: &OperatorContext,
        sides: &JoinSides,
        restore: &[Vec<u8>],
        mut on_row: impl FnMut(usize, u32, &K, Timestamp) -> Result<()>,
    ) -> Result<Option<(RocksRows, usize)>> {
        let Some(opened) = open_instance(ctx, &sides.name, restore)? else {
            return Ok(None);
        };
        let range = opened.range;
        let mut rows = RocksRows {
            db: opened.db,
            snapshots: opened.snapshots,
            range,
            next_seq: 0,
            batch: WriteBatch::default(),
        };
        // Stored rows first (their sequence numbers), then the canonical ones.
        let mut max_seq = None;
        rows.db.scan(range, |chunk| {
            for (kg, state_key, _) in chunk {
                let (side, key, time, seq) = decode_key::<K>(state_key)?;
                max_seq = max_seq.max(Some(seq));
                on_row(side, *kg, &key, time)?;
            }
            Ok(())
        })?;
        rows.next_seq = max_seq.map_or(0, |s| s + 1);
        let mut restored = 0;
        for bytes in opened.canonical {
            restored += snapshot::read_rows(sides, range, bytes, |side, kg, key: K, b| {
                rows.put(side, kg, &key, b.time, b.matched, &b.row)?;
                on_row(side, kg, &key, b.time)
            })?;
        }
        rows.flush()?;
        Ok(Some((rows, restored)))
    }

    /// Buffers `row` of `side` at `time` under `key` (written by [`Self::flush`]).
    pub fn put<K: BufferKey>(
        &mut self,
        side: usize,
        key_group: u32,
        key: &K,
        time: Timestamp,
        matched: bool,
        row: &[u8],
    ) -> Result<()> {
        let mut state_key = prefix(side, key)?;
        state_key.extend_from_slice(&ordered(time));
        state_key.extend_from_slice(&self.next_seq.to_be_bytes());
        self.next_seq += 1;
        self.batch
            .put(db_key(key_group, &state_key)?, value(matched, row));
        self.flush_if_full()
    }

    /// Calls `f(row)` for each row of `side` under `key` with a time in `[lo, hi]`,
    /// in time order; with `mark`, the rows not matched yet are rewritten as matched.
    /// Returns whether any row was found.
    pub fn probe<K: BufferKey>(
        &mut self,
        side: usize,
        key_group: u32,
        key: &K,
        (lo, hi): (Timestamp, Timestamp),
        mark: bool,
        mut f: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<bool> {
        let start = prefix(side, key)?;
        let (mut from, mut to) = (start.clone(), start);
        from.extend_from_slice(&ordered(lo));
        to.extend_from_slice(&ordered(hi));
        to.extend_from_slice(&SUFFIX_END);
        let RocksRows { db, batch, .. } = self;
        let mut found = false;
        db.scan_between(key_group, &from, &to, |state_key, v| {
            let (matched, row) = decode_value(v)?;
            found = true;
            if mark && !matched {
                batch.put(db_key(key_group, state_key)?, value(true, row));
                if batch.size_in_bytes() > MAX_WRITE_BATCH_BYTES {
                    db.write(std::mem::take(batch))?;
                }
            }
            f(row)?;
            Ok(true)
        })?;
        Ok(found)
    }

    /// Deletes the rows of `side` under `key`, oldest first, while `expired(time)`
    /// holds, calling `f(matched, row)` for each; returns how many.
    pub fn take<K: BufferKey>(
        &mut self,
        side: usize,
        key_group: u32,
        key: &K,
        expired: impl Fn(Timestamp) -> bool,
        mut f: impl FnMut(bool, &[u8]) -> Result<()>,
    ) -> Result<usize> {
        let from = prefix(side, key)?;
        let mut to = from.clone();
        to.extend_from_slice(&SUFFIX_END);
        let time_at = from.len();
        let RocksRows { db, batch, .. } = self;
        let mut taken = 0;
        db.scan_between(key_group, &from, &to, |state_key, v| {
            if !expired(unordered(take8(state_key, time_at)?)) {
                return Ok(false);
            }
            let (matched, row) = decode_value(v)?;
            batch.delete(db_key(key_group, state_key)?);
            if batch.size_in_bytes() > MAX_WRITE_BATCH_BYTES {
                db.write(std::mem::take(batch))?;
            }
            taken += 1;
            f(matched, row)?;
            Ok(true)
        })?;
        Ok(taken)
    }

    fn flush_if_full(&mut self) -> Result<()> {
        if self.batch.size_in_bytes() > MAX_WRITE_BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Applies the pending writes.
    pub fn flush(&mut self) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        self.db.write(std::mem::take(&mut self.batch))
    }

    /// The operator's snapshot: a savepoint's canonical join snapshot, or a
    /// checkpoint's local RocksDB checkpoint handle (uploaded by the writer).
    pub fn snapshot<K: BufferKey>(
        &mut self,
        sides: &JoinSides,
        barrier: &CheckpointBarrier,
    ) -> Result<Vec<u8>> {
        self.flush()?;
        if !barrier.savepoint {
            return self
                .snapshots
                .snapshot(&self.db, barrier.checkpoint_id, self.range)?
                .encode();
        }
        let mut writer = JoinSnapshotWriter::new(sides)?;
        self.db.scan(self.range, |chunk| {
            let rows = chunk
                .iter()
                .map(|(kg, state_key, v)| {
                    let (side, key, time, _) = decode_key::<K>(state_key)?;
                    let (matched, row) = decode_value(v)?;
                    let row = BufferedRow {
                        time,
                        row: row.into(),
                        matched,
                    };
                    Ok((side, *kg, key, row))
                })
                .collect::<Result<Vec<_>>>()?;
            let entries: Vec<Entry<'_, K>> =
                rows.iter().map(|(s, kg, k, b)| (*s, *kg, k, b)).collect();
            writer.write(&entries)
        })?;
        writer.finish()
    }

    pub fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) {
        self.snapshots.notify_complete(checkpoint_id);
    }

    /// How many rows are stored (tests: the state is in RocksDB).
    #[cfg(test)]
    pub fn len(&self) -> Result<usize> {
        let mut n = 0;
        self.db.scan(self.range, |chunk| {
            n += chunk.len();
            Ok(())
        })?;
        Ok(n)
    }
}

#[cfg(test)]
#[path = "rocksdb_tests.rs"]
mod tests;
