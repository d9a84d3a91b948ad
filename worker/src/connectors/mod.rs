//! Connectors, with Flink's names and options: sources produce Arrow batches for the
//! runtime, sinks consume them. A connector is created from its `WITH (...)` options
//! ([`options::Options`]); each subtask gets its own reader or writer.

pub mod datagen;
pub mod filesystem;
pub mod filesystem_sink;
pub mod format;
pub mod nexmark;
pub mod options;
pub mod print;
pub mod random;
pub mod registry;
pub mod throttle;
pub mod values;

use std::time::Duration;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::runtime::error::Result;
use crate::runtime::operator::SubtaskInfo;

/// Upper bound on rows in one batch a source emits (TIGER_STYLE: explicit limit).
pub const MAX_BATCH_ROWS: usize = 8192;

/// What a source reader has for the runtime when polled.
#[derive(Debug)]
pub enum SourceEvent {
    /// Rows read from split `split` (an index local to this reader, `0..splits()`).
    Batch { split: usize, batch: RecordBatch },
    /// Nothing right now; poll again after this long at most (throttling, no input yet).
    Wait(Duration),
    /// Split `split` is exhausted; its watermark no longer holds others back.
    SplitFinished { split: usize },
    /// Every split of this reader is exhausted (bounded input).
    End,
}

/// A table source (Flink's `Source`): knows its schema and hands out one reader per
/// subtask, assigning splits (files, generator ranges) among subtasks.
pub trait Source: Send + Sync + std::fmt::Debug {
    fn name(&self) -> &str;
    fn schema(&self) -> SchemaRef;
    fn create_reader(&self, subtask: &SubtaskInfo) -> Result<Box<dyn SourceReader>>;
}

/// Reads the splits assigned to one subtask. `poll` may block briefly (file I/O); it
/// returns at most [`MAX_BATCH_ROWS`] rows per call and never sleeps — it returns
/// [`SourceEvent::Wait`] instead so the task stays responsive.
pub trait SourceReader: Send {
    /// How many splits this reader owns (watermarks are generated per split).
    fn splits(&self) -> usize;
    fn poll(&mut self) -> Result<SourceEvent>;
    /// Malformed records skipped so far under an `*.ignore-parse-errors` policy (the
    /// runtime adds it to `SubtaskMetrics::parse_errors_skipped`).
    fn parse_errors(&self) -> u64 {
        0
    }

    /// The reader's position for a checkpoint (Flink's split state): where to resume
    /// reading. Readers that cannot say refuse, and the checkpoint is declined.
    fn snapshot_position(&self) -> Result<Vec<u8>> {
        Err(crate::runtime::error::RuntimeError::CheckpointUnsupported(
            "this source".into(),
        ))
    }

    /// Resumes at a position [`SourceReader::snapshot_position`] returned (before the
    /// first poll).
    fn restore_position(&mut self, _position: &[u8]) -> Result<()> {
        Err(crate::runtime::error::RuntimeError::CheckpointUnsupported(
            "restoring this source".into(),
        ))
    }

    /// Resumes from the positions of every subtask of a run with another parallelism
    /// (rescaling), taking what concerns this subtask's splits. Sources whose positions
    /// cannot be redistributed refuse.
    fn restore_rescaled(&mut self, _positions: &[Vec<u8>]) -> Result<()> {
        Err(crate::runtime::error::RuntimeError::CheckpointUnsupported(
            "rescaling this source".into(),
        ))
    }
}

/// A reader position as checkpoint bytes (JSON: small, readable in the state browser).
pub(crate) fn position(value: &serde_json::Value) -> Result<Vec<u8>> {
    serde_json::to_vec(value)
        .map_err(|e| crate::runtime::error::RuntimeError::Graph(format!("position: {e}")))
}

/// A checkpointed position read back.
pub(crate) fn read_position<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        crate::runtime::error::RuntimeError::Graph(format!("checkpointed position: {e}"))
    })
}

/// A table sink: one writer per subtask.
pub trait Sink: Send + Sync + std::fmt::Debug {
    fn name(&self) -> &str;
    fn create_writer(&self, subtask: &SubtaskInfo) -> Result<Box<dyn SinkWriter>>;

    /// The TIMESTAMP column whose processing-time latency the sink measures
    /// (`'latency.column'`), if any.
    fn latency_column(&self) -> Option<usize> {
        None
    }
}

/// Writes one subtask's rows. `finish` makes everything written visible (for the
/// filesystem sink: in-progress part files are committed by an atomic rename).
pub trait SinkWriter: Send {
    fn write(&mut self, batch: &RecordBatch) -> Result<()>;
    fn finish(&mut self) -> Result<()>;

    /// The writer's state for a checkpoint: `None` when it keeps none (its writes are
    /// visible at once, e.g. print).
    fn snapshot(&mut self, _checkpoint_id: u64) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }

    /// Restores what [`SinkWriter::snapshot`] returned, before the first write.
    fn restore(&mut self, _state: &[u8]) -> Result<()> {
        Ok(())
    }

    /// The checkpoint completed: make what it covers visible (two-phase commit).
    fn notify_checkpoint_complete(&mut self, _checkpoint_id: u64) -> Result<()> {
        Ok(())
    }
}
