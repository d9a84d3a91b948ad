//! The Rust API for building jobs (Flink's `StreamGraph`): sources, operators and sinks
//! as nodes with a parallelism and a slot sharing group, joined by edges that say how
//! records are partitioned. The SQL planner produces the same structure.

use std::sync::Arc;

use crate::connectors::{Sink, Source};
use crate::key_groups::DEFAULT_MAX_PARALLELISM;
use crate::runtime::operator::OperatorFactory;
use crate::time::watermark::WatermarkStrategy;

pub type NodeId = usize;

/// The slot sharing group everything is in unless told otherwise.
pub const DEFAULT_SLOT_SHARING_GROUP: &str = "default";

/// How records of an edge are distributed over the target's subtasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Partitioning {
    /// Subtask i sends to subtask i (equal parallelism; allows chaining).
    Forward,
    /// By key: hash of the key columns → key group → the subtask owning that group.
    Hash { key_columns: Vec<usize> },
    /// Round-robin over the target subtasks, batch by batch.
    Rebalance,
    /// Every batch to every target subtask.
    Broadcast,
}

impl Partitioning {
    /// Flink's names, as the REST API and dashboard show them.
    pub fn name(&self) -> &'static str {
        match self {
            Partitioning::Forward => "FORWARD",
            Partitioning::Hash { .. } => "HASH",
            Partitioning::Rebalance => "REBALANCE",
            Partitioning::Broadcast => "BROADCAST",
        }
    }
}

pub enum NodeKind {
    Source {
        source: Arc<dyn Source>,
        watermarks: WatermarkStrategy,
    },
    Operator {
        factory: Arc<dyn OperatorFactory>,
        /// Number of logical inputs (1, or 2 for joins).
        inputs: usize,
    },
    Sink {
        sink: Arc<dyn Sink>,
    },
}

impl std::fmt::Debug for NodeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NodeKind::Source { source, .. } => write!(f, "Source({})", source.name()),
            NodeKind::Operator { inputs, .. } => write!(f, "Operator(inputs={inputs})"),
            NodeKind::Sink { sink } => write!(f, "Sink({})", sink.name()),
        }
    }
}

#[derive(Debug)]
pub struct StreamNode {
    pub id: NodeId,
    pub name: String,
    pub parallelism: u32,
    pub slot_sharing_group: String,
    pub kind: NodeKind,
}

#[derive(Debug, Clone)]
pub struct StreamEdge {
    pub source: NodeId,
    pub target: NodeId,
    /// Which logical input of the target this edge feeds.
    pub target_input: usize,
    pub partitioning: Partitioning,
}

#[derive(Debug)]
pub struct StreamGraph {
    pub job_name: String,
    pub max_parallelism: u32,
    pub nodes: Vec<StreamNode>,
    pub edges: Vec<StreamEdge>,
}

impl StreamGraph {
    pub fn new(job_name: impl Into<String>) -> StreamGraph {
        StreamGraph {
            job_name: job_name.into(),
            max_parallelism: DEFAULT_MAX_PARALLELISM,
            nodes: Vec::new(),
            edges: Vec::new(),
        }
    }

    fn add_node(&mut self, name: impl Into<String>, parallelism: u32, kind: NodeKind) -> NodeId {
        let id = self.nodes.len();
        self.nodes.push(StreamNode {
            id,
            name: name.into(),
            parallelism,
            slot_sharing_group: DEFAULT_SLOT_SHARING_GROUP.to_string(),
            kind,
        });
        id
    }

    pub fn add_source(
        &mut self,
        name: impl Into<String>,
        parallelism: u32,
        source: Arc<dyn Source>,
        watermarks: WatermarkStrategy,
    ) -> NodeId {
        self.add_node(name, parallelism, NodeKind::Source { source, watermarks })
    }

    /// An operator fed by `inputs` (input i of the operator is `inputs[i]`).
    pub fn add_operator(
        &mut self,
        name: impl Into<String>,
        parallelism: u32,
        inputs: &[(NodeId, Partitioning)],
        factory: Arc<dyn OperatorFactory>,
    ) -> NodeId {
        let id = self.add_node(
            name,
            parallelism,
            NodeKind::Operator {
                factory,
                inputs: inputs.len(),
            },
        );
        for (i, (source, partitioning)) in inputs.iter().enumerate() {
            self.connect(*source, id, i, partitioning.clone());
        }
        id
    }

    pub fn add_sink(
        &mut self,
        name: impl Into<String>,
        parallelism: u32,
        input: (NodeId, Partitioning),
        sink: Arc<dyn Sink>,
    ) -> NodeId {
        let id = self.add_node(name, parallelism, NodeKind::Sink { sink });
        self.connect(input.0, id, 0, input.1);
        id
    }

    pub fn connect(
        &mut self,
        source: NodeId,
        target: NodeId,
        target_input: usize,
        partitioning: Partitioning,
    ) {
        self.edges.push(StreamEdge {
            source,
            target,
            target_input,
            partitioning,
        });
    }

    /// Puts a node in a slot sharing group (Flink's `slotSharingGroup(name)`).
    pub fn set_slot_sharing_group(&mut self, node: NodeId, group: impl Into<String>) {
        if let Some(n) = self.nodes.get_mut(node) {
            n.slot_sharing_group = group.into();
        }
    }
}
