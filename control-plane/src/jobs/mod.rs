//! Jobs on the master (Flink's Dispatcher): submission (SQL planned by the injected
//! planner, stored with its graph), one [`job_master::JobMaster`] task per live job,
//! the scheduler's slot reservations, and the views the REST API serves. Workers report
//! subtask states through [`JobManager::on_task_state`] and heartbeats.
//!
//! Invariants: a slot is reserved for at most one job attempt at a time (the pool);
//! every status change is written to the store (with the Raft term) and published as
//! a `job_status_changed` event; jobs not terminal when a master starts are recovered
//! with a new attempt.

mod checkpoint_stats;
pub mod checkpoints;
mod gateway;
pub mod job_master;
pub mod restart;
pub mod savepoints;
pub mod scheduler;
mod shared_files;
pub mod state;
pub mod state_browser;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use eddy_api::error::ErrorBody;
use eddy_api::jobs::{
    CancelJobResponse, JobDetails, JobException, JobStatus, JobSummary, StatusChange,
    SubmitJobRequest, state_backend_name,
};
use eddy_api::rest::{Event, JobGraphInfo, WorkerState};
use eddy_api::rpc::{JobAttempt, SubtaskReport, TaskExecutionState};
use tokio::sync::{broadcast, mpsc};

use crate::raft::RaftNode;
use crate::registry::{WorkerRegistry, now_ms};
use crate::sql::{MAX_SQL_BYTES, SqlPlanner};
use crate::store::{JobRow, Store, StoreError};
use checkpoints::CheckpointConfig;
use gateway::WorkerGateway;
pub use job_master::JobCommand;
use job_master::{JOB_COMMAND_QUEUE, JobMaster};
use restart::{RestartStrategy, RestartTracker};
use state::{JobOptions, JobState, exec};

/// Highest parallelism a job may ask for.
pub const MAX_PARALLELISM: u32 = 1024;
/// Jobs kept in memory (live ones and the newest ended ones).
pub const MAX_LIVE_JOBS: usize = 1000;
/// Longest job name accepted.
pub const MAX_NAME_CHARS: usize = 256;
/// Shortest checkpoint interval (Flink's minimum).
pub const MIN_CHECKPOINT_INTERVAL_MS: u64 = 10;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("this master has no SQL planner")]
    NoPlanner,
    #[error("{}", .0.message)]
    InvalidSql(ErrorBody),
    #[error("{0}")]
    BadRequest(String),
    /// The job's state does not allow the request (409).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored job {id} is unreadable: {reason}")]
    Corrupt { id: String, reason: String },
}

/// A job's state, shared by its job master and the API.
#[derive(Debug)]
pub struct JobCell(Mutex<JobState>);

impl JobCell {
    pub fn lock(&self) -> MutexGuard<'_, JobState> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub(crate) type SharedJob = Arc<JobCell>;

/// Slot reservations: (worker id, slot index) → (job id, attempt).
type SlotPool = HashMap<(String, u32), (String, u32)>;

struct JobEntry {
    job: SharedJob,
    /// The job master's queue while it runs.
    commands: Option<mpsc::Sender<JobCommand>>,
}

/// What the job masters share.
pub(crate) struct Shared {
    store: Store,
    raft: RaftNode,
    registry: Arc<WorkerRegistry>,
    events: broadcast::Sender<Event>,
    gateway: WorkerGateway,
    pool: Mutex<SlotPool>,
    jobs: Mutex<HashMap<String, JobEntry>>,
    /// Where checkpoints are stored (an absolute directory every worker reaches, or an
    /// object store URL).
    checkpoint_root: String,
    savepoints: savepoints::SavepointOperations,
}

impl Shared {
    fn lock_pool(&self) -> MutexGuard<'_, SlotPool> {
        self.pool
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_jobs(&self) -> MutexGuard<'_, HashMap<String, JobEntry>> {
        self.jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn senders(&self) -> Vec<mpsc::Sender<JobCommand>> {
        self.lock_jobs()
            .values()
            .filter_map(|e| e.commands.clone())
            .collect()
    }

