//! [`SinkLatency`]: end-to-end latency measured at a sink, in processing time — how
//! long ago, by the wall clock, each row was stamped. The stamp is a TIMESTAMP column
//! the query carries to the sink (typically `pt AS PROCTIME()`, stamped when the source
//! read the row; a window result carries `MAX(pt)`, its newest row). Recorded in an
//! HdrHistogram (milliseconds, the stamp's precision), read as p50/p99/max.

use std::sync::Mutex;

use arrow::array::{Array, ArrayRef, TimestampMillisecondArray};
use arrow::datatypes::{DataType, TimeUnit};
use hdrhistogram::Histogram;
use serde::Serialize;

use super::error::{Result, RuntimeError};

/// Largest latency recorded as itself (one hour, ms); longer ones count as this.
pub const MAX_LATENCY_MS: u64 = 3_600_000;
/// Significant decimal digits the histogram keeps (values within 0.1 %).
const SIGNIFICANT_DIGITS: u8 = 3;

/// A latency histogram shared between the sink that records and the readers.
#[derive(Debug, Default)]
pub struct SinkLatency {
    histogram: Mutex<Option<Histogram<u64>>>,
}

/// What [`SinkLatency::summary`] reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    pub samples: u64,
    pub p50_ms: u64,
    pub p99_ms: u64,
    pub max_ms: u64,
}

impl SinkLatency {
    /// Records, for every non-null stamp in `stamps`, `now_ms - stamp` (0 if negative).
    pub fn record(&self, stamps: &ArrayRef, now_ms: i64) -> Result<()> {
        let millis = match stamps.data_type() {
            DataType::Timestamp(TimeUnit::Millisecond, _) => stamps.clone(),
            DataType::Timestamp(..) => {
                arrow::compute::cast(stamps, &DataType::Timestamp(TimeUnit::Millisecond, None))?
            }
            other => {
                return Err(RuntimeError::Graph(format!(
                    "the latency column must be a TIMESTAMP, not {other}"
                )));
            }
        };
        let Some(values) = millis.as_any().downcast_ref::<TimestampMillisecondArray>() else {
            return Err(RuntimeError::Graph(
                "latency column is not in milliseconds".into(),
            ));
        };
        let mut guard = self
            .histogram
            .lock()
            .map_err(|_| RuntimeError::Graph("latency histogram lock poisoned".into()))?;
        if guard.is_none() {
            let h = Histogram::new_with_bounds(1, MAX_LATENCY_MS, SIGNIFICANT_DIGITS)
                .map_err(|e| RuntimeError::Graph(format!("latency histogram: {e}")))?;
            *guard = Some(h);
        }
        if let Some(h) = guard.as_mut() {
            for stamp in values.iter().flatten() {
                h.saturating_record((now_ms - stamp).clamp(0, MAX_LATENCY_MS as i64) as u64);
            }
        }
        Ok(())
    }

    /// The latencies recorded so far; `None` before the first.
    pub fn summary(&self) -> Option<LatencySummary> {
        let guard = self.histogram.lock().ok()?;
        let h = guard.as_ref().filter(|h| h.len() > 0)?;
        Some(LatencySummary {
            samples: h.len(),
            p50_ms: h.value_at_quantile(0.50),
            p99_ms: h.value_at_quantile(0.99),
            max_ms: h.max(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn percentiles_of_the_recorded_latencies() {
        let latency = SinkLatency::default();
        assert_eq!(latency.summary(), None);
        // Stamps 1..=100 ms before now, and one NULL that is not counted.
        let mut stamps: Vec<Option<i64>> = (1..=100).map(|d| Some(10_000 - d)).collect();
        stamps.push(None);
        let array: ArrayRef = Arc::new(TimestampMillisecondArray::from(stamps));
        latency.record(&array, 10_000).unwrap();
        let s = latency.summary().unwrap();
        assert_eq!(
            (s.samples, s.p50_ms, s.p99_ms, s.max_ms),
            (100, 50, 99, 100)
        );
        // A stamp from the future counts as 0; other units are converted.
        let micros: ArrayRef = Arc::new(arrow::array::TimestampMicrosecondArray::from(vec![
            20_000_000,
        ]));
        latency.record(&micros, 10_000).unwrap();
        assert_eq!(latency.summary().unwrap().samples, 101);
        let not_a_time: ArrayRef = Arc::new(arrow::array::Int64Array::from(vec![1]));
        assert!(latency.record(&not_a_time, 0).is_err());
    }
}
