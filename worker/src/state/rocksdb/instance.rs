//! [`KeyedStateDb`]: one RocksDB instance holding one keyed operator subtask's state.
//! Keys are `key group (u16 big-endian) ++ state key` (the state key: key bytes, then
//! the namespace, e.g. a window), so the state of a key-group range is one contiguous
//! key range: scans, and rescaling by key group, read exactly it. The instance lives
//! in its own directory under the slot's, removed when it is dropped.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::{DB, IteratorMode, Options, ReadOptions, WriteBatch, WriteOptions};

use super::resources::RocksDbSlot;
use crate::key_groups::{KeyGroupRange, MAX_MAX_PARALLELISM};
use crate::runtime::error::{Result, RuntimeError};

/// Entries read per batch of a scan (explicit limit on what one callback holds).
pub const SCAN_BATCH: usize = 4096;
/// Most entries one key's prefix scan returns (explicit limit: a key's pending
/// session windows).
pub const MAX_PREFIX_ENTRIES: usize = 1 << 16;
/// The instance's database directory inside its own.
const DB_DIR: &str = "db";

/// The RocksDB key of `state_key` in `key_group`.
pub fn db_key(key_group: u32, state_key: &[u8]) -> Result<Vec<u8>> {
    let group = u16::try_from(key_group)
        .ok()
        .filter(|g| u32::from(*g) < MAX_MAX_PARALLELISM)
        .ok_or_else(|| RuntimeError::Graph(format!("key group {key_group} out of range")))?;
    let mut key = Vec::with_capacity(2 + state_key.len());
    key.extend_from_slice(&group.to_be_bytes());
    key.extend_from_slice(state_key);
    Ok(key)
}

/// Splits a RocksDB key into key group and state key.
pub fn split_db_key(key: &[u8]) -> Result<(u32, &[u8])> {
    match key {
        [a, b, rest @ ..] => Ok((u32::from(u16::from_be_bytes([*a, *b])), rest)),
        _ => Err(RuntimeError::Graph(
            "rocksdb state: a key without key group".into(),
        )),
    }
}

/// The key bounds `[lower, upper)` of a key-group range.
fn bounds(range: KeyGroupRange) -> (Vec<u8>, Vec<u8>) {
    // Key groups are below MAX_MAX_PARALLELISM (2^15): both bounds fit two bytes.
    let lower = (range.start.min(u32::from(u16::MAX)) as u16).to_be_bytes();
    let upper = ((range.end + 1).min(u32::from(u16::MAX)) as u16).to_be_bytes();
    (lower.to_vec(), upper.to_vec())
}

/// One keyed operator subtask's RocksDB instance.
pub struct KeyedStateDb {
    db: Option<DB>,
    /// The instance's own directory (the database is in `DB_DIR` under it).
    dir: PathBuf,
    slot: Arc<RocksDbSlot>,
    write: WriteOptions,
}