    /// Nudges every job waiting for slots.
    fn slots_maybe_free(&self) {
        for tx in self.senders() {
            let _ = tx.try_send(JobCommand::SlotsMaybeFree);
        }
    }

    /// Moves a job to `status`: in the store, then in memory (so a reader that sees the
    /// status finds it in the status history too), and as an event.
    async fn set_status(&self, job: &SharedJob, status: JobStatus, detail: &str) {
        let (id, attempt, at) = {
            let j = job.lock();
            (j.id.clone(), j.attempt, now_ms())
        };
        tracing::info!(job_id = %id, attempt, %status, detail, "job status");
        let term = self.raft.term();
        if let Err(e) = self
            .store
            .set_job_status(term, &id, status.as_str(), at, detail, attempt)
            .await
        {
            tracing::error!(job_id = %id, error = %e, "cannot record the job's status");
        }
        {
            let mut j = job.lock();
            j.status = status;
            j.reason = (!detail.is_empty()).then(|| detail.to_string());
            if status.is_terminal() {
                j.end_time = Some(at);
            }
        }
        let _ = self.events.send(Event::JobStatusChanged {
            job_id: id,
            status,
            attempt,
        });
    }
}

/// The master's jobs; see the module doc.
#[derive(Clone)]
pub struct JobManager {
    shared: Arc<Shared>,
    planner: Option<Arc<dyn SqlPlanner>>,
}

impl JobManager {
    pub fn new(
        store: Store,
        raft: RaftNode,
        registry: Arc<WorkerRegistry>,
        events: broadcast::Sender<Event>,
        planner: Option<Arc<dyn SqlPlanner>>,
        checkpoint_root: String,
    ) -> JobManager {
        JobManager {
            shared: Arc::new(Shared {
                store,
                raft,
                registry,
                events,
                gateway: WorkerGateway::default(),
                pool: Mutex::new(HashMap::new()),
                jobs: Mutex::new(HashMap::new()),
                checkpoint_root,
                savepoints: Default::default(),
            }),
            planner,
        }
    }

    /// Plans, stores and starts a job.
    pub async fn submit(&self, request: SubmitJobRequest) -> Result<JobDetails, JobError> {
        let planner = self.planner.clone().ok_or(JobError::NoPlanner)?;
        let (options, strategy, parallelism) = validate(&request)?;
        if let Some(path) = &request.savepoint_path {
            savepoints::check_savepoint(path).await?;
        }
        let planned = planner
            .validate(request.sql.clone(), parallelism)
            .await
            .map_err(JobError::InvalidSql)?;
        let graph = planned.graph;
        let mut options = options;
        options.settings = planned.settings;
        if request.state_backend.is_none() {
            options.state_backend = effective_state_backend(&options.settings)?.to_string();
        }
        CheckpointConfig::from_settings(
            options.checkpoint_interval_ms,
            &options.settings,
            self.shared.checkpoint_root.clone(),
        )
        .map_err(JobError::BadRequest)?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let name = request
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| default_name(&graph, &id));
        let graph_json =
            serde_json::to_string(&graph).map_err(|e| JobError::BadRequest(e.to_string()))?;
        let options_json =
            serde_json::to_string(&options).map_err(|e| JobError::BadRequest(e.to_string()))?;
        let row = JobRow {
            id: id.clone(),
            name: name.clone(),
            sql: request.sql.clone(),
            parallelism,
            status: JobStatus::Created.as_str().into(),
            attempt: 1,
            graph_json,
            options_json,
            start_time_ms: now_ms(),
            end_time_ms: None,
        };
        self.shared
            .store
            .insert_job(self.shared.raft.term(), &row)
            .await?;
        tracing::info!(job_id = %id, %name, parallelism, "job submitted");
        let state = JobState::new(
            id.clone(),
            name,
            request.sql,
            parallelism,
            options,
            graph,
            JobStatus::Created,
            1,
            strategy.describe(),
            row.start_time_ms,
            None,
        );
        let _ = self.shared.events.send(Event::JobStatusChanged {
            job_id: id.clone(),
            status: JobStatus::Created,
            attempt: 1,
        });
        let job = self.spawn(state, strategy);
        let details = job.lock().details(
            vec![StatusChange {
                status: JobStatus::Created,
                at: row.start_time_ms,
                detail: String::new(),
            }],
            Vec::new(),
        );
        Ok(details)
    }

