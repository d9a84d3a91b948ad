//! The worker's checkpoint writer for one job attempt: takes the snapshots its tasks
//! copied, writes each to the checkpoint storage (`ROOT/JOB/chk-N/VERTEX-SUBTASK`)
//! while the tasks go on (the asynchronous part), then acknowledges it to the master —
//! or declines the checkpoint when a task could not take its snapshot.

use std::time::Instant;

use eddy_api::rpc::{CheckpointAck, CheckpointDecline};
use eddy_storage::Location;
use tokio::sync::mpsc;

use super::report::MasterReporter;
use crate::runtime::checkpoint::{SNAPSHOT_QUEUE, SubtaskSnapshot};
use crate::state::rocksdb::transfer::finalize_snapshot;

/// Flink's option naming the checkpoint storage directory.
pub const CHECKPOINT_DIR_OPTION: &str = "state.checkpoints.dir";

/// The directory of checkpoint `id` of a job under the storage root.
pub fn checkpoint_path(root: &Location, job_id: &str, checkpoint_id: u64) -> Location {
    root.child(&format!("{job_id}/chk-{checkpoint_id}"))
}

/// Starts the writer of one attempt; tasks send their snapshots to the returned queue.
pub fn spawn_writer(
    reporter: MasterReporter,
    job_id: String,
    attempt: u32,
    root: Location,
) -> mpsc::Sender<SubtaskSnapshot> {
    let (tx, mut rx) = mpsc::channel::<SubtaskSnapshot>(SNAPSHOT_QUEUE);
    tokio::spawn(async move {
        while let Some(snapshot) = rx.recv().await {
            let id = snapshot.barrier.checkpoint_id;
            match write(&root, &job_id, &snapshot).await {
                Ok(written) => {
                    let ack = CheckpointAck {
                        worker_id: reporter.worker_id.clone(),
                        job_id: job_id.clone(),
                        attempt,
                        checkpoint_id: id,
                        vertex: snapshot.vertex,
                        index: snapshot.index,
                        state_size: written.state_size,
                        checkpointed_size: written.uploaded,
                        shared_files: written.shared_files,
                        start_delay_ms: snapshot.start_delay.as_millis() as u64,
                        alignment_ms: snapshot.alignment.as_millis() as u64,
                        sync_ms: snapshot.sync.as_millis() as u64,
                        async_ms: written.async_ms,
                        file: written.file,
                        key_group_first: snapshot.key_groups.0,
                        key_group_last: snapshot.key_groups.1,
                    };
                    reporter.acknowledge(ack).await;
                }
                Err(reason) => {
                    tracing::warn!(%job_id, attempt, checkpoint_id = id, vertex = snapshot.vertex, subtask = snapshot.index, %reason, "declining the checkpoint");
                    reporter
                        .decline(CheckpointDecline {
                            worker_id: reporter.worker_id.clone(),
                            job_id: job_id.clone(),
                            attempt,
                            checkpoint_id: id,
                            vertex: snapshot.vertex,
                            index: snapshot.index,
                            reason,
                        })
                        .await;
                }
            }
        }
    });
    tx
}

/// What writing one snapshot gave.
#[derive(Debug, Default)]
struct Written {
    /// The snapshot file ("" if stateless).
    file: String,
    /// Bytes of the full state (the snapshot and every file it refers to).
    state_size: u64,
    /// Bytes written for this checkpoint (incremental RocksDB state: the new files).
    uploaded: u64,
    shared_files: Vec<String>,
    async_ms: u64,
}

/// Writes one snapshot, uploading its RocksDB files first (the asynchronous part of
/// an incremental checkpoint).
async fn write(
    root: &Location,
    job_id: &str,
    snapshot: &SubtaskSnapshot,
) -> Result<Written, String> {
    let bytes = snapshot.state.as_ref().map_err(|e| e.clone())?;
    if bytes.is_empty() {
        return Ok(Written::default());
    }
    let started = Instant::now();
    let id = snapshot.barrier.checkpoint_id;
    let finalized = finalize_snapshot(
        bytes,
        &root.child(job_id),
        id,
        snapshot.vertex,
        snapshot.index,
    )
    .await?;
    let dir = checkpoint_path(root, job_id, id);
    let name = format!("{}-{}", snapshot.vertex, snapshot.index);
    dir.put(&name, finalized.bytes)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Written {
        file: format!("{}/{name}", dir.as_str()),
        state_size: finalized.state_size,
        uploaded: finalized.uploaded,
        shared_files: finalized.shared_files,
        async_ms: started.elapsed().as_millis() as u64,
    })
}
