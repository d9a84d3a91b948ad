//! The joins' buffered rows in the canonical keyed snapshot ([`keyed_rows`]): one entry
//! per buffered row — its side (`side` 0 left, 1 right), `time`, whether it has
//! `matched` yet, the window join's `window_start`/`window_end`, and the row itself as
//! Arrow columns `left.NAME` or `right.NAME` (the other side's null), in buffer order.
//! The clean-up timers are not stored: a restore registers them again from the rows
//! (a row's expiry, a window's end). Key groups are explicit, so a restore takes those
//! of its range (rescaling).

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int64Array, StringArray, UInt8Array, UInt32Array,
};
use arrow::compute::take;
use arrow::datatypes::{DataType, Field, Int64Type, UInt8Type};

use super::BufferedRow;
use super::sides::{JoinSides, SideBuffers};
use crate::key_groups::KeyGroupRange;
use crate::operators::keyed_rows::{
    KeyedRowsWriter, OwnRows, SNAPSHOT_BATCH_ROWS, column, invalid, keys_of,
};
use crate::operators::keyed_snapshot::key_texts;
use crate::runtime::error::Result;
use crate::runtime::message::Timestamp;
use crate::state::keyed::{KeyBytes, Namespace};
use crate::state::table::StateSize;

const SIDES: [&str; 2] = ["left", "right"];

/// A join's state key: the join key's bytes and, for the window join, the window.
pub(crate) trait BufferKey: Sized {
    /// Whether the state key holds a window (the window join's).
    const WINDOWED: bool;
    fn key(&self) -> &[u8];
    fn window(&self) -> Option<(Timestamp, Timestamp)>;
    fn from_parts(key: KeyBytes, window: Option<(Timestamp, Timestamp)>) -> Result<Self>;
}

impl BufferKey for KeyBytes {
    const WINDOWED: bool = false;
    fn key(&self) -> &[u8] {
        self
    }
    fn window(&self) -> Option<(Timestamp, Timestamp)> {
        None
    }
    fn from_parts(key: KeyBytes, _window: Option<(Timestamp, Timestamp)>) -> Result<Self> {
        Ok(key)
    }
}

impl BufferKey for (KeyBytes, (Timestamp, Timestamp)) {
    const WINDOWED: bool = true;
    fn key(&self) -> &[u8] {
        &self.0
    }
    fn window(&self) -> Option<(Timestamp, Timestamp)> {
        Some(self.1)
    }
    fn from_parts(key: KeyBytes, window: Option<(Timestamp, Timestamp)>) -> Result<Self> {
        let window = window.ok_or_else(|| invalid("window join: a row without its window"))?;
        Ok((key, window))
    }
}

/// One buffered row of a snapshot: its side, key group, state key and the row.
pub(crate) type Entry<'a, K> = (usize, u32, &'a K, &'a BufferedRow);

/// Writes the canonical snapshot of a join's buffered rows a chunk at a time.
pub(crate) struct JoinSnapshotWriter<'a> {
    sides: &'a JoinSides,
    writer: KeyedRowsWriter,
}

impl<'a> JoinSnapshotWriter<'a> {
    pub fn new(sides: &'a JoinSides) -> Result<Self> {
        let mut fields = vec![
            Field::new("side", DataType::UInt8, false),
            Field::new("time", DataType::Int64, false),
            Field::new("matched", DataType::Boolean, false),
            Field::new("window_start", DataType::Int64, true),
            Field::new("window_end", DataType::Int64, true),
        ];
        for (side, codec) in sides.codecs.iter().enumerate() {
            for f in codec.schema().fields() {
                let name = format!("{}.{}", SIDES[side], f.name());
                fields.push(Field::new(name, f.data_type().clone(), true));
            }
        }
        Ok(JoinSnapshotWriter {
            sides,
            writer: KeyedRowsWriter::new(Vec::new(), fields)?,
        })
    }

