//! [`CountWindowOperator`]: keyed count windows with Flink's `countWindow(size[, slide])`
//! semantics (`GlobalWindows` + `CountTrigger.of(slide)` + `CountEvictor.of(size)`):
//! per key, after every `slide`-th element a window fires over that key's last `size`
//! elements (the first fires of a sliding window hold fewer). Elements after the last
//! fire point at end of input are not emitted.
//!
//! Computed incrementally without buffering rows: fire point `k` (after element
//! `k * slide`) covers elements `(k * slide - size, k * slide]`, so each element is added
//! to the accumulators of the pending fire points that will contain it — at most
//! `ceil(size / slide)` per key. Output: key columns, `window_index` (BIGINT, 0-based
//! per key), then the aggregates. On `hashmap` the state is a heap table per key;
//! on `rocksdb` it lives in the subtask's RocksDB instance ([`rocks`]: one entry per
//! pending fire point, as the snapshot's). Checkpoints are the canonical keyed
//! snapshot ([`snapshot`]) on the heap and incremental RocksDB checkpoints on rocksdb;
//! savepoints are canonical on both.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::aggregate::{AggregateSet, AggregateSpec};
use super::keyed_input::{KeyedAggregates, emit_in_batches, get_or_create};
use super::keyed_rocks::RocksAggregates;
use super::keys::{EncodedKeys, KeyEncoder};
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::message::CheckpointBarrier;
use crate::runtime::operator::{Operator, OperatorContext, Output};
use crate::state::rocksdb::handle::refuse_on_heap;

mod rocks;
#[cfg(test)]
mod rocksdb_tests;
mod snapshot;

/// Most rows in one emitted batch.
pub const MAX_OUTPUT_BATCH_ROWS: usize = 8192;

#[derive(Debug, Clone)]
pub struct CountWindowSpec {
    pub size: u64,
    /// `size` for tumbling count windows.
    pub slide: u64,
    pub key_columns: Vec<usize>,
    pub aggregates: Vec<AggregateSpec>,
}

/// Per key: elements seen, and the slots of the pending fire points in order.
type KeyState = (u64, Vec<u32>);

#[derive(Debug)]
pub struct CountWindowOperator {
    name: String,
    spec: CountWindowSpec,
    input: SchemaRef,
    keys: KeyEncoder,
    schema: SchemaRef,
    /// On rocksdb the table stays empty and `aggs` only lends slots for a batch.
    state: Option<KeyedAggregates<KeyState>>,
    /// The state on the rocksdb backend (set at `open`).
    rocks: Option<RocksAggregates>,
    /// Snapshots to load at `open` (several when rescaled).
    restore: Vec<Vec<u8>>,
}

impl CountWindowOperator {
    pub fn new(name: &str, spec: CountWindowSpec, input: SchemaRef) -> Result<Self> {
        if spec.size == 0 || spec.slide == 0 {
            return Err(RuntimeError::Graph(
                "count window size and slide must be positive".into(),
            ));
        }
        let keys = KeyEncoder::new(&input, &spec.key_columns)?;
        let mut fields: Vec<Field> = keys.fields().to_vec();
        fields.push(Field::new("window_index", DataType::Int64, false));
        for a in &spec.aggregates {
            fields.push(a.result_field(&input)?);
        }
        Ok(CountWindowOperator {
            name: name.to_string(),
            schema: Arc::new(Schema::new(fields)),
            spec,
            input,
            keys,
            state: None,
            rocks: None,
            restore: Vec::new(),
        })
    }

    pub fn output_schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn state(&mut self, ctx: &OperatorContext) -> Result<&mut KeyedAggregates<KeyState>> {
        let (spec, input) = (&self.spec, &self.input);
        get_or_create(&mut self.state, || {
            KeyedAggregates::new(&spec.aggregates, input, false, ctx)
        })
    }
}

/// Adds element `seen + 1` of a key: extends the pending fire points to every one that
/// will contain it, records its updates, and returns the fire point it completes.
fn add_element(
    (seen, slots): &mut KeyState,
    size: u64,
    slide: u64,
    aggs: &mut AggregateSet,
    mut record: impl FnMut(u32),
) -> Result<Option<(u64, u32)>> {
    let idx = *seen + 1;
    let next_k = *seen / slide + 1;
    let last_k = (idx + size - 1) / slide;
    while (slots.len() as u64) < (last_k + 1).saturating_sub(next_k) {
        slots.push(aggs.alloc()?);
    }
    for &s in slots.iter() {
        record(s);
    }
    *seen = idx;
    if idx % slide == 0 && !slots.is_empty() {
        return Ok(Some((idx / slide - 1, slots.remove(0))));
    }
    Ok(None)
}

