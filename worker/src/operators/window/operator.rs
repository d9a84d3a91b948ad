//! [`WindowAggregateOperator`]: TUMBLE / HOP / CUMULATE window aggregates (Flink's
//! `WindowAggOperator`), the [`SlicingWindows`] kind of [`WindowOperator`]. Each row is
//! added to the accumulator of every (key, window) it belongs to that has not fired
//! yet; state is a `StateTable` per key group from `key bytes ++ window_start ++
//! window_end` to an accumulator slot, plus the index of pending windows by
//! `window_end` for firing. A window fires when the watermark (or processing time)
//! reaches `window_end - 1`. An event-time row whose windows have all fired is late:
//! dropped and counted in `late_records_dropped`.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampMillisecondArray};
use arrow::datatypes::SchemaRef;
use arrow::util::display::{ArrayFormatter, FormatOptions};

use super::base::{DueWindow, WindowKind, WindowOperator, WindowState};
use super::{WindowAggregateSpec, WindowAssigner};
use crate::operators::aggregate::AggregateSet;
use crate::operators::keyed_rocks::RocksAggregates;
use crate::operators::keyed_snapshot;
use crate::operators::keys::{EncodedKeys, KeyEncoder};
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::message::Timestamp;
use crate::state::table::StateTable;

/// TUMBLE / HOP / CUMULATE windows: each (key, window) has one accumulator slot.
#[derive(Debug)]
pub struct SlicingWindows {
    assigner: WindowAssigner,
    // Reused per batch.
    assigned: Vec<(Timestamp, Timestamp)>,
    scratch: Vec<u8>,
}

pub type WindowAggregateOperator = WindowOperator<SlicingWindows>;

pub(super) fn state_key(scratch: &mut Vec<u8>, key: &[u8], start: Timestamp, end: Timestamp) {
    scratch.clear();
    scratch.extend_from_slice(key);
    scratch.extend_from_slice(&start.to_be_bytes());
    scratch.extend_from_slice(&end.to_be_bytes());
}

/// State keys `key ++ start ++ end` for the state browser: the key's columns, and the
/// window as `[start, end)`.
pub(super) fn describe_windows(keys: &KeyEncoder, state_keys: &[&[u8]]) -> Result<[ArrayRef; 2]> {
    let plain: Vec<&[u8]> = state_keys.iter().map(|k| split_state_key(k).0).collect();
    let starts = state_keys.iter().map(|k| split_state_key(k).1);
    let ends = state_keys.iter().map(|k| window_end(k));
    Ok([
        keyed_snapshot::key_texts(keys, &plain)?,
        window_texts(starts, ends)?,
    ])
}

/// Windows as `[start, end)` text, timestamps as Flink prints them.
fn window_texts(
    starts: impl Iterator<Item = Timestamp>,
    ends: impl Iterator<Item = Timestamp>,
) -> Result<ArrayRef> {
    let starts = TimestampMillisecondArray::from_iter_values(starts);
    let ends = TimestampMillisecondArray::from_iter_values(ends);
    let options = FormatOptions::default();
    let (s, e) = (
        ArrayFormatter::try_new(&starts, &options)?,
        ArrayFormatter::try_new(&ends, &options)?,
    );
    let texts: StringArray = (0..starts.len())
        .map(|i| Some(format!("[{}, {})", s.value(i), e.value(i))))
        .collect();
    Ok(Arc::new(texts))
}

/// Refuses a state key too short to end with a window's start and end.
pub(super) fn checked_window(k: &[u8]) -> Result<()> {
    if k.len() < 16 {
        return Err(RuntimeError::Graph(
            "window state: a key without its window".into(),
        ));
    }
    Ok(())
}

/// The window end at the tail of a state key.
pub(super) fn window_end(k: &[u8]) -> Timestamp {
    let mut end = [0u8; 8];
    end.copy_from_slice(&k[k.len() - 8..]);
    i64::from_be_bytes(end)
}

