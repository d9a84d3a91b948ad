//! Eddy's control plane (the master): HTTP/REST and the dashboard, the Raft node, the
//! catalog store, the worker registry, and jobs (scheduler with slot sharing, job
//! lifecycle, restart strategies). The SQL planner is injected by the binary.
//!
//! Invariant: this crate never depends on `eddy-worker`; the two meet only through the
//! RPC contract in `eddy-api`.

pub mod http;
pub mod jobs;
pub mod master;
pub mod metrics;
pub mod raft;
pub mod registry;
pub mod rpc;
pub mod sql;
pub mod store;

pub use master::{Master, MasterConfig, MasterError};