impl Operator for CountWindowOperator {
    fn name(&self) -> &str {
        &self.name
    }

    fn snapshot_state(&mut self, barrier: &CheckpointBarrier) -> Result<Option<Vec<u8>>> {
        let (keys, slide) = (&self.keys, self.spec.slide);
        match (&mut self.state, &mut self.rocks) {
            (Some(st), Some(rocks)) => {
                let describe = |state_keys: &[&[u8]]| snapshot::describe(keys, state_keys);
                rocks.snapshot(&mut st.aggs, barrier, &describe).map(Some)
            }
            (Some(st), None) => snapshot::snapshot(st, keys, slide).map(Some),
            (None, _) => Ok(None),
        }
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        if let Some(rocks) = &mut self.rocks {
            rocks.notify_checkpoint_complete(checkpoint_id);
        }
        Ok(())
    }

    fn restore_state(&mut self, state: &[u8]) -> Result<()> {
        self.restore.push(state.to_vec());
        Ok(())
    }

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        let restore = std::mem::take(&mut self.restore);
        let name = self.name.clone();
        let st = self.state(ctx)?;
        if let Some((rocks, entries)) =
            RocksAggregates::open(ctx, &name, &mut st.aggs, true, &restore)?
        {
            tracing::debug!(job = %ctx.subtask.job_name, vertex = %ctx.subtask.vertex_name, subtask = ctx.subtask.index, operator = %name, entries, "count window state in rocksdb");
            self.rocks = Some(rocks);
            return Ok(());
        }
        for bytes in restore {
            refuse_on_heap(&bytes, &name)?;
            let entries = snapshot::restore(st, &bytes)?;
            tracing::debug!(job = %ctx.subtask.job_name, vertex = %ctx.subtask.vertex_name, subtask = ctx.subtask.index, operator = %name, entries, "count window state restored");
        }
        Ok(())
    }

    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        ctx: &OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        let encoded = self.keys.encode(&batch, ctx.subtask.max_parallelism)?;
        let (size, slide) = (self.spec.size, self.spec.slide);
        let (spec, input) = (&self.spec, &self.input);
        let st = get_or_create(&mut self.state, || {
            KeyedAggregates::new(&spec.aggregates, input, false, ctx)
        })?;
        let fired = if let Some(db) = &self.rocks {
            rocks::add_batch(db, &mut st.aggs, (size, slide), &batch, &encoded)?
        } else {
            heap_add_batch(st, (size, slide), &batch, &encoded)?
        };
        let emitted = emit_fired(
            &self.keys,
            &self.schema,
            &mut st.aggs,
            &encoded,
            &fired,
            out,
        );
        for f in &fired {
            st.aggs.free(f.2);
        }
        emitted
    }
}

/// Adds a batch's rows to the heap state; returns the fire points they completed.
fn heap_add_batch(
    st: &mut KeyedAggregates<KeyState>,
    (size, slide): (u64, u64),
    batch: &RecordBatch,
    encoded: &EncodedKeys,
) -> Result<Vec<Fired>> {
    let (mut rows, mut slots) = (Vec::new(), Vec::new());
    let mut fired: Vec<Fired> = Vec::new();
    let mut scratch = Vec::new();
    for row in 0..batch.num_rows() {
        let kg = encoded.key_groups[row];
        scratch.clear();
        scratch.extend_from_slice(encoded.key(row));
        st.ensure_key(kg, &scratch, |_| Ok((0, Vec::new())))?;
        let aggs = &mut st.aggs;
        let done = st.table.update(kg, &scratch, |ks| {
            add_element(ks, size, slide, aggs, |s| {
                rows.push(row as u32);
                slots.push(s);
            })
        })?;
        if let Some((index, slot)) = done.transpose()?.flatten() {
            fired.push((row, index, slot));
        }
    }
    st.aggs.update_batch(batch, &rows, &slots)?;
    Ok(fired)
}

/// A fire point completed by a batch: the row that completed it, its window index,
/// its accumulator slot.
type Fired = (usize, u64, u32);

