//! The OVER aggregate's RocksDB layout (see `super::rocks`): the three key spaces'
//! state keys, the header of a key's `0` entry, and the heap timers of the waiting
//! rows.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::message::Timestamp;
use crate::state::memory::MemoryBudget;

pub(super) const AGGREGATES: u8 = 0;
pub(super) const FRAME_ROW: u8 = 1;
pub(super) const WAITING_ROW: u8 = 2;
/// Bytes charged per timer besides its key bytes.
const TIMER_OVERHEAD: usize = 64;
/// Length of the header of a key's `0` entry.
pub(super) const HEADER: usize = 24;

/// Big-endian bytes of a time that sort as the time does.
fn ordered_time(ts: Timestamp) -> [u8; 8] {
    ((ts as u64) ^ (1 << 63)).to_be_bytes()
}

fn be_u64(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[..8]);
    u64::from_be_bytes(b)
}

pub(super) fn aggregates_key(key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + key.len());
    k.push(AGGREGATES);
    k.extend_from_slice(key);
    k
}

pub(super) fn frame_key(key: &[u8], seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(9 + key.len());
    k.push(FRAME_ROW);
    k.extend_from_slice(key);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

pub(super) fn waiting_key(key: &[u8], ts: Timestamp, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(17 + key.len());
    k.push(WAITING_ROW);
    k.extend_from_slice(key);
    k.extend_from_slice(&ordered_time(ts));
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// A state key, parsed.
pub(super) enum StateKey<'a> {
    Aggregates(&'a [u8]),
    Frame(&'a [u8]),
    Waiting(&'a [u8], Timestamp, u64),
}

pub(super) fn parse(state_key: &[u8]) -> Result<StateKey<'_>> {
    let bad = || RuntimeError::Graph("OVER rocksdb state: a malformed key".into());
    let (&tag, rest) = state_key.split_first().ok_or_else(bad)?;
    match tag {
        AGGREGATES => Ok(StateKey::Aggregates(rest)),
        FRAME_ROW if rest.len() >= 8 => Ok(StateKey::Frame(&rest[..rest.len() - 8])),
        WAITING_ROW if rest.len() >= 16 => {
            let (key, tail) = rest.split_at(rest.len() - 16);
            let ts = (be_u64(tail) ^ (1 << 63)) as Timestamp;
            Ok(StateKey::Waiting(key, ts, be_u64(&tail[8..])))
        }
        _ => Err(bad()),
    }
}

/// A key's `0` entry header: last processed time, frame's first seq and length.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Header {
    pub last_ts: Timestamp,
    pub head: u64,
    pub len: u64,
}

impl Header {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.last_ts.to_le_bytes());
        out.extend_from_slice(&self.head.to_le_bytes());
        out.extend_from_slice(&self.len.to_le_bytes());
    }

    /// The header and the accumulators' bytes of a `0` value.
    pub fn decode(value: &[u8]) -> Result<(Header, &[u8])> {
        let (h, rest) = value.split_first_chunk::<HEADER>().ok_or_else(|| {
            RuntimeError::Graph("OVER rocksdb state: a key's entry without its header".into())
        })?;
        let n = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&h[i * 8..i * 8 + 8]);
            b
        };
        let header = Header {
            last_ts: i64::from_le_bytes(n(0)),
            head: u64::from_le_bytes(n(1)),
            len: u64::from_le_bytes(n(2)),
        };
        Ok((header, rest))
    }
}

/// The waiting rows' timers: `(time, seq, key group, key)` in processing order.
#[derive(Debug)]
pub(super) struct Timers {
    due: BTreeSet<(Timestamp, u64, u32, Vec<u8>)>,
    bytes: usize,
    memory: Arc<MemoryBudget>,
}

impl Timers {
    pub fn new(memory: Arc<MemoryBudget>) -> Timers {
        Timers {
            due: BTreeSet::new(),
            bytes: 0,
            memory,
        }
    }

    pub fn add(&mut self, ts: Timestamp, seq: u64, key_group: u32, key: &[u8]) -> Result<()> {
        let size = key.len() + TIMER_OVERHEAD;
        self.memory.reserve(size)?;
        self.bytes += size;
        self.due.insert((ts, seq, key_group, key.to_vec()));
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.due.len()
    }

    /// Removes the earliest timers due at `time`: about `rows` of them, and every one
    /// of the last time taken.
    pub fn pop_due(&mut self, time: Timestamp, rows: usize) -> Vec<(Timestamp, u64, u32, Vec<u8>)> {
        let mut out: Vec<(Timestamp, u64, u32, Vec<u8>)> = Vec::new();
        while let Some(first) = self.due.first() {
            let next_time = out.last().is_none_or(|l| l.0 != first.0);
            if first.0 > time || (out.len() >= rows && next_time) {
                break;
            }
            if let Some(timer) = self.due.pop_first() {
                let size = timer.3.len() + TIMER_OVERHEAD;
                self.memory.release(size);
                self.bytes -= size;
                out.push(timer);
            }
        }
        out
    }
}

impl Drop for Timers {
    fn drop(&mut self) {
        self.memory.release(self.bytes);
    }
}
