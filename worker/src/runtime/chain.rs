//! An operator chain (Flink's `OperatorChain`): the operators of one task, called one
//! after another on the task's thread of control. What an operator emits is handed to
//! the next; what the last one emits is returned for the task's record writers.

use std::sync::Arc;
use std::time::Instant;

use arrow::record_batch::RecordBatch;

use super::error::Result;
use super::message::Timestamp;
use super::metrics::SubtaskMetrics;
use super::operator::{Emit, Operator, OperatorContext, Output};

pub struct OperatorChain {
    operators: Vec<Box<dyn Operator>>,
    ctx: OperatorContext,
    /// One output buffer per operator, reused between calls.
    buffers: Vec<Output>,
}

impl std::fmt::Debug for OperatorChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.operators.iter().map(|o| o.name()).collect();
        f.debug_struct("OperatorChain")
            .field("operators", &names)
            .finish()
    }
}

/// What the chain handed out: the tail's batches and watermarks, in order.
pub type ChainOutput = Vec<Emit>;

impl OperatorChain {
    pub fn new(operators: Vec<Box<dyn Operator>>, ctx: OperatorContext) -> OperatorChain {
        let buffers = operators.iter().map(|_| Output::default()).collect();
        OperatorChain {
            operators,
            ctx,
            buffers,
        }
    }

    pub fn context(&self) -> &OperatorContext {
        &self.ctx
    }

    pub fn metrics(&self) -> &Arc<SubtaskMetrics> {
        &self.ctx.metrics
    }

    pub fn open(&mut self) -> Result<()> {
        for op in &mut self.operators {
            op.open(&self.ctx)?;
        }
        Ok(())
    }

    pub fn process_batch(&mut self, input: usize, batch: RecordBatch) -> Result<ChainOutput> {
        if self.operators.is_empty() {
            // A source with nothing chained: its batches go straight to the writers.
            return Ok(vec![Emit::Batch(batch)]);
        }
        self.run(|op, ctx, out| op.process_batch(input, batch, ctx, out))
    }

    pub fn process_watermark(&mut self, watermark: Timestamp) -> Result<ChainOutput> {
        if self.operators.is_empty() {
            return Ok(vec![Emit::Watermark(watermark)]);
        }
        self.run(|op, ctx, out| op.process_watermark(watermark, ctx, out))
    }

    /// Every operator's state for a checkpoint, head first (`None`: stateless).
    pub fn snapshot_state(
        &mut self,
        barrier: &super::message::CheckpointBarrier,
    ) -> Result<Vec<Option<Vec<u8>>>> {
        self.operators
            .iter_mut()
            .map(|op| op.snapshot_state(barrier))
            .collect()
    }

    /// Restores operator `index`'s state (a section of a subtask's snapshot).
    pub fn restore_state(&mut self, index: usize, state: &[u8]) -> Result<()> {
        match self.operators.get_mut(index) {
            Some(op) => op.restore_state(state),
            None => Err(super::error::RuntimeError::Graph(format!(
                "the snapshot has state for operator {index}; the chain has {}",
                self.operators.len()
            ))),
        }
    }

    pub fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        for op in &mut self.operators {
            op.notify_checkpoint_complete(checkpoint_id)?;
        }
        Ok(())
    }

    pub fn next_processing_time_timer(&self) -> Option<Timestamp> {
        self.operators
            .iter()
            .filter_map(|o| o.next_processing_time_timer())
            .min()
    }

    /// Fires processing-time timers due at `now` on every operator, head first.
    pub fn on_processing_time(&mut self, now: Timestamp) -> Result<ChainOutput> {
        self.run_each(|op, ctx, out| op.on_processing_time(now, ctx, out))
    }

    /// End of input: each operator finishes in chain order, seeing everything its
    /// predecessors emitted while finishing.
    pub fn finish(&mut self) -> Result<ChainOutput> {
        self.run_each(|op, ctx, out| op.finish(ctx, out))
    }

    /// Calls `f` on the head, then pushes its output down the chain.
    fn run(
        &mut self,
        f: impl FnOnce(&mut dyn Operator, &OperatorContext, &mut Output) -> Result<()>,
    ) -> Result<ChainOutput> {
        let started = Instant::now();
        let Some(head) = self.operators.first_mut() else {
            return Ok(Vec::new());
        };
        f(head.as_mut(), &self.ctx, &mut self.buffers[0])?;
        let out = self.push_down(0);
        SubtaskMetrics::add(
            &self.ctx.metrics.busy_ns,
            started.elapsed().as_nanos() as u64,
        );
        out
    }

    /// Calls `f` on every operator in order; each one's output (from `f` and from
    /// what flowed in) goes down the chain before the next operator is called.
    fn run_each(
        &mut self,
        f: impl Fn(&mut dyn Operator, &OperatorContext, &mut Output) -> Result<()>,
    ) -> Result<ChainOutput> {
        let started = Instant::now();
        let mut result = Vec::new();
        for i in 0..self.operators.len() {
            f(self.operators[i].as_mut(), &self.ctx, &mut self.buffers[i])?;
            result.extend(self.push_down(i)?);
        }
        SubtaskMetrics::add(
            &self.ctx.metrics.busy_ns,
            started.elapsed().as_nanos() as u64,
        );
        Ok(result)
    }

    /// Feeds what operator `from` emitted through operators `from+1..`, returning what
    /// falls out of the tail.
    fn push_down(&mut self, from: usize) -> Result<ChainOutput> {
        let mut pending: Vec<Emit> = self.buffers[from].drain().collect();
        for i in from + 1..self.operators.len() {
            for item in pending.drain(..) {
                let op = self.operators[i].as_mut();
                match item {
                    Emit::Batch(b) => op.process_batch(0, b, &self.ctx, &mut self.buffers[i])?,
                    Emit::Watermark(w) => {
                        op.process_watermark(w, &self.ctx, &mut self.buffers[i])?
                    }
                }
            }
            pending.extend(self.buffers[i].drain());
        }
        Ok(pending)
    }
}
