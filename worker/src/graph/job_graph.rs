//! Operator chaining (Flink's `StreamingJobGraphGenerator`): a [`StreamGraph`] becomes a
//! [`JobGraph`] whose vertices are chains of nodes that run in one task. A node joins its
//! input's chain when the edge is forward, parallelisms are equal, both are in the same
//! slot sharing group, the node has that one input and the input feeds only this node.

use super::stream_graph::{NodeId, NodeKind, Partitioning, StreamGraph, StreamNode};
use crate::key_groups;
use crate::runtime::error::{Result, RuntimeError};

pub type VertexId = usize;

/// Upper bound on the parallelism of one vertex (explicit limit).
pub const MAX_PARALLELISM_PER_VERTEX: u32 = 1024;

#[derive(Debug, Clone)]
pub struct JobVertex {
    pub id: VertexId,
    /// The chain's node names joined by " -> ", as Flink shows chains.
    pub name: String,
    pub parallelism: u32,
    pub slot_sharing_group: String,
    /// The nodes of the chain, head first.
    pub chain: Vec<NodeId>,
    /// Number of logical inputs of the chain head (0 for a source).
    pub inputs: usize,
}

#[derive(Debug, Clone)]
pub struct JobEdge {
    pub source: VertexId,
    pub target: VertexId,
    pub target_input: usize,
    pub partitioning: Partitioning,
}

#[derive(Debug)]
pub struct JobGraph {
    pub job_name: String,
    pub max_parallelism: u32,
    pub nodes: Vec<StreamNode>,
    pub vertices: Vec<JobVertex>,
    pub edges: Vec<JobEdge>,
}

impl JobGraph {
    /// Validates the stream graph and chains it.
    pub fn from_stream_graph(graph: StreamGraph) -> Result<JobGraph> {
        validate(&graph)?;
        let n = graph.nodes.len();
        let in_edges = |node: NodeId| graph.edges.iter().filter(move |e| e.target == node);
        let out_degree = |node: NodeId| graph.edges.iter().filter(|e| e.source == node).count();
        let chainable = |node: &StreamNode| -> Option<NodeId> {
            if matches!(node.kind, NodeKind::Source { .. }) {
                return None;
            }
            let mut ins = in_edges(node.id);
            let edge = ins.next()?;
            let up = &graph.nodes[edge.source];
            let ok = ins.next().is_none()
                && edge.partitioning == Partitioning::Forward
                && up.parallelism == node.parallelism
                && up.slot_sharing_group == node.slot_sharing_group
                && out_degree(up.id) == 1;
            ok.then_some(up.id)
        };
        // chained_to[node] = upstream node it is chained behind.
        let chained_to: Vec<Option<NodeId>> = graph.nodes.iter().map(chainable).collect();
        let mut vertex_of = vec![usize::MAX; n];
        let mut vertices = Vec::new();
        for head in (0..n).filter(|&i| chained_to[i].is_none()) {
            let mut chain = vec![head];
            let mut tail = head;
            while let Some(next) = (0..n).find(|&j| chained_to[j] == Some(tail)) {
                chain.push(next);
                tail = next;
            }
            let id = vertices.len();
            for &node in &chain {
                vertex_of[node] = id;
            }
            let head_node = &graph.nodes[head];
            vertices.push(JobVertex {
                id,
                name: chain
                    .iter()
                    .map(|&i| graph.nodes[i].name.as_str())
                    .collect::<Vec<_>>()
                    .join(" -> "),
                parallelism: head_node.parallelism,
                slot_sharing_group: head_node.slot_sharing_group.clone(),
                chain,
                inputs: match &head_node.kind {
                    NodeKind::Source { .. } => 0,
                    NodeKind::Operator { inputs, .. } => *inputs,
                    NodeKind::Sink { .. } => 1,
                },
            });
        }
        let edges = graph
            .edges
            .iter()
            .filter(|e| chained_to[e.target] != Some(e.source))
            .map(|e| JobEdge {
                source: vertex_of[e.source],
                target: vertex_of[e.target],
                target_input: e.target_input,
                partitioning: e.partitioning.clone(),
            })
            .collect();
        Ok(JobGraph {
            job_name: graph.job_name,
            max_parallelism: graph.max_parallelism,
            nodes: graph.nodes,
            vertices,
            edges,
        })
    }

    /// Edges into a vertex ordered by (input, source vertex): the order of its input channels.
    pub fn inputs_of(&self, vertex: VertexId) -> Vec<&JobEdge> {
        let mut v: Vec<&JobEdge> = self.edges.iter().filter(|e| e.target == vertex).collect();
        v.sort_by_key(|e| (e.target_input, e.source));
        v
    }

    pub fn outputs_of(&self, vertex: VertexId) -> Vec<&JobEdge> {
        self.edges.iter().filter(|e| e.source == vertex).collect()
    }
}

fn validate(graph: &StreamGraph) -> Result<()> {
    let err = |m: String| Err(RuntimeError::Graph(m));
    if graph.nodes.is_empty() {
        return err("the job has no operators".into());
    }
    for node in &graph.nodes {
        if node.parallelism == 0 || node.parallelism > MAX_PARALLELISM_PER_VERTEX {
            return err(format!(
                "'{}': parallelism {} is not between 1 and {MAX_PARALLELISM_PER_VERTEX}",
                node.name, node.parallelism
            ));
        }
        key_groups::check(node.parallelism, graph.max_parallelism)?;
        let inputs = graph.edges.iter().filter(|e| e.target == node.id).count();
        let expected = match &node.kind {
            NodeKind::Source { .. } => 0,
            NodeKind::Operator { inputs, .. } => *inputs,
            NodeKind::Sink { .. } => 1,
        };
        if inputs != expected {
            return err(format!(
                "'{}' has {inputs} inputs, expects {expected}",
                node.name
            ));
        }
    }
    for e in &graph.edges {
        let (Some(s), Some(t)) = (graph.nodes.get(e.source), graph.nodes.get(e.target)) else {
            return err(format!(
                "edge {} -> {} names a missing node",
                e.source, e.target
            ));
        };
        if matches!(s.kind, NodeKind::Sink { .. }) {
            return err(format!("sink '{}' cannot have outputs", s.name));
        }
        if e.partitioning == Partitioning::Forward && s.parallelism != t.parallelism {
            return err(format!(
                "forward edge '{}' -> '{}' changes parallelism {} -> {}; use rebalance or hash",
                s.name, t.name, s.parallelism, t.parallelism
            ));
        }
        if e.source >= e.target {
            return err(format!(
                "edge '{}' -> '{}' goes backwards (cycles are not allowed)",
                s.name, t.name
            ));
        }
    }
    Ok(())
}
