//! Eddy's control plane (the master): HTTP/REST and the dashboard, the Raft node, the
//! catalog store, and the worker registry. Later: scheduler, checkpoint coordinator,
//! SQL planner.
//!
//! Invariant: this crate never depends on `eddy-worker`; the two meet only through the
//! RPC contract in `eddy-api`.

pub mod http;
pub mod master;
pub mod metrics;
pub mod raft;
pub mod registry;
pub mod rpc;
pub mod sql;
pub mod store;

pub use master::{Master, MasterConfig, MasterError};
