//! The master's view of the SQL planner. The planner lives outside the control plane
//! (it builds the worker's graphs); the binary injects it as a [`SqlPlanner`], so this
//! crate never depends on the worker.

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

pub trait SqlPlanner: Send + Sync + std::fmt::Debug + 'static {
    /// Plans `sql` at `parallelism`: the job graph, or an error body with
    /// `code = invalid_sql` and the line and column at fault.
    fn validate(&self, sql: String, parallelism: u32) -> PlanFuture;
}
