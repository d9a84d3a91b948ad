//! The asynchronous part of an incremental RocksDB checkpoint, run by the worker's
//! checkpoint writer while the task goes on: every operator section of a snapshot
//! holding a [`LocalSnapshot`] is turned into an [`UploadedSnapshot`] — SST files the
//! last completed checkpoint does not hold go to `JOB/shared/<name>`, the private
//! files to `JOB/chk-N/rocksdb/VERTEX-SUBTASK-OPERATOR/` (deleted with the checkpoint),
//! and the local checkpoint directory is removed. Restoring downloads them back
//! ([`download`]) into a local directory the operator opens as its database.

use std::path::Path;

use eddy_api::snapshot::{SECTION_OPERATOR, decode_snapshot, encode_sections};
use eddy_storage::Location;

use super::handle::{DownloadedSnapshot, LocalSnapshot, SHARED_DIR, UploadedSnapshot};

/// Largest file of a RocksDB checkpoint this worker transfers in one piece (explicit
/// limit; SST files are bounded by the write buffer and compaction sizes).
pub const MAX_TRANSFER_FILE_BYTES: u64 = 1 << 30;

/// A snapshot after its RocksDB files were uploaded.
#[derive(Debug, Default)]
pub struct Finalized {
    /// The snapshot with uploaded handles (what the checkpoint stores).
    pub bytes: Vec<u8>,
    /// Names under `JOB/shared/` the snapshot refers to.
    pub shared_files: Vec<String>,
    /// Bytes of every file the snapshot needs (the full state).
    pub state_size: u64,
    /// Bytes uploaded for this checkpoint, the snapshot file included.
    pub uploaded: u64,
}

/// Uploads the RocksDB files of `snapshot` (an encoded subtask snapshot) for
/// checkpoint `checkpoint_id` under `job_dir`; other sections pass unchanged.
pub async fn finalize_snapshot(
    snapshot: &[u8],
    job_dir: &Location,
    checkpoint_id: u64,
    vertex: u32,
    index: u32,
) -> Result<Finalized, String> {
    let mut sections = decode_snapshot(snapshot)?;
    let mut done = Finalized::default();
    for (kind, op, bytes) in &mut sections {
        if *kind != SECTION_OPERATOR {
            continue;
        }
        let Some(local) = LocalSnapshot::decode(bytes) else {
            continue;
        };
        let local = local.map_err(|e| e.to_string())?;
        let private_dir = format!("chk-{checkpoint_id}/rocksdb/{vertex}-{index}-{op}");
        let result = upload(&local, job_dir, &private_dir, &mut done).await;
        if let Err(e) = std::fs::remove_dir_all(&local.dir) {
            tracing::debug!(dir = %local.dir, error = %e, "cannot remove a local rocksdb checkpoint");
        }
        *bytes = result?.encode().map_err(|e| e.to_string())?;
    }
    done.bytes = encode_sections(&sections);
    done.state_size += done.bytes.len() as u64;
    done.uploaded += done.bytes.len() as u64;
    Ok(done)
}

async fn read_local(dir: &Path, name: &str) -> Result<Vec<u8>, String> {
    let path = dir.join(name);
    let size = tokio::fs::metadata(&path)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    if size > MAX_TRANSFER_FILE_BYTES {
        return Err(format!(
            "{}: {size} bytes, more than {MAX_TRANSFER_FILE_BYTES}",
            path.display()
        ));
    }
    tokio::fs::read(&path)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))
}

async fn upload(
    local: &LocalSnapshot,
    job_dir: &Location,
    private_dir: &str,
    done: &mut Finalized,
) -> Result<UploadedSnapshot, String> {
    let dir = Path::new(&local.dir);
    let shared_dir = job_dir.child(SHARED_DIR);
    let private = job_dir.child(private_dir);
    let storage = |e: eddy_storage::StorageError| e.to_string();
    for file in &local.shared {
        done.state_size += file.size;
        done.shared_files.push(file.remote.clone());
        if local.reused.contains(&file.remote) {
            continue;
        }
        let bytes = read_local(dir, &file.local).await?;
        done.uploaded += bytes.len() as u64;
        shared_dir.put(&file.remote, bytes).await.map_err(storage)?;
    }
    for file in &local.private {
        let bytes = read_local(dir, &file.name).await?;
        done.state_size += bytes.len() as u64;
        done.uploaded += bytes.len() as u64;
        private.put(&file.name, bytes).await.map_err(storage)?;
    }
    tracing::debug!(dir = %local.dir, shared = local.shared.len(), reused = local.reused.len(), private = local.private.len(), "rocksdb checkpoint uploaded");
    Ok(UploadedSnapshot {
        base: job_dir.as_str().to_string(),
        private_dir: private_dir.to_string(),
        shared: local.shared.clone(),
        private: local.private.clone(),
        key_groups: local.key_groups,
    })
}

/// Fetches an uploaded snapshot's files into `target` (created; the database's
/// files under their local names). Returns the handle of the downloaded copy and
/// its bytes.
pub async fn download(
    uploaded: &UploadedSnapshot,
    target: &Path,
) -> Result<(DownloadedSnapshot, u64), String> {
    let base = Location::open(&uploaded.base).map_err(|e| e.to_string())?;
    let shared = base.child(SHARED_DIR);
    let private = base.child(&uploaded.private_dir);
    tokio::fs::create_dir_all(target)
        .await
        .map_err(|e| format!("{}: {e}", target.display()))?;
    let mut bytes_read = 0;
    let files = uploaded
        .shared
        .iter()
        .map(|f| (&shared, f.remote.as_str(), f.local.as_str()))
        .chain(
            uploaded
                .private
                .iter()
                .map(|f| (&private, f.name.as_str(), f.name.as_str())),
        );
    for (location, remote, local) in files {
        let bytes = location
            .get(remote)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{}/{remote} is missing", location.as_str()))?;
        bytes_read += bytes.len() as u64;
        let path = target.join(local);
        tokio::fs::write(&path, &bytes)
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok((
        DownloadedSnapshot {
            dir: target.display().to_string(),
            shared: uploaded.shared.clone(),
            key_groups: uploaded.key_groups,
        },
        bytes_read,
    ))
}
