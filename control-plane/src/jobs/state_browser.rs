//! The state browser (which neither Flink nor Arroyo has): reads a completed
//! checkpoint's snapshots of one vertex and serves its keyed state, read-only, paged
//! and filtered by key group and key prefix. Keyed state is stored in the canonical
//! keyed snapshot (`eddy_worker::operators::keyed_snapshot`: Arrow IPC rows of key
//! group, key bytes, the key as text, the namespace and the state columns), whichever
//! backend wrote it; other sections (source positions, sink state) are skipped. A
//! RocksDB checkpoint's section (a handle of SST files) is first read into that form
//! by the injected planner's [`SqlPlanner::read_keyed_state`] — the job's own operator
//! restores it offline — with the key-group filter applied while reading.

use std::collections::BTreeMap;
use std::io::Cursor;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::UInt32Type;
use arrow::ipc::reader::StreamReader;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use eddy_api::keyed_state::{KeyedStateEntry, KeyedStateQuery, KeyedStateResponse};
use eddy_api::snapshot::{ROCKSDB_CHECKPOINT_MAGIC, SECTION_OPERATOR, decode_snapshot};
use eddy_storage::Location;

use super::{JobError, JobManager};
use crate::sql::{KeyedStateRead, SqlPlanner};
use crate::store::checkpoint_status;

/// Entries per page by default, and at most.
pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 1000;
/// Largest snapshot file read (explicit limit: the master reads it into memory).
pub const MAX_SNAPSHOT_BYTES: u64 = 512 << 20;
/// Subtask snapshot files of one vertex read at most.
pub const MAX_SUBTASK_FILES: usize = 4096;

/// Why a checkpoint's state cannot be browsed (each maps to a REST status).
#[derive(Debug)]
pub enum Unbrowsable {
    /// No such job, checkpoint or vertex (404).
    NotFound(String),
    /// The checkpoint is not completed, or its files were deleted (409).
    Unavailable(String),
}

impl JobManager {
    /// One page of `query.vertex`'s keyed state in checkpoint `cid` of job `id`.
    pub async fn keyed_state(
        &self,
        id: &str,
        cid: u64,
        query: &KeyedStateQuery,
    ) -> Result<Result<KeyedStateResponse, Unbrowsable>, JobError> {
        let Some(job) = self.shared.store.job(id).await? else {
            return Ok(Err(Unbrowsable::NotFound(format!("no job {id}"))));
        };
        let Some(checkpoint) = self.shared.store.checkpoint(id, cid).await? else {
            return Ok(Err(Unbrowsable::NotFound(format!(
                "no checkpoint {cid} of job {id}"
            ))));
        };
        if checkpoint.status != checkpoint_status::COMPLETED {
            return Ok(Err(Unbrowsable::Unavailable(format!(
                "checkpoint {cid} is {}, not COMPLETED",
                checkpoint.status
            ))));
        }
        let dir = Location::open(&checkpoint.path).map_err(storage_error)?;
        let listed = dir.list().await.map_err(storage_error)?;
        if listed.is_empty() {
            return Ok(Err(Unbrowsable::Unavailable(format!(
                "checkpoint {cid} was discarded (only the newest are retained)"
            ))));
        }
        let graph: eddy_api::rest::JobGraphInfo =
            serde_json::from_str(&job.graph_json).map_err(|e| JobError::Corrupt {
                id: id.to_string(),
                reason: e.to_string(),
            })?;
        let Some(vertex) = graph.vertices.iter().find(|v| v.id == query.vertex) else {
            return Ok(Err(Unbrowsable::NotFound(format!(
                "job {id} has no vertex {}",
                query.vertex
            ))));
        };
        let limit = query.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE) as usize;
        let offset = query.offset.unwrap_or(0);
        let mut page = Page {
            query,
            offset,
            limit,
            total: 0,
            entries: Vec::new(),
            operators: Vec::new(),
        };
        for (subtask, file) in subtask_files(&listed, query.vertex)? {
            let bytes = dir
                .get(&file)
                .await
                .map_err(storage_error)?
                .unwrap_or_default();
            let sections = decode_snapshot(&bytes).map_err(|e| JobError::Corrupt {
                id: id.to_string(),
                reason: format!("{}/{file}: {e}", dir.as_str()),
            })?;
            for (kind, index, state) in sections {
                if kind != SECTION_OPERATOR {
                    continue;
                }
                let operator = vertex
                    .operators
                    .get(index as usize)
                    .cloned()
                    .unwrap_or_else(|| format!("operator {index}"));
                let state = if state.starts_with(ROCKSDB_CHECKPOINT_MAGIC) {
                    let planner = self.planner.as_ref().ok_or(JobError::NoPlanner)?;
                    let read = KeyedStateRead {
                        sql: job.sql.clone(),
                        parallelism: job.parallelism,
                        vertex: vertex.id,
                        operator: index,
                        subtask,
                        section: state,
                        key_group: query.key_group,
                    };
                    match read_rocksdb(planner.as_ref(), read).await? {
                        Some(canonical) => canonical,
                        None => continue,
                    }
                } else {
                    state
                };
                page.read(&operator, subtask, &state);
            }
        }
        let next = offset + page.entries.len() as u64;
        Ok(Ok(KeyedStateResponse {
            job_id: id.to_string(),
            checkpoint_id: cid,
            vertex: vertex.id,
            vertex_name: vertex.name.clone(),
            operators: page.operators,
            total: page.total,
            next_offset: (next < page.total).then_some(next),
            entries: page.entries,
        }))
    }
}