    /// Starts the job master of `state`.
    fn spawn(&self, state: JobState, strategy: RestartStrategy) -> SharedJob {
        let id = state.id.clone();
        let job: SharedJob = Arc::new(JobCell(Mutex::new(state)));
        let (tx, rx) = mpsc::channel(JOB_COMMAND_QUEUE);
        {
            let mut jobs = self.shared.lock_jobs();
            evict_ended(&mut jobs);
            jobs.insert(
                id,
                JobEntry {
                    job: job.clone(),
                    commands: Some(tx),
                },
            );
        }
        let checkpoints = {
            let j = job.lock();
            let config = CheckpointConfig::from_settings(
                j.options.checkpoint_interval_ms,
                &j.options.settings,
                self.shared.checkpoint_root.clone(),
            )
            .unwrap_or_else(|e| {
                tracing::warn!(job_id = %j.id, error = %e, "checkpointing disabled: invalid configuration");
                None
            })
            .unwrap_or_else(|| CheckpointConfig::savepoints_only(self.shared.checkpoint_root.clone()));
            Some(checkpoints::CheckpointCoordinator::new(config))
        };
        let master = JobMaster {
            job: job.clone(),
            shared: self.shared.clone(),
            commands: rx,
            restart: RestartTracker::new(strategy),
            cancel_requested: false,
            checkpoints,
        };
        tokio::spawn(master.run());
        job
    }

    /// Restarts the jobs a previous master left unfinished (a new attempt each).
    pub async fn recover(&self) -> Result<usize, JobError> {
        let rows = self.shared.store.unfinished_jobs().await?;
        let count = rows.len();
        for row in rows {
            let mut state = state_from_row(&row)?;
            let strategy = RestartStrategy::from_spec(state.options.restart_strategy.as_ref())
                .unwrap_or_else(|_| RestartStrategy::default_strategy());
            state.attempt = row.attempt + 1;
            tracing::info!(job_id = %row.id, attempt = state.attempt, "recovering job");
            let job = self.spawn(state, strategy);
            self.shared
                .set_status(
                    &job,
                    JobStatus::Restarting,
                    "recovered after a master restart",
                )
                .await;
        }
        Ok(count)
    }

    pub async fn list(&self) -> Result<Vec<JobSummary>, JobError> {
        let rows = self.shared.store.jobs().await?;
        let live: HashMap<String, JobSummary> = self
            .shared
            .lock_jobs()
            .iter()
            .map(|(id, e)| (id.clone(), e.job.lock().summary()))
            .collect();
        rows.iter()
            .map(|row| match live.get(&row.id) {
                Some(s) => Ok(s.clone()),
                None => Ok(state_from_row(row)?.summary()),
            })
            .collect()
    }

    pub async fn details(&self, id: &str) -> Result<Option<JobDetails>, JobError> {
        let live = self.shared.lock_jobs().get(id).map(|e| e.job.clone());
        let state = match live {
            Some(job) => job.lock().clone(),
            None => match self.shared.store.job(id).await? {
                Some(row) => state_from_row(&row)?,
                None => return Ok(None),
            },
        };
        let history = self
            .shared
            .store
            .job_history(id)
            .await?
            .into_iter()
            .filter_map(|c| {
                Some(StatusChange {
                    status: JobStatus::parse(&c.status)?,
                    at: c.at_ms,
                    detail: c.detail,
                })
            })
            .collect();
        let exceptions = self
            .shared
            .store
            .job_exceptions(id)
            .await?
            .into_iter()
            .map(|e| JobException {
                at: e.at_ms,
                attempt: e.attempt,
                message: e.message,
                worker_id: e.worker_id,
                vertex: e.vertex,
                subtask: e.subtask,
                task: e.task,
            })
            .collect();
        Ok(Some(state.details(history, exceptions)))
    }

