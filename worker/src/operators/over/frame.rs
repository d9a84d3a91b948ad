//! How one key's ready rows of one timestamp update its OVER aggregates, on either
//! backend: [`process_rows`] over a [`Frame`] — the rows of a bounded frame, kept on
//! the heap ([`KeyState`]) or in RocksDB (`super::rocks`) — and the order rows are
//! processed in ([`for_each_group`]: by time, then per key in first-seen order).

use std::collections::{HashMap, VecDeque};

use arrow::array::ArrayRef;
use datafusion::common::ScalarValue;

use super::OverFrame;
use crate::operators::aggregate::{AggregateSet, PreparedInput};
use crate::operators::keys::EncodedKeys;
use crate::runtime::error::Result;
use crate::runtime::message::Timestamp;
use crate::state::table::StateSize;

/// A row kept in a bounded frame: its time and aggregate inputs.
pub type FrameRow = (Timestamp, Vec<Option<ScalarValue>>);

/// A key's state on the heap.
#[derive(Debug)]
pub struct KeyState {
    pub slot: u32,
    pub last_ts: Timestamp,
    pub frame: VecDeque<FrameRow>,
    pub frame_bytes: usize,
}

impl StateSize for KeyState {
    fn state_size(&self) -> usize {
        std::mem::size_of::<KeyState>() + self.frame_bytes
    }
}

pub fn frame_row_size(r: &FrameRow) -> usize {
    32 + r
        .1
        .iter()
        .map(|v| v.as_ref().map_or(8, |s| s.size()))
        .sum::<usize>()
}

/// The rows of one key's bounded frame, oldest first.
pub trait Frame {
    fn len(&self) -> u64;
    /// The time of the oldest row (`None`: the frame is empty).
    fn front_time(&self) -> Result<Option<Timestamp>>;
    /// Adds row `row` of `input` (time `ts`) as the newest.
    fn push(&mut self, ts: Timestamp, row: u32, input: &PreparedInput) -> Result<()>;
    /// Removes the oldest row and retracts it from `slot`.
    fn retract_front(
        &mut self,
        aggs: &mut AggregateSet,
        input: &PreparedInput,
        slot: u32,
    ) -> Result<()>;
}

impl Frame for KeyState {
    fn len(&self) -> u64 {
        self.frame.len() as u64
    }

    fn front_time(&self) -> Result<Option<Timestamp>> {
        Ok(self.frame.front().map(|f| f.0))
    }

    fn push(&mut self, ts: Timestamp, row: u32, input: &PreparedInput) -> Result<()> {
        let kept = (ts, input.row_scalars(row as usize)?);
        self.frame_bytes += frame_row_size(&kept);
        self.frame.push_back(kept);
        Ok(())
    }

    fn retract_front(
        &mut self,
        aggs: &mut AggregateSet,
        input: &PreparedInput,
        slot: u32,
    ) -> Result<()> {
        if let Some(old) = self.frame.pop_front() {
            self.frame_bytes -= frame_row_size(&old);
            let values = PreparedInput::from_row_scalars(&[&old.1], input)?;
            aggs.retract(&values, &[0], &[slot])?;
        }
        Ok(())
    }
}

/// Calls `f(ts, first row, rows)` for the rows of each key at each time of `times`
/// (sorted): by time, then per key in first-seen order.
pub fn for_each_group(
    times: &[Timestamp],
    encoded: &EncodedKeys,
    mut f: impl FnMut(Timestamp, usize, &[u32]) -> Result<()>,
) -> Result<()> {
    let mut i = 0;
    while i < times.len() {
        let ts = times[i];
        let mut j = i;
        let mut groups: Vec<(usize, Vec<u32>)> = Vec::new();
        let mut group_of: HashMap<&[u8], usize> = HashMap::new();
        while j < times.len() && times[j] == ts {
            let g = *group_of.entry(encoded.key(j)).or_insert_with(|| {
                groups.push((j, Vec::new()));
                groups.len() - 1
            });
            groups[g].1.push(j as u32);
            j += 1;
        }
        for (first, rows) in groups {
            f(ts, first, &rows)?;
        }
        i = j;
    }
    Ok(())
}

/// Processes one key's rows of timestamp `ts` (accumulators in `slot`, bounded
/// frame `frame_rows`) and stores each row's results.
#[allow(clippy::too_many_arguments)]
pub fn process_rows(
    frame_rows: &mut impl Frame,
    slot: u32,
    frame: OverFrame,
    ts: Timestamp,
    rows: &[u32],
    aggs: &mut AggregateSet,
    input: &PreparedInput,
    results: &mut [Option<Vec<ArrayRef>>],
) -> Result<()> {
    match frame {
        OverFrame::RowsUnbounded | OverFrame::Rows { .. } => {
            for &r in rows {
                aggs.update(input, &[r], &[slot])?;
                results[r as usize] = Some(aggs.evaluate(&[slot])?);
                if let OverFrame::Rows { preceding } = frame {
                    frame_rows.push(ts, r, input)?;
                    if frame_rows.len() > preceding {
                        frame_rows.retract_front(aggs, input, slot)?;
                    }
                }
            }
        }
        OverFrame::RangeUnbounded | OverFrame::Range { .. } => {
            if let OverFrame::Range { preceding_ms } = frame {
                while frame_rows
                    .front_time()?
                    .is_some_and(|t| ts - t > preceding_ms)
                {
                    frame_rows.retract_front(aggs, input, slot)?;
                }
                for &r in rows {
                    frame_rows.push(ts, r, input)?;
                }
            }
            aggs.update(input, rows, &vec![slot; rows.len()])?;
            let shared = aggs.evaluate(&[slot])?;
            for &r in rows {
                results[r as usize] = Some(shared.clone());
            }
        }
    }
    Ok(())
}