pub(super) fn split_state_key(k: &[u8]) -> (&[u8], Timestamp) {
    let (key, tail) = k.split_at(k.len() - 16);
    let mut start = [0u8; 8];
    start.copy_from_slice(&tail[..8]);
    (key, i64::from_be_bytes(start))
}

impl WindowOperator<SlicingWindows> {
    pub fn new(name: &str, spec: WindowAggregateSpec, input: SchemaRef) -> Result<Self> {
        if matches!(spec.assigner, WindowAssigner::Session { .. }) {
            return Err(RuntimeError::Graph(
                "SESSION windows need SessionWindowAggregateOperator".into(),
            ));
        }
        let kind = SlicingWindows {
            assigner: spec.assigner.validated()?,
            assigned: Vec::new(),
            scratch: Vec::new(),
        };
        WindowOperator::with_kind(name, spec, input, kind)
    }
}

impl WindowKind for SlicingWindows {
    type Windows = u32;

    /// Each distinct (key, window) of the batch is read from RocksDB once (missing:
    /// a new window, added to the firing index), updated, and written back.
    fn add_rows_rocks(
        &mut self,
        st: &mut WindowState<u32>,
        batch: &RecordBatch,
        times: &[Timestamp],
        encoded: &EncodedKeys,
        late_at: Option<Timestamp>,
    ) -> Result<u64> {
        let WindowState {
            keyed,
            index,
            rocks,
        } = st;
        let rocks = rocks
            .as_ref()
            .ok_or_else(|| RuntimeError::Graph("window state is not in rocksdb".into()))?;
        let mut distinct: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut windows: Vec<(u32, Vec<u8>, Timestamp)> = Vec::new();
        let (mut rows, mut which) = (
            Vec::with_capacity(times.len()),
            Vec::with_capacity(times.len()),
        );
        let mut late = 0u64;
        for (row, &ts) in times.iter().enumerate() {
            self.assigned.clear();
            self.assigner.assign(ts, &mut self.assigned);
            let kg = encoded.key_groups[row];
            let mut kept = false;
            for &(start, end) in &self.assigned {
                if late_at.is_some_and(|wm| end - 1 <= wm) {
                    continue;
                }
                kept = true;
                state_key(&mut self.scratch, encoded.key(row), start, end);
                let i = match distinct.get(self.scratch.as_slice()) {
                    Some(&i) => i,
                    None => {
                        windows.push((kg, self.scratch.clone(), end));
                        distinct.insert(self.scratch.clone(), windows.len() - 1);
                        windows.len() - 1
                    }
                };
                rows.push(row as u32);
                which.push(i);
            }
            if !kept {
                late += 1;
            }
        }
        let keys: Vec<(u32, &[u8])> = windows
            .iter()
            .map(|(kg, k, _)| (*kg, k.as_slice()))
            .collect();
        let loaded = rocks.load(&mut keyed.aggs, &keys)?;
        let mut slots_of = Vec::with_capacity(windows.len());
        for ((kg, key, end), found) in windows.iter().zip(loaded) {
            slots_of.push(match found {
                Some(l) => l.slot,
                None => {
                    index.add(*end, *kg, key)?;
                    keyed.aggs.alloc()?
                }
            });
        }
        let slots: Vec<u32> = which.iter().map(|&i| slots_of[i]).collect();
        let updated = keyed
            .aggs
            .update_batch(batch, &rows, &slots)
            .and_then(|()| {
                let entries: Vec<(u32, &[u8], u32, i64)> = keys
                    .iter()
                    .zip(&slots_of)
                    .map(|((kg, k), slot)| (*kg, *k, *slot, 0))
                    .collect();
                rocks.store(&keyed.aggs, &entries)
            });
        for slot in slots_of {
            keyed.aggs.free(slot);
        }
        updated?;
        Ok(late)
    }

