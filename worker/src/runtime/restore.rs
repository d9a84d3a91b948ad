//! Restoring a subtask from a completed checkpoint's (or savepoint's) files, before it
//! runs (the task executor reads them from the checkpoint storage into
//! [`RestoreFiles`]). With the vertex's parallelism unchanged a subtask reads its own snapshot
//! `VERTEX-SUBTASK`; when it changed (rescaling — the directory's `_metadata`, written
//! by the master, has the parallelism the snapshots were taken at) it reads the
//! snapshots of every earlier subtask of its vertex: a source takes the positions of its
//! own splits, keyed operators the key groups of their range, and a sink commits what
//! each covered (idempotently).

use std::collections::BTreeMap;

use eddy_api::snapshot::{SECTION_OPERATOR, SECTION_POSITION, decode_snapshot};

use super::error::{Result, RuntimeError};
use super::operator::Operator;
use super::task::TaskInput;

/// The checkpoint metadata file the master writes into every completed checkpoint.
pub const METADATA_FILE: &str = "_metadata";

/// A snapshot's sections: (kind, index in the chain, bytes).
type Sections = Vec<(u8, u32, Vec<u8>)>;

/// One completed checkpoint or savepoint, read and decoded once per deployment: its
/// metadata and every snapshot's sections, by file name.
#[derive(Debug, Clone, Default)]
pub struct RestoreFiles {
    /// Where they were read from (for messages).
    pub location: String,
    /// Vertex id → (name, parallelism the snapshots were taken at); `None` without
    /// metadata (a directory of an older version: each subtask reads its own snapshot).
    vertices: Option<BTreeMap<u32, (String, u32)>>,
    snapshots: BTreeMap<String, Sections>,
}

#[derive(Debug, serde::Deserialize)]
struct Metadata {
    vertices: Vec<MetadataVertex>,
}

#[derive(Debug, serde::Deserialize)]
struct MetadataVertex {
    id: u32,
    name: String,
    parallelism: u32,
}

impl RestoreFiles {
    /// Decodes the files of a checkpoint directory (`_metadata` and `VERTEX-SUBTASK`).
    pub fn decode(location: String, files: BTreeMap<String, Vec<u8>>) -> Result<RestoreFiles> {
        let corrupt =
            |file: &str, what: String| RuntimeError::Graph(format!("{location}/{file}: {what}"));
        let mut vertices = None;
        let mut snapshots = BTreeMap::new();
        for (name, bytes) in files {
            if name == METADATA_FILE {
                let metadata: Metadata =
                    serde_json::from_slice(&bytes).map_err(|e| corrupt(&name, e.to_string()))?;
                vertices = Some(
                    metadata
                        .vertices
                        .into_iter()
                        .map(|v| (v.id, (v.name, v.parallelism)))
                        .collect(),
                );
            } else {
                let sections = decode_snapshot(&bytes).map_err(|e| corrupt(&name, e))?;
                snapshots.insert(name, sections);
            }
        }
        Ok(RestoreFiles {
            location,
            vertices,
            snapshots,
        })
    }

    /// The parallelism vertex `vertex`'s snapshots were taken at, per the metadata.
    pub fn parallelism_of(&self, vertex: u32) -> Option<u32> {
        self.vertices.as_ref()?.get(&vertex).map(|(_, p)| *p)
    }

    /// Every operator section: (snapshot file name, operator index, bytes) — the
    /// task executor replaces RocksDB handles with their downloaded copies.
    pub fn operator_sections_mut(&mut self) -> impl Iterator<Item = (&str, u32, &mut Vec<u8>)> {
        self.snapshots.iter_mut().flat_map(|(name, sections)| {
            sections
                .iter_mut()
                .filter(|(kind, _, _)| *kind == SECTION_OPERATOR)
                .map(move |(_, index, bytes)| (name.as_str(), *index, bytes))
        })
    }

    /// The parallelism the vertex's snapshots were taken at (`None`: no metadata).
    fn snapshot_parallelism(&self, subtask: &RestoredSubtask<'_>) -> Result<Option<u32>> {
        let Some(vertices) = &self.vertices else {
            return Ok(None);
        };
        let corrupt = |what: String| {
            RuntimeError::Graph(format!("{}/{METADATA_FILE}: {what}", self.location))
        };
        let (name, parallelism) = vertices.get(&(subtask.vertex as u32)).ok_or_else(|| {
            corrupt(format!(
                "no vertex {}: the job's graph changed",
                subtask.vertex
            ))
        })?;
        if name != subtask.name {
            return Err(corrupt(format!(
                "vertex {} was '{name}', is '{}': the job's graph changed",
                subtask.vertex, subtask.name
            )));
        }
        Ok(Some(*parallelism))
    }

    /// The sections of snapshot `VERTEX-INDEX` (none if that subtask kept no state).
    fn sections(&self, vertex: usize, index: u32) -> &[(u8, u32, Vec<u8>)] {
        self.snapshots
            .get(&format!("{vertex}-{index}"))
            .map_or(&[], Vec::as_slice)
    }
}

/// The subtask being restored.
#[derive(Debug)]
pub struct RestoredSubtask<'a> {
    pub vertex: usize,
    pub name: &'a str,
    pub index: u32,
    pub parallelism: u32,
}

/// Restores one subtask's source position and operator state from `dir`.
pub fn restore(
    dir: &RestoreFiles,
    subtask: &RestoredSubtask<'_>,
    input: &mut Option<TaskInput>,
    operators: &mut [Box<dyn Operator>],
) -> Result<()> {
    let earlier = dir.snapshot_parallelism(subtask)?;
    let rescaled = earlier.is_some_and(|p| p != subtask.parallelism);
    let snapshots: Vec<u32> = match earlier {
        Some(p) if rescaled => (0..p).collect(),
        _ => vec![subtask.index],
    };
    let mut positions = Vec::new();
    for index in snapshots {
        for (kind, i, state) in dir.sections(subtask.vertex, index) {
            match *kind {
                SECTION_POSITION => positions.push(state.clone()),
                SECTION_OPERATOR => match operators.get_mut(*i as usize) {
                    Some(op) => op.restore_state(state)?,
                    None => {
                        return Err(RuntimeError::Graph(format!(
                            "{}: state for operator {i} of a chain of {}",
                            dir.location,
                            operators.len()
                        )));
                    }
                },
                other => {
                    return Err(RuntimeError::Graph(format!(
                        "{}: a snapshot section of unknown kind {other}",
                        dir.location
                    )));
                }
            }
        }
    }
    if !positions.is_empty() {
        let Some(TaskInput::Source { reader, .. }) = input.as_mut() else {
            return Err(RuntimeError::Graph(format!(
                "{}: a source position for vertex {}, which reads no source",
                dir.location, subtask.vertex
            )));
        };
        match (rescaled, positions.as_slice()) {
            (false, [one]) => reader.restore_position(one)?,
            _ => reader.restore_rescaled(&positions)?,
        }
    }
    tracing::info!(vertex = subtask.vertex, subtask = subtask.index, rescaled, location = %dir.location, "restored from checkpoint");
    Ok(())
}
