//! [`SessionWindowAggregateOperator`]: SESSION(gap) window aggregates per key with
//! merging (Flink's `MergingWindowSet` + `SessionWindowAssigner`), the
//! [`SessionWindows`] kind of [`WindowOperator`]. A row at `t` opens `[t, t + gap)`;
//! it merges with every pending session of its key it intersects
//! (Flink's `TimeWindow.intersects`: bounds inclusive, so sessions that touch merge),
//! and their accumulators merge. A session fires when time reaches `end - 1`. An
//! event-time row whose own window is already past the watermark and that merges with
//! no pending session is late: dropped and counted.
//!
//! State: a `StateTable` per key group from key bytes to the key's pending sessions
//! `(start, end, slot)` sorted by start, and an index `end → keys` for firing; index
//! entries left behind when a session grows are skipped when they come due. On the
//! rocksdb backend each session is one RocksDB entry `key ++ start ++ end` (the
//! canonical snapshot's entry): a batch loads each of its keys' sessions by prefix,
//! merges them as on the heap and writes them back; the index stays on the heap.

use std::collections::{HashMap, HashSet};

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::SchemaRef;

use super::WindowAggregateSpec;
use super::base::{DueWindow, WindowKind, WindowOperator, WindowState};
use super::operator;
use crate::operators::aggregate::{AggregateSet, PreparedInput};
use crate::operators::keyed_input::KeyedAggregates;
use crate::operators::keyed_rocks::RocksAggregates;
use crate::operators::keyed_snapshot;
use crate::operators::keys::{EncodedKeys, KeyEncoder};
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::message::Timestamp;
use crate::state::table::StateTable;

/// A pending session: start, end (exclusive), accumulator slot.
type Session = (Timestamp, Timestamp, u32);

/// SESSION windows: each key's pending sessions, merged as rows arrive.
#[derive(Debug)]
pub struct SessionWindows {
    gap: i64,
}

pub type SessionWindowAggregateOperator = WindowOperator<SessionWindows>;

/// Row updates not yet applied to the accumulators.
#[derive(Debug, Default)]
struct Pending {
    rows: Vec<u32>,
    slots: Vec<u32>,
}

/// Merges the window `[start, end)` into a key's sorted pending sessions. Returns the
/// slot it joined and the session's new end if that grew, or `None` if it intersects no
/// session (the caller opens one).
fn add_to_sessions(
    list: &mut Vec<Session>,
    start: Timestamp,
    end: Timestamp,
    aggs: &mut AggregateSet,
    input: &PreparedInput,
    pending: &mut Pending,
) -> Result<Option<(u32, Option<Timestamp>)>> {
    // Sessions this window intersects (bounds inclusive, as Flink's TimeWindow).
    let mut hits = (0..list.len()).filter(|&i| list[i].0 <= end && list[i].1 >= start);
    let Some(first) = hits.next() else {
        return Ok(None);
    };
    let rest: Vec<usize> = hits.collect();
    let (mut s, mut e, dst) = list[first];
    let old_end = e;
    if !rest.is_empty() {
        // A merge frees slots: apply the waiting updates first.
        aggs.update(input, &pending.rows, &pending.slots)?;
        pending.rows.clear();
        pending.slots.clear();
    }
    for &i in &rest {
        aggs.merge(dst, list[i].2)?;
        s = s.min(list[i].0);
        e = e.max(list[i].1);
    }
    for &i in rest.iter().rev() {
        list.remove(i);
    }
    list[first] = (s.min(start), e.max(end), dst);
    let new_end = list[first].1;
    Ok(Some((dst, (new_end != old_end).then_some(new_end))))
}

impl WindowOperator<SessionWindows> {
    pub fn new(name: &str, gap: i64, spec: WindowAggregateSpec, input: SchemaRef) -> Result<Self> {
        if gap <= 0 {
            return Err(RuntimeError::Graph("session gap must be positive".into()));
        }
        WindowOperator::with_kind(name, spec, input, SessionWindows { gap })
    }
}

/// Adds the window `[start, end)` of one row to its key's sorted sessions: merged
/// into those it intersects, else opened as a new session unless the row is `late`.
/// Returns the slot it joined and the session's new end if that changed; `None` for
/// a late row.
fn add_row(
    list: &mut Vec<Session>,
    (start, end): (Timestamp, Timestamp),
    late: bool,
    aggs: &mut AggregateSet,
    input: &PreparedInput,
    pending: &mut Pending,
) -> Result<Option<(u32, Option<Timestamp>)>> {
    if let Some(joined) = add_to_sessions(list, start, end, aggs, input, pending)? {
        return Ok(Some(joined));
    }
    if late {
        return Ok(None);
    }
    let slot = aggs.alloc()?;
    let at = list.partition_point(|s| s.0 < start);
    list.insert(at, (start, end, slot));
    Ok(Some((slot, Some(end))))
}