    fn take_due_rocks(
        rocks: &RocksAggregates,
        aggs: &mut AggregateSet,
        entries: &[(u32, Vec<u8>)],
        end: Timestamp,
        _time: Timestamp,
        due: &mut Vec<DueWindow>,
    ) -> Result<()> {
        let keys: Vec<(u32, &[u8])> = entries.iter().map(|(kg, k)| (*kg, k.as_slice())).collect();
        for ((_, state_key), found) in keys.iter().zip(rocks.load(aggs, &keys)?) {
            if let Some(l) = found {
                let (key, start) = split_state_key(state_key);
                due.push((key.to_vec(), start, end, l.slot));
            }
        }
        rocks.delete(&keys)
    }

    /// The window's own state key, due at its end.
    fn rocks_index_entry(state_key: &[u8]) -> Result<(Timestamp, &[u8])> {
        checked_window(state_key)?;
        Ok((window_end(state_key), state_key))
    }

    fn describe(keys: &KeyEncoder, state_keys: &[&[u8]]) -> Result<[ArrayRef; 2]> {
        describe_windows(keys, state_keys)
    }

    fn add_rows(
        &mut self,
        st: &mut WindowState<u32>,
        batch: &RecordBatch,
        times: &[Timestamp],
        encoded: &EncodedKeys,
        late_at: Option<Timestamp>,
    ) -> Result<u64> {
        let n = times.len();
        let (mut rows, mut slots) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let mut late = 0u64;
        // The last window looked up: consecutive rows of one key and window skip the table.
        let mut last: Option<(usize, u32)> = None;
        for (row, &ts) in times.iter().enumerate() {
            self.assigned.clear();
            self.assigner.assign(ts, &mut self.assigned);
            let kg = encoded.key_groups[row];
            let mut kept = false;
            for &(start, end) in &self.assigned {
                if late_at.is_some_and(|wm| end - 1 <= wm) {
                    continue;
                }
                kept = true;
                let key = encoded.key(row);
                if let Some((prev_row, slot)) = last {
                    if self.assigned.len() == 1
                        && encoded.key(prev_row) == key
                        && times[prev_row] >= start
                        && times[prev_row] < end
                    {
                        rows.push(row as u32);
                        slots.push(slot);
                        last = Some((row, slot));
                        continue;
                    }
                }
                state_key(&mut self.scratch, key, start, end);
                let slot = match st.keyed.table.get(kg, &self.scratch) {
                    Some(&slot) => slot,
                    None => {
                        let slot = st.keyed.aggs.alloc()?;
                        st.keyed.table.insert(kg, self.scratch.clone(), slot)?;
                        st.index.add(end, kg, &self.scratch)?;
                        slot
                    }
                };
                rows.push(row as u32);
                slots.push(slot);
                last = Some((row, slot));
            }
            if !kept {
                late += 1;
            }
        }
        st.keyed.aggs.update_batch(batch, &rows, &slots)?;
        Ok(late)
    }

    fn take_due(
        windows: &mut StateTable<Vec<u8>, u32>,
        key_group: u32,
        key: Vec<u8>,
        end: Timestamp,
        _time: Timestamp,
        due: &mut Vec<DueWindow>,
    ) -> Result<()> {
        if let Some(slot) = windows.remove(key_group, &key) {
            let (k, start) = split_state_key(&key);
            due.push((k.to_vec(), start, end, slot));
        }
        Ok(())
    }

    /// The state key is the key's bytes, then the window's start and end: the browser
    /// sees the key's columns and the window as `[start, end)`.
    fn snapshot(&self, st: &WindowState<u32>, keys: &KeyEncoder, _name: &str) -> Result<Vec<u8>> {
        let describe = |state_keys: &[&[u8]]| describe_windows(keys, state_keys);
        keyed_snapshot::snapshot_slots(&st.keyed, &describe)
    }

    /// Each entry's key ends with its window's start and end: the firing index is
    /// rebuilt from them.
    fn restore(&self, st: &mut WindowState<u32>, bytes: &[u8], _name: &str) -> Result<usize> {
        let WindowState { keyed, index, .. } = st;
        keyed_snapshot::restore_slots(keyed, bytes, |kg, key| {
            checked_window(key)?;
            index.add(window_end(key), kg, key)
        })
    }
}