/// Emits the windows `fired` (rows of the batch whose keys are `encoded`); the
/// caller frees their slots.
fn emit_fired(
    keys: &KeyEncoder,
    schema: &SchemaRef,
    aggs: &mut AggregateSet,
    encoded: &EncodedKeys,
    fired: &[Fired],
    out: &mut Output,
) -> Result<()> {
    if fired.is_empty() {
        return Ok(());
    }
    let fired_slots: Vec<u32> = fired.iter().map(|f| f.2).collect();
    let mut columns: Vec<ArrayRef> = keys.decode(fired.iter().map(|f| encoded.key(f.0)))?;
    columns.push(Arc::new(Int64Array::from_iter_values(
        fired.iter().map(|f| f.1 as i64),
    )));
    columns.extend(aggs.evaluate(&fired_slots)?);
    let all = RecordBatch::try_new(schema.clone(), columns)?;
    emit_in_batches(&all, MAX_OUTPUT_BATCH_ROWS, out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use arrow::array::{ArrayRef, Int64Array, StringArray};

    use super::*;
    use crate::operators::aggregate::AggregateKind;
    use crate::operators::test_util::{context, drain};
    use crate::time::clock::ManualClock;

    fn batch(rows: &[(&str, i64)]) -> RecordBatch {
        RecordBatch::try_from_iter(vec![
            (
                "k",
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef,
            ),
            (
                "v",
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    fn op(size: u64, slide: u64) -> CountWindowOperator {
        let spec = CountWindowSpec {
            size,
            slide,
            key_columns: vec![0],
            aggregates: vec![
                AggregateSpec::count_star("cnt"),
                AggregateSpec::new(AggregateKind::Sum, Some(1), "sum"),
                AggregateSpec::new(AggregateKind::Min, Some(1), "min"),
            ],
        };
        CountWindowOperator::new("count", spec, batch(&[]).schema()).unwrap()
    }

    #[test]
    fn sliding_count_window_fires_every_slide_over_last_size() {
        let ctx = context(ManualClock::new(0));
        let mut op = op(3, 2);
        let mut out = Output::default();
        // a: 1..=7 split over two batches; b: 10, 20 interleaved.
        op.process_batch(
            0,
            batch(&[("a", 1), ("a", 2), ("b", 10), ("a", 3)]),
            &ctx,
            &mut out,
        )
        .unwrap();
        op.process_batch(
            0,
            batch(&[("a", 4), ("b", 20), ("a", 5), ("a", 6), ("a", 7)]),
            &ctx,
            &mut out,
        )
        .unwrap();
        op.finish(&ctx, &mut out).unwrap();
        // Fires after a's 2nd (1,2: fewer than size), 4th (2,3,4), 6th (4,5,6) element;
        // element 7 is after the last fire point: not emitted. b fires after 2 elements.
        assert_eq!(
            drain(&mut out).0,
            vec!["a|0|2|3|1", "a|1|3|9|2", "b|0|2|30|10", "a|2|3|15|4"]
        );
    }

    /// Snapshot after 23 of 60 rows (also with keys whose slide outran their size),
    /// restore into one subtask and into two of half the key groups each: the windows
    /// fired equal one uninterrupted run's.
    #[test]
    fn snapshots_restore_whole_and_split_by_key_group() {
        use crate::operators::test_util::{Step, assert_restores_whole_and_split};
        let keys = ["a", "b", "c", "d", "e", "f", "g"];
        let rows: Vec<(&str, i64)> = (0..60).map(|i| (keys[i * 5 % 7], i as i64)).collect();
        let steps = [
            Step::Batch(0, batch(&rows[..23])),
            Step::Batch(0, batch(&rows[23..])),
        ];
        for (size, slide) in [(3, 2), (2, 2), (1, 3)] {
            let make = || -> Box<dyn Operator> { Box::new(op(size, slide)) };
            let expected = assert_restores_whole_and_split(&make, &steps, 1, &[vec![0]]);
            assert!(!expected.is_empty(), "{size}/{slide}");
        }
    }

    #[test]
    fn tumbling_count_window_and_slide_beyond_size() {
        let ctx = context(ManualClock::new(0));
        let mut tumbling = op(2, 2);
        let mut out = Output::default();
        let rows: Vec<(&str, i64)> = (1..=5).map(|v| ("k", v)).collect();
        tumbling
            .process_batch(0, batch(&rows), &ctx, &mut out)
            .unwrap();
        tumbling.finish(&ctx, &mut out).unwrap();
        assert_eq!(drain(&mut out).0, vec!["k|0|2|3|1", "k|1|2|7|3"]);
        // countWindow(1, 3): every 3rd element alone.
        let mut sparse = op(1, 3);
        let rows: Vec<(&str, i64)> = (1..=7).map(|v| ("k", v)).collect();
        sparse
            .process_batch(0, batch(&rows), &ctx, &mut out)
            .unwrap();
        assert_eq!(drain(&mut out).0, vec!["k|0|1|3|3", "k|1|1|6|6"]);
        assert!(
            CountWindowOperator::new(
                "c",
                CountWindowSpec {
                    size: 0,
                    slide: 1,
                    key_columns: vec![],
                    aggregates: vec![]
                },
                batch(&[]).schema()
            )
            .is_err()
        );
    }
}
