//! Raft log storage on RocksDB (column families `logs` and `meta`) under
//! `DATA_DIR/raft`. Entries are keyed by big-endian index so iteration is in log order.

use std::fmt::Debug;
use std::ops::RangeBounds;
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{Entry, LogId, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote};
use rocksdb::{DB, Direction, IteratorMode, WriteBatch};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::types::{NodeId, TypeConfig};

pub(crate) const CF_LOGS: &str = "logs";
pub(crate) const CF_META: &str = "meta";

const KEY_VOTE: &[u8] = b"vote";
const KEY_COMMITTED: &[u8] = b"committed";
const KEY_LAST_PURGED: &[u8] = b"last_purged";

type StorageResult<T> = Result<T, StorageError<NodeId>>;

/// The Raft log. Cloning shares the database (the log reader is a clone).
#[derive(Clone, Debug)]
pub struct LogStore {
    db: Arc<DB>,
}

fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

fn index_of(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

impl LogStore {
    pub(crate) fn new(db: Arc<DB>) -> Self {
        Self { db }
    }

    fn cf(&self, name: &str) -> StorageResult<&rocksdb::ColumnFamily> {
        self.db.cf_handle(name).ok_or_else(|| {
            StorageIOError::read(&std::io::Error::other(format!(
                "missing column family {name}"
            )))
            .into()
        })
    }

    fn get_meta<T: DeserializeOwned>(&self, key: &[u8]) -> StorageResult<Option<T>> {
        let raw = self
            .db
            .get_cf(self.cf(CF_META)?, key)
            .map_err(|e| StorageIOError::read(&e))?;
        raw.map(|b| serde_json::from_slice(&b).map_err(|e| StorageIOError::read(&e).into()))
            .transpose()
    }

    fn put_meta<T: Serialize>(&self, key: &[u8], value: &T) -> StorageResult<()> {
        let bytes = serde_json::to_vec(value).map_err(|e| StorageIOError::write(&e))?;
        self.db
            .put_cf(self.cf(CF_META)?, key, bytes)
            .map_err(|e| StorageIOError::write(&e))?;
        self.db
            .flush_wal(true)
            .map_err(|e| StorageIOError::write(&e))?;
        Ok(())
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> StorageResult<Vec<Entry<TypeConfig>>> {
        let start = match range.start_bound() {
            std::ops::Bound::Included(x) => *x,
            std::ops::Bound::Excluded(x) => x.saturating_add(1),
            std::ops::Bound::Unbounded => 0,
        };
        let mut entries = Vec::new();
        let key = index_key(start);
        let iter = self.db.iterator_cf(
            self.cf(CF_LOGS)?,
            IteratorMode::From(&key, Direction::Forward),
        );
        for item in iter {
            let (k, v) = item.map_err(|e| StorageIOError::read_logs(&e))?;
            let Some(index) = index_of(&k) else { continue };
            if !range.contains(&index) {
                break;
            }
            let entry: Entry<TypeConfig> =
                serde_json::from_slice(&v).map_err(|e| StorageIOError::read_logs(&e))?;
            debug_assert_eq!(
                entry.log_id.index, index,
                "log entry stored under the wrong index"
            );
            entries.push(entry);
        }
        Ok(entries)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> StorageResult<LogState<TypeConfig>> {
        let last = self
            .db
            .iterator_cf(self.cf(CF_LOGS)?, IteratorMode::End)
            .next();
        let last_log_id = match last {
            None => None,
            Some(item) => {
                let (_, v) = item.map_err(|e| StorageIOError::read_logs(&e))?;
                let entry: Entry<TypeConfig> =
                    serde_json::from_slice(&v).map_err(|e| StorageIOError::read_logs(&e))?;
                Some(entry.log_id)
            }
        };
        let last_purged_log_id: Option<LogId<NodeId>> = self.get_meta(KEY_LAST_PURGED)?;
        Ok(LogState {
            last_purged_log_id,
            last_log_id: last_log_id.or(last_purged_log_id),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> StorageResult<()> {
        self.put_meta(KEY_VOTE, vote)
    }

    async fn read_vote(&mut self) -> StorageResult<Option<Vote<NodeId>>> {
        self.get_meta(KEY_VOTE)
    }

    async fn save_committed(&mut self, committed: Option<LogId<NodeId>>) -> StorageResult<()> {
        self.put_meta(KEY_COMMITTED, &committed)
    }

    async fn read_committed(&mut self) -> StorageResult<Option<LogId<NodeId>>> {
        Ok(self
            .get_meta::<Option<LogId<NodeId>>>(KEY_COMMITTED)?
            .flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> StorageResult<()>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let cf = self.cf(CF_LOGS)?;
        let mut batch = WriteBatch::default();
        for entry in entries {
            let bytes = serde_json::to_vec(&entry).map_err(|e| StorageIOError::write_logs(&e))?;
            batch.put_cf(cf, index_key(entry.log_id.index), bytes);
        }
        self.db
            .write(batch)
            .map_err(|e| StorageIOError::write_logs(&e))?;
        let flushed = self
            .db
            .flush_wal(true)
            .map_err(|e| std::io::Error::other(e.to_string()));
        callback.log_io_completed(flushed);
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        let cf = self.cf(CF_LOGS)?;
        self.db
            .delete_range_cf(cf, index_key(log_id.index), index_key(u64::MAX))
            .map_err(|e| StorageIOError::write_logs(&e))?;
        // delete_range's end is exclusive: remove the last possible key too.
        self.db
            .delete_cf(cf, index_key(u64::MAX))
            .map_err(|e| StorageIOError::write_logs(&e))?;
        self.db
            .flush_wal(true)
            .map_err(|e| StorageIOError::write_logs(&e))?;
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        self.put_meta(KEY_LAST_PURGED, &log_id)?;
        let cf = self.cf(CF_LOGS)?;
        self.db
            .delete_range_cf(cf, index_key(0), index_key(log_id.index.saturating_add(1)))
            .map_err(|e| StorageIOError::write_logs(&e))?;
        Ok(())
    }
}
