//! What the keyed aggregate operators (time windows, count windows, OVER) share per
//! subtask and per batch: their state created on first use (`open` or the first batch)
//! — [`KeyedAggregates`], the accumulators plus a `StateTable` from key bytes to the
//! operator's per-key state — a row's key looked up or inserted, late rows counted in
//! `late_records_dropped`, and results emitted in batches of a bounded number of rows.

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;

use super::aggregate::{AggregateSet, AggregateSpec};
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::metrics::SubtaskMetrics;
use crate::runtime::operator::{OperatorContext, Output};
use crate::state::table::{StateSize, StateTable};

/// A keyed operator's accumulators and its per-key state, by key group.
#[derive(Debug)]
pub struct KeyedAggregates<V> {
    pub aggs: AggregateSet,
    /// Key bytes → the operator's state of that key.
    pub table: StateTable<Vec<u8>, V>,
}

impl<V: StateSize> KeyedAggregates<V> {
    /// `retractable` accumulators also support `retract` (bounded OVER frames).
    pub fn new(
        specs: &[AggregateSpec],
        input: &Schema,
        retractable: bool,
        ctx: &OperatorContext,
    ) -> Result<Self> {
        Ok(KeyedAggregates {
            aggs: AggregateSet::new(specs, input, retractable, ctx.memory.clone())?,
            table: StateTable::new(ctx.subtask.key_group_range, ctx.memory.clone()),
        })
    }

    /// Inserts `init`'s state for `key` unless the key has state already.
    pub fn ensure_key(
        &mut self,
        key_group: u32,
        key: &Vec<u8>,
        init: impl FnOnce(&mut AggregateSet) -> Result<V>,
    ) -> Result<()> {
        if self.table.get(key_group, key).is_none() {
            let fresh = init(&mut self.aggs)?;
            self.table.insert(key_group, key.clone(), fresh)?;
        }
        Ok(())
    }
}

/// The state in `slot`, created by `create` the first time.
pub fn get_or_create<S>(
    slot: &mut Option<S>,
    create: impl FnOnce() -> Result<S>,
) -> Result<&mut S> {
    if slot.is_none() {
        *slot = Some(create()?);
    }
    slot.as_mut()
        .ok_or_else(|| RuntimeError::Graph("operator state was not created".into()))
}

/// Counts `late` rows dropped for arriving behind the time their operator has reached.
pub fn count_late(ctx: &OperatorContext, late: u64) {
    if late > 0 {
        SubtaskMetrics::add(&ctx.metrics.late_records_dropped, late);
    }
}

/// Emits `batch` as slices of at most `max_rows` rows (nothing when it is empty).
pub fn emit_in_batches(batch: &RecordBatch, max_rows: usize, out: &mut Output) {
    let mut offset = 0;
    while offset < batch.num_rows() {
        let len = max_rows.min(batch.num_rows() - offset);
        out.emit(batch.slice(offset, len));
        offset += len;
    }
}