    /// A job's checkpoint statistics; `None` if there is no such job.
    pub async fn checkpoints(
        &self,
        id: &str,
    ) -> Result<Option<eddy_api::checkpoints::CheckpointsResponse>, JobError> {
        if self.shared.store.job(id).await?.is_none() {
            return Ok(None);
        }
        let rows = self.shared.store.checkpoints(id).await?;
        let restored = self
            .shared
            .store
            .job_history(id)
            .await?
            .iter()
            .filter(|c| c.detail.starts_with(job_master::RESTORED_FROM))
            .count() as u64;
        Ok(Some(checkpoint_stats::overview(&rows, restored)))
    }

    /// One checkpoint of a job by vertex and subtask; `None` if either is unknown.
    pub async fn checkpoint(
        &self,
        id: &str,
        checkpoint_id: u64,
    ) -> Result<Option<eddy_api::checkpoints::CheckpointDetails>, JobError> {
        let Some(job) = self.shared.store.job(id).await? else {
            return Ok(None);
        };
        let Some(row) = self.shared.store.checkpoint(id, checkpoint_id).await? else {
            return Ok(None);
        };
        let graph = state_from_row(&job)?.graph;
        let subtasks = self
            .shared
            .store
            .checkpoint_subtasks(id, checkpoint_id)
            .await?;
        Ok(Some(checkpoint_stats::details(&row, &graph, &subtasks)))
    }

    /// Asks a job to cancel; `None` if there is no such job.
    pub async fn cancel(&self, id: &str) -> Result<Option<CancelJobResponse>, JobError> {
        let live = self
            .shared
            .lock_jobs()
            .get(id)
            .map(|e| (e.job.clone(), e.commands.clone()));
        let (status, commands) = match live {
            Some((job, commands)) => (job.lock().status, commands),
            None => match self.shared.store.job(id).await? {
                Some(row) => (
                    JobStatus::parse(&row.status).unwrap_or(JobStatus::Failed),
                    None,
                ),
                None => return Ok(None),
            },
        };
        if status.is_terminal() {
            return Ok(Some(CancelJobResponse {
                id: id.into(),
                status,
            }));
        }
        if let Some(tx) = commands {
            let _ = tx.send(JobCommand::Cancel).await;
        }
        Ok(Some(CancelJobResponse {
            id: id.into(),
            status: JobStatus::Cancelling,
        }))
    }

    /// Jobs in RUNNING now.
    pub fn running_count(&self) -> u32 {
        self.shared
            .lock_jobs()
            .values()
            .filter(|e| e.job.lock().status == JobStatus::Running)
            .count() as u32
    }

    /// A worker's report of one subtask's state; false if the master does not want that
    /// attempt (the worker cancels it).
    pub fn on_task_state(&self, s: TaskExecutionState) -> bool {
        let report = SubtaskReport {
            job_id: s.job_id.clone(),
            attempt: s.attempt,
            vertex: s.vertex,
            index: s.index,
            status: s.status.clone(),
            metrics: s.metrics,
        };
        self.apply_report(&s.worker_id, &report, s.error)
    }

    /// A subtask's checkpoint acknowledgement or decline, for its job master.
    pub fn on_checkpoint(&self, job_id: &str, command: JobCommand) {
        let tx = self
            .shared
            .lock_jobs()
            .get(job_id)
            .and_then(|e| e.commands.clone());
        if let Some(tx) = tx {
            let _ = tx.try_send(command);
        }
    }

