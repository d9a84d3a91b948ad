//! The count windows on the rocksdb backend. A key's state is its entries in the
//! subtask's RocksDB instance, laid out as the canonical snapshot's
//! ([`super::snapshot`]): one entry per pending fire point, state key `key ++
//! window_index` (u64 big-endian), value the fire point's accumulators prefixed by the
//! key's element count (`keyed_rocks`' counted values); a key without a pending fire
//! point (a slide longer than the size) keeps one entry with index `NONE_PENDING` and
//! empty accumulators. A batch loads each of its distinct keys' entries by prefix
//! (the count, and with it the pending window indexes, is not known before), runs its
//! rows as the heap does, and writes the keys' entries back — fired and superseded ones
//! deleted — in one write batch; every slot is freed after the batch. Count windows
//! have no timers, so a restore needs nothing beyond the entries.

use std::collections::HashMap;

use arrow::array::RecordBatch;

use super::snapshot::{NONE_PENDING, split, state_key};
use super::{Fired, KeyState, add_element};
use crate::operators::aggregate::AggregateSet;
use crate::operators::keyed_rocks::RocksAggregates;
use crate::operators::keys::EncodedKeys;
use crate::runtime::error::Result;

/// Adds the rows of `batch` (keys `encoded`) to the windows of count windows `(size,
/// slide)` whose state is in `rocks`; returns the fire points it completed, their
/// slots still allocated (the caller evaluates and frees them).
pub(super) fn add_batch(
    rocks: &RocksAggregates,
    aggs: &mut AggregateSet,
    (size, slide): (u64, u64),
    batch: &RecordBatch,
    encoded: &EncodedKeys,
) -> Result<Vec<Fired>> {
    let mut index_of: HashMap<&[u8], usize> = HashMap::new();
    let mut distinct: Vec<(u32, &[u8])> = Vec::new();
    let mut which = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let key = encoded.key(row);
        let i = *index_of.entry(key).or_insert_with(|| {
            distinct.push((encoded.key_groups[row], key));
            distinct.len() - 1
        });
        which.push(i);
    }
    let mut states: Vec<KeyState> = Vec::with_capacity(distinct.len());
    let mut fired = Vec::new();
    let done = run(
        rocks,
        aggs,
        (size, slide),
        batch,
        (&distinct, &which),
        &mut states,
        &mut fired,
    );
    for (_, slots) in &states {
        for &slot in slots {
            aggs.free(slot);
        }
    }
    match done {
        Ok(()) => Ok(fired),
        Err(e) => {
            for f in fired {
                aggs.free(f.2);
            }
            Err(e)
        }
    }
}

/// [`add_batch`]'s work; every slot it lends ends in `states` or `fired`.
fn run(
    rocks: &RocksAggregates,
    aggs: &mut AggregateSet,
    (size, slide): (u64, u64),
    batch: &RecordBatch,
    (distinct, which): (&[(u32, &[u8])], &[usize]),
    states: &mut Vec<KeyState>,
    fired: &mut Vec<Fired>,
) -> Result<()> {
    // The state keys each key had before the batch (to delete the superseded ones).
    let mut before: Vec<Vec<Vec<u8>>> = Vec::with_capacity(distinct.len());
    for &(kg, key) in distinct {
        let entries = rocks.load_prefix(aggs, kg, key, key.len() + 8)?;
        let (mut state, mut empty): (KeyState, Vec<u32>) = ((0, Vec::new()), Vec::new());
        let mut keys = Vec::with_capacity(entries.len());
        for (state_key, loaded) in entries {
            state.0 = loaded.count.max(0) as u64;
            // Every entry is `key.len() + 8` bytes long: `split` cannot fail.
            match split(&state_key) {
                Ok((_, NONE_PENDING)) => empty.push(loaded.slot),
                _ => state.1.push(loaded.slot),
            }
            keys.push(state_key);
        }
        states.push(state);
        for slot in empty {
            aggs.free(slot);
        }
        before.push(keys);
    }
    let (mut rows, mut slots) = (Vec::new(), Vec::new());
    for (row, &i) in which.iter().enumerate() {
        let done = add_element(&mut states[i], size, slide, aggs, |s| {
            rows.push(row as u32);
            slots.push(s);
        })?;
        if let Some((index, slot)) = done {
            fired.push((row, index, slot));
        }
    }
    aggs.update_batch(batch, &rows, &slots)?;

    // Write the keys back: pending fire points, or the count alone.
    let mut entries: Vec<(u32, Vec<u8>, u32, i64)> = Vec::new();
    let mut deleted: Vec<(u32, &[u8])> = Vec::new();
    let mut borrowed = Vec::new();
    let mut written = Ok(());
    for ((&(kg, key), (seen, pending)), old) in distinct.iter().zip(states.iter()).zip(&before) {
        let from = entries.len();
        if pending.is_empty() {
            match aggs.alloc() {
                Ok(empty) => {
                    borrowed.push(empty);
                    entries.push((kg, state_key(key, NONE_PENDING), empty, *seen as i64));
                }
                Err(e) => {
                    written = Err(e);
                    break;
                }
            }
        }
        let first = seen / slide;
        for (j, &slot) in pending.iter().enumerate() {
            let index = first + j as u64;
            entries.push((kg, state_key(key, index), slot, *seen as i64));
        }
        let now = &entries[from..];
        deleted.extend(
            old.iter()
                .filter(|k| !now.iter().any(|e| &e.1 == *k))
                .map(|k| (kg, k.as_slice())),
        );
    }
    if written.is_ok() {
        let refs: Vec<(u32, &[u8], u32, i64)> = entries
            .iter()
            .map(|(kg, k, slot, seen)| (*kg, k.as_slice(), *slot, *seen))
            .collect();
        written = rocks.write(aggs, &refs, &deleted);
    }
    for slot in borrowed {
        aggs.free(slot);
    }
    written
}
