//! The task runtime: messages on channels, the operator contract, tasks that run a
//! chain of operators inside a slot, and their metrics.

pub mod chain;
pub mod changelog;
pub mod channel;
pub mod checkpoint;
pub mod deployment;
pub mod error;
pub mod executor;
pub mod latency;
pub mod message;
pub mod metrics;
pub mod operator;
pub mod partition;
pub mod restore;
pub mod task;
