//! The canonical snapshot of keyed aggregate state whose entries are one accumulator
//! slot each (a window aggregate's `(key, window) → slot`, a GROUP BY's `key → (slot,
//! row count)`): an Arrow IPC stream of rows `(key_group UInt32, key Binary,
//! [row_count Int64,] key_text Utf8, namespace Utf8?, <state columns>)` — the state
//! columns are the accumulators' ([`AggregateSet::state`]), named after the aggregates —
//! in batches of at most [`SNAPSHOT_BATCH_ROWS`] (the shape of [`super::keyed_rows`]).
//! It names no backend, so either backend
//! restores it; it holds key groups explicitly, so a restore takes only the rows of its
//! own key-group range (rescaling); and its text columns let the master's state browser
//! show keys and windows without knowing the key types.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Int64Type};
use arrow::util::display::{ArrayFormatter, FormatOptions};

use super::aggregate::AggregateSet;
use super::keyed_input::KeyedAggregates;
pub use super::keyed_rows::SNAPSHOT_BATCH_ROWS;
use super::keyed_rows::{KeyedRowsWriter, OwnRows, invalid, keys_of};
use super::keys::KeyEncoder;
use crate::key_groups::KeyGroupRange;
use crate::runtime::error::Result;

/// One entry of a snapshot: key group, key bytes, accumulator slot, and — for states
/// that count their rows (non-windowed GROUP BY) — the row count.
pub type Entry<'a> = (u32, &'a [u8], u32, Option<i64>);

/// Renders a batch of keys for the state browser: `[key_text, namespace]` (the
/// namespace, e.g. a window, as text or null).
pub type Describe<'d> = &'d dyn Fn(&[&[u8]]) -> Result<[ArrayRef; 2]>;

/// The keys (bytes of a [`KeyEncoder`]) as text: each key's columns formatted and
/// joined by ", " (empty for a global aggregate).
pub fn key_texts(encoder: &KeyEncoder, keys: &[&[u8]]) -> Result<ArrayRef> {
    let columns = encoder.decode(keys.iter().copied())?;
    let options = FormatOptions::default().with_null("NULL");
    let formatters = columns
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let texts: StringArray = (0..keys.len())
        .map(|row| {
            let parts: Vec<String> = formatters
                .iter()
                .map(|f| f.value(row).to_string())
                .collect();
            Some(parts.join(", "))
        })
        .collect();
    Ok(Arc::new(texts))
}

/// Plain keys (no namespace): their text, and a null namespace.
pub fn describe_keys(encoder: &KeyEncoder, keys: &[&[u8]]) -> Result<[ArrayRef; 2]> {
    Ok([
        key_texts(encoder, keys)?,
        arrow::array::new_null_array(&DataType::Utf8, keys.len()),
    ])
}

/// Writes `entries` with the state of their accumulator slots in `aggs`; `counted`
/// adds the `row_count` column; `describe` renders the keys.
pub fn write_entries<'a>(
    aggs: &AggregateSet,
    entries: impl Iterator<Item = Entry<'a>>,
    counted: bool,
    describe: Describe<'_>,
) -> Result<Vec<u8>> {
    let mut writer = SnapshotWriter::new(aggs, counted)?;
    let mut entries = entries.peekable();
    while entries.peek().is_some() {
        let chunk: Vec<Entry<'a>> = entries.by_ref().take(SNAPSHOT_BATCH_ROWS).collect();
        writer.write(aggs, &chunk, describe)?;
    }
    writer.finish()
}

/// Writes a snapshot chunk by chunk (a state backend that loads its entries into
/// accumulator slots a chunk at a time, as RocksDB's, frees them in between).
pub struct SnapshotWriter {
    rows: KeyedRowsWriter,
    counted: bool,
}

