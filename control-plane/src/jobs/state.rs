//! The master's live view of one job (Flink's ExecutionGraph, reduced to what the API
//! serves): status, attempt, every subtask's placement, execution state and latest
//! metrics, and the rows of `GET /api/v1/jobs{/id}`.

use std::collections::BTreeMap;
use std::time::Instant;

use eddy_api::jobs::{
    JobDetails, JobException, JobStatus, JobSummary, RestartStrategySpec, StatusChange,
    SubtaskDetails, TaskMetrics, VertexDetails,
};
use eddy_api::rest::JobGraphInfo;
use eddy_api::rpc::SubtaskMetricsReport;
use serde::{Deserialize, Serialize};

use super::scheduler::{Assignment, SlotRef};

/// Flink's execution states of a subtask.
pub mod exec {
    pub const CREATED: &str = "CREATED";
    pub const SCHEDULED: &str = "SCHEDULED";
    pub const DEPLOYING: &str = "DEPLOYING";
    pub const RUNNING: &str = "RUNNING";
    pub const FINISHED: &str = "FINISHED";
    pub const CANCELING: &str = "CANCELING";
    pub const CANCELED: &str = "CANCELED";
    pub const FAILED: &str = "FAILED";

    pub fn is_terminal(status: &str) -> bool {
        matches!(status, FINISHED | CANCELED | FAILED)
    }
}

/// What a job request configured, stored as the job's `options_json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobOptions {
    #[serde(default)]
    pub checkpoint_interval_ms: Option<u64>,
    /// "hashmap" or "rocksdb".
    #[serde(default = "default_backend")]
    pub state_backend: String,
    #[serde(default)]
    pub restart_strategy: Option<RestartStrategySpec>,
    /// What the script's `SET`s configure (Flink option names).
    #[serde(default)]
    pub settings: std::collections::BTreeMap<String, String>,
    /// The savepoint the job started from (its first attempt restores it).
    #[serde(default)]
    pub savepoint_path: Option<String>,
}

fn default_backend() -> String {
    "hashmap".into()
}

#[derive(Debug, Clone)]
pub struct SubtaskState {
    pub slot: Option<SlotRef>,
    pub status: String,
    pub metrics: TaskMetrics,
    /// When the last metrics arrived, with the record counters then (for rates).
    last_sample: Option<(Instant, u64, u64)>,
}

impl SubtaskState {
    fn new() -> SubtaskState {
        SubtaskState {
            slot: None,
            status: exec::CREATED.into(),
            metrics: TaskMetrics::default(),
            last_sample: None,
        }
    }
}

/// One job as the master sees it now.
#[derive(Debug, Clone)]
pub struct JobState {
    pub id: String,
    pub name: String,
    pub sql: String,
    pub parallelism: u32,
    pub options: JobOptions,
    pub graph: JobGraphInfo,
    pub status: JobStatus,
    pub reason: Option<String>,
    pub attempt: u32,
    pub restarts: u32,
    pub restart_strategy: String,
    pub start_time: u64,
    pub end_time: Option<u64>,
    /// (vertex id, subtask index) → state, for every subtask of the graph.
    pub subtasks: BTreeMap<(u32, u32), SubtaskState>,
}

