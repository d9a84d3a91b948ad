//! A key's bounded frame while a chunk of ready rows is processed on the rocksdb
//! backend ([`ChunkKey`]). The frame is the rows `head .. head + len` of the key's
//! `1` entries; only those that will leave it during the chunk are read
//! ([`RocksOver::read_leaving`]): for `ROWS n` exactly `len + added - n` of them; for
//! `RANGE` rows are read in rounds (at first one more than the key's new rows, then
//! doubling) until the last one read stays in the frame at the chunk's latest time.
//! Rows added by the chunk and rows leaving it are recorded in order and applied with
//! the chunk's write batch.

use std::collections::VecDeque;

use arrow::array::ArrayRef;
use datafusion::common::ScalarValue;

use super::OverFrame;
use super::frame::Frame;
use super::rocks::{Header, RocksOver, frame_key};
use crate::operators::aggregate::{AggregateSet, PreparedInput};
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::message::Timestamp;
use crate::state::rocksdb::instance::db_key;

/// A frame row in memory: read from RocksDB (its inputs), or a row of the chunk.
#[derive(Debug)]
enum Source {
    Stored(Vec<Option<ScalarValue>>),
    Chunk(u32),
}

/// A change to a key's frame rows: a chunk row added as `seq`, or `seq` removed.
#[derive(Debug, Clone, Copy)]
pub enum FrameOp {
    Put(u64, Timestamp, u32),
    Delete(u64),
}

/// One key of a chunk: its state, loaded, and its frame's changes.
#[derive(Debug)]
pub struct ChunkKey<'k> {
    pub kg: u32,
    pub key: &'k [u8],
    pub slot: u32,
    pub last_ts: Timestamp,
    head: u64,
    len: u64,
    /// The frame rows from `head` that are in memory, in order.
    rows: VecDeque<(Timestamp, Source)>,
    /// Of the rows stored before the chunk, how many were read.
    read: u64,
    /// How many rows the frame held before the chunk.
    stored: u64,
    /// `rows` holds the whole frame.
    complete: bool,
    pub ops: Vec<FrameOp>,
    /// The chunk's rows of the key, and the latest time among them.
    pub added: u64,
    pub max_ts: Timestamp,
}

fn not_read() -> RuntimeError {
    RuntimeError::Graph("OVER: a frame row leaving the frame was not read".into())
}

impl<'k> ChunkKey<'k> {
    /// The slot of a key whose accumulators are not loaded yet.
    pub const NO_SLOT: u32 = u32::MAX;

    pub fn new(kg: u32, key: &'k [u8]) -> Self {
        ChunkKey {
            kg,
            key,
            slot: Self::NO_SLOT,
            last_ts: 0,
            head: 0,
            len: 0,
            rows: VecDeque::new(),
            read: 0,
            stored: 0,
            complete: true,
            ops: Vec::new(),
            added: 0,
            max_ts: Timestamp::MIN,
        }
    }

    pub fn set_header(&mut self, h: Header) {
        self.last_ts = h.last_ts;
        self.head = h.head;
        self.len = h.len;
        self.stored = h.len;
        self.complete = h.len == 0;
    }

    pub fn header(&self) -> Header {
        Header {
            last_ts: self.last_ts,
            head: self.head,
            len: self.len,
        }
    }
}

impl Frame for ChunkKey<'_> {
    fn len(&self) -> u64 {
        self.len
    }

    fn front_time(&self) -> Result<Option<Timestamp>> {
        if self.len == 0 {
            return Ok(None);
        }
        self.rows.front().map(|r| Some(r.0)).ok_or_else(not_read)
    }

    fn push(&mut self, ts: Timestamp, row: u32, _input: &PreparedInput) -> Result<()> {
        self.ops.push(FrameOp::Put(self.head + self.len, ts, row));
        self.len += 1;
        if self.complete {
            self.rows.push_back((ts, Source::Chunk(row)));
        }
        Ok(())
    }

    fn retract_front(
        &mut self,
        aggs: &mut AggregateSet,
        input: &PreparedInput,
        slot: u32,
    ) -> Result<()> {
        let (_, source) = self.rows.pop_front().ok_or_else(not_read)?;
        match source {
            Source::Stored(values) => {
                let values = PreparedInput::from_row_scalars(&[&values], input)?;
                aggs.retract(&values, &[0], &[slot])?;
            }
            Source::Chunk(row) => aggs.retract(input, &[row], &[slot])?,
        }
        self.ops.push(FrameOp::Delete(self.head));
        self.head += 1;
        self.len -= 1;
        Ok(())
    }
}