/// A RocksDB checkpoint's section as the canonical keyed snapshot.
async fn read_rocksdb(
    planner: &dyn SqlPlanner,
    read: KeyedStateRead,
) -> Result<Option<Vec<u8>>, JobError> {
    let (vertex, subtask) = (read.vertex, read.subtask);
    planner.read_keyed_state(read).await.map_err(|e| {
        JobError::Conflict(format!(
            "the RocksDB state of vertex {vertex} subtask {subtask} cannot be read: {e}"
        ))
    })
}

fn storage_error(e: eddy_storage::StorageError) -> JobError {
    JobError::Conflict(format!("the checkpoint storage cannot be read: {e}"))
}

/// The snapshot files `VERTEX-SUBTASK` of a vertex, by subtask; refuses one larger than
/// [`MAX_SNAPSHOT_BYTES`] (the master reads it into memory).
fn subtask_files(listed: &[(String, u64)], vertex: u32) -> Result<Vec<(u32, String)>, JobError> {
    let prefix = format!("{vertex}-");
    let mut files = Vec::new();
    for (name, size) in listed {
        let Some(subtask) = name.strip_prefix(&prefix).and_then(|s| s.parse().ok()) else {
            continue;
        };
        if *size > MAX_SNAPSHOT_BYTES {
            return Err(JobError::Conflict(format!(
                "{name} is larger than {MAX_SNAPSHOT_BYTES} bytes: too large to browse"
            )));
        }
        files.push((subtask, name.clone()));
        if files.len() >= MAX_SUBTASK_FILES {
            break;
        }
    }
    files.sort();
    Ok(files)
}

/// The page being collected: matching entries are counted, those in the page kept.
struct Page<'a> {
    query: &'a KeyedStateQuery,
    offset: u64,
    limit: usize,
    total: u64,
    entries: Vec<KeyedStateEntry>,
    operators: Vec<String>,
}

impl Page<'_> {
    /// Reads one operator section; one that is not a keyed snapshot is skipped.
    fn read(&mut self, operator: &str, subtask: u32, state: &[u8]) {
        let Ok(reader) = StreamReader::try_new(Cursor::new(state), None) else {
            return;
        };
        if reader.schema().index_of("key_text").is_err() {
            return;
        }
        if !self.operators.iter().any(|o| o == operator) {
            self.operators.push(operator.to_string());
        }
        for batch in reader.flatten() {
            self.read_batch(operator, subtask, &batch);
        }
    }

    fn read_batch(&mut self, operator: &str, subtask: u32, batch: &RecordBatch) {
        let schema = batch.schema();
        let column = |name: &str| schema.index_of(name).ok().map(|i| batch.column(i));
        let (Some(groups), Some(keys)) = (
            column("key_group").and_then(|c| c.as_primitive_opt::<UInt32Type>()),
            column("key_text").and_then(|c| c.as_string_opt::<i32>()),
        ) else {
            return;
        };
        let namespaces = column("namespace").and_then(|c| c.as_string_opt::<i32>());
        let options = FormatOptions::default().with_null("NULL");
        let values: Vec<(String, ArrayFormatter<'_>)> = schema
            .fields()
            .iter()
            .zip(batch.columns())
            .filter(|(f, _)| {
                !matches!(
                    f.name().as_str(),
                    "key_group" | "key" | "key_text" | "namespace"
                )
            })
            .filter_map(|(f, c)| {
                ArrayFormatter::try_new(c.as_ref(), &options)
                    .ok()
                    .map(|fmt| (f.name().clone(), fmt))
            })
            .collect();
        for row in 0..batch.num_rows() {
            let key_group = groups.value(row);
            let key = keys.value(row);
            if self.query.key_group.is_some_and(|g| g != key_group)
                || self
                    .query
                    .prefix
                    .as_ref()
                    .is_some_and(|p| !key.starts_with(p.as_str()))
            {
                continue;
            }
            self.total += 1;
            if self.total <= self.offset || self.entries.len() >= self.limit {
                continue;
            }
            self.entries.push(KeyedStateEntry {
                operator: operator.to_string(),
                subtask,
                key_group,
                key: key.to_string(),
                namespace: namespaces
                    .filter(|n| n.is_valid(row))
                    .map(|n| n.value(row).to_string()),
                values: values
                    .iter()
                    .map(|(name, fmt)| (name.clone(), fmt.value(row).to_string()))
                    .collect::<BTreeMap<_, _>>(),
            });
        }
    }
}
