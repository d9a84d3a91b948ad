//! One job's lifecycle (Flink's JobMaster + scheduler for one job): wait for slots in
//! SCHEDULED, deploy the attempt to the workers, watch its subtasks while RUNNING,
//! and on a failure (a task failed, a worker was lost) cancel what is left (FAILING),
//! then restart after the restart strategy's pause (RESTARTING) or fail the job.
//! Runs as one tokio task fed by a bounded command queue.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eddy_api::jobs::JobStatus;
use eddy_api::rpc::{
    CheckpointAck, CheckpointDecline, DeployJobRequest, SubtaskAssignment, VertexSpec,
};
use tokio::sync::mpsc;

use super::checkpoints::{self, CheckpointCoordinator};
use super::restart::RestartTracker;
use super::savepoints::{Rescale, SavepointTrigger};
use super::scheduler::{self, Assignment, WorkerSlots};
use super::state::exec;
use super::{Shared, SharedJob};
use crate::registry::now_ms;
use crate::store::JobExceptionRow;

/// Commands one job's queue holds at most (heartbeat-driven updates beyond it are
/// dropped; the next heartbeat repeats them).
pub const JOB_COMMAND_QUEUE: usize = 1024;
/// How often a SCHEDULED job looks for slots even without a slot event.
pub const SCHEDULE_RETRY: Duration = Duration::from_secs(2);
/// How long FAILING / CANCELLING waits for the workers to confirm their subtasks ended.
/// How the detail of a RUNNING status that restored a checkpoint or savepoint starts
/// (counted as `restored`).
pub const RESTORED_FROM: &str = "restored from";
pub const CANCEL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub enum JobCommand {
    /// A subtask of `attempt` changed execution state.
    TaskState {
        worker_id: String,
        attempt: u32,
        vertex: u32,
        index: u32,
        status: String,
        error: String,
    },
    WorkerLost(String),
    /// Slots may have become free (a worker joined, a job ended).
    SlotsMaybeFree,
    Cancel,
    CheckpointAck(CheckpointAck),
    CheckpointDecline(CheckpointDecline),
    /// Take a savepoint (and stop, if it says so).
    TriggerSavepoint(SavepointTrigger),
}

/// How an attempt ended.
enum Outcome {
    Finished,
    Cancelled,
    /// A stop-with-savepoint completed (the savepoint's directory; a rescale's plan).
    Stopped(String, Option<Rescale>),
    Failed(JobExceptionRow),
}

pub struct JobMaster {
    pub(super) job: SharedJob,
    pub(super) shared: Arc<Shared>,
    pub(super) commands: mpsc::Receiver<JobCommand>,
    pub(super) restart: RestartTracker,
    /// A cancel arrived while the job was failing: do not restart.
    pub(super) cancel_requested: bool,
    /// Present when the job checkpoints.
    pub(super) checkpoints: Option<CheckpointCoordinator>,
}

impl JobMaster {
    fn id(&self) -> String {
        self.job.lock().id.clone()
    }

    fn attempt(&self) -> u32 {
        self.job.lock().attempt
    }

