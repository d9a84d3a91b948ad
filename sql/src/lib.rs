//! Eddy's streaming SQL in Flink's dialect. A script is split into statements
//! ([`script`]); Flink DDL is parsed by [`ddl`]; queries are planned by DataFusion and
//! translated onto the worker's stream graph.
//!
//! Invariant: this crate depends on `eddy-worker` (it builds its graphs) and never on
//! `eddy-control-plane`; the master reaches it only through what the binary injects.

pub mod ddl;
pub mod error;
pub mod script;
pub mod tvf;
pub mod types;

pub use error::SqlError;
