//! Eddy's worker (Flink's TaskExecutor): offers task slots to the master, registers
//! and heartbeats over gRPC, and runs the data plane: job graphs of Arrow operators
//! chained into tasks inside slots, time and watermarks, windows, keyed state and
//! connectors.
//!
//! Invariant: this crate never depends on `eddy-control-plane`; it speaks to the
//! master only through the RPC contract in `eddy-api`.

pub mod connectors;
pub mod exchange;
pub mod graph;
pub mod key_groups;
pub mod operators;
pub mod runtime;
pub mod slots;
pub mod state;
pub mod task_executor;
pub mod time;
pub mod worker;

pub use slots::SlotTable;
pub use worker::{Worker, WorkerConfig, WorkerError};
