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
//! entries left behind when a session grows are skipped when they come due.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use super::WindowAggregateSpec;
use super::base::{DueWindow, WindowKind, WindowOperator, WindowState};
use super::operator;
use crate::operators::aggregate::{AggregateSet, PreparedInput};
use crate::operators::keyed_input::KeyedAggregates;
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
            let (start, end) = (ts, ts + self.gap);
            let aggs = &mut keyed.aggs;
            let merged = keyed.table.update(kg, &scratch, |list| {
                add_to_sessions(list, start, end, aggs, &input, &mut pending)
            })?;
            let known_key = merged.is_some();
            let (slot, grown_end) = match merged.transpose()?.flatten() {
                Some(found) => found,
                None if late_at.is_some_and(|wm| end - 1 <= wm) => {
                    late += 1;
                    continue;
                }
                None => {
                    let slot = keyed.aggs.alloc()?;
                    if known_key {
                        keyed.table.update(kg, &scratch, |list| {
                            list.push((start, end, slot));
                            list.sort_unstable();
                        })?;
                    } else {
                        keyed
                            .table
                            .insert(kg, scratch.clone(), vec![(start, end, slot)])?;
                    }
                    (slot, Some(end))
                }
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
            if state_key.len() < 16 {
                return Err(RuntimeError::Graph(
                    "session state snapshot: a key without its session".into(),
                ));
            }
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