/// A key's sessions loaded from RocksDB for one batch.
#[derive(Debug)]
struct LoadedSessions<'k> {
    key_group: u32,
    key: &'k [u8],
    sessions: Vec<Session>,
    /// The state keys it had in RocksDB (those of merged sessions are deleted).
    stored: Vec<Vec<u8>>,
}

/// A key's pending sessions in RocksDB: one entry per session, `key ++ start ++ end`.
fn load_sessions(
    rocks: &RocksAggregates,
    aggs: &mut AggregateSet,
    key_group: u32,
    key: &[u8],
) -> Result<Vec<(Vec<u8>, Session)>> {
    Ok(rocks
        .load_prefix(aggs, key_group, key, key.len() + 16)?
        .into_iter()
        .map(|(state_key, loaded)| {
            let (_, start) = operator::split_state_key(&state_key);
            let end = operator::window_end(&state_key);
            (state_key, (start, end, loaded.slot))
        })
        .collect())
}

impl WindowKind for SessionWindows {
    type Windows = Vec<Session>;

    fn add_rows(
        &mut self,
        st: &mut WindowState<Vec<Session>>,
        batch: &RecordBatch,
        times: &[Timestamp],
        encoded: &EncodedKeys,
        late_at: Option<Timestamp>,
    ) -> Result<u64> {
        let keyed = &mut st.keyed;
        let input = keyed.aggs.prepare(batch)?;
        // Updates wait here until a merge frees a slot they might point at.
        let mut pending = Pending::default();
        let mut late = 0u64;
        let mut scratch = Vec::new();
        for (row, &ts) in times.iter().enumerate() {
            let kg = encoded.key_groups[row];
            scratch.clear();
            scratch.extend_from_slice(encoded.key(row));
            let window = (ts, ts + self.gap);
            let late_row = late_at.is_some_and(|wm| window.1 - 1 <= wm);
            let aggs = &mut keyed.aggs;
            let joined = match keyed.table.update(kg, &scratch, |list| {
                add_row(list, window, late_row, aggs, &input, &mut pending)
            })? {
                Some(joined) => joined?,
                None if late_row => None,
                None => {
                    let mut list = Vec::new();
                    let joined = add_row(&mut list, window, false, aggs, &input, &mut pending)?;
                    keyed.table.insert(kg, scratch.clone(), list)?;
                    joined
                }
            };
            let Some((slot, grown_end)) = joined else {
                late += 1;
                continue;
            };
            if let Some(e) = grown_end {
                st.index.add(e, kg, &scratch)?;
            }
            pending.rows.push(row as u32);
            pending.slots.push(slot);
        }
        let Pending { rows, slots } = pending;
        keyed.aggs.update(&input, &rows, &slots)?;
        Ok(late)
    }

    /// Each distinct key of the batch has its sessions loaded once; they merge as on
    /// the heap, then the key's sessions are written back and the state keys of
    /// sessions merged away (or grown: the key names the bounds) deleted.
    fn add_rows_rocks(
        &mut self,
        st: &mut WindowState<Vec<Session>>,
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
        let aggs = &mut keyed.aggs;
        let input = aggs.prepare(batch)?;
        let mut pending = Pending::default();
        let mut late = 0u64;
        let mut by_key: HashMap<&[u8], usize> = HashMap::new();
        let mut loaded: Vec<LoadedSessions<'_>> = Vec::new();
        let mut run = || -> Result<()> {
            for (row, &ts) in times.iter().enumerate() {
                let key = encoded.key(row);
                let i = match by_key.get(key) {
                    Some(&i) => i,
                    None => {
                        let key_group = encoded.key_groups[row];
                        let (stored, sessions) = load_sessions(rocks, aggs, key_group, key)?
                            .into_iter()
                            .unzip();
                        loaded.push(LoadedSessions {
                            key_group,
                            key,
                            sessions,
                            stored,
                        });
                        by_key.insert(key, loaded.len() - 1);
                        loaded.len() - 1
                    }
                };
                let window = (ts, ts + self.gap);
                let late_row = late_at.is_some_and(|wm| window.1 - 1 <= wm);
                let ks = &mut loaded[i];
                let joined = add_row(
                    &mut ks.sessions,
                    window,
                    late_row,
                    aggs,
                    &input,
                    &mut pending,
                )?;
                let Some((slot, grown_end)) = joined else {
                    late += 1;
                    continue;
                };
                if let Some(e) = grown_end {
                    index.add(e, ks.key_group, ks.key)?;
                }
                pending.rows.push(row as u32);
                pending.slots.push(slot);
            }
            aggs.update(&input, &pending.rows, &pending.slots)?;
            let mut written: Vec<(u32, Vec<u8>, u32)> = Vec::new();
            for ks in &loaded {
                for &(start, end, slot) in &ks.sessions {
                    let mut state_key = Vec::with_capacity(ks.key.len() + 16);
                    operator::state_key(&mut state_key, ks.key, start, end);
                    written.push((ks.key_group, state_key, slot));
                }
            }
            let kept: HashSet<(u32, &[u8])> = written
                .iter()
                .map(|(kg, k, _)| (*kg, k.as_slice()))
                .collect();
            let deleted: Vec<(u32, &[u8])> = loaded
                .iter()
                .flat_map(|ks| ks.stored.iter().map(|k| (ks.key_group, k.as_slice())))
                .filter(|e| !kept.contains(e))
                .collect();
            let entries: Vec<(u32, &[u8], u32, i64)> = written
                .iter()
                .map(|(kg, k, slot)| (*kg, k.as_slice(), *slot, 0))
                .collect();
            rocks.write(aggs, &entries, &deleted)
        };
        let result = run();
        for ks in &loaded {
            for session in &ks.sessions {
                keyed.aggs.free(session.2);
            }
        }
        result?;
        Ok(late)
    }

