//! Stream operators over Arrow batches: stateless ones (filter, projection, sink),
//! incremental aggregates, time windows, count windows and OVER aggregates.

pub mod aggregate;
pub mod basic;
pub mod count_window;
pub mod group_aggregate;
pub mod join;
pub mod keyed_input;
pub mod keyed_rocks;
pub mod keyed_rows;
pub mod keyed_snapshot;
pub mod keys;
pub mod over;
pub mod rowtime;
pub mod window;

#[cfg(test)]
pub(crate) mod test_util;
