//! The OVER aggregate's state in the canonical keyed snapshot ([`keyed_rows`]): per
//! partition key, one `aggregates` entry (the accumulators' state columns, the key's
//! last processed time in `time`), for bounded frames one `frame row` entry per row in
//! its frame (its time and aggregate inputs, `frame.N`, so it is retracted later as in
//! an uninterrupted run), and one `waiting row` entry per input row still waiting for
//! the watermark (its time and the row itself, `row.NAME`), in processing order. The
//! `entry` column tells them apart; columns an entry does not use are null. Key groups
//! are explicit, so a restore takes those of its range (rescaling).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, Int64Array, RecordBatch, StringArray, UInt8Array,
    UInt32Array, new_null_array,
};
use arrow::compute::{interleave, take};
use arrow::datatypes::{DataType, Field, Int64Type, SchemaRef, UInt8Type};
use datafusion::common::ScalarValue;

use super::State;
use super::frame::{FrameRow, KeyState, frame_row_size};
use crate::operators::aggregate::AggregateSet;
use crate::operators::keyed_rows::{
    KeyedRowsWriter, OwnRows, SNAPSHOT_BATCH_ROWS, column, invalid, keys_of,
};
use crate::operators::keyed_snapshot::key_texts;
use crate::operators::keys::KeyEncoder;
use crate::runtime::error::Result;
use crate::runtime::message::Timestamp;

pub(super) const AGGREGATES: u8 = 0;
pub(super) const FRAME_ROW: u8 = 1;
pub(super) const WAITING_ROW: u8 = 2;

/// The `namespace` text of each kind of entry (the state browser's).
pub(super) fn namespace(kind: u8) -> &'static str {
    match kind {
        AGGREGATES => "aggregates",
        FRAME_ROW => "frame row",
        _ => "waiting row",
    }
}

/// One entry to write: kind, key group, key, time, and what it refers to.
enum Item<'a> {
    Aggregates(u32),
    Frame(&'a FrameRow),
    Waiting(&'a RecordBatch, usize),
}

struct Entry<'a> {
    key_group: u32,
    key: Vec<u8>,
    time: Timestamp,
    item: Item<'a>,
}

/// The prepared aggregate inputs' types (`None`: an aggregate without input).
pub(super) fn input_types(aggs: &AggregateSet, input: &SchemaRef) -> Result<Vec<Option<DataType>>> {
    let template = aggs.prepare(&RecordBatch::new_empty(input.clone()))?;
    Ok(template
        .columns()
        .iter()
        .map(|c| c.as_ref().map(|a| a.data_type().clone()))
        .collect())
}

/// The entry columns of the snapshot: `entry`, `time`, the accumulators' state, the
/// frame rows' inputs `frame.N` and the waiting rows' columns `row.NAME`.
pub(super) fn entry_fields(
    aggs: &AggregateSet,
    types: &[Option<DataType>],
    input: &SchemaRef,
) -> Result<Vec<Field>> {
    let state_template = aggs.state(&[])?;
    let mut fields = vec![
        Field::new("entry", DataType::UInt8, false),
        Field::new("time", DataType::Int64, false),
    ];
    for (name, c) in aggs.state_names()?.into_iter().zip(&state_template) {
        fields.push(Field::new(name, c.data_type().clone(), true));
    }
    for (i, t) in types.iter().enumerate() {
        if let Some(t) = t {
            fields.push(Field::new(format!("frame.{i}"), t.clone(), true));
        }
    }
    for f in input.fields() {
        fields.push(Field::new(
            format!("row.{}", f.name()),
            f.data_type().clone(),
            true,
        ));
    }
    Ok(fields)
}

