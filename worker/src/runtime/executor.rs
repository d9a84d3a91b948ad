//! Runs a [`JobGraph`] inside this process (Flink's MiniCluster path): plans slots with
//! slot sharing, gives each slot its managed memory budget, wires bounded channels
//! between subtasks by partitioning, spawns one task per subtask on the tokio runtime
//! and waits. The first failing task fails the job and cancels the rest.

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::chain::OperatorChain;
use super::channel::{self, ChannelReceiver, ChannelSender, DEFAULT_CHANNEL_CAPACITY, InputGate};
use super::error::{Result, RuntimeError};
use super::message::MIN_WATERMARK;
use super::metrics::{MetricsSnapshot, SubtaskMetrics};
use super::operator::{Operator, OperatorContext, SubtaskInfo};
use super::partition::RecordWriter;
use super::task::{StreamTask, TaskInput};
use crate::graph::slot_sharing::SlotPlan;
use crate::graph::stream_graph::NodeKind;
use crate::graph::{JobGraph, Partitioning, StreamGraph};
use crate::key_groups::range_for_subtask;
use crate::operators::basic::SinkOperator;
use crate::state::memory::MemoryBudget;
use crate::time::clock::{SharedClock, system_clock};
use crate::time::watermark::SourceWatermarks;

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
}

impl Default for ExecutionConfig {
    fn default() -> Self {
        ExecutionConfig {
            channel_capacity: DEFAULT_CHANNEL_CAPACITY,
            clock: system_clock(),
            managed_memory_per_slot: DEFAULT_MANAGED_MEMORY_PER_SLOT,
            available_slots: None,
        }
    }
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
    pub slot_plan: SlotPlan,
    pub slot_memory: Vec<Arc<MemoryBudget>>,
    cancel: watch::Sender<bool>,
    tasks: JoinSet<(String, Result<()>)>,
}

impl RunningJob {
    pub fn cancel(&self) {
        let _ = self.cancel.send(true);
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
        while let Some(joined) = self.tasks.join_next().await {
            let (task, result) = match joined {
                Ok(r) => r,
                Err(e) => (
                    "?".to_string(),
                    Err(RuntimeError::Task {
                        task: "?".into(),
                        message: e.to_string(),
                    }),
                ),
            };
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

fn is_secondary(err: &RuntimeError) -> bool {
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

/// Starts every subtask of `graph`; returns at once.
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
    let (cancel, cancel_rx) = watch::channel(false);

    // Channels: for every edge, one channel per (producer subtask, consumer subtask) pair.
    let mut senders: Vec<Vec<Vec<(usize, ChannelSender)>>> = graph
        .vertices
        .iter()
        .map(|v| (0..v.parallelism).map(|_| Vec::new()).collect())
        .collect();
    let mut receivers: Vec<Vec<Vec<(usize, ChannelReceiver)>>> = senders
        .iter()
        .map(|s| s.iter().map(|_| Vec::new()).collect())
        .collect();
    for (edge_index, edge) in graph.edges.iter().enumerate() {
        let (p_up, p_down) = (
            graph.vertices[edge.source].parallelism,
            graph.vertices[edge.target].parallelism,
        );
        for up in 0..p_up {
            for down in 0..p_down {
                if edge.partitioning == Partitioning::Forward && up != down {
                    continue;
                }
                let (tx, rx) = channel::channel(config.channel_capacity);
                senders[edge.source][up as usize].push((edge_index, tx));
                receivers[edge.target][down as usize].push((edge.target_input, rx));
            }
        }
    }

    let mut subtasks = Vec::new();
    let mut tasks = JoinSet::new();
    for vertex in &graph.vertices {
        for index in 0..vertex.parallelism {
            let info = SubtaskInfo {
                job_name: graph.job_name.clone(),
                vertex_name: vertex.name.clone(),
                index,
                parallelism: vertex.parallelism,
                max_parallelism: graph.max_parallelism,
                key_group_range: range_for_subtask(
                    index,
                    vertex.parallelism,
                    graph.max_parallelism,
                )?,
            };
            let slot = plan.slot_of(vertex.id, index);
            let metrics = SubtaskMetrics::new();
            let ctx = OperatorContext {
                subtask: info.clone(),
                clock: config.clock.clone(),
                metrics: metrics.clone(),
                memory: slot_memory[slot].clone(),
            };
            let mut operators: Vec<Box<dyn Operator>> = Vec::new();
            let mut input = None;
            for &node_id in &vertex.chain {
                let node = &graph.nodes[node_id];
                match &node.kind {
                    NodeKind::Source { source, watermarks } => {
                        let reader = source.create_reader(&info)?;
                        let wm = SourceWatermarks::new(
                            watermarks.clone(),
                            &source.schema(),
                            reader.splits(),
                        )?;
                        input = Some(TaskInput::Source {
                            reader,
                            watermarks: wm,
                        });
                    }
                    NodeKind::Operator { factory, .. } => operators.push(factory.create(&info)?),
                    NodeKind::Sink { sink } => operators.push(Box::new(SinkOperator::new(
                        node.name.clone(),
                        sink.create_writer(&info)?,
                    ))),
                }
            }
            let input = match input {
                Some(source) => source,
                None => {
                    let mut channels = std::mem::take(&mut receivers[vertex.id][index as usize]);
                    channels.sort_by_key(|(input, _)| *input);
                    let channel_inputs = channels.iter().map(|(i, _)| *i).collect();
                    TaskInput::Channels {
                        gate: InputGate::new(channels.into_iter().map(|(_, rx)| rx).collect())?,
                        channel_inputs,
                    }
                }
            };
            let mut writers = Vec::new();
            for (edge_index, edge) in graph
                .edges
                .iter()
                .enumerate()
                .filter(|(_, e)| e.source == vertex.id)
            {
                let targets: Vec<ChannelSender> = senders[vertex.id][index as usize]
                    .iter()
                    .filter(|(e, _)| *e == edge_index)
                    .map(|(_, tx)| tx.clone())
                    .collect();
                writers.push(RecordWriter::new(
                    edge.partitioning.clone(),
                    targets,
                    graph.max_parallelism,
                    metrics.clone(),
                )?);
            }
            let task = StreamTask {
                name: info.task_name(),
                chain: OperatorChain::new(operators, ctx),
                writers,
                cancel: cancel_rx.clone(),
                output_watermark: MIN_WATERMARK,
            };
            subtasks.push(SubtaskHandle {
                vertex: vertex.id,
                vertex_name: vertex.name.clone(),
                index,
                slot,
                metrics,
            });
            let name = info.task_name();
            tasks.spawn(async move { (name, task.run(input).await) });
        }
    }
    drop(senders);
    Ok(RunningJob {
        subtasks,
        slot_plan: plan,
        slot_memory,
        cancel,
        tasks,
    })
}
