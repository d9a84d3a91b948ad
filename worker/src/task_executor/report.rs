//! Watching a deployed attempt and telling the master (Flink's
//! `updateTaskExecutionState`): each subtask's end — FINISHED, CANCELED or FAILED with
//! the error — as it happens. The first real failure cancels the attempt's other local
//! subtasks; an exchange sender's failure is charged to the subtasks it cut off.

use std::time::Duration;

use eddy_api::rpc::job_master_client::JobMasterClient;
use eddy_api::rpc::{CheckpointAck, CheckpointDecline, TaskExecutionState};
use tonic::transport::Channel;

use super::attempts::{Attempt, ExecutionState};
use crate::runtime::error::RuntimeError;
use crate::runtime::executor::{RunningJob, is_secondary};

/// Tries to deliver one state change (then heartbeats carry it).
pub const REPORT_ATTEMPTS: u32 = 5;
pub const REPORT_BACKOFF_INITIAL: Duration = Duration::from_millis(100);
pub const REPORT_BACKOFF_MAX: Duration = Duration::from_secs(2);

/// The master's `JobMaster` service, as this worker reaches it.
#[derive(Clone)]
pub struct MasterReporter {
    pub worker_id: String,
    pub client: JobMasterClient<Channel>,
}

impl MasterReporter {
    /// Sends a state change, retrying a few times; returns false if the master answered
    /// that it does not want this attempt any more.
    pub async fn report(&self, state: TaskExecutionState) -> bool {
        let mut backoff = REPORT_BACKOFF_INITIAL;
        for attempt in 1..=REPORT_ATTEMPTS {
            match self
                .client
                .clone()
                .update_task_execution_state(state.clone())
                .await
            {
                Ok(answer) => return answer.into_inner().known,
                Err(status) => {
                    tracing::warn!(
                        job_id = %state.job_id, attempt = state.attempt, vertex = state.vertex,
                        subtask = state.index, error = %status.message(), try_ = attempt,
                        "reporting a task state failed"
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(REPORT_BACKOFF_MAX);
                }
            }
        }
        true
    }
}

impl MasterReporter {
    /// Acknowledges a subtask's checkpoint (once; a lost acknowledgement lets the
    /// checkpoint expire, as in Flink).
    pub async fn acknowledge(&self, ack: CheckpointAck) {
        if let Err(s) = self
            .client
            .clone()
            .acknowledge_checkpoint(ack.clone())
            .await
        {
            tracing::warn!(job_id = %ack.job_id, checkpoint_id = ack.checkpoint_id, error = %s.message(), "acknowledging a checkpoint failed");
        }
    }

    pub async fn decline(&self, decline: CheckpointDecline) {
        if let Err(s) = self
            .client
            .clone()
            .decline_checkpoint(decline.clone())
            .await
        {
            tracing::warn!(job_id = %decline.job_id, checkpoint_id = decline.checkpoint_id, error = %s.message(), "declining a checkpoint failed");
        }
    }
}

/// Waits for every task of `job`, recording and reporting each subtask's end — all
/// but the last subtask's, which it returns: the master counts the attempt's slots free
/// when it learns that every subtask ended (and may deploy the next job onto them right
/// away), so the caller frees them first and then reports it.
pub async fn watch_attempt(
    reporter: &MasterReporter,
    attempt: &Attempt,
    job: &mut RunningJob,
) -> Option<TaskExecutionState> {
    let mut running = attempt.subtasks.len();
    let mut last = None;
    // The error of a failed exchange sender, charged to the next subtask that fails
    // or is cancelled because of it.
    let mut exchange_error: Option<String> = None;
    while let Some((task, result)) = job.join_next().await {
        let Some(vertex) = task.vertex else {
            if let Err(e) = result
                && !matches!(e, RuntimeError::Cancelled)
            {
                tracing::warn!(job_id = %attempt.job_id, attempt = attempt.attempt, task = %task.name, error = %e, "exchange failed");
                exchange_error.get_or_insert_with(|| format!("{}: {e}", task.name));
                job.cancel();
            }
            continue;
        };
        let (state, error) = match result {
            Ok(()) => (ExecutionState::Finished, String::new()),
            Err(e) if is_secondary(&e) && exchange_error.is_some() => (
                ExecutionState::Failed,
                exchange_error.take().unwrap_or_default(),
            ),
            Err(RuntimeError::Cancelled) => (ExecutionState::Canceled, String::new()),
            Err(e) => {
                job.cancel();
                (ExecutionState::Failed, format!("{}: {e}", task.name))
            }
        };
        let Some(subtask) = attempt
            .subtasks
            .iter()
            .find(|s| s.vertex == vertex as u32 && s.index == task.index)
        else {
            continue;
        };
        subtask.set_state(state);
        tracing::info!(
            job_id = %attempt.job_id, attempt = attempt.attempt, task = %task.name,
            state = state.as_str(), error = %error, "subtask ended"
        );
        let end = TaskExecutionState {
            worker_id: reporter.worker_id.clone(),
            job_id: attempt.job_id.clone(),
            attempt: attempt.attempt,
            vertex: subtask.vertex,
            index: subtask.index,
            status: state.as_str().to_string(),
            error,
            metrics: Some(subtask.metrics_report()),
        };
        running = running.saturating_sub(1);
        if running == 0 {
            last = Some(end);
        } else if !reporter.report(end).await {
            job.cancel();
        }
    }
    last
}