/// The snapshot of `st` (partition keys encoded by `keys`, input rows of `input`).
pub fn snapshot(st: &State, keys: &KeyEncoder, input: &SchemaRef) -> Result<Vec<u8>> {
    let types = input_types(&st.keyed.aggs, input)?;
    let fields = entry_fields(&st.keyed.aggs, &types, input)?;
    let mut entries: Vec<Entry<'_>> = Vec::new();
    for (kg, key, ks) in st.keyed.table.iter() {
        let entry = |time, item| Entry {
            key_group: kg,
            key: key.clone(),
            time,
            item,
        };
        entries.push(entry(ks.last_ts, Item::Aggregates(ks.slot)));
        entries.extend(ks.frame.iter().map(|f| entry(f.0, Item::Frame(f))));
    }
    let mut encoded = HashMap::new();
    for (id, (batch, _)) in &st.batches {
        encoded.insert(*id, keys.encode(batch, st.max_parallelism)?);
    }
    for (&time, rows) in &st.waiting {
        for &(b, row) in rows {
            let (Some((batch, _)), Some(keys)) = (st.batches.get(&b), encoded.get(&b)) else {
                return Err(invalid("OVER: a waiting row lost its batch"));
            };
            entries.push(Entry {
                key_group: keys.key_groups[row],
                key: keys.key(row).to_vec(),
                time,
                item: Item::Waiting(batch, row),
            });
        }
    }
    let mut writer = KeyedRowsWriter::new(Vec::new(), fields)?;
    for chunk in entries.chunks(SNAPSHOT_BATCH_ROWS) {
        write_chunk(&mut writer, st, keys, input, &types, chunk)?;
    }
    writer.finish()
}

fn write_chunk(
    writer: &mut KeyedRowsWriter,
    st: &State,
    keys: &KeyEncoder,
    input: &SchemaRef,
    types: &[Option<DataType>],
    chunk: &[Entry<'_>],
) -> Result<()> {
    let n = chunk.len();
    let groups: Vec<u32> = chunk.iter().map(|e| e.key_group).collect();
    let key_bytes: Vec<&[u8]> = chunk.iter().map(|e| e.key.as_slice()).collect();
    let kinds: UInt8Array = chunk
        .iter()
        .map(|e| match e.item {
            Item::Aggregates(_) => AGGREGATES,
            Item::Frame(_) => FRAME_ROW,
            Item::Waiting(..) => WAITING_ROW,
        })
        .map(Some)
        .collect();
    let namespaces: StringArray = kinds.values().iter().map(|k| Some(namespace(*k))).collect();
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(kinds),
        Arc::new(Int64Array::from_iter_values(chunk.iter().map(|e| e.time))),
    ];
    // Accumulator state: computed for the aggregates entries, null elsewhere.
    let slots: Vec<u32> = chunk
        .iter()
        .filter_map(|e| match e.item {
            Item::Aggregates(slot) => Some(slot),
            _ => None,
        })
        .collect();
    let mut next = 0u32;
    let at: UInt32Array = chunk
        .iter()
        .map(|e| {
            matches!(e.item, Item::Aggregates(_)).then(|| {
                next += 1;
                next - 1
            })
        })
        .collect();
    for c in st.keyed.aggs.state(&slots)? {
        columns.push(take(c.as_ref(), &at, None)?);
    }
    // Frame rows' aggregate inputs.
    for (i, t) in types.iter().enumerate() {
        let Some(t) = t else { continue };
        let null = ScalarValue::try_from(t)?;
        let values = chunk.iter().map(|e| match e.item {
            Item::Frame((_, inputs)) => inputs[i].clone().unwrap_or_else(|| null.clone()),
            _ => null.clone(),
        });
        columns.push(ScalarValue::iter_to_array(values)?);
    }
    // Waiting rows: each of the input's columns, null for other entries.
    let mut sources: Vec<&RecordBatch> = Vec::new();
    let mut picks = Vec::with_capacity(n);
    for e in chunk {
        picks.push(match e.item {
            Item::Waiting(batch, row) => {
                let i = match sources.iter().position(|b| std::ptr::eq(*b, batch)) {
                    Some(i) => i,
                    None => {
                        sources.push(batch);
                        sources.len() - 1
                    }
                };
                (i + 1, row)
            }
            _ => (0, 0),
        });
    }
    for (c, f) in input.fields().iter().enumerate() {
        let null = new_null_array(f.data_type(), 1);
        let mut arrays: Vec<&dyn Array> = vec![null.as_ref()];
        arrays.extend(sources.iter().map(|b| b.column(c).as_ref()));
        columns.push(interleave(&arrays, &picks)?);
    }
    let described = [
        key_texts(keys, &key_bytes)?,
        Arc::new(namespaces) as ArrayRef,
    ];
    writer.write(&groups, &key_bytes, Vec::new(), described, columns)
}

/// One batch of a canonical OVER snapshot, read by either backend's restore: its key
/// groups, keys, entry kinds and times.
pub(super) struct Entries<'a> {
    batch: &'a RecordBatch,
    pub groups: &'a UInt32Array,
    pub keys: &'a BinaryArray,
    kinds: &'a UInt8Array,
    pub times: &'a Int64Array,
}

