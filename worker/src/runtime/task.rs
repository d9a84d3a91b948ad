//! A task (Flink's `StreamTask`): one subtask's operator chain and its I/O. A source
//! task polls its reader, stamps and generates watermarks per split and drives the
//! chain; a stream task reads its input gate, combines input watermarks through the
//! valve, and fires processing-time timers. Both end by pushing the final watermark,
//! finishing the chain and sending end-of-stream downstream.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::chain::{ChainOutput, OperatorChain};
use super::channel::InputGate;
use super::checkpoint::{
    Alignment, BarrierAligner, SourceTrigger, TaskCheckpointing, encode_snapshot,
};
use super::error::{Result, RuntimeError};
use super::message::{CheckpointBarrier, MAX_WATERMARK, Message, Timestamp, WatermarkStatus};
use super::metrics::SubtaskMetrics;
use super::operator::Emit;
use super::partition::RecordWriter;
use crate::connectors::{SourceEvent, SourceReader};
use crate::time::valve::{StatusWatermarkValve, ValveOutput};
use crate::time::watermark::SourceWatermarks;

/// Longest a task sleeps before it looks at its processing-time timers and idleness
/// again (bounds timer lateness, and lets a manual test clock be noticed).
pub const TIMER_POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Where a task's input comes from.
pub enum TaskInput {
    Source {
        reader: Box<dyn SourceReader>,
        watermarks: SourceWatermarks,
    },
    Channels {
        gate: InputGate,
        /// The chain head's logical input for each channel of the gate.
        channel_inputs: Vec<usize>,
    },
}

pub struct StreamTask {
    pub name: String,
    pub chain: OperatorChain,
    pub writers: Vec<RecordWriter>,
    pub cancel: watch::Receiver<bool>,
    /// The last watermark sent downstream (the chain's output watermark).
    pub output_watermark: Timestamp,
    /// How this task takes part in checkpoints; none: barriers pass through.
    pub checkpointing: Option<TaskCheckpointing>,
}

impl StreamTask {
    /// Runs the task to the end of its input.
    pub async fn run(mut self, input: TaskInput) -> Result<()> {
        tracing::debug!(task = %self.name, "task starting");
        self.chain.open()?;
        match input {
            TaskInput::Source { reader, watermarks } => self.run_source(reader, watermarks).await?,
            TaskInput::Channels {
                gate,
                channel_inputs,
            } => self.run_channels(gate, channel_inputs).await?,
        }
        let out = self.chain.finish()?;
        self.emit(out).await?;
        for w in &mut self.writers {
            w.broadcast(Message::EndOfStream).await?;
        }
        tracing::debug!(task = %self.name, "task finished");
        Ok(())
    }

    fn metrics(&self) -> Arc<SubtaskMetrics> {
        self.chain.metrics().clone()
    }

    fn now(&self) -> Timestamp {
        self.chain.context().clock.now_ms()
    }

    fn cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    async fn run_source(
        &mut self,
        mut reader: Box<dyn SourceReader>,
        mut wm: SourceWatermarks,
    ) -> Result<()> {
        let metrics = self.metrics();
        let mut last_tick = Instant::now();
        let mut triggers = self.checkpointing.as_mut().and_then(|c| c.triggers.take());
        let mut completions = self
            .checkpointing
            .as_mut()
            .and_then(|c| c.completions.take());
        loop {
            if self.cancelled() {
                return Err(RuntimeError::Cancelled);
            }
            self.fire_processing_timers().await?;
            while let Some(id) = completions.as_mut().and_then(|c| c.try_recv().ok()) {
                self.chain.notify_checkpoint_complete(id)?;
            }
            let mut end_input = false;
            while let Some(t) = triggers.as_mut().and_then(|t| t.try_recv().ok()) {
                end_input |= self
                    .inject_barrier(t, source_position(reader.as_ref()))
                    .await?;
            }
            if end_input {
                // Stop with drain: the input ends at the savepoint's position.
                break;
            }
            let event = reader.poll()?;
            metrics
                .parse_errors_skipped
                .store(reader.parse_errors(), Ordering::Relaxed);
            match event {
                SourceEvent::Batch { split, batch } => {
                    SubtaskMetrics::add(&metrics.records_in, batch.num_rows() as u64);
                    SubtaskMetrics::add(&metrics.bytes_in, batch.get_array_memory_size() as u64);
                    let (batch, outputs) = wm.on_batch(split, batch, self.now())?;
                    let out = self.chain.process_batch(0, batch)?;
                    self.emit(out).await?;
                    self.apply_valve_outputs(outputs).await?;
                    if last_tick.elapsed() >= TIMER_POLL_INTERVAL {
                        last_tick = Instant::now();
                        let outputs = wm.on_tick(self.now());
                        self.apply_valve_outputs(outputs).await?;
                    }
                }
                SourceEvent::Wait(d) => {
                    let outputs = wm.on_tick(self.now());
                    self.apply_valve_outputs(outputs).await?;
                    let mut cancel = self.cancel.clone();
                    tokio::select! {
                        _ = tokio::time::sleep(d.min(TIMER_POLL_INTERVAL)) => {}
                        _ = cancel.changed() => return Err(RuntimeError::Cancelled),
                        Some(id) = next_in(&mut completions) => {
                            self.chain.notify_checkpoint_complete(id)?;
                        }
                        Some(t) = next_in(&mut triggers) => {
                            if self.inject_barrier(t, source_position(reader.as_ref())).await? {
                                // Stop with drain.
                                break;
                            }
                        }
                    }
                }
                SourceEvent::SplitFinished { split } => {
                    let outputs = wm.split_finished(split);
                    self.apply_valve_outputs(outputs).await?;
                }
                SourceEvent::End => break,
            }
        }
        // End of a bounded input: the final watermark fires every event-time timer.
        self.advance_watermark(MAX_WATERMARK).await
    }

