//! [`GroupAggregateOperator`]: Flink's non-windowed `GroupAggregate` — a keyed
//! aggregate over an unbounded stream whose results are *updated*, so its output is a
//! changelog (see `runtime::changelog`): `+I` when a key first appears, a `-U`/`+U`
//! pair when a key's result changes, `-D` when retractions empty a key.
//!
//! Per key it keeps, in keyed state by key group ([`groups::Groups`]: a heap
//! `StateTable`, or RocksDB on the rocksdb backend), the slot of its accumulators in
//! an [`AggregateSet`] and the number of rows accumulated (Flink's record counter:
//! zero means the group is gone). Changes are emitted once per
//! input batch and key, as Flink's mini-batch aggregation does: the result before the
//! batch (`-U`) and after it (`+U`); nothing when the result did not change. An
//! updating input (a trailing row-kind column) is consumed too: `+I`/`+U` rows are
//! accumulated, `-U`/`-D` rows retracted (MIN/MAX then keep a multiset of values), and
//! a retraction for a key without state is ignored, as in Flink.
//!
//! Output columns: the key columns, the aggregates, then the row-kind column.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch};
use arrow::compute::interleave;
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::row::{RowConverter, Rows, SortField};

use super::aggregate::{AggregateSet, AggregateSpec};
use super::keys::{EncodedKeys, KeyEncoder};
use crate::operators::keyed_snapshot;
use crate::runtime::changelog::{RowKind, row_kind_array, row_kind_at, row_kind_field, row_kinds};
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::message::CheckpointBarrier;
use crate::runtime::operator::{Operator, OperatorContext, Output};
use groups::{Groups, Touched};

mod groups;

/// Most rows in one emitted batch.
pub const MAX_OUTPUT_BATCH_ROWS: usize = 8192;

#[derive(Debug, Clone)]
pub struct GroupAggregateSpec {
    /// GROUP BY columns of the input (empty: one global group).
    pub key_columns: Vec<usize>,
    pub aggregates: Vec<AggregateSpec>,
    /// The input is an updating stream: its batches end with the row-kind column.
    pub input_updating: bool,
}

/// Per key: its accumulator slot and the count of rows accumulated minus retracted.
type GroupState = (u32, i64);

#[derive(Debug)]
struct State {
    aggs: AggregateSet,
    groups: Groups,
}

/// A key touched by the current batch.
#[derive(Debug)]
struct Key {
    /// A row of the batch holding this key (for its key bytes).
    row: usize,
    key_group: u32,
    slot: u32,
    /// Index into the "before" results when the key had a result before this batch.
    before: Option<usize>,
    count: i64,
}

#[derive(Debug)]
pub struct GroupAggregateOperator {
    name: String,
    spec: GroupAggregateSpec,
    input: SchemaRef,
    keys: KeyEncoder,
    /// Compares aggregate results (a key whose result is unchanged emits nothing).
    results: RowConverter,
    schema: SchemaRef,
    state: Option<State>,
    /// Snapshots to load when the state is created (at `open`; several when rescaled).
    restore: Vec<Vec<u8>>,
}

impl GroupAggregateOperator {
    /// `input` is the logical input schema (without the row-kind column).
    pub fn new(name: &str, spec: GroupAggregateSpec, input: SchemaRef) -> Result<Self> {
        let keys = KeyEncoder::new(&input, &spec.key_columns)?;
        let agg_fields = spec
            .aggregates
            .iter()
            .map(|a| a.result_field(&input))
            .collect::<Result<Vec<Field>>>()?;
        let results = RowConverter::new(
            agg_fields
                .iter()
                .map(|f| SortField::new(f.data_type().clone()))
                .collect(),
        )?;
        let mut fields: Vec<Field> = keys.fields().to_vec();
        fields.extend(agg_fields);
        fields.push(row_kind_field());
        Ok(GroupAggregateOperator {
            name: name.to_string(),
            schema: Arc::new(Schema::new(fields)),
            spec,
            input,
            keys,
            results,
            state: None,
            restore: Vec::new(),
        })
    }

    /// Keys, aggregates, row kind.
    pub fn output_schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn init(&mut self, ctx: &OperatorContext) -> Result<()> {
        if self.state.is_none() {
            let mut aggs = AggregateSet::new(
                &self.spec.aggregates,
                &self.input,
                self.spec.input_updating,
                ctx.memory.clone(),
            )?;
            let restore = std::mem::take(&mut self.restore);
            let groups = Groups::open(ctx, &self.name, &mut aggs, &restore)?;
            self.state = Some(State { aggs, groups });
        }
        Ok(())
    }
}

/// The changelog of a batch: (source 0 = before / 1 = after, index), key row, kind.
type Emitted = Vec<((usize, usize), usize, RowKind)>;

