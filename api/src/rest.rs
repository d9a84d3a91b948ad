//! JSON bodies of the public REST API under `/api/v1`. Field names are a contract:
//! acceptance tests and users depend on them, so add fields, never rename.

use serde::{Deserialize, Serialize};

/// `GET /api/v1/overview`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Overview {
    /// Workers currently registered and alive.
    pub workers: u32,
    pub slots_total: u32,
    pub slots_available: u32,
    pub jobs_running: u32,
    pub version: String,
}

/// `GET /api/v1/workers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkersResponse {
    pub workers: Vec<WorkerInfo>,
}

/// Liveness of a worker as the master sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum WorkerState {
    /// Heartbeats arrive within the heartbeat timeout.
    Active,
    /// No heartbeat for longer than the timeout: its slots no longer count.
    Lost,
}

/// One worker (Flink's TaskManager) and its task slots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkerInfo {
    pub id: String,
    /// The worker's RPC address (its `--rpc`).
    pub address: String,
    pub state: WorkerState,
    /// Unix epoch milliseconds of the last heartbeat the master received.
    pub last_heartbeat_ms: u64,
    /// Empty for a lost worker: its slots left the cluster.
    pub slots: Vec<SlotInfo>,
}

/// Whether a slot holds subtasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SlotState {
    Free,
    Allocated,
}

/// One task slot of a worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SlotInfo {
    pub index: u32,
    pub state: SlotState,
    pub job_id: Option<String>,
    /// Subtasks sharing this slot (slot sharing group members), e.g. `"Source: bid (1/2)"`.
    pub subtasks: Vec<String>,
    /// The slot's share of the worker's managed memory.
    pub managed_memory_bytes: u64,
    pub managed_memory_used_bytes: u64,
}

/// `GET /api/v1/cluster`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClusterInfo {
    /// Raft node id of the current leader, if one is known.
    pub leader_id: Option<u64>,
    /// Current Raft term.
    pub term: u64,
    /// Index of the last entry in this master's Raft log.
    #[serde(default)]
    pub last_log_index: Option<u64>,
    /// Index of the last entry this master applied to its state machine.
    #[serde(default)]
    pub last_applied_index: Option<u64>,
    pub masters: Vec<MasterInfo>,
}

/// Raft role of a master.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum MasterRole {
    Leader,
    Follower,
    Candidate,
    Learner,
    /// Known from the replicated membership but not reachable for a role right now.
    Unknown,
}

/// One master of the control plane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MasterInfo {
    pub id: u64,
    pub http_address: String,
    pub role: MasterRole,
}

/// One message of `GET /api/v1/events` (Server-Sent Events; the SSE event name is
/// the `type` field).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    WorkerRegistered {
        worker_id: String,
        address: String,
        slots: u32,
    },
    WorkerLost {
        worker_id: String,
    },
    /// A worker's slot report changed (allocation, subtasks, memory).
    SlotsChanged {
        worker_id: String,
    },
    LeaderChanged {
        leader_id: Option<u64>,
        term: u64,
    },
    /// New metrics of a job's subtasks arrived (with workers' heartbeats).
    JobMetrics {
        job_id: String,
    },
    /// A checkpoint was triggered, completed or failed (`status`: IN_PROGRESS,
    /// COMPLETED, FAILED).
    Checkpoint {
        job_id: String,
        checkpoint_id: u64,
        status: String,
    },
    /// A job changed status (also on each new attempt).
    JobStatusChanged {
        job_id: String,
        status: crate::jobs::JobStatus,
        attempt: u32,
    },
}

impl Event {
    /// The SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            Event::WorkerRegistered { .. } => "worker_registered",
            Event::WorkerLost { .. } => "worker_lost",
            Event::SlotsChanged { .. } => "slots_changed",
            Event::LeaderChanged { .. } => "leader_changed",
            Event::JobStatusChanged { .. } => "job_status_changed",
            Event::JobMetrics { .. } => "job_metrics",
            Event::Checkpoint { .. } => "checkpoint",
        }
    }
}

/// Body of `POST /api/v1/sql/validate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SqlValidateRequest {
    pub sql: String,
    /// Default parallelism to plan with (default 1).
    #[serde(default)]
    pub parallelism: Option<u32>,
}

/// A planned job graph: chained vertices and the edges between them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobGraphInfo {
    pub vertices: Vec<VertexInfo>,
    pub edges: Vec<EdgeInfo>,
}

/// One vertex (a chain of operators that runs as one task per subtask).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VertexInfo {
    pub id: u32,
    /// The chain's operator names joined by " -> ".
    pub name: String,
    pub parallelism: u32,
    pub slot_sharing_group: String,
    /// The operators of the chain, head first.
    pub operators: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EdgeInfo {
    pub source: u32,
    pub target: u32,
    /// FORWARD, HASH, REBALANCE or BROADCAST.
    pub partitioning: String,
}

/// Answer of `POST /api/v1/sql/validate` for a valid script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SqlValidateResponse {
    pub valid: bool,
    pub graph: JobGraphInfo,
}