    /// Injects a source trigger's barrier with the reader's `position`; true when the
    /// input ends right after it (stop with drain).
    async fn inject_barrier(
        &mut self,
        trigger: SourceTrigger,
        position: std::result::Result<Vec<u8>, String>,
    ) -> Result<bool> {
        self.checkpoint(trigger.barrier, Some(position), Duration::ZERO)
            .await?;
        Ok(trigger.end_input)
    }

    async fn run_channels(
        &mut self,
        mut gate: InputGate,
        channel_inputs: Vec<usize>,
    ) -> Result<()> {
        let metrics = self.metrics();
        let mut valve = StatusWatermarkValve::new(gate.num_channels());
        let mut aligner = BarrierAligner::default();
        let mut completions = self
            .checkpointing
            .as_mut()
            .and_then(|c| c.completions.take());
        let mut cancel = self.cancel.clone();
        loop {
            let timer_wait = self.chain.next_processing_time_timer().map(|t| {
                Duration::from_millis(
                    (t - self.now()).clamp(0, TIMER_POLL_INTERVAL.as_millis() as i64) as u64,
                )
            });
            let next = tokio::select! {
                biased;
                _ = cancel.changed() => return Err(RuntimeError::Cancelled),
                Some(id) = next_in(&mut completions) => {
                    self.chain.notify_checkpoint_complete(id)?;
                    continue;
                }
                next = gate.next() => next?,
                _ = sleep_or_forever(timer_wait) => {
                    self.fire_processing_timers().await?;
                    continue;
                }
            };
            let Some((channel, message)) = next else {
                break;
            };
            match message {
                Message::Data(batch) => {
                    SubtaskMetrics::add(&metrics.records_in, batch.num_rows() as u64);
                    SubtaskMetrics::add(&metrics.bytes_in, batch.get_array_memory_size() as u64);
                    let input = channel_inputs.get(channel).copied().unwrap_or(0);
                    let out = self.chain.process_batch(input, batch)?;
                    self.emit(out).await?;
                }
                Message::Watermark(w) => {
                    let outputs = valve.input_watermark(channel, w).into_iter().collect();
                    self.apply_valve_outputs(outputs).await?;
                }
                Message::WatermarkStatus(status) => {
                    let outputs = valve.input_status(channel, status);
                    self.apply_valve_outputs(outputs).await?;
                }
                Message::Barrier(barrier) => {
                    if self.checkpointing.is_none() {
                        // Not checkpointing (eddy run): barriers pass through.
                        self.broadcast(Message::Barrier(barrier)).await?;
                        continue;
                    }
                    match aligner.on_barrier(channel, barrier, gate.open_channels()) {
                        Alignment::Block { abandoned } => {
                            if abandoned {
                                gate.unblock_all();
                            }
                            if !self.checkpointing.as_ref().is_some_and(|c| c.at_least_once) {
                                gate.block(channel);
                            }
                        }
                        Alignment::Complete { barrier, alignment } => {
                            self.checkpoint(barrier, None, alignment).await?;
                            gate.unblock_all();
                        }
                        Alignment::Ignore => {}
                    }
                }
                Message::EndOfStream => {
                    let outputs = valve
                        .input_watermark(channel, MAX_WATERMARK)
                        .into_iter()
                        .collect();
                    self.apply_valve_outputs(outputs).await?;
                    if let Alignment::Complete { barrier, alignment } =
                        aligner.on_channel_finished(channel, gate.open_channels())
                    {
                        self.checkpoint(barrier, None, alignment).await?;
                        gate.unblock_all();
                    }
                }
            }
        }
        Ok(())
    }