impl RocksOver {
    /// Reads the stored frame rows of `keys` that leave their frames in this chunk.
    pub(super) fn read_leaving(&self, frame: OverFrame, keys: &mut [ChunkKey<'_>]) -> Result<()> {
        match frame {
            OverFrame::Rows { preceding } => {
                let want: Vec<(usize, u64)> = keys
                    .iter()
                    .enumerate()
                    .map(|(i, k)| {
                        (
                            i,
                            k.stored.min((k.stored + k.added).saturating_sub(preceding)),
                        )
                    })
                    .filter(|(_, n)| *n > 0)
                    .collect();
                self.read_rows(keys, &want)
            }
            OverFrame::Range { preceding_ms } => {
                let mut want: Vec<(usize, u64)> = keys
                    .iter()
                    .enumerate()
                    .filter(|(_, k)| k.stored > 0)
                    .map(|(i, k)| (i, k.stored.min(k.added + 1)))
                    .collect();
                while !want.is_empty() {
                    self.read_rows(keys, &want)?;
                    want = want
                        .into_iter()
                        .filter_map(|(i, n)| {
                            let k = &keys[i];
                            let last = k.rows.back()?.0;
                            let leaves = k.max_ts - last > preceding_ms;
                            (leaves && k.read < k.stored)
                                .then(|| (i, (n * 2).min(k.stored - k.read)))
                        })
                        .collect();
                }
                Ok(())
            }
            OverFrame::RowsUnbounded | OverFrame::RangeUnbounded => Ok(()),
        }
    }

    /// Reads the next `n` stored frame rows of each `(key index, n)` of `want`.
    fn read_rows(&self, keys: &mut [ChunkKey<'_>], want: &[(usize, u64)]) -> Result<()> {
        let mut db_keys = Vec::new();
        for &(i, n) in want {
            let k = &keys[i];
            for seq in k.head + k.read..k.head + k.read + n {
                db_keys.push(db_key(k.kg, &frame_key(k.key, seq))?);
            }
        }
        let values = self.db.multi_get(&db_keys)?;
        let mut times = Vec::with_capacity(values.len());
        let mut encoded = Vec::with_capacity(values.len());
        for v in &values {
            let v = v.as_deref().ok_or_else(|| {
                RuntimeError::Graph("OVER: a frame row is missing from rocksdb".into())
            })?;
            let (ts, rest) = v.split_first_chunk::<8>().ok_or_else(|| {
                RuntimeError::Graph("OVER rocksdb state: a frame row without its time".into())
            })?;
            times.push(i64::from_le_bytes(*ts));
            encoded.push(rest);
        }
        let columns: Vec<ArrayRef> = match &self.frame_codec {
            Some(codec) => {
                let parser = codec.parser();
                codec.convert_rows(encoded.iter().map(|r| parser.parse(r)))?
            }
            None => Vec::new(),
        };
        let mut at = 0;
        for &(i, n) in want {
            let k = &mut keys[i];
            for _ in 0..n {
                let mut typed = columns.iter();
                let values = self
                    .input_types
                    .iter()
                    .map(|t| match t {
                        None => Ok(None),
                        Some(_) => typed
                            .next()
                            .map(|c| ScalarValue::try_from_array(c, at))
                            .transpose(),
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                k.rows.push_back((times[at], Source::Stored(values)));
                at += 1;
            }
            k.read += n;
            k.complete = k.read == k.stored;
        }
        Ok(())
    }
}
