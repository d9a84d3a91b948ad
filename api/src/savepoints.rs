//! JSON bodies of savepoints and stop-with-savepoint, Flink's asynchronous-operation
//! pattern: `POST /api/v1/jobs/{id}/savepoints` or `/stop` answers `202` with a trigger
//! id; `GET /api/v1/jobs/{id}/savepoints/{trigger_id}` polls the operation. A
//! client-supplied `trigger_id` makes a retried request idempotent. Field names are a
//! contract: add, never rename.

use serde::{Deserialize, Serialize};

/// Body of `POST /api/v1/jobs/{id}/savepoints` (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SavepointRequest {
    /// The operation's id; a retry with the same id triggers nothing new.
    #[serde(default)]
    pub trigger_id: Option<String>,
    /// Where the savepoint goes (default `DATA_DIR/savepoints`).
    #[serde(default)]
    pub target_directory: Option<String>,
}

/// Body of `POST /api/v1/jobs/{id}/stop` (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StopJobRequest {
    #[serde(default)]
    pub trigger_id: Option<String>,
    #[serde(default)]
    pub target_directory: Option<String>,
    /// Flink's `--drain`: after the savepoint the sources end and the job drains
    /// (pending windows fire) before it finishes. Without it the job stops at the
    /// savepoint and a job resumed from it goes on exactly where this one stopped.
    #[serde(default)]
    pub drain: bool,
}

/// Answer (`202`) of a savepoint or stop request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SavepointTriggerResponse {
    pub trigger_id: String,
}

/// `GET /api/v1/jobs/{id}/savepoints/{trigger_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SavepointStatus {
    pub trigger_id: String,
    /// IN_PROGRESS, COMPLETED or FAILED.
    pub status: String,
    /// The savepoint's directory, once COMPLETED (give it as `savepoint_path` to resume).
    pub location: Option<String>,
    /// The checkpoint id the savepoint was taken as.
    pub checkpoint_id: Option<u64>,
    /// Why it failed.
    pub failure: Option<String>,
    /// A stop-with-savepoint: the job stops once it completed.
    pub stop: bool,
}

/// Body of `POST /api/v1/jobs/{id}/rescale`: stop with a savepoint, then restart from
/// it at `parallelism` (keyed state redistributed by key group). Answers `202` with
/// the savepoint's trigger id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RescaleRequest {
    pub parallelism: u32,
    #[serde(default)]
    pub trigger_id: Option<String>,
}
