//! Stream operators over Arrow batches: incremental aggregates, time windows, count
//! windows and OVER aggregates.

pub mod aggregate;
