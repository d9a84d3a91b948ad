//! JSON bodies of the jobs part of the REST API (`/api/v1/jobs…`). Field names are a
//! contract (acceptance tests, the CLI, the dashboard): add fields, never rename.

use serde::{Deserialize, Serialize};

use crate::rest::EdgeInfo;

/// A job's status, with Flink's names (`JobStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    /// Accepted and stored; not yet scheduled.
    Created,
    /// Waiting for slots (the job's `reason` says what is missing).
    Scheduled,
    Running,
    /// An attempt failed; its remaining subtasks are being cancelled.
    Failing,
    /// Waiting out the restart strategy's delay before the next attempt.
    Restarting,
    Cancelling,
    Canceled,
    Finished,
    Failed,
}

impl JobStatus {
    pub const ALL: [JobStatus; 9] = [
        JobStatus::Created,
        JobStatus::Scheduled,
        JobStatus::Running,
        JobStatus::Failing,
        JobStatus::Restarting,
        JobStatus::Cancelling,
        JobStatus::Canceled,
        JobStatus::Finished,
        JobStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Created => "CREATED",
            JobStatus::Scheduled => "SCHEDULED",
            JobStatus::Running => "RUNNING",
            JobStatus::Failing => "FAILING",
            JobStatus::Restarting => "RESTARTING",
            JobStatus::Cancelling => "CANCELLING",
            JobStatus::Canceled => "CANCELED",
            JobStatus::Finished => "FINISHED",
            JobStatus::Failed => "FAILED",
        }
    }

    /// Parses Flink's name (as stored in the database).
    pub fn parse(s: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|j| j.as_str() == s)
    }

    /// FINISHED, FAILED and CANCELED: the job will not run again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Finished | JobStatus::Failed | JobStatus::Canceled
        )
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Body of `POST /api/v1/jobs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubmitJobRequest {
    /// A Flink SQL script: CREATE TABLE/VIEW, SET, one or more INSERT INTO (one job).
    pub sql: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Default parallelism of every operator (default 1).
    #[serde(default)]
    pub parallelism: Option<u32>,
    /// Checkpoint interval (`execution.checkpointing.interval`); none = no checkpoints.
    #[serde(default)]
    pub checkpoint_interval_ms: Option<u64>,
    /// "hashmap" or "rocksdb"; without it the script's `SET 'state.backend.type'`
    /// (or Flink 1.x's `'state.backend'`) decides, else "hashmap".
    #[serde(default)]
    pub state_backend: Option<String>,
    /// "none", "fixed-delay" or "exponential-delay" (default), or an object with "type"
    /// and that strategy's settings.
    #[serde(default)]
    pub restart_strategy: Option<RestartStrategySpec>,
    /// Start from this savepoint (or retained checkpoint) directory: its source
    /// positions and state, redistributed by key group.
    #[serde(default)]
    pub savepoint_path: Option<String>,
}

/// A restart strategy as given in a job request: a name (Flink's defaults) or settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum RestartStrategySpec {
    Name(String),
    Config(RestartStrategyConfig),
}

/// Settings of a restart strategy (Flink's `restart-strategy.*` options); unset fields
/// take Flink's defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RestartStrategyConfig {
    /// "none" (also "disable", "off", "no-restart"), "fixed-delay" or "exponential-delay".
    #[serde(rename = "type")]
    pub kind: String,
    /// fixed-delay: restarts before the job fails (default 1). exponential-delay: default
    /// unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// fixed-delay: pause before each restart (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// exponential-delay: first pause (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_backoff_ms: Option<u64>,
    /// exponential-delay: longest pause (default 60000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_backoff_ms: Option<u64>,
    /// exponential-delay: growth of the pause per restart (default 1.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_multiplier: Option<f64>,
    /// exponential-delay: after running this long without failure the pause starts over
    /// (default 3600000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_backoff_threshold_ms: Option<u64>,
    /// exponential-delay: random spread of each pause, 0..=1 (default 0.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_factor: Option<f64>,
}

/// One job in `GET /api/v1/jobs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobSummary {
    pub id: String,
    pub name: String,
    pub status: JobStatus,
    /// Unix epoch milliseconds of the submission.
    pub start_time: u64,
    /// Unix epoch milliseconds the job reached FINISHED, FAILED or CANCELED.
    pub end_time: Option<u64>,
    pub parallelism: u32,
    /// 1 for the first run, +1 per restart.
    pub attempt: u32,
}

/// `GET /api/v1/jobs`: newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobsResponse {
    pub jobs: Vec<JobSummary>,
}

/// Counters of a subtask, or of a vertex (summed over its subtasks; the watermark is the
/// minimum and the ratios the maximum, as Flink's web UI shows them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskMetrics {
    pub records_in: u64,
    pub records_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub records_in_per_second: f64,
    pub records_out_per_second: f64,
    /// The input watermark (epoch ms); none before the first one.
    pub current_watermark: Option<i64>,
    /// Share of time spent processing, 0..=1.
    pub busy_ratio: f64,
    /// Share of time spent waiting for room downstream, 0..=1.
    pub backpressured_ratio: f64,
    pub late_records_dropped: u64,
    pub parse_errors_skipped: u64,
    /// Rows written by the sinks in this task.
    pub sink_records: u64,
}

