//! A task's part in checkpoints (Flink's asynchronous barrier snapshotting): source
//! tasks get triggers and inject barriers; multi-input tasks align barriers (block each
//! input channel once its barrier arrived, until all did — exactly-once); each task
//! copies its state synchronously (source position, operator states) and hands the
//! copy to the worker's checkpoint writer, which stores and acknowledges it while the
//! task goes on processing.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::message::CheckpointBarrier;

/// Snapshots queued for one worker's checkpoint writer (explicit limit; a full queue
/// makes the task wait, which is back pressure on checkpointing).
pub const SNAPSHOT_QUEUE: usize = 64;
/// Triggers queued for one source task.
pub const TRIGGER_QUEUE: usize = 16;
/// Checkpoint completions queued for one task.
pub const COMPLETION_QUEUE: usize = 16;
pub use eddy_api::snapshot::SNAPSHOT_MAGIC;

/// What one subtask contributes to a checkpoint.
#[derive(Debug)]
pub struct SubtaskSnapshot {
    pub barrier: CheckpointBarrier,
    pub vertex: u32,
    pub index: u32,
    pub key_groups: (u32, u32),
    /// The encoded state ([`encode_snapshot`]), empty when stateless; or why the task
    /// could not take it (the checkpoint is declined).
    pub state: Result<Vec<u8>, String>,
    /// Trigger time to the barrier reaching this task.
    pub start_delay: Duration,
    pub alignment: Duration,
    /// Copying the state.
    pub sync: Duration,
}

/// How a task takes part in checkpoints (none in `eddy run`).
pub struct TaskCheckpointing {
    pub vertex: u32,
    pub index: u32,
    pub key_groups: (u32, u32),
    /// Source tasks: barriers to inject.
    pub triggers: Option<mpsc::Receiver<SourceTrigger>>,
    pub snapshots: mpsc::Sender<SubtaskSnapshot>,
    /// Ids of completed checkpoints (for two-phase-commit sinks).
    pub completions: Option<mpsc::Receiver<u64>>,
    /// AT_LEAST_ONCE: barriers are not aligned (no channel is blocked; the snapshot is
    /// taken when the last channel's barrier arrived, as Flink's barrier tracker).
    pub at_least_once: bool,
}

impl TaskCheckpointing {
    pub fn snapshot(
        &self,
        barrier: CheckpointBarrier,
        state: Result<Vec<u8>, String>,
        alignment: Duration,
        sync: Duration,
    ) -> SubtaskSnapshot {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        SubtaskSnapshot {
            barrier,
            vertex: self.vertex,
            index: self.index,
            key_groups: self.key_groups,
            state,
            start_delay: Duration::from_millis((now_ms - barrier.timestamp_ms).max(0) as u64)
                .saturating_sub(alignment + sync),
            alignment,
            sync,
        }
    }
}

/// A barrier for a source task to inject; `end_input`: the source ends right after it
/// (stop with a savepoint and drain: the job finishes at the savepoint's positions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceTrigger {
    pub barrier: CheckpointBarrier,
    pub end_input: bool,
}

/// Barrier alignment of one multi-input task (Flink's `SingleCheckpointBarrierHandler`
/// in aligned mode).
#[derive(Debug, Default)]
pub struct BarrierAligner {
    pending: Option<(CheckpointBarrier, Instant, BTreeSet<usize>)>,
}

/// What a barrier on a channel means for the task.
#[derive(Debug, PartialEq, Eq)]
pub enum Alignment {
    /// Block this channel and wait for the others; `abandoned`: an older checkpoint's
    /// alignment was given up first (unblock every channel before blocking this one).
    Block { abandoned: bool },
    /// Every open channel delivered it: snapshot, forward, unblock all.
    Complete {
        barrier: CheckpointBarrier,
        alignment: Duration,
    },
    /// An older checkpoint's barrier (it was abandoned): ignore.
    Ignore,
}

impl BarrierAligner {
    /// A barrier arrived on `channel`; `open_channels` are those not yet finished.
    pub fn on_barrier(
        &mut self,
        channel: usize,
        barrier: CheckpointBarrier,
        open_channels: usize,
    ) -> Alignment {
        let abandoned = match &mut self.pending {
            Some((b, _, _)) if barrier.checkpoint_id < b.checkpoint_id => return Alignment::Ignore,
            Some((b, _, seen)) if barrier.checkpoint_id == b.checkpoint_id => {
                seen.insert(channel);
                false
            }
            older => {
                // A newer checkpoint: an unfinished older alignment is abandoned.
                let abandoned = older.is_some();
                self.pending = Some((barrier, Instant::now(), BTreeSet::from([channel])));
                abandoned
            }
        };
        match self.check(open_channels) {
            Alignment::Block { .. } => Alignment::Block { abandoned },
            other => other,
        }
    }

    /// A channel finished: it no longer holds an alignment back.
    pub fn on_channel_finished(&mut self, channel: usize, open_channels: usize) -> Alignment {
        if let Some((_, _, seen)) = &mut self.pending {
            seen.remove(&channel);
        }
        self.check(open_channels)
    }

    fn check(&mut self, open_channels: usize) -> Alignment {
        match &self.pending {
            Some((_, _, seen)) if seen.len() >= open_channels => {
                let (barrier, started, _) = self.pending.take().expect("checked above");
                Alignment::Complete {
                    barrier,
                    alignment: started.elapsed(),
                }
            }
            Some(_) => Alignment::Block { abandoned: false },
            None => Alignment::Ignore,
        }
    }
}

pub use eddy_api::snapshot::{decode_snapshot, encode_snapshot};

#[cfg(test)]
mod tests {
    use super::*;

    fn barrier(id: u64) -> CheckpointBarrier {
        CheckpointBarrier {
            checkpoint_id: id,
            timestamp_ms: 0,
            savepoint: false,
        }
    }

    #[test]
    fn aligns_once_every_open_channel_delivered_the_barrier() {
        let mut a = BarrierAligner::default();
        let block = Alignment::Block { abandoned: false };
        assert_eq!(a.on_barrier(0, barrier(1), 3), block);
        assert_eq!(a.on_barrier(2, barrier(1), 3), block);
        assert!(
            matches!(a.on_barrier(1, barrier(1), 3), Alignment::Complete { barrier: b, .. } if b.checkpoint_id == 1)
        );
        // A finished channel no longer holds an alignment back.
        assert_eq!(a.on_barrier(0, barrier(2), 3), block);
        assert_eq!(a.on_channel_finished(1, 2), block);
        assert!(matches!(
            a.on_barrier(2, barrier(2), 2),
            Alignment::Complete { .. }
        ));
        // A newer barrier abandons an older alignment; the older one's stragglers are ignored.
        assert_eq!(a.on_barrier(0, barrier(3), 2), block);
        assert_eq!(
            a.on_barrier(1, barrier(4), 2),
            Alignment::Block { abandoned: true }
        );
        assert_eq!(a.on_barrier(0, barrier(3), 2), Alignment::Ignore);
        assert!(matches!(
            a.on_barrier(0, barrier(4), 2),
            Alignment::Complete { .. }
        ));
    }
}
