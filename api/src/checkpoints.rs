//! JSON bodies of `GET /api/v1/jobs/{id}/checkpoints` and
//! `GET /api/v1/jobs/{id}/checkpoints/{cid}` (Flink's checkpoint statistics). Field
//! names are a contract: add, never rename.

use serde::{Deserialize, Serialize};

/// One checkpoint (or savepoint) in the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckpointInfo {
    pub id: u64,
    /// IN_PROGRESS, COMPLETED or FAILED.
    pub status: String,
    /// Unix epoch milliseconds it was triggered.
    pub trigger_time: u64,
    /// Unix epoch milliseconds it completed or failed.
    pub end_time: Option<u64>,
    /// Trigger to completion (or failure), once ended.
    pub duration_ms: Option<u64>,
    /// Bytes of all subtasks' snapshots.
    pub state_size_bytes: u64,
    /// Bytes written for this checkpoint (all of it: snapshots are full).
    pub checkpointed_bytes: u64,
    /// The longest barrier alignment of any subtask.
    pub alignment_ms: u64,
    pub is_savepoint: bool,
    pub attempt: u32,
    /// Its directory in the checkpoint storage.
    pub path: String,
    /// Why it failed.
    pub failure: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckpointCounts {
    pub completed: u64,
    pub failed: u64,
    pub in_progress: u64,
    /// Times the job was restored from a checkpoint.
    pub restored: u64,
}

/// The latest checkpoint of each outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LatestCheckpoints {
    pub completed: Option<CheckpointInfo>,
    pub failed: Option<CheckpointInfo>,
    pub savepoint: Option<CheckpointInfo>,
}

/// Minimum, average and maximum over the completed checkpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MinAvgMax {
    pub min: u64,
    pub avg: u64,
    pub max: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckpointSummary {
    pub duration_ms: MinAvgMax,
    pub state_size_bytes: MinAvgMax,
    pub checkpointed_bytes: MinAvgMax,
}

/// `GET /api/v1/jobs/{id}/checkpoints`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckpointsResponse {
    pub counts: CheckpointCounts,
    pub latest: LatestCheckpoints,
    pub summary: CheckpointSummary,
    /// Newest first.
    pub history: Vec<CheckpointInfo>,
}

/// One subtask's part of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckpointSubtask {
    pub index: u32,
    /// Unix epoch milliseconds of its acknowledgement.
    pub ack_time: u64,
    /// Trigger to acknowledgement.
    pub duration_ms: u64,
    /// Copying the state (the task paused processing for this long).
    pub sync_ms: u64,
    /// Writing the snapshot while processing went on.
    pub async_ms: u64,
    pub alignment_ms: u64,
    /// Trigger to the barrier reaching the subtask.
    pub start_delay_ms: u64,
    pub state_size_bytes: u64,
    /// The key groups it owns, first and last.
    pub key_groups: [u32; 2],
    pub files: Vec<String>,
}

/// One vertex's part of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckpointVertex {
    pub id: u32,
    pub name: String,
    pub parallelism: u32,
    /// Subtasks that acknowledged.
    pub acknowledged: u32,
    pub state_size_bytes: u64,
    /// The slowest subtask's duration.
    pub duration_ms: u64,
    pub alignment_ms: u64,
    pub subtasks: Vec<CheckpointSubtask>,
}

/// `GET /api/v1/jobs/{id}/checkpoints/{cid}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckpointDetails {
    #[serde(flatten)]
    pub checkpoint: CheckpointInfo,
    pub vertices: Vec<CheckpointVertex>,
}
