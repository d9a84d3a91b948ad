//! The master's view of the SQL planner. The planner lives outside the control plane
//! (it builds the worker's graphs); the binary injects it as a [`SqlPlanner`], so this
//! crate never depends on the worker. Through it the state browser also reads state
//! only the job's own operators can decode (a RocksDB checkpoint's).

use std::future::Future;
use std::pin::Pin;

use eddy_api::error::ErrorBody;
use eddy_api::rest::JobGraphInfo;

/// A planned script: its job graph and the configuration its `SET`s leave (Flink
/// option names, e.g. `execution.checkpointing.interval`).
#[derive(Debug, Clone)]
pub struct PlannedGraph {
    pub graph: JobGraphInfo,
    pub settings: std::collections::BTreeMap<String, String>,
}

pub type PlanFuture = Pin<Box<dyn Future<Output = Result<PlannedGraph, ErrorBody>> + Send>>;

/// Upper bound on the size of a submitted SQL script (explicit limit).
pub const MAX_SQL_BYTES: usize = 1 << 20;

/// One operator section of a completed checkpoint to read (see
/// [`SqlPlanner::read_keyed_state`]).
#[derive(Debug, Clone)]
pub struct KeyedStateRead {
    /// The job's script and parallelism, planned as at submission.
    pub sql: String,
    pub parallelism: u32,
    pub vertex: u32,
    /// The section's index: the operator's place in the vertex's chain.
    pub operator: u32,
    pub subtask: u32,
    pub section: Vec<u8>,
    /// Only this key group.
    pub key_group: Option<u32>,
}

pub type StateReadFuture = Pin<Box<dyn Future<Output = Result<Option<Vec<u8>>, String>> + Send>>;

pub trait SqlPlanner: Send + Sync + std::fmt::Debug + 'static {
    /// Plans `sql` at `parallelism`: the job graph, or an error body with
    /// `code = invalid_sql` and the line and column at fault.
    fn validate(&self, sql: String, parallelism: u32) -> PlanFuture;

    /// Reads an operator section holding a RocksDB checkpoint handle
    /// (`eddy_api::snapshot::ROCKSDB_CHECKPOINT_MAGIC`) into the canonical keyed
    /// snapshot the state browser reads, with the operator that wrote it (Flink's
    /// State Processor API); `None` for any other section.
    fn read_keyed_state(&self, read: KeyedStateRead) -> StateReadFuture;
}
