//! What flows on a channel between subtasks: Arrow record batches interleaved with
//! watermarks, watermark status (idleness), checkpoint barriers and end-of-stream —
//! Flink's `StreamElement`s, with a batch of rows in place of a single record.

use arrow::record_batch::RecordBatch;

/// Event time in milliseconds since the epoch (Flink's `long` timestamps).
pub type Timestamp = i64;

/// The watermark before any was seen (Flink's `Long.MIN_VALUE`).
pub const MIN_WATERMARK: Timestamp = i64::MIN;
/// The final watermark at the end of a bounded input: fires every event-time timer.
pub const MAX_WATERMARK: Timestamp = i64::MAX;

/// A checkpoint barrier (Flink's `CheckpointBarrier`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointBarrier {
    pub checkpoint_id: u64,
    pub timestamp_ms: i64,
    /// A savepoint (Flink's `CheckpointType.SAVEPOINT`): state goes in the canonical,
    /// backend-independent format and shares no files with other checkpoints.
    pub savepoint: bool,
}

/// Whether a channel currently carries watermarks (Flink's `WatermarkStatus`). An idle
/// channel is left out of the min-over-inputs watermark until it becomes active again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatermarkStatus {
    Active,
    Idle,
}

/// One element on a channel.
#[derive(Debug, Clone)]
pub enum Message {
    Data(RecordBatch),
    Watermark(Timestamp),
    WatermarkStatus(WatermarkStatus),
    Barrier(CheckpointBarrier),
    EndOfStream,
}