    /// Copies the state for `barrier`'s checkpoint, hands it to the checkpoint writer
    /// and forwards the barrier. A state that cannot be taken declines the checkpoint;
    /// the task goes on.
    async fn checkpoint(
        &mut self,
        barrier: CheckpointBarrier,
        position: Option<std::result::Result<Vec<u8>, String>>,
        alignment: Duration,
    ) -> Result<()> {
        let started = Instant::now();
        let operators = self
            .chain
            .snapshot_state(&barrier)
            .map_err(|e| e.to_string());
        let state = match (position.transpose(), operators) {
            (Ok(position), Ok(operators)) => Ok(encode_snapshot(position, operators)),
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
        if let Some(cp) = &self.checkpointing {
            let snapshot = cp.snapshot(barrier, state, alignment, started.elapsed());
            if cp.snapshots.send(snapshot).await.is_err() {
                tracing::warn!(task = %self.name, checkpoint_id = barrier.checkpoint_id, "the checkpoint writer is gone");
            }
        }
        self.broadcast(Message::Barrier(barrier)).await
    }

    async fn broadcast(&mut self, message: Message) -> Result<()> {
        for w in &mut self.writers {
            w.broadcast(message.clone()).await?;
        }
        Ok(())
    }

    async fn fire_processing_timers(&mut self) -> Result<()> {
        let now = self.now();
        if self
            .chain
            .next_processing_time_timer()
            .is_some_and(|t| t <= now)
        {
            let out = self.chain.on_processing_time(now)?;
            self.emit(out).await?;
        }
        Ok(())
    }

    async fn apply_valve_outputs(&mut self, outputs: Vec<ValveOutput>) -> Result<()> {
        for output in outputs {
            match output {
                ValveOutput::Watermark(w) => self.advance_watermark(w).await?,
                ValveOutput::Status(status) => self.broadcast_status(status).await?,
            }
        }
        Ok(())
    }

    /// The task's input watermark advanced (Flink's `currentInputWatermark`, which is
    /// what the `current_watermark` metric shows).
    async fn advance_watermark(&mut self, watermark: Timestamp) -> Result<()> {
        self.metrics()
            .current_watermark
            .store(watermark, Ordering::Relaxed);
        let out = self.chain.process_watermark(watermark)?;
        self.emit(out).await
    }

    async fn broadcast_status(&mut self, status: WatermarkStatus) -> Result<()> {
        for w in &mut self.writers {
            w.broadcast(Message::WatermarkStatus(status)).await?;
        }
        Ok(())
    }

    /// Sends what the chain's tail emitted to every outgoing edge.
    async fn emit(&mut self, out: ChainOutput) -> Result<()> {
        let metrics = self.metrics();
        for item in out {
            match item {
                Emit::Batch(batch) => {
                    SubtaskMetrics::add(&metrics.records_out, batch.num_rows() as u64);
                    SubtaskMetrics::add(&metrics.bytes_out, batch.get_array_memory_size() as u64);
                    if let Some((last, rest)) = self.writers.split_last_mut() {
                        for w in rest {
                            w.emit(batch.clone()).await?;
                        }
                        last.emit(batch).await?;
                    }
                }
                Emit::Watermark(w) => {
                    if w > self.output_watermark {
                        self.output_watermark = w;
                        for writer in &mut self.writers {
                            writer.broadcast(Message::Watermark(w)).await?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// A source reader's position for a checkpoint, or why it has none.
fn source_position(reader: &dyn SourceReader) -> std::result::Result<Vec<u8>, String> {
    reader.snapshot_position().map_err(|e| e.to_string())
}

/// The next item of an optional queue (pending forever without one).
async fn next_in<T>(queue: &mut Option<tokio::sync::mpsc::Receiver<T>>) -> Option<T> {
    match queue {
        Some(q) => q.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_or_forever(wait: Option<Duration>) {
    match wait {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}
