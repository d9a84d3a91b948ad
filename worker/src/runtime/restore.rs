//! Restoring a subtask from a completed checkpoint's (or savepoint's) directory, before
//! it runs. With the vertex's parallelism unchanged a subtask reads its own snapshot
//! `VERTEX-SUBTASK`; when it changed (rescaling — the directory's `_metadata`, written
//! by the master, has the parallelism the snapshots were taken at) it reads the
//! snapshots of every earlier subtask of its vertex: a source takes the positions of its
//! own splits, keyed operators the key groups of their range, and a sink commits what
//! each covered (idempotently).

use std::path::Path;

use eddy_api::snapshot::{SECTION_OPERATOR, SECTION_POSITION, decode_snapshot};

use super::error::{Result, RuntimeError};
use super::operator::Operator;
use super::task::TaskInput;

/// The checkpoint metadata file the master writes into every completed checkpoint.
pub const METADATA_FILE: &str = "_metadata";
/// Largest metadata file read (explicit limit).
pub const MAX_METADATA_BYTES: u64 = 16 << 20;

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

fn corrupt(file: &Path, what: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Graph(format!("{}: {what}", file.display()))
}

/// The parallelism the vertex's snapshots were taken at (`None`: no metadata, as in a
/// directory of an older version; the subtask then reads its own snapshot).
fn snapshot_parallelism(dir: &Path, subtask: &RestoredSubtask<'_>) -> Result<Option<u32>> {
    let file = dir.join(METADATA_FILE);
    let bytes = match std::fs::metadata(&file) {
        Ok(m) if m.len() > MAX_METADATA_BYTES => {
            return Err(corrupt(
                &file,
                format!("larger than {MAX_METADATA_BYTES} bytes"),
            ));
        }
        Ok(_) => {
            std::fs::read(&file).map_err(|e| RuntimeError::io(file.display().to_string(), e))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(RuntimeError::io(file.display().to_string(), e)),
    };
    let metadata: Metadata = serde_json::from_slice(&bytes).map_err(|e| corrupt(&file, e))?;
    let vertex = metadata
        .vertices
        .iter()
        .find(|v| v.id as usize == subtask.vertex)
        .ok_or_else(|| {
            corrupt(
                &file,
                format!("no vertex {}: the job's graph changed", subtask.vertex),
            )
        })?;
    if vertex.name != subtask.name {
        return Err(corrupt(
            &file,
            format!(
                "vertex {} was '{}', is '{}': the job's graph changed",
                subtask.vertex, vertex.name, subtask.name
            ),
        ));
    }
    Ok(Some(vertex.parallelism))
}

/// The sections of snapshot `DIR/VERTEX-INDEX` (none if that subtask kept no state).
fn sections(dir: &Path, vertex: usize, index: u32) -> Result<Vec<(u8, u32, Vec<u8>)>> {
    let file = dir.join(format!("{vertex}-{index}"));
    match std::fs::read(&file) {
        Ok(bytes) => decode_snapshot(&bytes).map_err(|e| corrupt(&file, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(RuntimeError::io(file.display().to_string(), e)),
    }
}

/// Restores one subtask's source position and operator state from `dir`.
pub fn restore(
    dir: &Path,
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
                            dir.display(),
                            operators.len()
                        )));
                    }
                },
                other => {
                    return Err(RuntimeError::Graph(format!(
                        "{}: a snapshot section of unknown kind {other}",
                        dir.display()
                    )));
                }
            }
        }
    }
    if !positions.is_empty() {
        let Some(TaskInput::Source { reader, .. }) = input.as_mut() else {
            return Err(RuntimeError::Graph(format!(
                "{}: a source position for vertex {}, which reads no source",
                dir.display(),
                subtask.vertex
            )));
        };
        match (rescaled, positions.as_slice()) {
            (false, [one]) => reader.restore_position(one)?,
            _ => reader.restore_rescaled(&positions)?,
        }
    }
    tracing::info!(vertex = subtask.vertex, subtask = subtask.index, rescaled, dir = %dir.display(), "restored from checkpoint");
    Ok(())
}