    pub async fn run(mut self) {
        let id = self.id();
        if let Some(c) = self.checkpoints.as_mut() {
            c.recover_retained(&self.shared, &id).await;
        }
        loop {
            let Some(assignments) = self.schedule().await else {
                self.finish(JobStatus::Canceled, "canceled while waiting for slots")
                    .await;
                break;
            };
            let outcome = self.run_attempt(assignments).await;
            if let Some(c) = self.checkpoints.as_mut() {
                c.abort_all(&self.shared, "the job attempt ended").await;
            }
            match outcome {
                Outcome::Finished => {
                    self.release();
                    let detail = self
                        .checkpoints
                        .as_mut()
                        .and_then(|c| c.take_drained())
                        .map(|s| format!("stopped with savepoint {s} (drained)"))
                        .unwrap_or_default();
                    self.finish(JobStatus::Finished, &detail).await;
                    break;
                }
                Outcome::Stopped(savepoint, rescale) => {
                    // Stop without drain: what ran after the savepoint's barrier is not
                    // committed; a job resumed from the savepoint redoes it.
                    self.cancel_and_wait().await;
                    self.release();
                    let Some(rescale) = rescale else {
                        let detail = format!("stopped with savepoint {savepoint}");
                        self.finish(JobStatus::Finished, &detail).await;
                        break;
                    };
                    if self.cancel_requested {
                        self.finish(JobStatus::Canceled, "").await;
                        break;
                    }
                    self.apply_rescale(rescale, &savepoint).await;
                }
                Outcome::Cancelled => {
                    self.set_status(JobStatus::Cancelling, "canceled by the user")
                        .await;
                    self.cancel_and_wait().await;
                    self.release();
                    self.finish(JobStatus::Canceled, "").await;
                    break;
                }
                Outcome::Failed(exception) => {
                    let message = exception.message.clone();
                    tracing::warn!(job_id = %id, attempt = exception.attempt, error = %message, "attempt failed");
                    self.record_exception(&exception).await;
                    self.set_status(JobStatus::Failing, &message).await;
                    self.cancel_and_wait().await;
                    self.release();
                    if self.cancel_requested {
                        self.finish(JobStatus::Canceled, "").await;
                        break;
                    }
                    let Some(pause) = self.restart.on_failure(Instant::now(), rand_unit()) else {
                        self.finish(JobStatus::Failed, &message).await;
                        break;
                    };
                    self.set_status(
                        JobStatus::Restarting,
                        &format!("restarting in {} ms after: {message}", pause.as_millis()),
                    )
                    .await;
                    if !self.pause(pause).await {
                        self.finish(JobStatus::Canceled, "canceled while restarting")
                            .await;
                        break;
                    }
                    {
                        let mut job = self.job.lock();
                        job.attempt += 1;
                        job.restarts += 1;
                        job.reset_subtasks();
                    }
                }
            }
        }
        tracing::info!(job_id = %id, "job master stopped");
    }

    /// Waits until the job's slots can be assigned; `None` if it was cancelled.
    async fn schedule(&mut self) -> Option<Vec<Assignment>> {
        let mut last_reason = None;
        loop {
            let graph = self.job.lock().graph.clone();
            let (id, attempt) = (self.id(), self.attempt());
            let result = {
                let mut pool = self.shared.lock_pool();
                let free = free_slots(&self.shared, &pool);
                let result = scheduler::assign(&graph, &free);
                if let Ok(assignments) = &result {
                    for a in assignments {
                        pool.insert(
                            (a.slot.worker_id.clone(), a.slot.slot_index),
                            (id.clone(), attempt),
                        );
                    }
                }
                result
            };
            match result {
                Ok(assignments) => {
                    self.job.lock().place(&assignments);
                    return Some(assignments);
                }
                Err(shortage) => {
                    let reason = shortage.to_string();
                    if last_reason.as_ref() != Some(&reason) {
                        tracing::info!(job_id = %id, %reason, "job waits for slots");
                        self.set_status(JobStatus::Scheduled, &reason).await;
                        last_reason = Some(reason);
                    }
                }
            }
            match tokio::time::timeout(SCHEDULE_RETRY, self.commands.recv()).await {
                Ok(Some(JobCommand::Cancel)) | Ok(None) => return None,
                Ok(Some(other)) => self.refuse(other),
                Err(_) => {}
            }
        }
    }