impl JobState {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        name: String,
        sql: String,
        parallelism: u32,
        options: JobOptions,
        graph: JobGraphInfo,
        status: JobStatus,
        attempt: u32,
        restart_strategy: String,
        start_time: u64,
        end_time: Option<u64>,
    ) -> JobState {
        let mut state = JobState {
            id,
            name,
            sql,
            parallelism,
            options,
            graph,
            status,
            reason: None,
            attempt,
            restarts: 0,
            restart_strategy,
            start_time,
            end_time,
            subtasks: BTreeMap::new(),
        };
        state.reset_subtasks();
        state
    }

    /// A fresh attempt: every subtask CREATED, unplaced, metrics cleared.
    pub fn reset_subtasks(&mut self) {
        self.subtasks = self
            .graph
            .vertices
            .iter()
            .flat_map(|v| (0..v.parallelism).map(move |i| ((v.id, i), SubtaskState::new())))
            .collect();
    }

    pub fn place(&mut self, assignments: &[Assignment]) {
        for a in assignments {
            if let Some(s) = self.subtasks.get_mut(&(a.vertex, a.index)) {
                s.slot = Some(a.slot.clone());
                s.status = exec::DEPLOYING.into();
            }
        }
    }

    /// The workers accepted the deployment: DEPLOYING subtasks are RUNNING.
    pub fn mark_running(&mut self) {
        for s in self.subtasks.values_mut() {
            if s.status == exec::DEPLOYING {
                s.status = exec::RUNNING.into();
            }
        }
    }

    /// Records a subtask's execution state (and metrics) of the current attempt;
    /// returns true if its status changed. Terminal states are final.
    pub fn update_subtask(
        &mut self,
        vertex: u32,
        index: u32,
        status: &str,
        metrics: Option<&SubtaskMetricsReport>,
        now: Instant,
    ) -> bool {
        let Some(s) = self.subtasks.get_mut(&(vertex, index)) else {
            return false;
        };
        if let Some(m) = metrics {
            apply_metrics(s, m, now);
        }
        if exec::is_terminal(&s.status) || s.status == status || status.is_empty() {
            return false;
        }
        s.status = status.to_string();
        true
    }

    /// Marks every subtask not yet terminal as `status`.
    pub fn end_open_subtasks(&mut self, status: &str) {
        for s in self.subtasks.values_mut() {
            if !exec::is_terminal(&s.status) {
                s.status = status.to_string();
            }
        }
    }

    /// Marks the open subtasks on `worker_id` as `status` (its worker was lost).
    pub fn end_on(&mut self, worker_id: &str, status: &str) {
        for key in self.open_on(worker_id) {
            if let Some(s) = self.subtasks.get_mut(&key) {
                s.status = status.to_string();
            }
        }
    }

    pub fn all_subtasks(&self, status: &str) -> bool {
        self.subtasks.values().all(|s| s.status == status)
    }

    pub fn all_terminal(&self) -> bool {
        self.subtasks.values().all(|s| exec::is_terminal(&s.status))
    }

    /// Open (non-terminal) subtasks placed on `worker_id`.
    pub fn open_on(&self, worker_id: &str) -> Vec<(u32, u32)> {
        self.subtasks
            .iter()
            .filter(|(_, s)| {
                !exec::is_terminal(&s.status)
                    && s.slot
                        .as_ref()
                        .is_some_and(|slot| slot.worker_id == worker_id)
            })
            .map(|(k, _)| *k)
            .collect()
    }

    /// The task name of a subtask, Flink style: `NAME (i+1/p)`.
    pub fn task_name(&self, vertex: u32, index: u32) -> String {
        match self.graph.vertices.iter().find(|v| v.id == vertex) {
            Some(v) => format!("{} ({}/{})", v.name, index + 1, v.parallelism),
            None => format!("vertex {vertex} ({})", index + 1),
        }
    }

    pub fn summary(&self) -> JobSummary {
        JobSummary {
            id: self.id.clone(),
            name: self.name.clone(),
            status: self.status,
            start_time: self.start_time,
            end_time: self.end_time,
            parallelism: self.parallelism,
            attempt: self.attempt,
        }
    }

    pub fn details(
        &self,
        status_history: Vec<StatusChange>,
        exceptions: Vec<JobException>,
    ) -> JobDetails {
        let vertices = self
            .graph
            .vertices
            .iter()
            .map(|v| {
                let subtasks: Vec<SubtaskDetails> = self
                    .subtasks
                    .range((v.id, 0)..(v.id, u32::MAX))
                    .map(|(&(_, index), s)| SubtaskDetails {
                        index,
                        worker_id: s.slot.as_ref().map(|x| x.worker_id.clone()),
                        slot_index: s.slot.as_ref().map(|x| x.slot_index),
                        status: s.status.clone(),
                        metrics: s.metrics.clone(),
                    })
                    .collect();
                VertexDetails {
                    id: v.id,
                    name: v.name.clone(),
                    parallelism: v.parallelism,
                    slot_sharing_group: v.slot_sharing_group.clone(),
                    operators: v.operators.clone(),
                    metrics: aggregate(subtasks.iter().map(|s| &s.metrics)),
                    subtasks,
                }
            })
            .collect();
        JobDetails {
            id: self.id.clone(),
            name: self.name.clone(),
            status: self.status,
            reason: self.reason.clone(),
            attempt: self.attempt,
            sql: self.sql.clone(),
            parallelism: self.parallelism,
            start_time: self.start_time,
            end_time: self.end_time,
            checkpoint_interval_ms: self.options.checkpoint_interval_ms,
            state_backend: self.options.state_backend.clone(),
            restart_strategy: self.restart_strategy.clone(),
            restarts: self.restarts,
            vertices,
            edges: self.graph.edges.clone(),
            exceptions,
            status_history,
        }
    }
}

fn apply_metrics(s: &mut SubtaskState, m: &SubtaskMetricsReport, now: Instant) {
    let (mut in_rate, mut out_rate) = (
        s.metrics.records_in_per_second,
        s.metrics.records_out_per_second,
    );
    if let Some((at, r_in, r_out)) = s.last_sample {
        let secs = now.saturating_duration_since(at).as_secs_f64();
        if secs > 0.0 {
            in_rate = m.records_in.saturating_sub(r_in) as f64 / secs;
            out_rate = m.records_out.saturating_sub(r_out) as f64 / secs;
        }
    }
    s.last_sample = Some((now, m.records_in, m.records_out));
    s.metrics = TaskMetrics {
        records_in: m.records_in,
        records_out: m.records_out,
        bytes_in: m.bytes_in,
        bytes_out: m.bytes_out,
        records_in_per_second: in_rate,
        records_out_per_second: out_rate,
        current_watermark: (m.current_watermark != i64::MIN).then_some(m.current_watermark),
        busy_ratio: m.busy_ratio,
        backpressured_ratio: m.backpressured_ratio,
        late_records_dropped: m.late_records_dropped,
        parse_errors_skipped: m.parse_errors_skipped,
        sink_records: m.sink_records,
    };
}

/// A vertex's metrics: counters and rates summed, the watermark the minimum (none if
/// a subtask has none), the ratios the maximum.
fn aggregate<'a>(metrics: impl Iterator<Item = &'a TaskMetrics>) -> TaskMetrics {
    let mut total = TaskMetrics::default();
    let mut watermark: Option<Option<i64>> = None;
    for m in metrics {
        total.records_in += m.records_in;
        total.records_out += m.records_out;
        total.bytes_in += m.bytes_in;
        total.bytes_out += m.bytes_out;
        total.records_in_per_second += m.records_in_per_second;
        total.records_out_per_second += m.records_out_per_second;
        total.busy_ratio = total.busy_ratio.max(m.busy_ratio);
        total.backpressured_ratio = total.backpressured_ratio.max(m.backpressured_ratio);
        total.late_records_dropped += m.late_records_dropped;
        total.parse_errors_skipped += m.parse_errors_skipped;
        total.sink_records += m.sink_records;
        watermark = Some(match (watermark, m.current_watermark) {
            (None, w) => w,
            (Some(Some(a)), Some(b)) => Some(a.min(b)),
            _ => None,
        });
    }
    total.current_watermark = watermark.flatten();
    total
}
