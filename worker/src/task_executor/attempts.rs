//! The job attempts a worker runs: their local subtasks (execution state, metrics,
//! slot), the handle that cancels them, and the subtask reports heartbeats carry.
//! An attempt is forgotten once all its subtasks ended and the master heard of it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use eddy_api::rpc::{SubtaskMetricsReport, SubtaskReport};
use tokio::sync::{mpsc, watch};

use crate::runtime::checkpoint::SourceTrigger;

use crate::runtime::metrics::SubtaskMetrics;

/// Attempts one worker holds at once (explicit limit).
pub const MAX_ATTEMPTS: usize = 1024;

/// Flink's execution states a worker reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExecutionState {
    Deploying = 0,
    Running = 1,
    Finished = 2,
    Canceled = 3,
    Failed = 4,
}

impl ExecutionState {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionState::Deploying => "DEPLOYING",
            ExecutionState::Running => "RUNNING",
            ExecutionState::Finished => "FINISHED",
            ExecutionState::Canceled => "CANCELED",
            ExecutionState::Failed => "FAILED",
        }
    }

    fn from_u8(v: u8) -> ExecutionState {
        match v {
            0 => ExecutionState::Deploying,
            1 => ExecutionState::Running,
            2 => ExecutionState::Finished,
            3 => ExecutionState::Canceled,
            _ => ExecutionState::Failed,
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ExecutionState::Finished | ExecutionState::Canceled | ExecutionState::Failed
        )
    }
}

/// One local subtask of an attempt.
#[derive(Debug)]
pub struct LocalSubtask {
    pub vertex: u32,
    pub index: u32,
    pub metrics: Arc<SubtaskMetrics>,
    state: AtomicU8,
}

impl LocalSubtask {
    pub fn new(vertex: u32, index: u32, metrics: Arc<SubtaskMetrics>) -> LocalSubtask {
        LocalSubtask {
            vertex,
            index,
            metrics,
            state: AtomicU8::new(ExecutionState::Running as u8),
        }
    }

    pub fn state(&self) -> ExecutionState {
        ExecutionState::from_u8(self.state.load(Ordering::Relaxed))
    }

    pub fn set_state(&self, s: ExecutionState) {
        self.state.store(s as u8, Ordering::Relaxed);
    }

    pub fn metrics_report(&self) -> SubtaskMetricsReport {
        let m = self.metrics.snapshot();
        SubtaskMetricsReport {
            records_in: m.records_in,
            records_out: m.records_out,
            bytes_in: m.bytes_in,
            bytes_out: m.bytes_out,
            current_watermark: m.current_watermark.unwrap_or(i64::MIN),
            busy_ratio: m.busy_ratio,
            backpressured_ratio: m.backpressure_ratio,
            late_records_dropped: m.late_records_dropped,
            parse_errors_skipped: m.parse_errors_skipped,
            sink_records: m.sink_records,
        }
    }
}

/// One attempt of a job on this worker.
#[derive(Debug)]
pub struct Attempt {
    pub job_id: String,
    pub attempt: u32,
    pub subtasks: Vec<Arc<LocalSubtask>>,
    pub cancel: watch::Sender<bool>,
    /// Checkpoint barrier queues of the local source subtasks.
    pub triggers: Vec<((usize, u32), mpsc::Sender<SourceTrigger>)>,
    /// Checkpoint-complete queues of the local subtasks (two-phase-commit sinks commit).
    pub completions: Vec<mpsc::Sender<u64>>,
}

#[derive(Debug, thiserror::Error)]
#[error("this worker already runs {MAX_ATTEMPTS} job attempts")]
pub struct TooManyAttempts;

/// The attempts of this worker, keyed by (job id, attempt).
#[derive(Debug, Default)]
pub struct Attempts {
    attempts: Mutex<HashMap<(String, u32), Arc<Attempt>>>,
}

impl Attempts {
    fn lock(&self) -> MutexGuard<'_, HashMap<(String, u32), Arc<Attempt>>> {
        self.attempts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn insert(&self, attempt: Arc<Attempt>) -> Result<(), TooManyAttempts> {
        let mut map = self.lock();
        if map.len() >= MAX_ATTEMPTS {
            return Err(TooManyAttempts);
        }
        map.insert((attempt.job_id.clone(), attempt.attempt), attempt);
        Ok(())
    }

    pub fn remove(&self, job_id: &str, attempt: u32) {
        self.lock().remove(&(job_id.to_string(), attempt));
    }

    /// Cancels the attempts of `job_id` up to and including `attempt`; returns how many.
    pub fn cancel_up_to(&self, job_id: &str, attempt: u32) -> usize {
        let map = self.lock();
        let mut n = 0;
        for a in map.values() {
            if a.job_id == job_id && a.attempt <= attempt {
                let _ = a.cancel.send(true);
                n += 1;
            }
        }
        n
    }

    pub fn get(&self, job_id: &str, attempt: u32) -> Option<Arc<Attempt>> {
        self.lock().get(&(job_id.to_string(), attempt)).cloned()
    }

    /// Every subtask of every attempt, with its state and metrics (for heartbeats).
    pub fn reports(&self) -> Vec<SubtaskReport> {
        let map = self.lock();
        let mut reports = Vec::new();
        for a in map.values() {
            for s in &a.subtasks {
                reports.push(SubtaskReport {
                    job_id: a.job_id.clone(),
                    attempt: a.attempt,
                    vertex: s.vertex,
                    index: s.index,
                    status: s.state().as_str().to_string(),
                    metrics: Some(s.metrics_report()),
                });
            }
        }
        reports
    }
}
