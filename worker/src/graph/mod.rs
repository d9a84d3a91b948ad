//! Job graphs: the user-facing [`stream_graph::StreamGraph`] (nodes and partitioned
//! edges) and the chained [`job_graph::JobGraph`] whose vertices run as tasks.

pub mod describe;
pub mod job_graph;
pub mod slot_sharing;
pub mod stream_graph;

pub use job_graph::{JobEdge, JobGraph, JobVertex, VertexId};
pub use stream_graph::{DEFAULT_SLOT_SHARING_GROUP, NodeId, Partitioning, StreamGraph};
