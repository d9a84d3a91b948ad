//! The count windows' state in the canonical keyed snapshot (`keyed_snapshot`, with
//! `row_count`): one entry per pending fire point of a key, its state key the key's
//! bytes then the window's `window_index` (u64 big-endian, as emitted), its row count
//! the elements the key has seen, its state columns the fire point's accumulators. A
//! key without a pending fire point (a slide longer than the size) is one entry with
//! index [`NONE_PENDING`] and empty accumulators, so its element count survives. Key
//! groups are explicit, so a restore takes those of its range (rescaling).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray};

use super::KeyState;
use crate::operators::keyed_input::KeyedAggregates;
use crate::operators::keyed_snapshot;
use crate::operators::keys::KeyEncoder;
use crate::runtime::error::{Result, RuntimeError};

/// The window index of a key's entry when it has no pending fire point.
pub(super) const NONE_PENDING: u64 = u64::MAX;

pub(super) fn state_key(key: &[u8], index: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 8);
    k.extend_from_slice(key);
    k.extend_from_slice(&index.to_be_bytes());
    k
}

pub(super) fn split(state_key: &[u8]) -> Result<(&[u8], u64)> {
    let at = state_key.len().checked_sub(8).ok_or_else(|| {
        RuntimeError::Graph("count window snapshot: a key without its window index".into())
    })?;
    let (key, index) = state_key.split_at(at);
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(index);
    Ok((key, u64::from_be_bytes(bytes)))
}

/// State keys as `[key text, "window_index N"]` for the state browser.
pub(super) fn describe(keys: &KeyEncoder, state_keys: &[&[u8]]) -> Result<[ArrayRef; 2]> {
    let split: Vec<(&[u8], u64)> = state_keys.iter().map(|k| split(k)).collect::<Result<_>>()?;
    let plain: Vec<&[u8]> = split.iter().map(|(k, _)| *k).collect();
    let windows: StringArray = split
        .iter()
        .map(|(_, i)| match *i {
            NONE_PENDING => Some("no pending window".to_string()),
            i => Some(format!("window_index {i}")),
        })
        .collect();
    Ok([keyed_snapshot::key_texts(keys, &plain)?, Arc::new(windows)])
}

/// The snapshot of `state` (count windows of `slide`); a key without pending fire
/// points borrows an empty slot for its entry.
pub fn snapshot(
    state: &mut KeyedAggregates<KeyState>,
    keys: &KeyEncoder,
    slide: u64,
) -> Result<Vec<u8>> {
    let mut owned: Vec<(u32, Vec<u8>, u32, i64)> = Vec::new();
    let mut borrowed = Vec::new();
    let KeyedAggregates { aggs, table } = state;
    for (kg, key, (seen, slots)) in table.iter() {
        let first = seen / slide;
        if slots.is_empty() {
            let empty = aggs.alloc()?;
            borrowed.push(empty);
            owned.push((kg, state_key(key, NONE_PENDING), empty, *seen as i64));
        }
        for (j, &slot) in slots.iter().enumerate() {
            owned.push((kg, state_key(key, first + j as u64), slot, *seen as i64));
        }
    }
    let entries = owned
        .iter()
        .map(|(kg, k, slot, seen)| (*kg, k.as_slice(), *slot, Some(*seen)));
    let describe = |state_keys: &[&[u8]]| describe(keys, state_keys);
    let written = keyed_snapshot::write_entries(aggs, entries, true, &describe);
    for slot in borrowed {
        aggs.free(slot);
    }
    written
}

/// A key's restored state: its count, and its pending fire points `(index, slot)`.
type Restored = (u64, Vec<(u64, u32)>);

/// Loads a snapshot's keys of `state`'s key groups; returns how many entries.
pub fn restore(state: &mut KeyedAggregates<KeyState>, bytes: &[u8]) -> Result<usize> {
    let KeyedAggregates { aggs, table } = state;
    let range = table.range();
    let mut keys: BTreeMap<(u32, Vec<u8>), Restored> = BTreeMap::new();
    let mut empty = Vec::new();
    let n = keyed_snapshot::read_entries(aggs, range, bytes, true, |(kg, sk, slot, seen)| {
        let (key, index) = split(sk)?;
        let entry = keys
            .entry((kg, key.to_vec()))
            .or_insert((seen.unwrap_or(0).max(0) as u64, Vec::new()));
        if index == NONE_PENDING {
            empty.push(slot);
        } else {
            entry.1.push((index, slot));
        }
        Ok(())
    })?;
    for slot in empty {
        aggs.free(slot);
    }
    for ((kg, key), (seen, mut pending)) in keys {
        pending.sort_unstable();
        table.insert(
            kg,
            key,
            (seen, pending.into_iter().map(|(_, s)| s).collect()),
        )?;
    }
    Ok(n)
}
