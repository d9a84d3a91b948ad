//! Operators over Arrow batches: stateless ones, windows, aggregates.

pub mod basic;
