//! Rate limiting of sources (`'scan.rows-per-second'` on any source, and the
//! generators' own `'rows-per-second'`): a token bucket filled at the rate, spent by
//! each batch; while it is in debt the reader returns [`SourceEvent::Wait`] — it
//! never sleeps.

use std::time::Duration;

use super::{SourceEvent, SourceReader};
use crate::runtime::error::Result;
use crate::time::clock::{SharedClock, system_clock};

/// Longest single wait handed to the runtime, so a task stays responsive.
pub const MAX_THROTTLE_WAIT: Duration = Duration::from_millis(100);

/// A token bucket: `rate` tokens per second, at most `burst` saved up.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last_ms: i64,
    clock: SharedClock,
}

impl TokenBucket {
    /// Starts full-less (no saved tokens) so the first second is not a burst.
    pub fn new(rate_per_second: f64, clock: SharedClock) -> TokenBucket {
        let rate = rate_per_second.max(f64::MIN_POSITIVE);
        TokenBucket {
            rate,
            burst: (rate / 10.0).max(1.0),
            tokens: 0.0,
            last_ms: clock.now_ms(),
            clock,
        }
    }

    fn refill(&mut self) {
        let now = self.clock.now_ms();
        if now > self.last_ms {
            self.tokens =
                (self.tokens + (now - self.last_ms) as f64 * self.rate / 1000.0).min(self.burst);
            self.last_ms = now;
        }
    }

    /// How long to wait before spending more, `None` when tokens are available.
    pub fn wait_time(&mut self) -> Option<Duration> {
        self.refill();
        if self.tokens > 0.0 {
            return None;
        }
        let ms = ((1.0 - self.tokens) * 1000.0 / self.rate).ceil().max(1.0);
        Some(Duration::from_millis(ms as u64).min(MAX_THROTTLE_WAIT))
    }

    /// Tokens available now (whole rows), at least 0.
    pub fn available(&mut self) -> u64 {
        self.refill();
        self.tokens.max(0.0) as u64
    }

    /// Spends `n` tokens (may go into debt).
    pub fn spend(&mut self, n: u64) {
        self.tokens -= n as f64;
    }
}

/// Wraps any reader and limits it to a number of rows per second.
pub struct ThrottledReader {
    inner: Box<dyn SourceReader>,
    bucket: TokenBucket,
}

impl ThrottledReader {
    pub fn new(inner: Box<dyn SourceReader>, rows_per_second: f64) -> ThrottledReader {
        ThrottledReader::with_clock(inner, rows_per_second, system_clock())
    }

    pub fn with_clock(
        inner: Box<dyn SourceReader>,
        rows_per_second: f64,
        clock: SharedClock,
    ) -> Self {
        ThrottledReader {
            inner,
            bucket: TokenBucket::new(rows_per_second, clock),
        }
    }
}

impl SourceReader for ThrottledReader {
    fn splits(&self) -> usize {
        self.inner.splits()
    }

    fn poll(&mut self) -> Result<SourceEvent> {
        if let Some(wait) = self.bucket.wait_time() {
            return Ok(SourceEvent::Wait(wait));
        }
        let event = self.inner.poll()?;
        if let SourceEvent::Batch { batch, .. } = &event {
            self.bucket.spend(batch.num_rows() as u64);
        }
        Ok(event)
    }

    fn parse_errors(&self) -> u64 {
        self.inner.parse_errors()
    }

    fn snapshot_position(&self) -> Result<Vec<u8>> {
        self.inner.snapshot_position()
    }

    fn restore_position(&mut self, position: &[u8]) -> Result<()> {
        self.inner.restore_position(position)
    }

    fn restore_rescaled(&mut self, positions: &[Vec<u8>]) -> Result<()> {
        self.inner.restore_rescaled(positions)
    }
}

/// A subtask's share of a rate split among `parallelism` subtasks (Flink's datagen:
/// the first `rate % parallelism` subtasks get one more).
pub fn subtask_share(total: u64, index: u32, parallelism: u32) -> u64 {
    let p = parallelism.max(1) as u64;
    total / p + u64::from((index as u64) < total % p)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::record_batch::RecordBatch;

    use super::*;
    use crate::time::clock::ManualClock;

    /// Endless batches of 10 rows.
    struct Tens;

    impl SourceReader for Tens {
        fn splits(&self) -> usize {
            1
        }
        fn poll(&mut self) -> Result<SourceEvent> {
            let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
            let batch =
                RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from_iter_values(0..10))])?;
            Ok(SourceEvent::Batch { split: 0, batch })
        }
    }

    #[test]
    fn throttle_returns_wait_and_keeps_the_rate() {
        let clock = ManualClock::new(0);
        let mut reader = ThrottledReader::with_clock(Box::new(Tens), 100.0, clock.clone());
        // No tokens yet: wait, never sleep.
        assert!(
            matches!(reader.poll().unwrap(), SourceEvent::Wait(d) if d > Duration::ZERO && d <= MAX_THROTTLE_WAIT)
        );
        let mut rows = 0;
        for _ in 0..10_000 {
            clock.advance(1);
            match reader.poll().unwrap() {
                SourceEvent::Batch { batch, .. } => rows += batch.num_rows(),
                SourceEvent::Wait(_) => {}
                other => panic!("{other:?}"),
            }
        }
        // 10 s at 100 rows/s: 1000 rows, give or take one batch.
        assert!((990..=1010).contains(&rows), "{rows}");
    }

    #[test]
    fn shares_split_the_rate() {
        let shares: Vec<u64> = (0..3).map(|i| subtask_share(10, i, 3)).collect();
        assert_eq!(shares, vec![4, 3, 3]);
    }
}
