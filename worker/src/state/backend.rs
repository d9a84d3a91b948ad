//! Which state backend a job's keyed operators keep their state in (Flink's
//! `state.backend.type`): `hashmap` (heap `StateTable`s charged to the slot's managed
//! memory, the default) or `rocksdb` (one RocksDB instance per keyed operator subtask,
//! sharing its slot's block cache and write-buffer budget, see [`super::rocksdb`]).

use std::sync::Arc;

use super::rocksdb::RocksDbSlot;
use crate::runtime::error::{Result, RuntimeError};

/// Flink's option naming the state backend.
pub const STATE_BACKEND_OPTION: &str = "state.backend.type";

/// The backend named by [`STATE_BACKEND_OPTION`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StateBackendKind {
    #[default]
    HashMap,
    RocksDb,
}

impl StateBackendKind {
    /// `hashmap` (or Flink's older `memory`/`filesystem`) or `rocksdb`.
    pub fn parse(value: &str) -> Result<StateBackendKind> {
        match value.trim().to_ascii_lowercase().as_str() {
            "hashmap" | "memory" | "filesystem" | "" => Ok(StateBackendKind::HashMap),
            "rocksdb" => Ok(StateBackendKind::RocksDb),
            other => Err(RuntimeError::option(
                STATE_BACKEND_OPTION,
                format!("'{other}' is not a state backend: use hashmap or rocksdb"),
            )),
        }
    }
}

/// What a subtask's operators keep keyed state in.
#[derive(Debug, Clone, Default)]
pub enum StateBackend {
    #[default]
    HashMap,
    /// The RocksDB resources of the subtask's slot.
    RocksDb(Arc<RocksDbSlot>),
}

impl StateBackend {
    pub fn rocksdb(&self) -> Option<&Arc<RocksDbSlot>> {
        match self {
            StateBackend::RocksDb(slot) => Some(slot),
            StateBackend::HashMap => None,
        }
    }
}

/// A deployment's backend: where its RocksDB instances go (one directory per job
/// attempt; each slot gets its own under it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StateBackendConfig {
    #[default]
    HashMap,
    RocksDb {
        dir: std::path::PathBuf,
    },
}
