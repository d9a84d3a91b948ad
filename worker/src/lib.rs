//! Eddy's worker (Flink's TaskExecutor): offers task slots to the master, registers
//! and heartbeats over gRPC, and serves its own RPC address for the master and other
//! workers. Later: the task runtime, state backends, exchange and connectors.
//!
//! Invariant: this crate never depends on `eddy-control-plane`; it speaks to the
//! master only through the RPC contract in `eddy-api`.

pub mod key_groups;
pub mod slots;
pub mod worker;

pub use slots::SlotTable;
pub use worker::{Worker, WorkerConfig, WorkerError};