impl SnapshotWriter {
    pub fn new(aggs: &AggregateSet, counted: bool) -> Result<SnapshotWriter> {
        let template = aggs.state(&[])?;
        let leading = match counted {
            true => vec![Field::new("row_count", DataType::Int64, false)],
            false => Vec::new(),
        };
        let state = aggs
            .state_names()?
            .into_iter()
            .zip(&template)
            .map(|(name, c)| Field::new(name, c.data_type().clone(), true))
            .collect();
        Ok(SnapshotWriter {
            rows: KeyedRowsWriter::new(leading, state)?,
            counted,
        })
    }

    /// Writes one batch of entries (at most [`SNAPSHOT_BATCH_ROWS`] is the caller's
    /// limit) with the state of their slots in `aggs`.
    pub fn write(
        &mut self,
        aggs: &AggregateSet,
        chunk: &[Entry<'_>],
        describe: Describe<'_>,
    ) -> Result<()> {
        let slots: Vec<u32> = chunk.iter().map(|e| e.2).collect();
        let keys: Vec<&[u8]> = chunk.iter().map(|e| e.1).collect();
        let groups: Vec<u32> = chunk.iter().map(|e| e.0).collect();
        let mut leading: Vec<ArrayRef> = Vec::new();
        if self.counted {
            leading.push(Arc::new(
                chunk
                    .iter()
                    .map(|e| e.3.unwrap_or(0))
                    .collect::<Int64Array>(),
            ));
        }
        let described = describe(&keys)?;
        self.rows
            .write(&groups, &keys, leading, described, aggs.state(&slots)?)
    }

    pub fn finish(self) -> Result<Vec<u8>> {
        self.rows.finish()
    }
}

/// Loads the entries of a snapshot whose key group is in `range` into fresh slots of
/// `aggs`, calling `on_entry` with each (the operator puts it into its table); returns
/// how many it loaded.
pub fn read_entries(
    aggs: &mut AggregateSet,
    range: KeyGroupRange,
    bytes: &[u8],
    counted: bool,
    mut on_entry: impl FnMut(Entry<'_>) -> Result<()>,
) -> Result<usize> {
    let rows = OwnRows::open(bytes, range)?;
    let state_from = rows.entry_columns_start()?;
    let count_column = match (counted, rows.schema().index_of("row_count")) {
        (false, _) => None,
        (true, Ok(i)) => Some(i),
        (true, Err(_)) => return Err(invalid("row_count column missing")),
    };
    let mut restored = 0;
    for batch in rows {
        let batch = batch?;
        let (groups, keys) = keys_of(&batch)?;
        let counts = match count_column {
            Some(i) => Some(
                batch
                    .column(i)
                    .as_primitive_opt::<Int64Type>()
                    .ok_or_else(|| invalid("row_count is not Int64"))?,
            ),
            None => None,
        };
        let slots = aggs.load_state(&batch.columns()[state_from..], batch.num_rows())?;
        for (row, slot) in slots.into_iter().enumerate() {
            let count = counts.map(|c| c.value(row));
            on_entry((groups.value(row), keys.value(row), slot, count))?;
            restored += 1;
        }
    }
    Ok(restored)
}

/// A keyed aggregate state whose values are one slot each (window aggregates).
pub fn snapshot_slots(state: &KeyedAggregates<u32>, describe: Describe<'_>) -> Result<Vec<u8>> {
    let entries = state
        .table
        .iter()
        .map(|(kg, key, slot)| (kg, key.as_slice(), *slot, None));
    write_entries(&state.aggs, entries, false, describe)
}

/// Restores [`snapshot_slots`]'s entries of `state`'s key groups, calling
/// `on_entry(key_group, key)` after each is in the table.
pub fn restore_slots(
    state: &mut KeyedAggregates<u32>,
    bytes: &[u8],
    mut on_entry: impl FnMut(u32, &[u8]) -> Result<()>,
) -> Result<usize> {
    let KeyedAggregates { aggs, table } = state;
    let range = table.range();
    read_entries(aggs, range, bytes, false, |(kg, key, slot, _)| {
        table.insert(kg, key.to_vec(), slot)?;
        on_entry(kg, key)
    })
}
