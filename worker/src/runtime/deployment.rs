//! Starting the tasks of a job graph that live in this process: where every subtask
//! runs ([`Placement`]: a local slot, or another worker), one bounded channel per
//! producer/consumer subtask pair by partitioning, and for pairs split across workers
//! the exchange — the producer's channel drained by an [`ExchangeClient`] sender, the
//! consumer's channel filled by this worker's [`ExchangeServer`].

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::chain::OperatorChain;
use super::channel::{self, ChannelReceiver, ChannelSender, InputGate};
use super::checkpoint::{COMPLETION_QUEUE, SubtaskSnapshot, TRIGGER_QUEUE, TaskCheckpointing};
use super::error::{Result, RuntimeError};
use super::executor::{ExecutionConfig, RunningJob, SubtaskHandle, TaskId};
use super::message::MIN_WATERMARK;
use super::metrics::SubtaskMetrics;
use super::operator::{Operator, OperatorContext, SubtaskInfo};
use super::partition::RecordWriter;
use super::restore;
use super::task::{StreamTask, TaskInput};
use crate::exchange::{ChannelKey, ExchangeClient, ExchangeServer};
use crate::graph::slot_sharing::SlotPlan;
use crate::graph::stream_graph::NodeKind;
use crate::graph::{JobGraph, Partitioning};
use crate::key_groups::range_for_subtask;
use crate::operators::basic::SinkOperator;
use crate::state::backend::{StateBackend, StateBackendConfig};
use crate::state::memory::MemoryBudget;
use crate::state::rocksdb::RocksDbSlot;
use crate::time::watermark::SourceWatermarks;

/// Where one subtask runs, seen from this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// In this process, in the slot with this index (its managed memory budget).
    Local { slot: usize },
    /// On another worker, reached through the exchange at this RPC address.
    Remote { address: String },
}

/// The exchange of a deployment spread over workers.
#[derive(Clone)]
pub struct RemoteExchange {
    pub job_id: String,
    pub attempt: u32,
    pub server: ExchangeServer,
    pub client: ExchangeClient,
}

/// Where every subtask of a job runs and the budgets of the local slots.
pub struct Placement {
    /// (vertex, subtask) → location; every subtask of the graph.
    pub locations: HashMap<(usize, u32), Location>,
    /// Local slot index → its managed memory.
    pub slot_memory: HashMap<usize, Arc<MemoryBudget>>,
    /// Needed as soon as a location is remote.
    pub exchange: Option<RemoteExchange>,
    /// Where tasks hand their checkpoint snapshots; none: no checkpoints (barriers
    /// pass through).
    pub snapshots: Option<mpsc::Sender<SubtaskSnapshot>>,
    /// A completed checkpoint's files to restore every local subtask from.
    pub restore: Option<super::restore::RestoreFiles>,
    /// Checkpointing mode AT_LEAST_ONCE: barriers are not aligned.
    pub at_least_once: bool,
    /// Where keyed state lives.
    pub state_backend: StateBackendConfig,
}

impl Placement {
    /// Everything in this process, slots as the slot sharing plan says.
    pub fn local(graph: &JobGraph, plan: &SlotPlan, memory: &[Arc<MemoryBudget>]) -> Placement {
        let mut locations = HashMap::new();
        for v in &graph.vertices {
            for i in 0..v.parallelism {
                locations.insert(
                    (v.id, i),
                    Location::Local {
                        slot: plan.slot_of(v.id, i),
                    },
                );
            }
        }
        Placement {
            locations,
            slot_memory: memory.iter().cloned().enumerate().collect(),
            exchange: None,
            snapshots: None,
            restore: None,
            at_least_once: false,
            state_backend: StateBackendConfig::HashMap,
        }
    }

    fn location(&self, vertex: usize, index: u32) -> Result<&Location> {
        self.locations.get(&(vertex, index)).ok_or_else(|| {
            RuntimeError::Graph(format!(
                "no placement for subtask {index} of vertex {vertex}"
            ))
        })
    }

