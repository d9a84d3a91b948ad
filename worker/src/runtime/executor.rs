//! Runs a [`JobGraph`] inside this process (Flink's MiniCluster path): plans slots with
//! slot sharing, gives each slot its managed memory budget, wires bounded channels
//! between subtasks by partitioning, spawns one task per subtask on the tokio runtime
//! and waits. The first failing task fails the job and cancels the rest.

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::channel::DEFAULT_CHANNEL_CAPACITY;
use super::deployment::{Placement, start};
use super::error::{Result, RuntimeError};
use super::metrics::{MetricsSnapshot, SubtaskMetrics};
use crate::graph::slot_sharing::SlotPlan;
use crate::graph::{JobGraph, StreamGraph};
use crate::state::memory::MemoryBudget;
use crate::time::clock::{SharedClock, system_clock};

/// Default managed memory of one slot in a local execution.
pub const DEFAULT_MANAGED_MEMORY_PER_SLOT: usize = 128 << 20;

#[derive(Debug, Clone)]
pub struct ExecutionConfig {
    /// Capacity of each channel, in messages.
    pub channel_capacity: usize,
    pub clock: SharedClock,
    pub managed_memory_per_slot: usize,
    /// Slots available; the job fails to start if it needs more. `None`: as many as needed.
    pub available_slots: Option<usize>,
    /// Where keyed operators keep their state (`deploy`'s local slots).
    pub state_backend: crate::state::backend::StateBackendConfig,
}

impl Default for ExecutionConfig {
    fn default() -> Self {
        ExecutionConfig {
            channel_capacity: DEFAULT_CHANNEL_CAPACITY,
            clock: system_clock(),
            managed_memory_per_slot: DEFAULT_MANAGED_MEMORY_PER_SLOT,
            available_slots: None,
            state_backend: Default::default(),
        }
    }
}

/// Which task a joined task result belongs to: a subtask, or an exchange sender
/// forwarding one channel to another worker (`vertex` none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskId {
    pub vertex: Option<usize>,
    pub index: u32,
    pub name: String,
}

/// One deployed subtask, for metrics and the slot view.
#[derive(Debug, Clone)]
pub struct SubtaskHandle {
    pub vertex: usize,
    pub vertex_name: String,
    pub index: u32,
    pub slot: usize,
    pub metrics: Arc<SubtaskMetrics>,
}

/// A job running in this process.
pub struct RunningJob {
    pub subtasks: Vec<SubtaskHandle>,
    /// Where to inject checkpoint barriers: one queue per source subtask (vertex, index).
    pub triggers: Vec<(
        (usize, u32),
        tokio::sync::mpsc::Sender<super::checkpoint::SourceTrigger>,
    )>,
    /// Where to tell every task that a checkpoint completed.
    pub completions: Vec<tokio::sync::mpsc::Sender<u64>>,
    /// The slot plan of an in-process deployment (none when the master placed the job).
    pub slot_plan: Option<SlotPlan>,
    pub slot_memory: Vec<Arc<MemoryBudget>>,
    pub(super) cancel: watch::Sender<bool>,
    pub(super) tasks: JoinSet<(TaskId, Result<()>)>,
}

impl RunningJob {
    pub fn cancel(&self) {
        let _ = self.cancel.send(true);
    }

    /// A handle that cancels every task of this job.
    pub fn canceller(&self) -> watch::Sender<bool> {
        self.cancel.clone()
    }

    /// The next task to end and how; `None` once all ended.
    pub async fn join_next(&mut self) -> Option<(TaskId, Result<()>)> {
        let joined = self.tasks.join_next().await?;
        Some(joined.unwrap_or_else(|e| {
            let id = TaskId {
                vertex: None,
                index: 0,
                name: "?".into(),
            };
            let err = RuntimeError::Task {
                task: "?".into(),
                message: e.to_string(),
            };
            (id, Err(err))
        }))
    }

    /// Metrics of every subtask of `vertex_name` (a chain's full name or a node name in it).
    pub fn metrics_of(&self, vertex_name: &str) -> Vec<MetricsSnapshot> {
        self.subtasks
            .iter()
            .filter(|s| chain_contains(&s.vertex_name, vertex_name))
            .map(|s| s.metrics.snapshot())
            .collect()
    }

    /// Waits for every task. On the first failure the others are cancelled and the
    /// root cause is returned (not the channel errors it caused downstream).
    pub async fn join(mut self) -> Result<JobResult> {
        let mut failure: Option<RuntimeError> = None;
        while let Some((task, result)) = self.join_next().await {
            let task = task.name;
            if let Err(err) = result {
                let root_cause_over_secondary =
                    !is_secondary(&err) && failure.as_ref().is_some_and(is_secondary);
                if failure.is_none() || root_cause_over_secondary {
                    tracing::warn!(%task, error = %err, "task failed");
                    failure = Some(err);
                }
                let _ = self.cancel.send(true);
            }
        }
        match failure {
            Some(err) => Err(err),
            None => Ok(JobResult {
                subtasks: self
                    .subtasks
                    .iter()
                    .map(|s| (s.vertex_name.clone(), s.index, s.metrics.snapshot()))
                    .collect(),
            }),
        }
    }
}

/// Whether a vertex (a chain named `a -> b -> c`) is `name` or has a node called `name`.
fn chain_contains(vertex_name: &str, name: &str) -> bool {
    vertex_name == name || vertex_name.split(" -> ").any(|n| n == name)
}

/// A channel error or cancellation caused by another task's failure.
pub fn is_secondary(err: &RuntimeError) -> bool {
    matches!(
        err,
        RuntimeError::ChannelClosed(_) | RuntimeError::Cancelled
    )
}

/// Final metrics of a finished job: (vertex name, subtask index, metrics).
#[derive(Debug, Clone)]
pub struct JobResult {
    pub subtasks: Vec<(String, u32, MetricsSnapshot)>,
}

impl JobResult {
    /// Sum of `records_out` over the subtasks of the vertex whose chain contains `name`.
    pub fn records_out(&self, name: &str) -> u64 {
        self.of(name).map(|m| m.records_out).sum()
    }

    pub fn records_in(&self, name: &str) -> u64 {
        self.of(name).map(|m| m.records_in).sum()
    }

    pub fn of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a MetricsSnapshot> + 'a {
        self.subtasks
            .iter()
            .filter(move |(v, _, _)| chain_contains(v, name))
            .map(|(_, _, m)| m)
    }
}

/// Chains, deploys and runs a stream graph to completion.
pub async fn execute(graph: StreamGraph, config: ExecutionConfig) -> Result<JobResult> {
    deploy(JobGraph::from_stream_graph(graph)?, config)?
        .join()
        .await
}

/// Starts every subtask of `graph` in this process; returns at once.
pub fn deploy(graph: JobGraph, config: ExecutionConfig) -> Result<RunningJob> {
    let plan = SlotPlan::new(&graph);
    if let Some(available) = config.available_slots
        && plan.slots.len() > available
    {
        return Err(RuntimeError::Graph(format!(
            "the job needs {} slots, only {available} are available",
            plan.slots.len()
        )));
    }
    let slot_memory: Vec<Arc<MemoryBudget>> = plan
        .slots
        .iter()
        .map(|_| MemoryBudget::new(config.managed_memory_per_slot))
        .collect();
    let mut placement = Placement::local(&graph, &plan, &slot_memory);
    placement.state_backend = config.state_backend.clone();
    let mut job = start(graph, &config, placement)?;
    job.slot_plan = Some(plan);
    job.slot_memory = slot_memory;
    Ok(job)
}