/// One subtask of a vertex and where it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubtaskDetails {
    pub index: u32,
    pub worker_id: Option<String>,
    pub slot_index: Option<u32>,
    /// Flink's execution states: CREATED, SCHEDULED, DEPLOYING, RUNNING, FINISHED,
    /// CANCELING, CANCELED, FAILED.
    pub status: String,
    pub metrics: TaskMetrics,
}

/// One vertex (a chain of operators) of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VertexDetails {
    pub id: u32,
    pub name: String,
    pub parallelism: u32,
    pub slot_sharing_group: String,
    /// The operators of the chain, head first.
    pub operators: Vec<String>,
    pub metrics: TaskMetrics,
    pub subtasks: Vec<SubtaskDetails>,
}

/// A failure of one attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobException {
    /// Unix epoch milliseconds.
    pub at: u64,
    pub attempt: u32,
    pub message: String,
    pub worker_id: Option<String>,
    /// Vertex id and subtask index of the failed task, when one task failed.
    pub vertex: Option<u32>,
    pub subtask: Option<u32>,
    /// The failed task's name, e.g. `Source: bids (2/3)`.
    pub task: Option<String>,
}

/// One entry of a job's status history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusChange {
    pub status: JobStatus,
    /// Unix epoch milliseconds.
    pub at: u64,
    /// Why, e.g. the reason a job waits in SCHEDULED or a failure's message.
    pub detail: String,
}

/// `GET /api/v1/jobs/{id}` (also the answer of `POST /api/v1/jobs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobDetails {
    pub id: String,
    pub name: String,
    pub status: JobStatus,
    /// Why the job is in its status (e.g. what slots a SCHEDULED job waits for).
    pub reason: Option<String>,
    pub attempt: u32,
    pub sql: String,
    pub parallelism: u32,
    pub start_time: u64,
    pub end_time: Option<u64>,
    pub checkpoint_interval_ms: Option<u64>,
    pub state_backend: String,
    /// The restart strategy in effect, e.g. `fixed-delay (attempts 3, delay 1000 ms)`.
    pub restart_strategy: String,
    /// Restarts so far.
    pub restarts: u32,
    pub vertices: Vec<VertexDetails>,
    pub edges: Vec<EdgeInfo>,
    /// Newest last, at most a bounded number.
    pub exceptions: Vec<JobException>,
    pub status_history: Vec<StatusChange>,
}

/// Answer of `POST /api/v1/jobs/{id}/cancel`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CancelJobResponse {
    pub id: String,
    pub status: JobStatus,
}

/// Flink's options naming a job's state backend, in order of precedence:
/// `state.backend.type` (Flink ≥ 1.15) and Flink 1.x's `state.backend`.
pub const STATE_BACKEND_OPTIONS: [&str; 2] = ["state.backend.type", "state.backend"];

/// Eddy's name (`hashmap` or `rocksdb`) of a state backend as Flink spells it, any
/// case: `hashmap`, `rocksdb`, and Flink's older heap backends `jobmanager`,
/// `memory` and `filesystem` (all `hashmap`).
pub fn state_backend_name(value: &str) -> Result<&'static str, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "hashmap" | "jobmanager" | "memory" | "filesystem" => Ok("hashmap"),
        "rocksdb" => Ok("rocksdb"),
        other => Err(format!(
            "'{other}' is not a state backend: use hashmap or rocksdb"
        )),
    }
}

/// The state backend a script's settings (its `SET`s) choose by
/// [`STATE_BACKEND_OPTIONS`], `hashmap` without one; the error names the option.
pub fn settings_state_backend(
    settings: &std::collections::BTreeMap<String, String>,
) -> Result<&'static str, String> {
    match STATE_BACKEND_OPTIONS
        .iter()
        .find_map(|o| settings.get(*o).map(|v| (o, v)))
    {
        Some((option, value)) => {
            state_backend_name(value).map_err(|e| format!("SET '{option}': {e}"))
        }
        None => Ok("hashmap"),
    }
}

#[cfg(test)]
mod state_backend_tests {
    use super::*;

    #[test]
    fn state_backend_names_as_flink_spells_them() {
        assert_eq!(state_backend_name("RocksDB"), Ok("rocksdb"));
        assert_eq!(state_backend_name(" hashmap "), Ok("hashmap"));
        assert_eq!(state_backend_name("filesystem"), Ok("hashmap"));
        assert_eq!(state_backend_name("jobmanager"), Ok("hashmap"));
        assert!(state_backend_name("forst").is_err());
        assert!(state_backend_name("").is_err());
    }
}
