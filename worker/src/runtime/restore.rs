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

/// The files of one completed checkpoint or savepoint, by name.
#[derive(Debug, Clone, Default)]
pub struct RestoreFiles {
    /// Where they were read from (for messages).
    pub location: String,
    pub files: BTreeMap<String, Vec<u8>>,
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

/// The subtask being restored.
#[derive(Debug)]
pub struct RestoredSubtask<'a> {
    pub vertex: usize,
    pub name: &'a str,
    pub index: u32,
    pub parallelism: u32,
}

fn corrupt(files: &RestoreFiles, file: &str, what: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Graph(format!("{}/{file}: {what}", files.location))
}

/// The parallelism the vertex's snapshots were taken at (`None`: no metadata, as in a
/// directory of an older version; the subtask then reads its own snapshot).
fn snapshot_parallelism(
    files: &RestoreFiles,
    subtask: &RestoredSubtask<'_>,
) -> Result<Option<u32>> {
    let Some(bytes) = files.files.get(METADATA_FILE) else {
        return Ok(None);
    };
    let metadata: Metadata =
        serde_json::from_slice(bytes).map_err(|e| corrupt(files, METADATA_FILE, e))?;
    let vertex = metadata
        .vertices
        .iter()
        .find(|v| v.id as usize == subtask.vertex)
        .ok_or_else(|| {
            corrupt(
                files,
                METADATA_FILE,
                format!("no vertex {}: the job's graph changed", subtask.vertex),
            )
        })?;
    if vertex.name != subtask.name {
        return Err(corrupt(
            files,
            METADATA_FILE,
            format!(
                "vertex {} was '{}', is '{}': the job's graph changed",
                subtask.vertex, vertex.name, subtask.name
            ),
        ));
    }
    Ok(Some(vertex.parallelism))
}

/// The sections of snapshot `VERTEX-INDEX` (none if that subtask kept no state).
fn sections(files: &RestoreFiles, vertex: usize, index: u32) -> Result<Vec<(u8, u32, Vec<u8>)>> {
    let name = format!("{vertex}-{index}");
    match files.files.get(&name) {
        Some(bytes) => decode_snapshot(bytes).map_err(|e| corrupt(files, &name, e)),
        None => Ok(Vec::new()),
    }
}

/// Restores one subtask's source position and operator state from `dir`.
pub fn restore(
    dir: &RestoreFiles,
    subtask: &RestoredSubtask<'_>,
    input: &mut Option<TaskInput>,
    operators: &mut [Box<dyn Operator>],
) -> Result<()> {
    let earlier = snapshot_parallelism(dir, subtask)?;
    let rescaled = earlier.is_some_and(|p| p != subtask.parallelism);
    let snapshots: Vec<u32> = match earlier {
        Some(p) if rescaled => (0..p).collect(),
        _ => vec![subtask.index],
    };
    let mut positions = Vec::new();
    for index in snapshots {
        for (kind, i, state) in sections(dir, subtask.vertex, index)? {
            match kind {
                SECTION_POSITION => positions.push(state),
                SECTION_OPERATOR => match operators.get_mut(i as usize) {
                    Some(op) => op.restore_state(&state)?,
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
