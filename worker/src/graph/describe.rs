//! The REST view of a chained job graph (what `POST /api/v1/sql/validate` returns and
//! the dashboard draws).

use eddy_api::rest::{EdgeInfo, JobGraphInfo, VertexInfo};

use super::JobGraph;

impl JobGraph {
    pub fn describe(&self) -> JobGraphInfo {
        JobGraphInfo {
            vertices: self
                .vertices
                .iter()
                .map(|v| VertexInfo {
                    id: v.id as u32,
                    name: v.name.clone(),
                    parallelism: v.parallelism,
                    slot_sharing_group: v.slot_sharing_group.clone(),
                    operators: v
                        .chain
                        .iter()
                        .map(|&n| self.nodes[n].name.clone())
                        .collect(),
                })
                .collect(),
            edges: self
                .edges
                .iter()
                .map(|e| EdgeInfo {
                    source: e.source as u32,
                    target: e.target as u32,
                    partitioning: e.partitioning.name().to_string(),
                })
                .collect(),
        }
    }
}
