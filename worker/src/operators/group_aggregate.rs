//! [`GroupAggregateOperator`]: Flink's non-windowed `GroupAggregate` — a keyed
//! aggregate over an unbounded stream whose results are *updated*, so its output is a
//! changelog (see `runtime::changelog`): `+I` when a key first appears, a `-U`/`+U`
//! pair when a key's result changes, `-D` when retractions empty a key.
//!
//! Per key it keeps, in keyed state (`state::table::StateTable`, by key group), the slot
//! of its accumulators in an [`AggregateSet`] and the number of rows accumulated
//! (Flink's record counter: zero means the group is gone). Changes are emitted once per
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
use super::keys::KeyEncoder;
use crate::operators::keyed_snapshot;
use crate::runtime::changelog::{RowKind, row_kind_array, row_kind_at, row_kind_field, row_kinds};
use crate::runtime::message::CheckpointBarrier;
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::operator::{Operator, OperatorContext, Output};
use crate::state::table::StateTable;

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
    groups: StateTable<Vec<u8>, GroupState>,
}

/// A key touched by the current batch.
#[derive(Debug)]
struct Touched {
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
        if self.state.is_none() && ctx.state_backend.rocksdb().is_some() {
            // Not ported to RocksDB yet: the heap table, snapshotted canonically.
            tracing::warn!(job = %ctx.subtask.job_name, vertex = %ctx.subtask.vertex_name, subtask = ctx.subtask.index, operator = %self.name, "state backend rocksdb: GROUP BY keeps its state on the heap");
        }
        if self.state.is_none() {
            self.state = Some(State {
                aggs: AggregateSet::new(
                    &self.spec.aggregates,
                    &self.input,
                    self.spec.input_updating,
                    ctx.memory.clone(),
                )?,
                groups: StateTable::new(ctx.subtask.key_group_range, ctx.memory.clone()),
            });
        }
        if let Some(State { aggs, groups }) = &mut self.state {
            let range = groups.range();
            for bytes in std::mem::take(&mut self.restore) {
                let entries = keyed_snapshot::read_entries(aggs, range, &bytes, true, |e| {
                    let (kg, key, slot, count) = e;
                    groups.insert(kg, key.to_vec(), (slot, count.unwrap_or(0)))?;
                    Ok(())
                })?;
                tracing::debug!(operator = %self.name, subtask = ctx.subtask.index, entries, "group aggregate state restored");
            }
        }
        Ok(())
    }
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

    fn snapshot_state(&mut self, _barrier: &CheckpointBarrier) -> Result<Option<Vec<u8>>> {
        let Some(State { aggs, groups }) = &self.state else {
            return Ok(None);
        };
        let entries = groups
            .iter()
            .map(|(kg, key, (slot, count))| (kg, key.as_slice(), *slot, Some(*count)));
        let describe = |keys: &[&[u8]]| keyed_snapshot::describe_keys(&self.keys, keys);
        keyed_snapshot::write_entries(aggs, entries, true, &describe).map(Some)
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
        // 1. Find (or create) every key's slot; split rows into accumulate and retract.
        let mut touched: Vec<Touched> = Vec::new();
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
                    let (slot, count, before) = match st.groups.get(kg, &key.to_vec()) {
                        Some(&(slot, count)) => {
                            before_slots.push(slot);
                            (slot, count, Some(before_slots.len() - 1))
                        }
                        // Flink drops a retraction for a key it has no state for.
                        None if !kind.is_accumulate() => continue,
                        None => {
                            let slot = st.aggs.alloc()?;
                            st.groups.insert(kg, key.to_vec(), (slot, 0))?;
                            (slot, 0, None)
                        }
                    };
                    touched.push(Touched {
                        row,
                        key_group: kg,
                        slot,
                        before,
                        count,
                    });
                    index.insert(key, touched.len() - 1);
                    touched.len() - 1
                }
            };
            let t = &mut touched[i];
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
        if touched.is_empty() {
            return Ok(());
        }
        // 2. Results before, apply the batch, results after.
        let before = st.aggs.evaluate(&before_slots)?;
        let prepared = st.aggs.prepare(&batch)?;
        if !add_rows.is_empty() {
            st.aggs.update(&prepared, &add_rows, &add_slots)?;
        }
        if !ret_rows.is_empty() {
            st.aggs.retract(&prepared, &ret_rows, &ret_slots)?;
        }
        let after_slots: Vec<u32> = touched.iter().map(|t| t.slot).collect();
        let after = st.aggs.evaluate(&after_slots)?;
        let before_rows = result_rows(&self.results, &before)?;
        let after_rows = result_rows(&self.results, &after)?;
        // 3. The changelog: (source 0 = before / 1 = after, index), key row, kind.
        let mut emitted: Vec<((usize, usize), usize, RowKind)> = Vec::new();
        for (i, t) in touched.iter().enumerate() {
            let alive = t.count > 0;
            match (t.before, alive) {
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
            if alive {
                let count = t.count;
                st.groups
                    .update(t.key_group, &encoded.key(t.row).to_vec(), |g| g.1 = count)?;
            } else {
                st.groups.remove(t.key_group, &encoded.key(t.row).to_vec());
                st.aggs.free(t.slot);
            }
        }
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
