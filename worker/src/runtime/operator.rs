//! The operator contract (Flink's `StreamOperator`): a chain of operators runs inside
//! one task; each gets batches, the combined input watermark, processing-time ticks
//! and end of input, and emits batches and watermarks to the next operator of the
//! chain (or the task's outputs) through an [`Output`].

use std::sync::Arc;

use arrow::record_batch::RecordBatch;

use super::error::{Result, RuntimeError};
use super::message::{CheckpointBarrier, Timestamp};
use super::metrics::SubtaskMetrics;
use crate::key_groups::KeyGroupRange;
use crate::state::backend::StateBackend;
use crate::state::memory::MemoryBudget;
use crate::time::clock::SharedClock;

/// Where a subtask sits in its job: vertex, index, parallelism and key groups.
#[derive(Debug, Clone)]
pub struct SubtaskInfo {
    pub job_name: String,
    pub vertex_name: String,
    pub index: u32,
    pub parallelism: u32,
    pub max_parallelism: u32,
    /// The key groups this subtask owns (keyed operators).
    pub key_group_range: KeyGroupRange,
}

impl SubtaskInfo {
    /// Flink's task name: `vertex (index+1/parallelism)`.
    pub fn task_name(&self) -> String {
        format!(
            "{} ({}/{})",
            self.vertex_name,
            self.index + 1,
            self.parallelism
        )
    }
}

/// What an operator may use while it runs.
#[derive(Debug, Clone)]
pub struct OperatorContext {
    pub subtask: SubtaskInfo,
    /// Processing time.
    pub clock: SharedClock,
    pub metrics: Arc<SubtaskMetrics>,
    /// The managed memory budget of the slot this subtask runs in.
    pub memory: Arc<MemoryBudget>,
    /// Where keyed operators keep their state (the job's `state.backend.type`).
    pub state_backend: StateBackend,
}

/// What an operator emits, in order.
#[derive(Debug, Clone)]
pub enum Emit {
    Batch(RecordBatch),
    Watermark(Timestamp),
}

/// Collects an operator's output. Empty batches are dropped here so no operator
/// needs to check for them.
#[derive(Debug, Default)]
pub struct Output {
    items: Vec<Emit>,
}

impl Output {
    pub fn emit(&mut self, batch: RecordBatch) {
        if batch.num_rows() > 0 {
            self.items.push(Emit::Batch(batch));
        }
    }

    pub fn emit_watermark(&mut self, watermark: Timestamp) {
        self.items.push(Emit::Watermark(watermark));
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn drain(&mut self) -> std::vec::Drain<'_, Emit> {
        self.items.drain(..)
    }
}

/// One operator of a chain. Every method runs on the task's own thread of control;
/// an operator never sees two calls at once.
pub trait Operator: Send {
    fn name(&self) -> &str;

    /// Called once before the first element.
    fn open(&mut self, _ctx: &OperatorContext) -> Result<()> {
        Ok(())
    }

    /// A batch from input `input` (0 unless the operator has several inputs).
    fn process_batch(
        &mut self,
        input: usize,
        batch: RecordBatch,
        ctx: &OperatorContext,
        out: &mut Output,
    ) -> Result<()>;

    /// The combined watermark of all inputs advanced to `watermark`. Operators with
    /// event-time timers fire them here, then forward the watermark.
    fn process_watermark(
        &mut self,
        watermark: Timestamp,
        _ctx: &OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        out.emit_watermark(watermark);
        Ok(())
    }

    /// The earliest processing time at which this operator has a timer to fire.
    fn next_processing_time_timer(&self) -> Option<Timestamp> {
        None
    }

    /// Processing time reached `now`: fire the processing-time timers due.
    fn on_processing_time(
        &mut self,
        _now: Timestamp,
        _ctx: &OperatorContext,
        _out: &mut Output,
    ) -> Result<()> {
        Ok(())
    }

    /// Copies the operator's state for a checkpoint (Flink's `snapshotState`): `None`
    /// when it keeps none. An operator whose state cannot be snapshotted yet refuses
    /// with [`RuntimeError::CheckpointUnsupported`] and the checkpoint is declined. A
    /// savepoint's barrier asks for the canonical, backend-independent format.
    fn snapshot_state(&mut self, _barrier: &CheckpointBarrier) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }

    /// Restores what [`Operator::snapshot_state`] returned (before the first element).
    fn restore_state(&mut self, _state: &[u8]) -> Result<()> {
        Err(RuntimeError::CheckpointUnsupported(format!(
            "restoring the state of {}",
            self.name()
        )))
    }

    /// Checkpoint `checkpoint_id` completed (Flink's `notifyCheckpointComplete`):
    /// two-phase-commit sinks make its data visible.
    fn notify_checkpoint_complete(&mut self, _checkpoint_id: u64) -> Result<()> {
        Ok(())
    }

    /// Every input ended (after the final watermark). Emit what is still pending —
    /// Eddy also fires pending processing-time windows here, so no data is lost.
    fn finish(&mut self, _ctx: &OperatorContext, _out: &mut Output) -> Result<()> {
        Ok(())
    }
}

/// The refusal of a stateful operator whose state is not checkpointed yet.
pub fn unsupported_state(operator: &str) -> Result<Option<Vec<u8>>> {
    Err(RuntimeError::CheckpointUnsupported(format!(
        "the state of {operator}"
    )))
}

/// Creates one operator instance per subtask.
pub trait OperatorFactory: Send + Sync {
    fn create(&self, subtask: &SubtaskInfo) -> Result<Box<dyn Operator>>;
}

impl<F> OperatorFactory for F
where
    F: Fn(&SubtaskInfo) -> Result<Box<dyn Operator>> + Send + Sync,
{
    fn create(&self, subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        self(subtask)
    }
}