    /// Applies the subtask reports of a heartbeat; returns the attempts to cancel.
    pub fn on_heartbeat(&self, worker_id: &str, reports: &[SubtaskReport]) -> Vec<JobAttempt> {
        let mut cancel: Vec<JobAttempt> = Vec::new();
        let mut updated: Vec<&str> = Vec::new();
        for r in reports {
            if !updated.contains(&r.job_id.as_str()) {
                updated.push(&r.job_id);
            }
            if !self.apply_report(worker_id, r, String::new())
                && !exec::is_terminal(&r.status)
                && !cancel
                    .iter()
                    .any(|c| c.job_id == r.job_id && c.attempt == r.attempt)
            {
                cancel.push(JobAttempt {
                    job_id: r.job_id.clone(),
                    attempt: r.attempt,
                });
            }
        }
        for job_id in updated {
            let _ = self.shared.events.send(Event::JobMetrics {
                job_id: job_id.to_string(),
            });
        }
        cancel
    }

    /// Records a report and forwards status changes to the job master. False when the
    /// report's attempt is not one the master runs.
    fn apply_report(&self, worker_id: &str, r: &SubtaskReport, error: String) -> bool {
        let entry = self
            .shared
            .lock_jobs()
            .get(&r.job_id)
            .map(|e| (e.job.clone(), e.commands.clone()));
        let Some((job, commands)) = entry else {
            return false;
        };
        let wanted = {
            let mut j = job.lock();
            if j.attempt != r.attempt {
                return false;
            }
            j.update_subtask(
                r.vertex,
                r.index,
                "",
                r.metrics.as_ref(),
                std::time::Instant::now(),
            );
            // A restarted (or rescaled) attempt is deployed while the job is still
            // RESTARTING: its placed, open subtasks are wanted then too.
            let open = j
                .subtasks
                .get(&(r.vertex, r.index))
                .is_some_and(|s| !exec::is_terminal(&s.status));
            match j.status {
                JobStatus::Running | JobStatus::Scheduled | JobStatus::Created => true,
                JobStatus::Restarting => open,
                _ => false,
            }
        };
        if let Some(tx) = commands {
            let _ = tx.try_send(JobCommand::TaskState {
                worker_id: worker_id.to_string(),
                attempt: r.attempt,
                vertex: r.vertex,
                index: r.index,
                status: r.status.clone(),
                error,
            });
        }
        wanted
    }

