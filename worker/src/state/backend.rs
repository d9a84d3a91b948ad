//! Which state backend a job's keyed operators keep their state in (Flink's
//! `state.backend.type`): `hashmap` (heap `StateTable`s charged to the slot's managed
//! memory, the default) or `rocksdb` (one RocksDB instance per keyed operator subtask,
//! sharing its slot's block cache and write-buffer budget, see [`super::rocksdb`]).

use std::sync::Arc;

use super::rocksdb::RocksDbSlot;
use crate::runtime::error::{Result, RuntimeError};

/// Flink's option naming the state backend (what the master sends in the deploy
/// options, the effective choice).
pub const STATE_BACKEND_OPTION: &str = eddy_api::jobs::STATE_BACKEND_OPTIONS[0];

/// The backend named by [`STATE_BACKEND_OPTION`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StateBackendKind {
    #[default]
    HashMap,
    RocksDb,
}

impl StateBackendKind {
    /// `hashmap` (or Flink's older heap backends), `rocksdb`, or empty (hashmap);
    /// see [`eddy_api::jobs::state_backend_name`].
    pub fn parse(value: &str) -> Result<StateBackendKind> {
        if value.trim().is_empty() {
            return Ok(StateBackendKind::HashMap);
        }
        match eddy_api::jobs::state_backend_name(value) {
            Ok("rocksdb") => Ok(StateBackendKind::RocksDb),
            Ok(_) => Ok(StateBackendKind::HashMap),
            Err(e) => Err(RuntimeError::option(STATE_BACKEND_OPTION, e)),
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
