//! The synchronous part of an incremental RocksDB checkpoint (Flink's
//! `RocksIncrementalSnapshotStrategy`): flush, take a RocksDB checkpoint (hard links)
//! next to the instance, and list its files. An SST file is immutable, so its name in
//! the job's `shared/` directory is fixed once: `<instance id>-<file>` for files this
//! instance wrote, the restored name for files it was restored with. Files the last
//! *completed* checkpoint (learnt from `notify_checkpoint_complete`) already holds are
//! not uploaded again; a file uploaded twice (a completion not yet learnt) lands under
//! the same name, so every retained checkpoint's references stay valid.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::handle::{LocalSnapshot, PrivateFile, SharedFile};
use super::instance::KeyedStateDb;
use crate::key_groups::KeyGroupRange;
use crate::runtime::error::{Result, RuntimeError};

/// Snapshots awaiting their completion notice (explicit limit: older ones are
/// forgotten, they can no longer become the latest completed checkpoint).
pub const MAX_PENDING_SNAPSHOTS: usize = 16;

/// One instance's incremental checkpoint bookkeeping.
#[derive(Debug)]
pub struct IncrementalSnapshots {
    /// Unique per instance: the prefix of the shared names of the files it wrote.
    instance_id: String,
    /// Local SST name → shared name, for the files the instance was restored with.
    inherited: BTreeMap<String, String>,
    /// The files (local → shared name) of the last completed checkpoint.
    confirmed: BTreeMap<String, String>,
    pending: BTreeMap<u64, BTreeMap<String, String>>,
}

impl IncrementalSnapshots {
    /// `restored`: the shared files of the checkpoint the instance's database was
    /// restored from as is (they are in a completed checkpoint).
    pub fn new(restored: &[SharedFile]) -> Self {
        let inherited: BTreeMap<String, String> = restored
            .iter()
            .map(|f| (f.local.clone(), f.remote.clone()))
            .collect();
        IncrementalSnapshots {
            instance_id: uuid::Uuid::new_v4().simple().to_string(),
            confirmed: inherited.clone(),
            inherited,
            pending: BTreeMap::new(),
        }
    }

    /// Takes the local checkpoint `checkpoint_id` of `db` and returns its handle.
    pub fn snapshot(
        &mut self,
        db: &KeyedStateDb,
        checkpoint_id: u64,
        range: KeyGroupRange,
    ) -> Result<LocalSnapshot> {
        let dir: PathBuf = db.dir().join(format!("chk-{checkpoint_id}"));
        if dir.exists() {
            // Left by an abandoned earlier try of the same id.
            std::fs::remove_dir_all(&dir)
                .map_err(|e| RuntimeError::io(dir.display().to_string(), e))?;
        }
        db.checkpoint(&dir)?;
        let io = |e| RuntimeError::io(dir.display().to_string(), e);
        let mut shared = Vec::new();
        let mut private = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name().to_string_lossy().to_string();
            let size = entry.metadata().map_err(io)?.len();
            if name.ends_with(".sst") {
                let remote = self
                    .inherited
                    .get(&name)
                    .cloned()
                    .unwrap_or_else(|| format!("{}-{name}", self.instance_id));
                shared.push(SharedFile {
                    local: name,
                    remote,
                    size,
                });
            } else {
                private.push(PrivateFile { name, size });
            }
        }
        shared.sort_by(|a, b| a.local.cmp(&b.local));
        private.sort_by(|a, b| a.name.cmp(&b.name));
        let reused = shared
            .iter()
            .filter(|f| self.confirmed.get(&f.local) == Some(&f.remote))
            .map(|f| f.remote.clone())
            .collect();
        self.pending.insert(
            checkpoint_id,
            shared
                .iter()
                .map(|f| (f.local.clone(), f.remote.clone()))
                .collect(),
        );
        while self.pending.len() > MAX_PENDING_SNAPSHOTS {
            self.pending.pop_first();
        }
        Ok(LocalSnapshot {
            dir: dir.display().to_string(),
            shared,
            reused,
            private,
            key_groups: (range.start, range.end),
        })
    }

    /// Checkpoint `checkpoint_id` completed: its files need no upload any more.
    pub fn notify_complete(&mut self, checkpoint_id: u64) {
        if let Some(files) = self.pending.remove(&checkpoint_id) {
            self.confirmed = files;
        }
        self.pending.retain(|id, _| *id > checkpoint_id);
    }
}