impl<'a> Entries<'a> {
    pub fn of(batch: &'a RecordBatch) -> Result<Entries<'a>> {
        let (groups, keys) = keys_of(batch)?;
        let kinds = column(batch, "entry")?
            .as_primitive_opt::<UInt8Type>()
            .ok_or_else(|| invalid("OVER: entry is not UInt8"))?;
        let times = column(batch, "time")?
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(|| invalid("OVER: time is not Int64"))?;
        Ok(Entries {
            batch,
            groups,
            keys,
            kinds,
            times,
        })
    }

    /// The rows whose entry is of `kind`.
    pub fn of_kind(&self, kind: u8) -> UInt32Array {
        (0..self.batch.num_rows() as u32)
            .filter(|&r| self.kinds.value(r as usize) == kind)
            .collect()
    }

    /// The accumulator state columns (`width` from column `from`) of `rows`.
    pub fn state_columns(
        &self,
        rows: &UInt32Array,
        from: usize,
        width: usize,
    ) -> Result<Vec<ArrayRef>> {
        Ok(self
            .batch
            .columns()
            .get(from..from + width)
            .ok_or_else(|| invalid("OVER: accumulator state columns missing"))?
            .iter()
            .map(|c| take(c.as_ref(), rows, None))
            .collect::<std::result::Result<Vec<_>, _>>()?)
    }
}

/// Loads a snapshot's entries of `st`'s key groups (input rows of `input`) into `st`
/// of operator `name`; returns how many.
pub fn restore(st: &mut State, name: &str, input: &SchemaRef, bytes: &[u8]) -> Result<usize> {
    let types = input_types(&st.keyed.aggs, input)?;
    let rows = OwnRows::open(bytes, st.keyed.table.range())?;
    let state_from = rows.entry_columns_start()? + 2;
    let state_width = st.keyed.aggs.state(&[])?.len();
    let mut restored = 0;
    for batch in rows {
        let batch = batch?;
        let entries = Entries::of(&batch)?;
        let (groups, keys, times) = (entries.groups, entries.keys, entries.times);
        let of_kind = |kind: u8| entries.of_kind(kind);
        // 1. The keys' accumulators (a key's entry precedes its frame rows).
        let aggregates = of_kind(AGGREGATES);
        let state_columns = entries.state_columns(&aggregates, state_from, state_width)?;
        let slots = st.keyed.aggs.load_state(&state_columns, aggregates.len())?;
        for (&r, slot) in aggregates.values().iter().zip(slots) {
            let r = r as usize;
            let state = KeyState {
                slot,
                last_ts: times.value(r),
                frame: VecDeque::new(),
                frame_bytes: 0,
            };
            st.keyed
                .table
                .insert(groups.value(r), keys.value(r).to_vec(), state)?;
        }
        // 2. Frame rows, in order.
        let inputs: Vec<Option<&ArrayRef>> = types
            .iter()
            .enumerate()
            .map(|(i, t)| {
                t.as_ref()
                    .map(|_| column(&batch, &format!("frame.{i}")))
                    .transpose()
            })
            .collect::<Result<_>>()?;
        for &r in of_kind(FRAME_ROW).values() {
            let r = r as usize;
            let values = inputs
                .iter()
                .map(|c| c.map(|a| ScalarValue::try_from_array(a, r)).transpose())
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let row: FrameRow = (times.value(r), values);
            let size = frame_row_size(&row);
            let key = keys.value(r).to_vec();
            st.keyed
                .table
                .update(groups.value(r), &key, |ks| {
                    ks.frame_bytes += size;
                    ks.frame.push_back(row);
                })?
                .ok_or_else(|| invalid("OVER: a frame row without its key's aggregates"))?;
        }
        // 3. Waiting rows, as one input batch.
        let waiting = of_kind(WAITING_ROW);
        if !waiting.is_empty() {
            let row_columns = input
                .fields()
                .iter()
                .map(|f| {
                    let c = column(&batch, &format!("row.{}", f.name()))?;
                    Ok(take(c.as_ref(), &waiting, None)?)
                })
                .collect::<Result<Vec<_>>>()?;
            let rows = RecordBatch::try_new(input.clone(), row_columns)?;
            let picked = waiting
                .values()
                .iter()
                .enumerate()
                .map(|(i, &r)| (times.value(r as usize), i));
            st.add_waiting(name, rows, picked)?;
        }
        restored += batch.num_rows();
    }
    Ok(restored)
}
