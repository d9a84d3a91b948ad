//! Eddy's streaming SQL in Flink's dialect. A script is split into statements
//! ([`script`]); Flink DDL is parsed by [`ddl`]; queries are planned by DataFusion and
//! translated onto the worker's stream graph.
//!
//! Invariant: this crate depends on `eddy-worker` (it builds its graphs) and never on
//! `eddy-control-plane`; the master reaches it only through what the binary injects.

pub mod catalog;
pub mod ddl;
pub mod error;
pub mod planner;
pub mod script;
pub mod table_columns;
pub mod tvf;
pub mod types;

pub use error::SqlError;
pub use planner::{PlanOptions, PlannedJob, plan_script};
