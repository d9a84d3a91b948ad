//! Slot assignment with Flink's slot sharing: subtask i of every vertex of one slot
//! sharing group goes to that group's slot i, so a group needs as many slots as its
//! highest parallelism; different groups (resource groups) never share a slot. The
//! slots a job gets are picked round-robin over the workers with the most free slots
//! first, so subtasks spread evenly over workers.

use std::collections::BTreeMap;

use eddy_api::rest::JobGraphInfo;

/// The free slots of one worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSlots {
    pub worker_id: String,
    pub address: String,
    /// Indexes of its free slots, ascending.
    pub free: Vec<u32>,
}

/// A slot of a worker.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotRef {
    pub worker_id: String,
    pub address: String,
    pub slot_index: u32,
}

/// Where one subtask runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub vertex: u32,
    pub index: u32,
    pub slot: SlotRef,
}

/// Not enough free slots: what the job waits for in SCHEDULED.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("waiting for slots: the job needs {needed} slots ({groups}), {available} are free")]
pub struct SlotShortage {
    pub needed: usize,
    pub available: usize,
    /// e.g. `default: 3, io: 2`.
    pub groups: String,
}

/// Slots each slot sharing group needs (its highest parallelism), in the order the
/// groups first appear among the vertices.
pub fn slots_per_group(graph: &JobGraphInfo) -> Vec<(String, u32)> {
    let mut order: Vec<String> = Vec::new();
    let mut need: BTreeMap<String, u32> = BTreeMap::new();
    for v in &graph.vertices {
        if !need.contains_key(&v.slot_sharing_group) {
            order.push(v.slot_sharing_group.clone());
        }
        let n = need.entry(v.slot_sharing_group.clone()).or_insert(0);
        *n = (*n).max(v.parallelism);
    }
    order
        .into_iter()
        .map(|g| {
            let n = need.get(&g).copied().unwrap_or(0);
            (g, n)
        })
        .collect()
}

