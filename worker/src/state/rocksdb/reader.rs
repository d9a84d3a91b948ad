//! Reading the keyed state of a completed RocksDB checkpoint offline, as Flink's State
//! Processor API reads a savepoint: for the master's state browser, which reads only
//! the canonical keyed snapshot (`operators::keyed_snapshot`). An operator section
//! holding an uploaded checkpoint handle (`EDDYRKS1`) is downloaded into a private
//! temporary directory; a fresh instance of the operator that wrote it (from the job's
//! planned graph) restores it on a private RocksDB slot whose key groups are the ones
//! asked for — all of the snapshot's, or one (imported alone) — and its savepoint
//! snapshot, the canonical form, is the result. Nothing of the job's running state is
//! touched; the directory is removed afterwards.

use std::path::PathBuf;

use super::handle::UploadedSnapshot;
use super::resources::RocksDbSlot;
use super::transfer;
use crate::graph::JobGraph;
use crate::graph::stream_graph::NodeKind;
use crate::key_groups::KeyGroupRange;
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::message::CheckpointBarrier;
use crate::runtime::metrics::SubtaskMetrics;
use crate::runtime::operator::{Operator, OperatorContext, SubtaskInfo};
use crate::state::backend::StateBackend;
use crate::state::memory::MemoryBudget;
use crate::time::clock::system_clock;

/// Most bytes of RocksDB files one read downloads (explicit limit).
pub const MAX_READ_BYTES: u64 = 1 << 30;
/// The managed memory of the reader's private slot (half of it is RocksDB's cache).
const READER_MEMORY: usize = 64 << 20;

/// Removes the reader's directory however the read ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            tracing::debug!(dir = %self.0.display(), error = %e, "cannot remove a state reader's directory");
        }
    }
}

/// The canonical keyed snapshot of operator section `section` of subtask `subtask`
/// of vertex `vertex` (`operator`: the section's index, the operator's place in the
/// chain after the source) in a completed checkpoint of the job planned as `graph`;
/// only key group `key_group` when given (empty when the section holds no such key
/// group). `None`: the section is not a RocksDB checkpoint handle.
pub async fn read_keyed_state(
    graph: &JobGraph,
    vertex: u32,
    operator: u32,
    subtask: u32,
    section: &[u8],
    key_group: Option<u32>,
) -> Result<Option<Vec<u8>>> {
    let Some(uploaded) = UploadedSnapshot::decode(section) else {
        return Ok(None);
    };
    let uploaded = uploaded?;
    let (start, end) = uploaded.key_groups;
    let range = match key_group {
        Some(g) if !(start..=end).contains(&g) => return Ok(Some(Vec::new())),
        Some(g) => KeyGroupRange { start: g, end: g },
        None => KeyGroupRange { start, end },
    };
    let size: u64 = uploaded.shared.iter().map(|f| f.size).sum::<u64>()
        + uploaded.private.iter().map(|f| f.size).sum::<u64>();
    if size > MAX_READ_BYTES {
        return Err(RuntimeError::Graph(format!(
            "the RocksDB state of subtask {subtask} holds {size} bytes, more than {MAX_READ_BYTES} to read"
        )));
    }
    let (mut op, info) = chain_operator(graph, vertex, operator, subtask, range)?;
    let dir = TempDir(std::env::temp_dir().join(format!(
        "eddy-state-reader-{}",
        uuid::Uuid::new_v4().simple()
    )));
    let (downloaded, _) = transfer::download(&uploaded, &dir.0.join("download"))
        .await
        .map_err(RuntimeError::Graph)?;
    let handle = downloaded.encode()?;
    let slot_dir = dir.0.join("slot");
    let snapshot = tokio::task::spawn_blocking(move || -> Result<Vec<u8>> {
        let memory = MemoryBudget::new(READER_MEMORY);
        let ctx = OperatorContext {
            subtask: info,
            clock: system_clock(),
            metrics: SubtaskMetrics::new(),
            state_backend: StateBackend::RocksDb(RocksDbSlot::new(slot_dir, memory.clone())?),
            memory,
        };
        op.restore_state(&handle)?;
        op.open(&ctx)?;
        let savepoint = CheckpointBarrier {
            checkpoint_id: 0,
            timestamp_ms: 0,
            savepoint: true,
        };
        Ok(op.snapshot_state(&savepoint)?.unwrap_or_default())
    })
    .await
    .map_err(|e| RuntimeError::Graph(format!("the state reader stopped: {e}")))??;
    drop(dir);
    Ok(Some(snapshot))
}

/// A fresh instance of the operator at `operator` in `vertex`'s chain (counted as a
/// task counts its operators: every node after the source, sinks included), for a
/// subtask owning `range`.
fn chain_operator(
    graph: &JobGraph,
    vertex: u32,
    operator: u32,
    subtask: u32,
    range: KeyGroupRange,
) -> Result<(Box<dyn Operator>, SubtaskInfo)> {
    let v = graph
        .vertices
        .iter()
        .find(|v| v.id == vertex as usize)
        .ok_or_else(|| RuntimeError::Graph(format!("the job has no vertex {vertex}")))?;
    let info = SubtaskInfo {
        job_name: graph.job_name.clone(),
        vertex_name: v.name.clone(),
        index: subtask,
        parallelism: v.parallelism,
        max_parallelism: graph.max_parallelism,
        key_group_range: range,
    };
    let node = v
        .chain
        .iter()
        .filter_map(|&n| graph.nodes.get(n))
        .filter(|n| !matches!(n.kind, NodeKind::Source { .. }))
        .nth(operator as usize)
        .ok_or_else(|| {
            RuntimeError::Graph(format!("vertex {vertex} has no operator {operator}"))
        })?;
    match &node.kind {
        NodeKind::Operator { factory, .. } => Ok((factory.create(&info)?, info)),
        _ => Err(RuntimeError::Graph(format!(
            "{} keeps no keyed state",
            node.name
        ))),
    }
}