/// Applies a batch to its groups (pushed to `keys`, with the counts it leaves):
/// returns the changes to emit, and the results before and after it.
fn apply(
    st: &mut State,
    batch: &RecordBatch,
    kinds: Option<&arrow::array::Int8Array>,
    encoded: &EncodedKeys,
    results: &RowConverter,
    keys: &mut Vec<Key>,
) -> Result<(Emitted, Vec<ArrayRef>, Vec<ArrayRef>)> {
    // 1. Find (or create) every key's slot; split rows into accumulate and retract.
    let mut index: HashMap<&[u8], usize> = HashMap::new();
    let (mut add_rows, mut add_slots) = (Vec::new(), Vec::new());
    let (mut ret_rows, mut ret_slots) = (Vec::new(), Vec::new());
    let mut before_slots = Vec::new();
    for row in 0..batch.num_rows() {
        let kind = row_kind_at(kinds, row)?;
        let key = encoded.key(row);
        let i = match index.get(key) {
            Some(&i) => i,
            None => {
                let kg = encoded.key_groups[row];
                let (slot, count, before) = match st.groups.get(kg, key) {
                    Some((slot, count)) => {
                        before_slots.push(slot);
                        (slot, count, Some(before_slots.len() - 1))
                    }
                    // Flink drops a retraction for a key it has no state for.
                    None if !kind.is_accumulate() => continue,
                    None => {
                        let slot = st.aggs.alloc()?;
                        st.groups.insert(kg, key, slot)?;
                        (slot, 0, None)
                    }
                };
                keys.push(Key {
                    row,
                    key_group: kg,
                    slot,
                    before,
                    count,
                });
                index.insert(key, keys.len() - 1);
                keys.len() - 1
            }
        };
        let t = &mut keys[i];
        if kind.is_accumulate() {
            t.count += 1;
            add_rows.push(row as u32);
            add_slots.push(t.slot);
        } else {
            t.count -= 1;
            ret_rows.push(row as u32);
            ret_slots.push(t.slot);
        }
    }
    if keys.is_empty() {
        return Ok((Vec::new(), Vec::new(), Vec::new()));
    }
    // 2. Results before, apply the batch, results after.
    let before = st.aggs.evaluate(&before_slots)?;
    let prepared = st.aggs.prepare(batch)?;
    if !add_rows.is_empty() {
        st.aggs.update(&prepared, &add_rows, &add_slots)?;
    }
    if !ret_rows.is_empty() {
        st.aggs.retract(&prepared, &ret_rows, &ret_slots)?;
    }
    let after_slots: Vec<u32> = keys.iter().map(|t| t.slot).collect();
    let after = st.aggs.evaluate(&after_slots)?;
    let before_rows = result_rows(results, &before)?;
    let after_rows = result_rows(results, &after)?;
    // 3. The changelog.
    let mut emitted: Emitted = Vec::new();
    for (i, t) in keys.iter().enumerate() {
        match (t.before, t.count > 0) {
            (None, true) => emitted.push(((1, i), t.row, RowKind::Insert)),
            (Some(b), true) => {
                let changed = match (&before_rows, &after_rows) {
                    (Some(old), Some(new)) => old.row(b) != new.row(i),
                    _ => false,
                };
                if changed {
                    emitted.push(((0, b), t.row, RowKind::UpdateBefore));
                    emitted.push(((1, i), t.row, RowKind::UpdateAfter));
                }
            }
            (Some(b), false) => emitted.push(((0, b), t.row, RowKind::Delete)),
            (None, false) => {}
        }
    }
    Ok((emitted, before, after))
}

/// Aggregate results as comparable rows (`None` without aggregates).
fn result_rows(converter: &RowConverter, columns: &[ArrayRef]) -> Result<Option<Rows>> {
    if columns.is_empty() {
        return Ok(None);
    }
    Ok(Some(converter.convert_columns(columns)?))
}

impl Operator for GroupAggregateOperator {
    fn name(&self) -> &str {
        &self.name
    }

    fn snapshot_state(&mut self, barrier: &CheckpointBarrier) -> Result<Option<Vec<u8>>> {
        let Some(State { aggs, groups }) = &mut self.state else {
            return Ok(None);
        };
        let keys = &self.keys;
        let describe = |state_keys: &[&[u8]]| keyed_snapshot::describe_keys(keys, state_keys);
        groups.snapshot(aggs, barrier, &describe).map(Some)
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        if let Some(st) = &mut self.state {
            st.groups.notify_checkpoint_complete(checkpoint_id);
        }
        Ok(())
    }

    fn restore_state(&mut self, state: &[u8]) -> Result<()> {
        self.restore.push(state.to_vec());
        Ok(())
    }

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        self.init(ctx)
    }

    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        ctx: &OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        self.init(ctx)?;
        let kinds = row_kinds(&batch);
        if self.spec.input_updating && kinds.is_none() {
            return Err(RuntimeError::Graph(format!(
                "{}: updating input without a row-kind column",
                self.name
            )));
        }
        let encoded = self.keys.encode(&batch, ctx.subtask.max_parallelism)?;
        let Some(st) = self.state.as_mut() else {
            return Ok(());
        };
        st.groups.load_batch(&mut st.aggs, &encoded)?;
        let mut keys: Vec<Key> = Vec::new();
        let applied = apply(st, &batch, kinds, &encoded, &self.results, &mut keys);
        let touched: Vec<Touched<'_>> = keys
            .iter()
            .map(|k| Touched {
                key_group: k.key_group,
                key: encoded.key(k.row),
                slot: k.slot,
                count: k.count,
            })
            .collect();
        let (emitted, before, after) = match applied {
            Ok(changes) => {
                st.groups.finish_batch(&mut st.aggs, &touched)?;
                changes
            }
            Err(e) => {
                st.groups.release(&mut st.aggs, &touched);
                return Err(e);
            }
        };
        for chunk in emitted.chunks(MAX_OUTPUT_BATCH_ROWS) {
            let mut columns = self.keys.decode(chunk.iter().map(|e| encoded.key(e.1)))?;
            let picks: Vec<(usize, usize)> = chunk.iter().map(|e| e.0).collect();
            for (b, a) in before.iter().zip(&after) {
                columns.push(interleave(&[b.as_ref() as &dyn Array, a.as_ref()], &picks)?);
            }
            columns.push(row_kind_array(chunk.iter().map(|e| e.2)));
            out.emit(RecordBatch::try_new(self.schema.clone(), columns)?);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod rocksdb_tests;