impl std::fmt::Debug for KeyedStateDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedStateDb")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl KeyedStateDb {
    /// A new, empty instance named after `name` (made unique) in `slot`'s directory.
    pub fn create(slot: &Arc<RocksDbSlot>, name: &str) -> Result<KeyedStateDb> {
        Self::open_with(slot, name, None)
    }

    /// An instance whose database starts as the files in `db_dir` (a restored
    /// checkpoint's, moved into the instance's directory).
    pub fn adopt(slot: &Arc<RocksDbSlot>, name: &str, db_dir: &Path) -> Result<KeyedStateDb> {
        Self::open_with(slot, name, Some(db_dir))
    }

    fn open_with(
        slot: &Arc<RocksDbSlot>,
        name: &str,
        adopt: Option<&Path>,
    ) -> Result<KeyedStateDb> {
        let safe: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(40)
            .collect();
        let dir = slot
            .dir()
            .join(format!("{safe}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| RuntimeError::io(dir.display().to_string(), e))?;
        let path = dir.join(DB_DIR);
        if let Some(from) = adopt {
            std::fs::rename(from, &path)
                .map_err(|e| RuntimeError::io(from.display().to_string(), e))?;
        }
        let db = DB::open(&slot.options(), &path)
            .map_err(|e| RuntimeError::rocksdb(format!("opening {}", path.display()), e))?;
        let mut write = WriteOptions::default();
        write.disable_wal(true);
        tracing::debug!(dir = %path.display(), adopted = adopt.is_some(), "rocksdb instance opened");
        Ok(KeyedStateDb {
            db: Some(db),
            dir,
            slot: slot.clone(),
            write,
        })
    }

    fn db(&self) -> Result<&DB> {
        self.db
            .as_ref()
            .ok_or_else(|| RuntimeError::Graph("rocksdb instance closed".into()))
    }

    /// The instance's own directory (local checkpoints go beside the database).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn slot(&self) -> &Arc<RocksDbSlot> {
        &self.slot
    }

    /// The values of `keys` (RocksDB keys, see [`db_key`]), in order.
    pub fn multi_get(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>> {
        self.db()?
            .multi_get(keys)
            .into_iter()
            .map(|r| r.map_err(|e| RuntimeError::rocksdb("reading state", e)))
            .collect()
    }

    /// Applies a batch of puts and deletes atomically.
    pub fn write(&self, batch: WriteBatch) -> Result<()> {
        self.db()?
            .write_opt(batch, &self.write)
            .map_err(|e| RuntimeError::rocksdb("writing state", e))
    }

    /// Calls `f` with batches of at most [`SCAN_BATCH`] entries `(key group, state
    /// key, value)` of `range`, in key order.
    pub fn scan(
        &self,
        range: KeyGroupRange,
        mut f: impl FnMut(&[(u32, Vec<u8>, Vec<u8>)]) -> Result<()>,
    ) -> Result<()> {
        scan_db(self.db()?, range, &mut f)
    }

    /// The entries `(state key, value)` of `key_group` whose state key starts with
    /// `prefix`, in key order (at most [`MAX_PREFIX_ENTRIES`]).
    pub fn scan_prefix(&self, key_group: u32, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let from = db_key(key_group, prefix)?;
        let mut read = ReadOptions::default();
        read.set_iterate_lower_bound(from.clone());
        read.fill_cache(true);
        let mut found = Vec::new();
        for item in self
            .db()?
            .iterator_opt(IteratorMode::From(&from, rocksdb::Direction::Forward), read)
        {
            let (key, value) = item.map_err(|e| RuntimeError::rocksdb("scanning state", e))?;
            if !key.starts_with(&from) {
                break;
            }
            if found.len() >= MAX_PREFIX_ENTRIES {
                return Err(RuntimeError::Graph(format!(
                    "rocksdb state: more than {MAX_PREFIX_ENTRIES} entries under one key"
                )));
            }
            found.push((key[2..].to_vec(), value.to_vec()));
        }
        Ok(found)
    }

    /// Calls `f` with each entry `(state key, value)` of `key_group` whose state key is
    /// in `[from, to)`, in key order, until `f` returns `false` (streamed: nothing is
    /// collected, so no limit on how many entries the range holds).
    pub fn scan_between(
        &self,
        key_group: u32,
        from: &[u8],
        to: &[u8],
        mut f: impl FnMut(&[u8], &[u8]) -> Result<bool>,
    ) -> Result<()> {
        let mut read = ReadOptions::default();
        read.set_iterate_lower_bound(db_key(key_group, from)?);
        read.set_iterate_upper_bound(db_key(key_group, to)?);
        read.fill_cache(true);
        let mut it = self.db()?.raw_iterator_opt(read);
        it.seek_to_first();
        while let (Some(key), Some(value)) = (it.key(), it.value()) {
            if !f(split_db_key(key)?.1, value)? {
                return Ok(());
            }
            it.next();
        }
        it.status()
            .map_err(|e| RuntimeError::rocksdb("scanning state", e))
    }

    /// Copies the entries of `range` from the database in `other` (another instance's
    /// restored checkpoint, opened read-only) into this one; returns how many.
    pub fn import(&self, other: &Path, range: KeyGroupRange) -> Result<usize> {
        let source = DB::open_for_read_only(&Options::default(), other, false)
            .map_err(|e| RuntimeError::rocksdb(format!("opening {}", other.display()), e))?;
        let mut copied = 0;
        scan_db(&source, range, &mut |entries| {
            let mut batch = WriteBatch::default();
            for (kg, key, value) in entries {
                batch.put(db_key(*kg, key)?, value);
            }
            copied += entries.len();
            self.write(batch)
        })?;
        Ok(copied)
    }

    /// Flushes the memtables and takes a RocksDB checkpoint (hard links of the SST
    /// files, new MANIFEST/CURRENT/OPTIONS) into `target`, which must not exist.
    pub fn checkpoint(&self, target: &Path) -> Result<()> {
        let db = self.db()?;
        db.flush()
            .map_err(|e| RuntimeError::rocksdb("flushing before a checkpoint", e))?;
        rocksdb::checkpoint::Checkpoint::new(db)
            .and_then(|c| c.create_checkpoint(target))
            .map_err(|e| RuntimeError::rocksdb(format!("checkpoint into {}", target.display()), e))
    }
}

fn scan_db(
    db: &DB,
    range: KeyGroupRange,
    f: &mut dyn FnMut(&[(u32, Vec<u8>, Vec<u8>)]) -> Result<()>,
) -> Result<()> {
    let (lower, upper) = bounds(range);
    let mut read = ReadOptions::default();
    read.set_iterate_lower_bound(lower);
    read.set_iterate_upper_bound(upper);
    read.fill_cache(false);
    let mut chunk = Vec::with_capacity(SCAN_BATCH);
    for item in db.iterator_opt(IteratorMode::Start, read) {
        let (key, value) = item.map_err(|e| RuntimeError::rocksdb("scanning state", e))?;
        let (kg, state_key) = split_db_key(&key)?;
        chunk.push((kg, state_key.to_vec(), value.to_vec()));
        if chunk.len() >= SCAN_BATCH {
            f(&chunk)?;
            chunk.clear();
        }
    }
    if !chunk.is_empty() {
        f(&chunk)?;
    }
    Ok(())
}

impl Drop for KeyedStateDb {
    fn drop(&mut self) {
        // Close the database before its files go.
        self.db.take();
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            tracing::debug!(dir = %self.dir.display(), error = %e, "cannot remove a rocksdb instance");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::memory::MemoryBudget;

    fn slot(dir: &Path) -> Arc<RocksDbSlot> {
        RocksDbSlot::new(dir.to_path_buf(), MemoryBudget::new(64 << 20)).unwrap()
    }

    fn put(db: &KeyedStateDb, entries: &[(u32, &[u8], &[u8])]) {
        let mut batch = WriteBatch::default();
        for (kg, k, v) in entries {
            batch.put(db_key(*kg, k).unwrap(), v);
        }
        db.write(batch).unwrap();
    }

    fn scanned(db: &KeyedStateDb, range: KeyGroupRange) -> Vec<(u32, Vec<u8>, Vec<u8>)> {
        let mut all = Vec::new();
        db.scan(range, |chunk| {
            all.extend_from_slice(chunk);
            Ok(())
        })
        .unwrap();
        all
    }

    #[test]
    fn values_by_key_group_and_scans_of_key_group_ranges() {
        let tmp = tempfile::tempdir().unwrap();
        let slot = slot(tmp.path());
        let db = KeyedStateDb::create(&slot, "window (1/2)").unwrap();
        put(
            &db,
            &[
                (3, b"a", b"1"),
                (0, b"b", b"2"),
                (127, b"c", b"3"),
                (3, b"d", b"4"),
            ],
        );
        let got = db
            .multi_get(&[db_key(3, b"a").unwrap(), db_key(4, b"a").unwrap()])
            .unwrap();
        assert_eq!(got, vec![Some(b"1".to_vec()), None]);
        let range = |start, end| KeyGroupRange { start, end };
        let keys = |r| -> Vec<(u32, Vec<u8>)> {
            scanned(&db, r)
                .into_iter()
                .map(|(kg, k, _)| (kg, k))
                .collect()
        };
        assert_eq!(
            keys(range(3, 3)),
            vec![(3, b"a".to_vec()), (3, b"d".to_vec())]
        );
        assert_eq!(keys(range(0, 126)).len(), 3);
        assert_eq!(keys(range(127, 127)), vec![(127, b"c".to_vec())]);
        assert_eq!(keys(range(0, MAX_MAX_PARALLELISM - 1)).len(), 4);
        assert!(db_key(MAX_MAX_PARALLELISM, b"x").is_err());
        put(&db, &[(3, b"ab", b"5"), (4, b"a", b"6")]);
        let prefixed: Vec<Vec<u8>> = db
            .scan_prefix(3, b"a")
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(prefixed, vec![b"a".to_vec(), b"ab".to_vec()]);
        assert!(db.scan_prefix(5, b"a").unwrap().is_empty());
        let mut batch = WriteBatch::default();
        batch.delete(db_key(3, b"ab").unwrap());
        batch.delete(db_key(4, b"a").unwrap());
        db.write(batch).unwrap();
        let mut batch = WriteBatch::default();
        batch.delete(db_key(3, b"a").unwrap());
        db.write(batch).unwrap();
        assert_eq!(keys(range(3, 3)), vec![(3, b"d".to_vec())]);
        let dir = db.dir().to_path_buf();
        assert!(dir.starts_with(tmp.path()));
        drop(db);
        assert!(!dir.exists(), "a dropped instance removes its files");
    }

    #[test]
    fn a_checkpoint_restores_by_adoption_or_by_key_group_import() {
        let tmp = tempfile::tempdir().unwrap();
        let slot = slot(tmp.path());
        let db = KeyedStateDb::create(&slot, "op").unwrap();
        put(&db, &[(1, b"a", b"1"), (70, b"b", b"2")]);
        let chk = tmp.path().join("chk-1");
        db.checkpoint(&chk).unwrap();
        assert!(
            std::fs::read_dir(&chk).unwrap().any(|f| f
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".sst")),
            "the memtable was flushed into an SST file"
        );
        let half = KeyedStateDb::create(&slot, "op").unwrap();
        assert_eq!(
            half.import(
                &chk,
                KeyGroupRange {
                    start: 64,
                    end: 127
                }
            )
            .unwrap(),
            1
        );
        assert_eq!(
            scanned(&half, KeyGroupRange { start: 0, end: 127 }),
            vec![(70, b"b".to_vec(), b"2".to_vec())]
        );
        let adopted = KeyedStateDb::adopt(&slot, "op", &chk).unwrap();
        assert_eq!(
            scanned(&adopted, KeyGroupRange { start: 0, end: 127 }).len(),
            2
        );
        assert!(!chk.exists(), "adopted files moved into the instance");
    }
}