    /// Follows the cluster's events: lost workers fail the attempts on them, new
    /// workers wake jobs waiting for slots. Runs until the event stream closes.
    pub async fn run_events(self) {
        let mut events = self.shared.events.subscribe();
        loop {
            match events.recv().await {
                Ok(Event::WorkerLost { worker_id }) => self.worker_lost(&worker_id).await,
                Ok(Event::WorkerRegistered { .. }) => self.shared.slots_maybe_free(),
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    for w in self.shared.registry.workers() {
                        if w.state == WorkerState::Lost {
                            self.worker_lost(&w.id).await;
                        }
                    }
                    self.shared.slots_maybe_free();
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    async fn worker_lost(&self, worker_id: &str) {
        self.shared.lock_pool().retain(|(w, _), _| w != worker_id);
        for tx in self.shared.senders() {
            let _ = tx.send(JobCommand::WorkerLost(worker_id.to_string())).await;
        }
    }
}

/// Checks a request; returns its options, restart strategy and parallelism.
fn validate(r: &SubmitJobRequest) -> Result<(JobOptions, RestartStrategy, u32), JobError> {
    let bad = |m: String| Err(JobError::BadRequest(m));
    if r.sql.trim().is_empty() {
        return bad("sql must not be empty".into());
    }
    if r.sql.len() > MAX_SQL_BYTES {
        return bad(format!("SQL longer than {MAX_SQL_BYTES} bytes"));
    }
    if r.name
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_NAME_CHARS)
    {
        return bad(format!("name longer than {MAX_NAME_CHARS} characters"));
    }
    let parallelism = r.parallelism.unwrap_or(1);
    if !(1..=MAX_PARALLELISM).contains(&parallelism) {
        return bad(format!("parallelism must be 1..={MAX_PARALLELISM}"));
    }
    if r.checkpoint_interval_ms
        .is_some_and(|ms| ms < MIN_CHECKPOINT_INTERVAL_MS)
    {
        return bad(format!(
            "checkpoint_interval_ms must be at least {MIN_CHECKPOINT_INTERVAL_MS}"
        ));
    }
    // Without one in the request the script's SET decides (see `effective_state_backend`).
    let state_backend = match &r.state_backend {
        Some(name) => state_backend_name(name)
            .map_err(|e| JobError::BadRequest(format!("state_backend: {e}")))?,
        None => "hashmap",
    }
    .to_string();
    let strategy =
        RestartStrategy::from_spec(r.restart_strategy.as_ref()).map_err(JobError::BadRequest)?;
    let options = JobOptions {
        checkpoint_interval_ms: r.checkpoint_interval_ms,
        state_backend,
        restart_strategy: r.restart_strategy.clone(),
        settings: Default::default(),
        savepoint_path: r.savepoint_path.clone(),
    };
    Ok((options, strategy, parallelism))
}

/// The state backend a script's `SET` chooses (Flink's `state.backend.type`, or
/// Flink 1.x's `state.backend`), `hashmap` without one; for a request without
/// `state_backend`.
fn effective_state_backend(
    settings: &std::collections::BTreeMap<String, String>,
) -> Result<&'static str, JobError> {
    eddy_api::jobs::settings_state_backend(settings).map_err(JobError::BadRequest)
}

/// Flink's default name of a SQL job: `insert-into_` and its sink tables.
fn default_name(graph: &JobGraphInfo, id: &str) -> String {
    let sinks: Vec<&str> = graph
        .vertices
        .iter()
        .flat_map(|v| v.operators.iter())
        .filter_map(|op| op.strip_prefix("Sink: "))
        .collect();
    if sinks.is_empty() {
        format!("job-{}", &id[..8.min(id.len())])
    } else {
        format!("insert-into_{}", sinks.join(","))
    }
}

/// A job as stored (after a master restart, or one no longer in memory).
fn state_from_row(row: &JobRow) -> Result<JobState, JobError> {
    let corrupt = |reason: String| JobError::Corrupt {
        id: row.id.clone(),
        reason,
    };
    let graph: JobGraphInfo =
        serde_json::from_str(&row.graph_json).map_err(|e| corrupt(e.to_string()))?;
    let options: JobOptions =
        serde_json::from_str(&row.options_json).map_err(|e| corrupt(e.to_string()))?;
    let status = JobStatus::parse(&row.status)
        .ok_or_else(|| corrupt(format!("unknown status {}", row.status)))?;
    let strategy = RestartStrategy::from_spec(options.restart_strategy.as_ref())
        .map(|s| s.describe())
        .unwrap_or_default();
    let mut state = JobState::new(
        row.id.clone(),
        row.name.clone(),
        row.sql.clone(),
        row.parallelism,
        options,
        graph,
        status,
        row.attempt,
        strategy,
        row.start_time_ms,
        row.end_time_ms,
    );
    if status.is_terminal() {
        state.end_open_subtasks(match status {
            JobStatus::Finished => exec::FINISHED,
            JobStatus::Failed => exec::FAILED,
            _ => exec::CANCELED,
        });
    }
    Ok(state)
}

/// Drops the oldest ended jobs from memory beyond [`MAX_LIVE_JOBS`] (they stay in
/// the store).
fn evict_ended(jobs: &mut HashMap<String, JobEntry>) {
    if jobs.len() < MAX_LIVE_JOBS {
        return;
    }
    let mut ended: Vec<(u64, String)> = jobs
        .iter()
        .filter_map(|(id, e)| {
            let j = e.job.lock();
            j.status
                .is_terminal()
                .then(|| (j.end_time.unwrap_or(0), id.clone()))
        })
        .collect();
    ended.sort();
    let excess = jobs.len() + 1 - MAX_LIVE_JOBS;
    for (_, id) in ended.into_iter().take(excess) {
        jobs.remove(&id);
    }
}