    /// Deploys the attempt and watches it until it ends.
    async fn run_attempt(&mut self, assignments: Vec<Assignment>) -> Outcome {
        let (request, workers) = self.deploy_request(&assignments);
        let attempt = request.attempt;
        // Every subtask finished while a savepoint was pending (stop with drain).
        let mut finishing = false;
        let running_detail = match (request.restore_path.as_str(), request.restore_checkpoint_id) {
            ("", _) => String::new(),
            (path, 0) => format!("{RESTORED_FROM} savepoint {path}"),
            (_, id) => format!("{RESTORED_FROM} checkpoint {id}"),
        };
        let deployments = workers.iter().map(|(worker_id, address)| {
            let request = request.clone();
            let shared = self.shared.clone();
            async move {
                shared
                    .gateway
                    .deploy(address, request)
                    .await
                    .map_err(|e| (worker_id.clone(), e))
            }
        });
        for result in futures::future::join_all(deployments).await {
            if let Err((worker_id, error)) = result {
                return Outcome::Failed(self.exception(
                    format!("deploying to worker {worker_id} failed: {error}"),
                    Some(worker_id),
                    None,
                ));
            }
        }
        self.job.lock().mark_running();
        self.set_status(JobStatus::Running, &running_detail).await;
        let mut tick = tokio::time::interval(
            self.checkpoints
                .as_ref()
                .map_or(Duration::from_secs(3600), |c| c.tick_period()),
        );
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let command = tokio::select! {
                command = self.commands.recv() => command,
                _ = tick.tick(), if self.checkpoints.is_some() => {
                    if let Some(failure) = self.checkpoint_tick().await {
                        return Outcome::Failed(self.exception(failure, None, None));
                    }
                    if finishing && !self.checkpoints.as_ref().is_some_and(|c| c.savepoint_pending()) {
                        // The drained savepoint expired: the job finished all the same.
                        return Outcome::Finished;
                    }
                    continue;
                }
            };
            let Some(command) = command else {
                return Outcome::Cancelled;
            };
            match command {
                JobCommand::CheckpointAck(ack) if ack.attempt == attempt => {
                    if let Some(c) = self.checkpoints.as_mut() {
                        c.on_ack(&self.shared, ack).await;
                        if let Some((savepoint, rescale)) = c.take_stop() {
                            return Outcome::Stopped(savepoint, rescale);
                        }
                        if finishing && !c.savepoint_pending() {
                            return Outcome::Finished;
                        }
                    }
                }
                JobCommand::TriggerSavepoint(trigger) => {
                    let job = self.job.lock().clone();
                    match self.checkpoints.as_mut() {
                        Some(c) => c.trigger_savepoint(&self.shared, &job, trigger).await,
                        None => self.refuse(JobCommand::TriggerSavepoint(trigger)),
                    }
                }
                JobCommand::CheckpointDecline(decline) if decline.attempt == attempt => {
                    if let Some(c) = self.checkpoints.as_mut()
                        && let Err(failure) = c.on_decline(&self.shared, decline).await
                    {
                        return Outcome::Failed(self.exception(failure, None, None));
                    }
                }
                JobCommand::CheckpointAck(_) | JobCommand::CheckpointDecline(_) => {}
                JobCommand::Cancel => return Outcome::Cancelled,
                JobCommand::SlotsMaybeFree => {}
                JobCommand::WorkerLost(worker_id) => {
                    if !self.job.lock().open_on(&worker_id).is_empty() {
                        return Outcome::Failed(self.exception(
                            format!("worker {worker_id} lost (no heartbeat within the timeout)"),
                            Some(worker_id),
                            None,
                        ));
                    }
                }
                JobCommand::TaskState {
                    worker_id,
                    attempt: a,
                    vertex,
                    index,
                    status,
                    error,
                } if a == attempt => {
                    self.job
                        .lock()
                        .update_subtask(vertex, index, &status, None, Instant::now());
                    if status == exec::FAILED {
                        let message = if error.is_empty() {
                            "task failed".to_string()
                        } else {
                            error
                        };
                        return Outcome::Failed(self.exception(
                            message,
                            Some(worker_id),
                            Some((vertex, index)),
                        ));
                    }
                    if self.job.lock().all_subtasks(exec::FINISHED) {
                        // A drained stop's last acknowledgements may still be on their
                        // way: its savepoint completes (or expires) first.
                        if self
                            .checkpoints
                            .as_ref()
                            .is_some_and(|c| c.savepoint_pending())
                        {
                            finishing = true;
                            continue;
                        }
                        return Outcome::Finished;
                    }
                }
                JobCommand::TaskState { .. } => {}
            }
        }
    }

    /// Runs the coordinator's tick; a message when checkpoint failures fail the attempt.
    async fn checkpoint_tick(&mut self) -> Option<String> {
        let job = self.job.lock().clone();
        let c = self.checkpoints.as_mut()?;
        c.tick(&self.shared, &job).await.err()
    }

    fn deploy_request(
        &self,
        assignments: &[Assignment],
    ) -> (DeployJobRequest, BTreeMap<String, String>) {
        let job = self.job.lock();
        let mut workers = BTreeMap::new();
        for a in assignments {
            workers.insert(a.slot.worker_id.clone(), a.slot.address.clone());
        }
        // With checkpointing, every attempt starts from the latest completed checkpoint
        // (Flink's restore on restart); the first one starts from scratch.
        let restore = self
            .shared
            .raft
            .latest_checkpoint(&job.id)
            .map(|c| (c.path, c.checkpoint_id))
            .or_else(|| job.options.savepoint_path.clone().map(|p| (p, 0)));
        let mut options = std::collections::HashMap::new();
        options.insert(
            "state.backend.type".to_string(),
            job.options.state_backend.clone(),
        );
        if let Some(c) = &self.checkpoints {
            if c.config.periodic {
                options.insert(
                    checkpoints::INTERVAL.to_string(),
                    format!("{} ms", c.config.interval.as_millis()),
                );
            }
            if c.config.at_least_once {
                options.insert(checkpoints::MODE.to_string(), "AT_LEAST_ONCE".into());
            }
            options.insert("state.checkpoints.dir".to_string(), c.config.root.clone());
        }
        let request = DeployJobRequest {
            job_id: job.id.clone(),
            attempt: job.attempt,
            job_name: job.name.clone(),
            sql: job.sql.clone(),
            parallelism: job.parallelism,
            vertices: job
                .graph
                .vertices
                .iter()
                .map(|v| VertexSpec {
                    id: v.id,
                    name: v.name.clone(),
                    parallelism: v.parallelism,
                })
                .collect(),
            assignments: assignments
                .iter()
                .map(|a| SubtaskAssignment {
                    vertex: a.vertex,
                    index: a.index,
                    worker_id: a.slot.worker_id.clone(),
                    worker_address: a.slot.address.clone(),
                    slot_index: a.slot.slot_index,
                })
                .collect(),
            options,
            restore_path: restore.as_ref().map_or(String::new(), |c| c.0.clone()),
            restore_checkpoint_id: restore.map_or(0, |c| c.1),
        };
        (request, workers)
    }

    /// Asks every worker with open subtasks to cancel them and waits until all ended,
    /// their worker was lost, or [`CANCEL_TIMEOUT`] passed.
    async fn cancel_and_wait(&mut self) {
        let (id, attempt, workers) = {
            let job = self.job.lock();
            let mut workers = BTreeMap::new();
            for s in job.subtasks.values() {
                if let Some(slot) = &s.slot
                    && !exec::is_terminal(&s.status)
                {
                    workers.insert(slot.worker_id.clone(), slot.address.clone());
                }
            }
            (job.id.clone(), job.attempt, workers)
        };
        let active = self.shared.registry.active_workers();
        for (worker_id, address) in &workers {
            if !active.iter().any(|w| &w.0 == worker_id) {
                self.job.lock().end_on(worker_id, exec::FAILED);
                continue;
            }
            if let Err(e) = self.shared.gateway.cancel(address, &id, attempt).await {
                tracing::warn!(job_id = %id, attempt, %worker_id, error = %e, "cancel request failed");
            }
        }
        let deadline = tokio::time::Instant::now() + CANCEL_TIMEOUT;
        while !self.job.lock().all_terminal() {
            let command = match tokio::time::timeout_at(deadline, self.commands.recv()).await {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(_) => {
                    tracing::warn!(job_id = %id, attempt, "subtasks did not confirm cancellation in time");
                    break;
                }
            };
            match command {
                JobCommand::TaskState {
                    attempt: a,
                    vertex,
                    index,
                    status,
                    ..
                } if a == attempt => {
                    self.job
                        .lock()
                        .update_subtask(vertex, index, &status, None, Instant::now());
                }
                JobCommand::WorkerLost(worker_id) => {
                    self.job.lock().end_on(&worker_id, exec::FAILED)
                }
                JobCommand::Cancel => self.cancel_requested = true,
                other => self.refuse(other),
            }
        }
        self.job.lock().end_open_subtasks(exec::CANCELED);
    }

    /// Sleeps out a restart pause; false if cancelled meanwhile.
    async fn pause(&mut self, pause: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + pause;
        loop {
            match tokio::time::timeout_at(deadline, self.commands.recv()).await {
                Err(_) => return true,
                Ok(Some(JobCommand::Cancel)) | Ok(None) => return false,
                Ok(Some(other)) => self.refuse(other),
            }
        }
    }

    /// Replaces the job's plan with a rescaled one and makes the next attempt start
    /// from `savepoint` (the latest completed checkpoint, which restores take).
    async fn apply_rescale(&mut self, rescale: Rescale, savepoint: &str) {
        let (id, graph_json, options_json) = {
            let mut job = self.job.lock();
            job.parallelism = rescale.parallelism;
            job.graph = rescale.graph;
            job.options.savepoint_path = Some(savepoint.to_string());
            job.attempt += 1;
            job.reset_subtasks();
            (
                job.id.clone(),
                serde_json::to_string(&job.graph).unwrap_or_default(),
                serde_json::to_string(&job.options).unwrap_or_default(),
            )
        };
        if let Err(e) = self
            .shared
            .store
            .update_job_plan(
                self.shared.raft.term(),
                &id,
                rescale.parallelism,
                &graph_json,
                &options_json,
            )
            .await
        {
            tracing::error!(job_id = %id, error = %e, "cannot record the rescaled plan");
        }
        tracing::info!(job_id = %id, parallelism = rescale.parallelism, %savepoint, "rescaling");
        let detail = format!(
            "rescaling to parallelism {} from savepoint {savepoint}",
            rescale.parallelism
        );
        self.set_status(JobStatus::Restarting, &detail).await;
    }

    /// A command the job cannot act on now: a savepoint request fails with the reason.
    fn refuse(&self, command: JobCommand) {
        if let JobCommand::TriggerSavepoint(t) = command {
            let job = self.job.lock();
            let reason = format!("the job is {}, not RUNNING", job.status.as_str());
            self.shared.savepoints.fail(&job.id, &t.trigger_id, &reason);
        }
    }

    fn exception(
        &self,
        message: String,
        worker_id: Option<String>,
        subtask: Option<(u32, u32)>,
    ) -> JobExceptionRow {
        let job = self.job.lock();
        JobExceptionRow {
            attempt: job.attempt,
            at_ms: now_ms(),
            message,
            worker_id,
            vertex: subtask.map(|s| s.0),
            subtask: subtask.map(|s| s.1),
            task: subtask.map(|(v, i)| job.task_name(v, i)),
        }
    }

    async fn record_exception(&self, exception: &JobExceptionRow) {
        let id = self.id();
        if let Err(e) = self
            .shared
            .store
            .insert_job_exception(self.shared.raft.term(), &id, exception)
            .await
        {
            tracing::error!(job_id = %id, error = %e, "cannot record the job's exception");
        }
    }

    /// Frees the master's reservations of this job's slots and wakes waiting jobs.
    fn release(&self) {
        let id = self.id();
        self.shared.lock_pool().retain(|_, (job, _)| *job != id);
        self.shared.slots_maybe_free();
    }

    async fn set_status(&self, status: JobStatus, detail: &str) {
        self.shared.set_status(&self.job, status, detail).await;
    }

    async fn finish(&self, status: JobStatus, detail: &str) {
        self.job.lock().end_open_subtasks(exec::CANCELED);
        self.set_status(status, detail).await;
    }
}

/// Free slots of the active workers, minus those the master reserved for jobs.
fn free_slots(
    shared: &Shared,
    pool: &std::collections::HashMap<(String, u32), (String, u32)>,
) -> Vec<WorkerSlots> {
    shared
        .registry
        .active_workers()
        .into_iter()
        .map(|(worker_id, address, slots)| WorkerSlots {
            free: (0..slots)
                .filter(|i| !pool.contains_key(&(worker_id.clone(), *i)))
                .collect(),
            worker_id,
            address,
        })
        .collect()
}

/// A number in 0..1 for the restart jitter (no cryptographic needs).
fn rand_unit() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    f64::from(nanos % 1_000_000) / 1_000_000.0
}
