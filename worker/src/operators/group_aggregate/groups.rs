//! [`Groups`]: where a GROUP BY subtask keeps its groups — `key → (accumulator slot,
//! row count)` — on either state backend. On `hashmap` a `StateTable` by key group
//! holds them and their slots stay allocated. On `rocksdb` they live in the
//! subtask's RocksDB instance (`keyed_rocks`, with the row count): before a batch the
//! states of its distinct keys are multi-read into transient slots
//! ([`Groups::load_batch`]), and after it the live groups are written back and the
//! emptied ones deleted in one write batch, and every slot freed
//! ([`Groups::finish_batch`]). The operator's logic is the same on both.

use std::collections::HashMap;

use super::GroupState;
use crate::operators::aggregate::AggregateSet;
use crate::operators::keyed_rocks::RocksAggregates;
use crate::operators::keyed_snapshot::{self, Describe};
use crate::operators::keys::EncodedKeys;
use crate::runtime::error::Result;
use crate::runtime::message::CheckpointBarrier;
use crate::runtime::operator::OperatorContext;
use crate::state::table::StateTable;

/// A group touched by a batch, as the batch leaves it.
#[derive(Debug)]
pub struct Touched<'k> {
    pub key_group: u32,
    pub key: &'k [u8],
    pub slot: u32,
    /// Rows accumulated minus retracted; zero or less: the group is gone.
    pub count: i64,
}

#[derive(Debug)]
pub struct Groups {
    /// The groups on the heap (empty on rocksdb).
    pub table: StateTable<Vec<u8>, GroupState>,
    rocks: Option<RocksAggregates>,
    /// On rocksdb: the current batch's groups that have state, loaded.
    loaded: HashMap<Vec<u8>, GroupState>,
}

impl Groups {
    /// The groups of operator `name`, with `restore`'s snapshots loaded (canonical
    /// snapshots on either backend, RocksDB checkpoints on rocksdb).
    pub fn open(
        ctx: &OperatorContext,
        name: &str,
        aggs: &mut AggregateSet,
        restore: &[Vec<u8>],
    ) -> Result<Groups> {
        let mut groups = Groups {
            table: StateTable::new(ctx.subtask.key_group_range, ctx.memory.clone()),
            rocks: None,
            loaded: HashMap::new(),
        };
        let (job, vertex, subtask) = (
            &ctx.subtask.job_name,
            &ctx.subtask.vertex_name,
            ctx.subtask.index,
        );
        if let Some((rocks, entries)) = RocksAggregates::open(ctx, name, aggs, true, restore)? {
            tracing::debug!(job = %job, vertex = %vertex, subtask, operator = %name, entries, "group aggregate state in rocksdb");
            groups.rocks = Some(rocks);
            return Ok(groups);
        }
        let range = groups.table.range();
        for bytes in restore {
            crate::state::rocksdb::handle::refuse_on_heap(bytes, name)?;
            let table = &mut groups.table;
            let entries = keyed_snapshot::read_entries(aggs, range, bytes, true, |e| {
                let (kg, key, slot, count) = e;
                table.insert(kg, key.to_vec(), (slot, count.unwrap_or(0)))?;
                Ok(())
            })?;
            tracing::debug!(job = %job, vertex = %vertex, subtask, operator = %name, entries, "group aggregate state restored");
        }
        Ok(groups)
    }

    /// Before a batch: on rocksdb, loads the state of its distinct keys.
    pub fn load_batch(&mut self, aggs: &mut AggregateSet, encoded: &EncodedKeys) -> Result<()> {
        let Some(rocks) = &self.rocks else {
            return Ok(());
        };
        let mut keys: Vec<(u32, &[u8])> = Vec::new();
        let mut seen: std::collections::HashSet<&[u8]> = std::collections::HashSet::new();
        for (row, &kg) in encoded.key_groups.iter().enumerate() {
            let key = encoded.key(row);
            if seen.insert(key) {
                keys.push((kg, key));
            }
        }
        self.loaded.clear();
        for ((_, key), found) in keys.iter().zip(rocks.load(aggs, &keys)?) {
            if let Some(l) = found {
                self.loaded.insert(key.to_vec(), (l.slot, l.count));
            }
        }
        Ok(())
    }

    /// The group of `key`, if it has state (once per batch and key on rocksdb).
    pub fn get(&mut self, key_group: u32, key: &[u8]) -> Option<GroupState> {
        match &self.rocks {
            Some(_) => self.loaded.remove(key),
            None => self.table.get(key_group, &key.to_vec()).copied(),
        }
    }

    /// A new group of `key` in `slot` (kept on the heap; on rocksdb written at the
    /// end of the batch).
    pub fn insert(&mut self, key_group: u32, key: &[u8], slot: u32) -> Result<()> {
        if self.rocks.is_none() {
            self.table.insert(key_group, key.to_vec(), (slot, 0))?;
        }
        Ok(())
    }

    /// After a batch: stores the touched groups' counts, drops the emptied ones and
    /// frees their slots (on rocksdb: writes them back and frees every slot).
    pub fn finish_batch(&mut self, aggs: &mut AggregateSet, touched: &[Touched<'_>]) -> Result<()> {
        let Some(rocks) = &self.rocks else {
            for t in touched {
                if t.count > 0 {
                    let count = t.count;
                    self.table
                        .update(t.key_group, &t.key.to_vec(), |g| g.1 = count)?;
                } else {
                    self.table.remove(t.key_group, &t.key.to_vec());
                    aggs.free(t.slot);
                }
            }
            return Ok(());
        };
        let alive: Vec<(u32, &[u8], u32, i64)> = touched
            .iter()
            .filter(|t| t.count > 0)
            .map(|t| (t.key_group, t.key, t.slot, t.count))
            .collect();
        let gone: Vec<(u32, &[u8])> = touched
            .iter()
            .filter(|t| t.count <= 0)
            .map(|t| (t.key_group, t.key))
            .collect();
        let written = rocks.write(aggs, &alive, &gone);
        self.release(aggs, touched);
        written
    }

    /// On rocksdb, frees the slots of a batch's groups (also when it failed).
    pub fn release(&mut self, aggs: &mut AggregateSet, touched: &[Touched<'_>]) {
        if self.rocks.is_some() {
            for t in touched {
                aggs.free(t.slot);
            }
            for (_, (slot, _)) in self.loaded.drain() {
                aggs.free(slot);
            }
        }
    }

    /// The canonical keyed snapshot (with `row_count`), or on rocksdb a checkpoint's
    /// incremental handle.
    pub fn snapshot(
        &mut self,
        aggs: &mut AggregateSet,
        barrier: &CheckpointBarrier,
        describe: Describe<'_>,
    ) -> Result<Vec<u8>> {
        if let Some(rocks) = &mut self.rocks {
            return rocks.snapshot(aggs, barrier, describe);
        }
        let entries = self
            .table
            .iter()
            .map(|(kg, key, (slot, count))| (kg, key.as_slice(), *slot, Some(*count)));
        keyed_snapshot::write_entries(aggs, entries, true, describe)
    }

    pub fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) {
        if let Some(rocks) = &mut self.rocks {
            rocks.notify_checkpoint_complete(checkpoint_id);
        }
    }
}