    /// Fires the key's sessions due at `time` (an index entry is a key; one key
    /// listed twice in `entries` fires once).
    fn take_due_rocks(
        rocks: &RocksAggregates,
        aggs: &mut AggregateSet,
        entries: &[(u32, Vec<u8>)],
        _end: Timestamp,
        time: Timestamp,
        due: &mut Vec<DueWindow>,
    ) -> Result<()> {
        let mut seen = HashSet::new();
        let mut fired: Vec<(u32, Vec<u8>)> = Vec::new();
        for (kg, key) in entries {
            if !seen.insert((*kg, key.as_slice())) {
                continue;
            }
            for (state_key, (start, end, slot)) in load_sessions(rocks, aggs, *kg, key)? {
                if end - 1 <= time {
                    due.push((key.clone(), start, end, slot));
                    fired.push((*kg, state_key));
                } else {
                    aggs.free(slot);
                }
            }
        }
        let deleted: Vec<(u32, &[u8])> = fired.iter().map(|(kg, k)| (*kg, k.as_slice())).collect();
        rocks.delete(&deleted)
    }

    /// A session's state key is its key's index entry, due at the session's end.
    fn rocks_index_entry(state_key: &[u8]) -> Result<(Timestamp, &[u8])> {
        operator::checked_window(state_key)?;
        Ok((
            operator::window_end(state_key),
            operator::split_state_key(state_key).0,
        ))
    }

    fn describe(keys: &KeyEncoder, state_keys: &[&[u8]]) -> Result<[ArrayRef; 2]> {
        operator::describe_windows(keys, state_keys)
    }

    fn take_due(
        windows: &mut StateTable<Vec<u8>, Vec<Session>>,
        key_group: u32,
        key: Vec<u8>,
        _end: Timestamp,
        time: Timestamp,
        due: &mut Vec<DueWindow>,
    ) -> Result<()> {
        let mut fired = Vec::new();
        let left = windows.update(key_group, &key, |list| {
            list.retain(|s| {
                let fire = s.1 - 1 <= time;
                if fire {
                    fired.push(*s);
                }
                !fire
            });
            list.len()
        })?;
        if left == Some(0) {
            windows.remove(key_group, &key);
        }
        for (start, end, slot) in fired {
            due.push((key.clone(), start, end, slot));
        }
        Ok(())
    }

    /// One entry per pending session, keyed `key ++ start ++ end` as the slicing
    /// windows' (the same snapshot format, the same browser view).
    fn snapshot(
        &self,
        st: &WindowState<Vec<Session>>,
        keys: &KeyEncoder,
        _name: &str,
    ) -> Result<Vec<u8>> {
        let mut owned: Vec<(u32, Vec<u8>, u32)> = Vec::new();
        for (kg, key, sessions) in st.keyed.table.iter() {
            for &(start, end, slot) in sessions {
                let mut state_key = Vec::with_capacity(key.len() + 16);
                operator::state_key(&mut state_key, key, start, end);
                owned.push((kg, state_key, slot));
            }
        }
        let entries = owned
            .iter()
            .map(|(kg, key, slot)| (*kg, key.as_slice(), *slot, None));
        let describe = |state_keys: &[&[u8]]| operator::describe_windows(keys, state_keys);
        keyed_snapshot::write_entries(&st.keyed.aggs, entries, false, &describe)
    }

    /// Each session goes back to its key's sorted list, and into the firing index.
    fn restore(
        &self,
        st: &mut WindowState<Vec<Session>>,
        bytes: &[u8],
        _name: &str,
    ) -> Result<usize> {
        let WindowState { keyed, index, .. } = st;
        let KeyedAggregates { aggs, table } = keyed;
        let range = table.range();
        keyed_snapshot::read_entries(aggs, range, bytes, false, |(kg, state_key, slot, _)| {
            operator::checked_window(state_key)?;
            let (key, start) = operator::split_state_key(state_key);
            let end = operator::window_end(state_key);
            let key = key.to_vec();
            let session = (start, end, slot);
            let known = table.update(kg, &key, |list| {
                let at = list.partition_point(|s| s.0 < start);
                list.insert(at, session);
            })?;
            if known.is_none() {
                table.insert(kg, key.clone(), vec![session])?;
            }
            index.add(end, kg, &key)
        })
    }
}
