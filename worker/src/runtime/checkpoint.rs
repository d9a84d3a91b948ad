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
/// Magic bytes at the start of every snapshot file.
pub const SNAPSHOT_MAGIC: &[u8; 8] = b"EDDYSNP1";

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
    pub triggers: Option<mpsc::Receiver<CheckpointBarrier>>,
    pub snapshots: mpsc::Sender<SubtaskSnapshot>,
    /// Ids of completed checkpoints (for two-phase-commit sinks).
    pub completions: Option<mpsc::Receiver<u64>>,
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

/// A subtask's snapshot as bytes: the magic, then sections `(kind, index, length,
/// bytes)` — kind 0 the source position, kind 1 an operator's state (`index` its place
/// in the chain). Empty when there is nothing to store.
pub fn encode_snapshot(position: Option<Vec<u8>>, operators: Vec<Option<Vec<u8>>>) -> Vec<u8> {
    let sections: Vec<(u8, u32, Vec<u8>)> = position
        .map(|p| (0u8, 0u32, p))
        .into_iter()
        .chain(
            operators
                .into_iter()
                .enumerate()
                .filter_map(|(i, s)| s.map(|s| (1u8, i as u32, s))),
        )
        .collect();
    if sections.is_empty() {
        return Vec::new();
    }
    let mut out = SNAPSHOT_MAGIC.to_vec();
    out.extend_from_slice(&(sections.len() as u32).to_le_bytes());
    for (kind, index, bytes) in sections {
        out.push(kind);
        out.extend_from_slice(&index.to_le_bytes());
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(&bytes);
    }
    out
}

/// The sections of an encoded snapshot: (kind, index, bytes).
pub fn decode_snapshot(bytes: &[u8]) -> Result<Vec<(u8, u32, Vec<u8>)>, String> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let rest = bytes
        .strip_prefix(SNAPSHOT_MAGIC.as_slice())
        .ok_or("not an Eddy snapshot")?;
    let take = |rest: &mut &[u8], n: usize| -> Result<Vec<u8>, String> {
        if rest.len() < n {
            return Err("snapshot truncated".into());
        }
        let (head, tail) = rest.split_at(n);
        *rest = tail;
        Ok(head.to_vec())
    };
    let mut rest = rest;
    let count = u32::from_le_bytes(take(&mut rest, 4)?.try_into().map_err(|_| "count")?);
    let mut sections = Vec::new();
    for _ in 0..count {
        let kind = take(&mut rest, 1)?[0];
        let index = u32::from_le_bytes(take(&mut rest, 4)?.try_into().map_err(|_| "index")?);
        let len = u64::from_le_bytes(take(&mut rest, 8)?.try_into().map_err(|_| "length")?);
        let len = usize::try_from(len).map_err(|_| "section too large")?;
        sections.push((kind, index, take(&mut rest, len)?));
    }
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn barrier(id: u64) -> CheckpointBarrier {
        CheckpointBarrier {
            checkpoint_id: id,
            timestamp_ms: 0,
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

    #[test]
    fn snapshots_round_trip() {
        assert!(encode_snapshot(None, vec![None, None]).is_empty());
        let bytes = encode_snapshot(Some(b"pos".to_vec()), vec![None, Some(b"state".to_vec())]);
        assert_eq!(
            decode_snapshot(&bytes).unwrap(),
            vec![(0, 0, b"pos".to_vec()), (1, 1, b"state".to_vec())]
        );
        assert!(decode_snapshot(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode_snapshot(b"garbage").is_err());
    }
}