/// Assigns every subtask of `graph` to one of the free slots, or says what is missing.
pub fn assign(
    graph: &JobGraphInfo,
    workers: &[WorkerSlots],
) -> Result<Vec<Assignment>, SlotShortage> {
    let groups = slots_per_group(graph);
    let needed: usize = groups.iter().map(|(_, n)| *n as usize).sum();
    let available: usize = workers.iter().map(|w| w.free.len()).sum();
    if needed > available {
        return Err(SlotShortage {
            needed,
            available,
            groups: groups
                .iter()
                .map(|(g, n)| format!("{g}: {n}"))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let picked = pick_spread(workers, needed);
    // Group g's slot i is the i-th of the slots picked for g.
    let mut group_slots: BTreeMap<&str, &[SlotRef]> = BTreeMap::new();
    let mut offset = 0;
    for (group, n) in &groups {
        let n = *n as usize;
        group_slots.insert(group.as_str(), &picked[offset..offset + n]);
        offset += n;
    }
    let mut assignments = Vec::new();
    for v in &graph.vertices {
        let slots = group_slots
            .get(v.slot_sharing_group.as_str())
            .copied()
            .unwrap_or(&[]);
        for index in 0..v.parallelism {
            // The group's slot count is its highest parallelism: `index` is in range.
            let slot = slots[index as usize].clone();
            assignments.push(Assignment {
                vertex: v.id,
                index,
                slot,
            });
        }
    }
    Ok(assignments)
}

/// `count` slots taken round-robin over the workers (those with more free slots
/// first, ties by id), one slot per worker per round.
fn pick_spread(workers: &[WorkerSlots], count: usize) -> Vec<SlotRef> {
    let mut order: Vec<&WorkerSlots> = workers.iter().filter(|w| !w.free.is_empty()).collect();
    order.sort_by(|a, b| {
        b.free
            .len()
            .cmp(&a.free.len())
            .then_with(|| a.worker_id.cmp(&b.worker_id))
    });
    let mut picked = Vec::with_capacity(count);
    let mut round = 0;
    while picked.len() < count {
        let mut took_any = false;
        for w in &order {
            if picked.len() == count {
                break;
            }
            if let Some(&slot_index) = w.free.get(round) {
                took_any = true;
                picked.push(SlotRef {
                    worker_id: w.worker_id.clone(),
                    address: w.address.clone(),
                    slot_index,
                });
            }
        }
        if !took_any {
            break;
        }
        round += 1;
    }
    picked
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use eddy_api::rest::VertexInfo;

    use super::*;

    fn vertex(id: u32, parallelism: u32, group: &str) -> VertexInfo {
        VertexInfo {
            id,
            name: format!("v{id}"),
            parallelism,
            slot_sharing_group: group.into(),
            operators: vec![format!("v{id}")],
        }
    }

    fn workers(n: usize, slots: u32) -> Vec<WorkerSlots> {
        (0..n)
            .map(|i| WorkerSlots {
                worker_id: format!("w{i}"),
                address: format!("127.0.0.1:{}", 7000 + i),
                free: (0..slots).collect(),
            })
            .collect()
    }

    fn graph(vertices: Vec<VertexInfo>) -> JobGraphInfo {
        JobGraphInfo {
            vertices,
            edges: vec![],
        }
    }

    fn slots_used(a: &[Assignment]) -> HashSet<SlotRef> {
        a.iter().map(|a| a.slot.clone()).collect()
    }

    #[test]
    fn one_group_uses_its_highest_parallelism_spread_over_workers() {
        let g = graph(vec![
            vertex(0, 3, "default"),
            vertex(1, 3, "default"),
            vertex(2, 1, "default"),
        ]);
        let a = assign(&g, &workers(3, 2)).unwrap();
        assert_eq!(a.len(), 7);
        let used = slots_used(&a);
        assert_eq!(used.len(), 3);
        let per_worker: HashSet<_> = used.iter().map(|s| s.worker_id.clone()).collect();
        assert_eq!(per_worker.len(), 3, "one slot on each worker");
        // Slot sharing: subtask i of every vertex shares a slot.
        let slot_of: HashMap<(u32, u32), SlotRef> = a
            .iter()
            .map(|a| ((a.vertex, a.index), a.slot.clone()))
            .collect();
        for i in 0..3 {
            assert_eq!(slot_of[&(0, i)], slot_of[&(1, i)]);
        }
        assert_eq!(slot_of[&(2, 0)], slot_of[&(0, 0)]);
    }

    #[test]
    fn groups_never_share_slots() {
        let g = graph(vec![
            vertex(0, 2, "io"),
            vertex(1, 3, "default"),
            vertex(2, 3, "default"),
        ]);
        assert_eq!(
            slots_per_group(&g),
            vec![("io".to_string(), 2), ("default".to_string(), 3)]
        );
        let a = assign(&g, &workers(3, 2)).unwrap();
        let io: HashSet<_> = a
            .iter()
            .filter(|a| a.vertex == 0)
            .map(|a| a.slot.clone())
            .collect();
        let default: HashSet<_> = a
            .iter()
            .filter(|a| a.vertex != 0)
            .map(|a| a.slot.clone())
            .collect();
        assert_eq!((io.len(), default.len()), (2, 3));
        assert!(io.is_disjoint(&default));
        assert_eq!(slots_used(&a).len(), 5);
        // 5 slots over 3 workers: 2, 2, 1.
        let mut per_worker: HashMap<String, usize> = HashMap::new();
        for s in slots_used(&a) {
            *per_worker.entry(s.worker_id).or_default() += 1;
        }
        let mut counts: Vec<usize> = per_worker.into_values().collect();
        counts.sort();
        assert_eq!(counts, [1, 2, 2]);
    }

    #[test]
    fn too_few_slots_says_what_is_missing() {
        let g = graph(vec![vertex(0, 2, "io"), vertex(1, 3, "default")]);
        let err = assign(&g, &workers(1, 2)).unwrap_err();
        assert_eq!((err.needed, err.available), (5, 2));
        assert!(err.to_string().contains("io: 2, default: 3"), "{err}");
    }

    #[test]
    fn uses_the_fullest_workers_free_slots_first() {
        let mut w = workers(2, 3);
        w[0].free = vec![2];
        let a = assign(&graph(vec![vertex(0, 2, "default")]), &w).unwrap();
        let used: Vec<_> = a
            .iter()
            .map(|a| (a.slot.worker_id.as_str(), a.slot.slot_index))
            .collect();
        assert_eq!(used, [("w1", 0), ("w0", 2)]);
    }
}