    /// Writes `entries` as batches of at most [`SNAPSHOT_BATCH_ROWS`] rows.
    pub fn write<K: BufferKey>(&mut self, entries: &[Entry<'_, K>]) -> Result<()> {
        for chunk in entries.chunks(SNAPSHOT_BATCH_ROWS) {
            self.write_chunk(chunk)?;
        }
        Ok(())
    }

    fn write_chunk<K: BufferKey>(&mut self, chunk: &[Entry<'_, K>]) -> Result<()> {
        let sides = self.sides;
        let groups: Vec<u32> = chunk.iter().map(|e| e.1).collect();
        let keys: Vec<&[u8]> = chunk.iter().map(|e| e.2.key()).collect();
        let windows: Vec<Option<(Timestamp, Timestamp)>> =
            chunk.iter().map(|e| e.2.window()).collect();
        let namespaces: StringArray = chunk
            .iter()
            .zip(&windows)
            .map(|(e, w)| {
                Some(match w {
                    Some((s, end)) => format!("{} [{s}, {end})", SIDES[e.0]),
                    None => SIDES[e.0].to_string(),
                })
            })
            .collect();
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(
                chunk
                    .iter()
                    .map(|e| Some(e.0 as u8))
                    .collect::<UInt8Array>(),
            ),
            Arc::new(Int64Array::from_iter_values(chunk.iter().map(|e| e.3.time))),
            Arc::new(BooleanArray::from_iter(
                chunk.iter().map(|e| Some(e.3.matched)),
            )),
            Arc::new(
                windows
                    .iter()
                    .map(|w| w.map(|w| w.0))
                    .collect::<Int64Array>(),
            ),
            Arc::new(
                windows
                    .iter()
                    .map(|w| w.map(|w| w.1))
                    .collect::<Int64Array>(),
            ),
        ];
        for (side, codec) in sides.codecs.iter().enumerate() {
            let decoded = codec.decode(
                chunk
                    .iter()
                    .filter(|e| e.0 == side)
                    .map(|e| e.3.row.as_ref()),
            )?;
            let mut next = 0u32;
            let at: UInt32Array = chunk
                .iter()
                .map(|e| {
                    (e.0 == side).then(|| {
                        next += 1;
                        next - 1
                    })
                })
                .collect();
            for c in decoded {
                columns.push(take(c.as_ref(), &at, None)?);
            }
        }
        let described = [
            key_texts(&sides.keys[0], &keys)?,
            Arc::new(namespaces) as ArrayRef,
        ];
        self.writer
            .write(&groups, &keys, Vec::new(), described, columns)
    }

    pub fn finish(self) -> Result<Vec<u8>> {
        self.writer.finish()
    }
}

/// The snapshot of both sides' buffered rows on the heap.
pub(crate) fn snapshot<K, N>(sides: &JoinSides, state: &SideBuffers<K, N>) -> Result<Vec<u8>>
where
    K: BufferKey + std::hash::Hash + Eq + Clone + StateSize,
    N: Namespace + Ord,
{
    let mut entries: Vec<Entry<'_, K>> = Vec::new();
    for (side, buffer) in state.buffers.iter().enumerate() {
        for (kg, key, rows) in buffer.iter() {
            entries.extend(rows.iter().map(|b| (side, kg, key, b)));
        }
    }
    let mut writer = JoinSnapshotWriter::new(sides)?;
    writer.write(&entries)?;
    writer.finish()
}

/// Reads a snapshot's rows of key groups `range`, calling `on_row(side, key_group,
/// key, row)` for each in snapshot order; returns how many rows it read.
pub(crate) fn read_rows<K: BufferKey>(
    sides: &JoinSides,
    range: KeyGroupRange,
    bytes: &[u8],
    mut on_row: impl FnMut(usize, u32, K, BufferedRow) -> Result<()>,
) -> Result<usize> {
    let rows = OwnRows::open(bytes, range)?;
    let mut restored = 0;
    for batch in rows {
        let batch = batch?;
        let (groups, keys) = keys_of(&batch)?;
        let side_of = column(&batch, "side")?
            .as_primitive_opt::<UInt8Type>()
            .ok_or_else(|| invalid("join: side is not UInt8"))?;
        let int64 = |name: &str| {
            column(&batch, name)?
                .as_primitive_opt::<Int64Type>()
                .ok_or_else(|| invalid(&format!("join: {name} is not Int64")))
        };
        let (times, starts, ends) = (int64("time")?, int64("window_start")?, int64("window_end")?);
        let matched = column(&batch, "matched")?
            .as_boolean_opt()
            .ok_or_else(|| invalid("join: matched is not Boolean"))?;
        for (side, codec) in sides.codecs.iter().enumerate() {
            let mine: UInt32Array = (0..batch.num_rows() as u32)
                .filter(|&r| side_of.value(r as usize) as usize == side)
                .collect();
            if mine.is_empty() {
                continue;
            }
            let columns = codec
                .schema()
                .fields()
                .iter()
                .map(|f| {
                    let c = column(&batch, &format!("{}.{}", SIDES[side], f.name()))?;
                    Ok(take(c.as_ref(), &mine, None)?)
                })
                .collect::<Result<Vec<_>>>()?;
            let encoded = codec.encode_columns(&columns)?;
            for (i, &r) in mine.values().iter().enumerate() {
                let r = r as usize;
                let window = (starts.is_valid(r) && ends.is_valid(r))
                    .then(|| (starts.value(r), ends.value(r)));
                let key = K::from_parts(Arc::from(keys.value(r)), window)?;
                let entry = BufferedRow {
                    time: times.value(r),
                    row: encoded.row(i).as_ref().into(),
                    matched: matched.value(r),
                };
                on_row(side, groups.value(r), key, entry)?;
                restored += 1;
            }
        }
    }
    Ok(restored)
}

/// Loads a snapshot's rows of `state`'s key groups into its heap buffers, calling
/// `on_row(side, key_group, key, row)` after each (to register its timer); returns
/// how many rows it restored.
pub(crate) fn restore<K, N>(
    sides: &JoinSides,
    state: &mut SideBuffers<K, N>,
    bytes: &[u8],
    mut on_row: impl FnMut(&mut SideBuffers<K, N>, usize, u32, &K, &BufferedRow) -> Result<()>,
) -> Result<usize>
where
    K: BufferKey + std::hash::Hash + Eq + Clone + StateSize,
    N: Namespace + Ord,
{
    let range = state.buffers[0].range();
    read_rows(sides, range, bytes, |side, group, key: K, entry| {
        state.push(side, group, &key, entry.clone())?;
        on_row(state, side, group, &key, &entry)
    })
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
mod tests;
