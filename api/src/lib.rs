//! Eddy's contracts, shared by the master, the workers, the CLI and the dashboard.
//!
//! - [`rest`]: the JSON bodies of the public REST API (`/api/v1`), wasm-safe so the
//!   dashboard deserializes exactly what users get.
//! - [`jobs`]: the JSON bodies of the jobs routes.
//! - [`error`]: the error body and the error codes of the REST API.
//! - [`rpc`] (feature `rpc`): the tonic services between master, workers and masters.
//!
//! This crate depends on nothing else of Eddy's.

pub mod checkpoints;
pub mod error;
pub mod jobs;
pub mod keyed_state;
pub mod rest;
pub mod savepoints;
pub mod snapshot;

#[cfg(feature = "rpc")]
pub mod rpc {
    //! Generated from `proto/eddy.proto`.
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("eddy.v1");
}

/// Version of Eddy reported by `GET /api/v1/overview`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