    fn exchange(&self) -> Result<&RemoteExchange> {
        self.exchange
            .as_ref()
            .ok_or_else(|| RuntimeError::Graph("a remote subtask needs the exchange".into()))
    }
}

/// Starts the local subtasks of `graph` (and the exchange senders they need);
/// returns at once.
pub fn start(
    graph: JobGraph,
    config: &ExecutionConfig,
    placement: Placement,
) -> Result<RunningJob> {
    let (cancel, cancel_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let (mut senders, mut receivers) =
        wire_channels(&graph, config, &placement, &cancel_rx, &mut tasks)?;

    let mut subtasks = Vec::new();
    let mut rocksdb_slots: HashMap<usize, Arc<RocksDbSlot>> = HashMap::new();
    let mut triggers = Vec::new();
    let mut completions = Vec::new();
    for vertex in &graph.vertices {
        for index in 0..vertex.parallelism {
            let Location::Local { slot } = placement.location(vertex.id, index)? else {
                continue;
            };
            let slot = *slot;
            let memory =
                placement.slot_memory.get(&slot).cloned().ok_or_else(|| {
                    RuntimeError::Graph(format!("no managed memory for slot {slot}"))
                })?;
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
            let metrics = SubtaskMetrics::new();
            let state_backend = match &placement.state_backend {
                StateBackendConfig::HashMap => StateBackend::HashMap,
                StateBackendConfig::RocksDb { dir } => match rocksdb_slots.get(&slot) {
                    Some(rocks) => StateBackend::RocksDb(Arc::clone(rocks)),
                    None => {
                        let rocks =
                            RocksDbSlot::new(dir.join(format!("slot-{slot}")), memory.clone())?;
                        rocksdb_slots.insert(slot, rocks.clone());
                        StateBackend::RocksDb(rocks)
                    }
                },
            };
            let ctx = OperatorContext {
                subtask: info.clone(),
                clock: config.clock.clone(),
                metrics: metrics.clone(),
                memory,
                state_backend,
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
                    NodeKind::Sink { sink } => operators.push(Box::new(
                        SinkOperator::new(node.name.clone(), sink.create_writer(&info)?)
                            .with_latency_column(sink.latency_column()),
                    )),
                }
            }
            if let Some(dir) = &placement.restore {
                let subtask = restore::RestoredSubtask {
                    vertex: vertex.id,
                    name: &vertex.name,
                    index,
                    parallelism: vertex.parallelism,
                };
                restore::restore(dir, &subtask, &mut input, &mut operators)?;
            }
            let input = match input {
                Some(source) => source,
                None => {
                    let mut channels = receivers.remove(&(vertex.id, index)).unwrap_or_default();
                    channels.sort_by_key(|(input, _)| *input);
                    let channel_inputs = channels.iter().map(|(i, _)| *i).collect();
                    TaskInput::Channels {
                        gate: InputGate::new(channels.into_iter().map(|(_, rx)| rx).collect())?,
                        channel_inputs,
                    }
                }
            };
            let mut outputs = senders.remove(&(vertex.id, index)).unwrap_or_default();
            let mut writers = Vec::new();
            for (edge_index, edge) in graph
                .edges
                .iter()
                .enumerate()
                .filter(|(_, e)| e.source == vertex.id)
            {
                let targets: Vec<ChannelSender> = outputs
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
            outputs.clear();
            let checkpointing = placement.snapshots.as_ref().map(|snapshots| {
                let is_source = matches!(input, TaskInput::Source { .. });
                let trigger_rx = is_source.then(|| {
                    let (tx, rx) = mpsc::channel(TRIGGER_QUEUE);
                    triggers.push(((vertex.id, index), tx));
                    rx
                });
                let (done_tx, done_rx) = mpsc::channel(COMPLETION_QUEUE);
                completions.push(done_tx);
                TaskCheckpointing {
                    at_least_once: placement.at_least_once,
                    completions: Some(done_rx),
                    vertex: vertex.id as u32,
                    index,
                    key_groups: (info.key_group_range.start, info.key_group_range.end),
                    triggers: trigger_rx,
                    snapshots: snapshots.clone(),
                }
            });
            let task = StreamTask {
                name: info.task_name(),
                chain: OperatorChain::new(operators, ctx),
                writers,
                cancel: cancel_rx.clone(),
                output_watermark: MIN_WATERMARK,
                checkpointing,
            };
            subtasks.push(SubtaskHandle {
                vertex: vertex.id,
                vertex_name: vertex.name.clone(),
                index,
                slot,
                metrics,
            });
            let id = TaskId {
                vertex: Some(vertex.id),
                index,
                name: info.task_name(),
            };
            tasks.spawn(async move { (id, task.run(input).await) });
        }
    }
    Ok(RunningJob {
        subtasks,
        triggers,
        completions,
        slot_plan: None,
        slot_memory: Vec::new(),
        cancel,
        tasks,
    })
}

/// Output channels of each local producer subtask: (edge index, sender), ordered by
/// target subtask within an edge.
type Senders = HashMap<(usize, u32), Vec<(usize, ChannelSender)>>;
/// Input channels of each local consumer subtask: (logical input, receiver).
type Receivers = HashMap<(usize, u32), Vec<(usize, ChannelReceiver)>>;

/// One channel per (producer subtask, consumer subtask) pair of every edge with at
/// least one side local; a pair split across workers goes through the exchange.
fn wire_channels(
    graph: &JobGraph,
    config: &ExecutionConfig,
    placement: &Placement,
    cancel: &watch::Receiver<bool>,
    tasks: &mut JoinSet<(TaskId, Result<()>)>,
) -> Result<(Senders, Receivers)> {
    let mut senders: Senders = HashMap::new();
    let mut receivers: Receivers = HashMap::new();
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
                let up_loc = placement.location(edge.source, up)?;
                let down_loc = placement.location(edge.target, down)?;
                let key = |ex: &RemoteExchange| ChannelKey {
                    job_id: ex.job_id.clone(),
                    attempt: ex.attempt,
                    edge: edge_index as u32,
                    producer: up,
                    consumer: down,
                };
                match (up_loc, down_loc) {
                    (Location::Remote { .. }, Location::Remote { .. }) => {}
                    (Location::Local { .. }, Location::Local { .. }) => {
                        let (tx, rx) = channel::channel(config.channel_capacity);
                        senders
                            .entry((edge.source, up))
                            .or_default()
                            .push((edge_index, tx));
                        receivers
                            .entry((edge.target, down))
                            .or_default()
                            .push((edge.target_input, rx));
                    }
                    (Location::Local { .. }, Location::Remote { address }) => {
                        let exchange = placement.exchange()?;
                        let (tx, rx) = channel::channel(config.channel_capacity);
                        senders
                            .entry((edge.source, up))
                            .or_default()
                            .push((edge_index, tx));
                        let key = key(exchange);
                        let id = TaskId {
                            vertex: None,
                            index: up,
                            name: format!(
                                "exchange of edge {edge_index} ({up} -> {down}) to {address}"
                            ),
                        };
                        let client = exchange.client.clone();
                        let (address, cancel) = (address.clone(), cancel.clone());
                        tasks.spawn(async move {
                            (id, client.send_channel(key, &address, rx, cancel).await)
                        });
                    }
                    (Location::Remote { .. }, Location::Local { .. }) => {
                        let exchange = placement.exchange()?;
                        let (tx, rx) = channel::channel(config.channel_capacity);
                        receivers
                            .entry((edge.target, down))
                            .or_default()
                            .push((edge.target_input, rx));
                        exchange
                            .server
                            .register_inbound(key(exchange), tx)
                            .map_err(|e| RuntimeError::Graph(e.to_string()))?;
                    }
                }
            }
        }
    }
    Ok((senders, receivers))
}
