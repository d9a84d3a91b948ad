//! The Raft state machine: applies [`Command`]s to the [`ClusterState`], persists the
//! result (column family `sm`) after every applied batch, and builds and installs
//! snapshots. Readers (HTTP handlers) share the state through [`SharedState`].

use std::io::Cursor;
use std::sync::{Arc, RwLock};

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    BasicNode, Entry, EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, SnapshotMeta,
    StorageError, StorageIOError, StoredMembership,
};
use rocksdb::DB;
use serde::{Deserialize, Serialize};

use super::types::{ClusterState, CommandResult, NodeId, StateMachineData, TypeConfig};

pub(crate) const CF_SM: &str = "sm";
const KEY_DATA: &[u8] = b"data";
const KEY_SNAPSHOT: &[u8] = b"snapshot";

type StorageResult<T> = Result<T, StorageError<NodeId>>;

/// Read access to the applied cluster state for the rest of the master.
#[derive(Clone, Debug, Default)]
pub struct SharedState(Arc<RwLock<StateMachineData>>);

impl SharedState {
    /// A copy of the applied cluster state.
    pub fn cluster_state(&self) -> ClusterState {
        match self.0.read() {
            Ok(g) => g.state.clone(),
            Err(poisoned) => poisoned.into_inner().state.clone(),
        }
    }

    fn with_mut<R>(&self, f: impl FnOnce(&mut StateMachineData) -> R) -> R {
        match self.0.write() {
            Ok(mut g) => f(&mut g),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    fn snapshot_data(&self) -> StateMachineData {
        self.with_mut(|d| d.clone())
    }
}

#[derive(Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta<NodeId, BasicNode>,
    data: Vec<u8>,
}

/// The state machine; cloning shares it (the snapshot builder is a clone).
#[derive(Clone, Debug)]
pub struct StateMachine {
    db: Arc<DB>,
    shared: SharedState,
}

impl StateMachine {
    /// Opens the state machine, loading what was persisted last time.
    pub(crate) fn open(db: Arc<DB>) -> StorageResult<Self> {
        let sm = Self {
            db,
            shared: SharedState::default(),
        };
        if let Some(bytes) = sm
            .db
            .get_cf(sm.cf()?, KEY_DATA)
            .map_err(|e| StorageIOError::read_state_machine(&e))?
        {
            let data: StateMachineData = serde_json::from_slice(&bytes)
                .map_err(|e| StorageIOError::read_state_machine(&e))?;
            sm.shared.with_mut(|d| *d = data);
        }
        Ok(sm)
    }

    pub(crate) fn shared(&self) -> SharedState {
        self.shared.clone()
    }

    fn cf(&self) -> StorageResult<&rocksdb::ColumnFamily> {
        self.db.cf_handle(CF_SM).ok_or_else(|| {
            StorageIOError::read_state_machine(&std::io::Error::other("missing column family sm"))
                .into()
        })
    }

    fn persist(&self, data: &StateMachineData) -> StorageResult<()> {
        let bytes =
            serde_json::to_vec(data).map_err(|e| StorageIOError::write_state_machine(&e))?;
        self.db
            .put_cf(self.cf()?, KEY_DATA, bytes)
            .map_err(|e| StorageIOError::write_state_machine(&e))?;
        self.db
            .flush_wal(true)
            .map_err(|e| StorageIOError::write_state_machine(&e))?;
        Ok(())
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> StorageResult<Snapshot<TypeConfig>> {
        let data = self.shared.snapshot_data();
        let bytes =
            serde_json::to_vec(&data).map_err(|e| StorageIOError::read_state_machine(&e))?;
        let snapshot_id = match data.last_applied {
            Some(id) => format!("{}-{}", id.leader_id, id.index),
            None => "empty".to_string(),
        };
        let meta = SnapshotMeta {
            last_log_id: data.last_applied,
            last_membership: data.last_membership,
            snapshot_id,
        };
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data: bytes.clone(),
        };
        let raw =
            serde_json::to_vec(&stored).map_err(|e| StorageIOError::write_snapshot(None, &e))?;
        self.db
            .put_cf(self.cf()?, KEY_SNAPSHOT, raw)
            .map_err(|e| StorageIOError::write_snapshot(None, &e))?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> StorageResult<(Option<LogId<NodeId>>, StoredMembership<NodeId, BasicNode>)> {
        Ok(self
            .shared
            .with_mut(|d| (d.last_applied, d.last_membership.clone())))
    }

    async fn apply<I>(&mut self, entries: I) -> StorageResult<Vec<CommandResult>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let (results, data) = self.shared.with_mut(|d| {
            let mut results = Vec::new();
            for entry in entries {
                d.last_applied = Some(entry.log_id);
                let value = match entry.payload {
                    EntryPayload::Blank => None,
                    EntryPayload::Normal(ref command) => d.state.apply(command),
                    EntryPayload::Membership(ref m) => {
                        d.last_membership = StoredMembership::new(Some(entry.log_id), m.clone());
                        None
                    }
                };
                results.push(CommandResult {
                    applied_index: entry.log_id.index,
                    value,
                });
            }
            (results, d.clone())
        });
        self.persist(&data)?;
        Ok(results)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> StorageResult<Box<Cursor<Vec<u8>>>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> StorageResult<()> {
        let bytes = snapshot.into_inner();
        let mut data: StateMachineData = serde_json::from_slice(&bytes)
            .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e))?;
        data.last_applied = meta.last_log_id;
        data.last_membership = meta.last_membership.clone();
        self.persist(&data)?;
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data: bytes,
        };
        let raw =
            serde_json::to_vec(&stored).map_err(|e| StorageIOError::write_snapshot(None, &e))?;
        self.db
            .put_cf(self.cf()?, KEY_SNAPSHOT, raw)
            .map_err(|e| StorageIOError::write_snapshot(None, &e))?;
        self.shared.with_mut(|d| *d = data);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> StorageResult<Option<Snapshot<TypeConfig>>> {
        let Some(raw) = self
            .db
            .get_cf(self.cf()?, KEY_SNAPSHOT)
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?
        else {
            return Ok(None);
        };
        let stored: StoredSnapshot =
            serde_json::from_slice(&raw).map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        Ok(Some(Snapshot {
            meta: stored.meta,
            snapshot: Box::new(Cursor::new(stored.data)),
        }))
    }
}
