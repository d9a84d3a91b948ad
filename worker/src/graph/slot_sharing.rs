//! Slot sharing (Flink's `SlotSharingGroup`): subtask i of every vertex of one group
//! goes to the group's slot i, so a group needs as many slots as its highest
//! parallelism, and vertices of different groups never share a slot.

use std::collections::BTreeMap;

use super::job_graph::{JobGraph, VertexId};

/// One slot a job needs: the `index`-th slot of a slot sharing group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SlotRequest {
    pub group: String,
    pub index: u32,
}

#[derive(Debug, Clone)]
pub struct SlotPlan {
    /// The slots the job needs, ordered by group then index.
    pub slots: Vec<SlotRequest>,
    /// For each vertex, the position in `slots` of each of its subtasks.
    pub subtask_slots: Vec<Vec<usize>>,
}

impl SlotPlan {
    pub fn new(graph: &JobGraph) -> SlotPlan {
        let mut per_group: BTreeMap<&str, u32> = BTreeMap::new();
        for v in &graph.vertices {
            let p = per_group.entry(v.slot_sharing_group.as_str()).or_default();
            *p = (*p).max(v.parallelism);
        }
        let slots: Vec<SlotRequest> = per_group
            .iter()
            .flat_map(|(group, p)| {
                (0..*p).map(|index| SlotRequest {
                    group: group.to_string(),
                    index,
                })
            })
            .collect();
        let position = |group: &str, index: u32| {
            slots
                .iter()
                .position(|s| s.group == group && s.index == index)
                .unwrap_or(0)
        };
        let subtask_slots = graph
            .vertices
            .iter()
            .map(|v| {
                (0..v.parallelism)
                    .map(|i| position(&v.slot_sharing_group, i))
                    .collect()
            })
            .collect();
        SlotPlan {
            slots,
            subtask_slots,
        }
    }

    pub fn slot_of(&self, vertex: VertexId, subtask: u32) -> usize {
        self.subtask_slots[vertex][subtask as usize]
    }
}
