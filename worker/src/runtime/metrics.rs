//! Per-subtask metrics (Flink's task I/O metric group): records and bytes in/out,
//! current watermark, time spent busy and back-pressured, late records dropped and
//! malformed records skipped, and a sink's end-to-end latency. Plain atomics (and one
//! histogram) written by the task, read by anyone.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use super::latency::{LatencySummary, SinkLatency};
use super::message::MIN_WATERMARK;

#[derive(Debug)]
pub struct SubtaskMetrics {
    pub records_in: AtomicU64,
    pub records_out: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    /// The subtask's current (output) watermark; `i64::MIN` before the first.
    pub current_watermark: AtomicI64,
    /// Nanoseconds spent inside operators.
    pub busy_ns: AtomicU64,
    /// Nanoseconds spent waiting for room in an output channel (back pressure).
    pub backpressured_ns: AtomicU64,
    /// Records that arrived behind the watermark and were dropped.
    pub late_records_dropped: AtomicU64,
    /// Malformed records skipped under an `*.ignore-parse-errors` policy.
    pub parse_errors_skipped: AtomicU64,
    /// Rows handed to a sink's writer (sink subtasks only).
    pub sink_records: AtomicU64,
    /// End-to-end latency of the rows a sink measures it for (see [`SinkLatency`]).
    pub sink_latency: SinkLatency,
    started: Instant,
}

impl Default for SubtaskMetrics {
    fn default() -> Self {
        SubtaskMetrics {
            records_in: AtomicU64::new(0),
            records_out: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            current_watermark: AtomicI64::new(MIN_WATERMARK),
            busy_ns: AtomicU64::new(0),
            backpressured_ns: AtomicU64::new(0),
            late_records_dropped: AtomicU64::new(0),
            parse_errors_skipped: AtomicU64::new(0),
            sink_records: AtomicU64::new(0),
            sink_latency: SinkLatency::default(),
            started: Instant::now(),
        }
    }
}

/// A point-in-time copy of [`SubtaskMetrics`] with the ratios worked out.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct MetricsSnapshot {
    pub records_in: u64,
    pub records_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub current_watermark: Option<i64>,
    /// Share of wall time spent processing, 0..=1 (Flink's `busyTimeMsPerSecond` / 1000).
    pub busy_ratio: f64,
    /// Share of wall time blocked on full output channels, 0..=1.
    pub backpressure_ratio: f64,
    pub late_records_dropped: u64,
    pub parse_errors_skipped: u64,
    pub sink_records: u64,
    /// Sinks with a latency column: the latency of their rows so far.
    pub sink_latency: Option<LatencySummary>,
}

impl SubtaskMetrics {
    pub fn new() -> Arc<SubtaskMetrics> {
        Arc::new(SubtaskMetrics::default())
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        let wall = self.started.elapsed().as_nanos().max(1) as f64;
        let wm = self.current_watermark.load(Ordering::Relaxed);
        MetricsSnapshot {
            records_in: self.records_in.load(Ordering::Relaxed),
            records_out: self.records_out.load(Ordering::Relaxed),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            current_watermark: (wm != MIN_WATERMARK).then_some(wm),
            busy_ratio: (self.busy_ns.load(Ordering::Relaxed) as f64 / wall).min(1.0),
            backpressure_ratio: (self.backpressured_ns.load(Ordering::Relaxed) as f64 / wall)
                .min(1.0),
            late_records_dropped: self.late_records_dropped.load(Ordering::Relaxed),
            parse_errors_skipped: self.parse_errors_skipped.load(Ordering::Relaxed),
            sink_records: self.sink_records.load(Ordering::Relaxed),
            sink_latency: self.sink_latency.summary(),
        }
    }
}
