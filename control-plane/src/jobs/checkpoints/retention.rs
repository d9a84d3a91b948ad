//! Retention of a job's completed checkpoints and the reference tracking of their
//! shared files (Flink's `CompletedCheckpointStore` and `SharedStateRegistry` at work):
//! keeping the newest `num-retained`, deleting subsumed checkpoints and the shared files
//! nothing refers to any more, the files of checkpoints that never completed, and
//! rebuilding all of it after a master restart. The registry itself is
//! [`SharedFiles`](super::super::shared_files::SharedFiles).

use std::collections::BTreeSet;

use eddy_storage::Location;

use super::super::Shared;
use super::super::shared_files::read_retained;
use super::{CheckpointCoordinator, SHARED_DIR};
use crate::store::checkpoint_status;

impl CheckpointCoordinator {
    /// Keeps the newest `num_retained` completed checkpoints; deletes the directories
    /// of older ones, and the shared files nothing needs any more (see [`SharedFiles`]).
    pub(super) async fn retain(
        &mut self,
        job_id: &str,
        id: u64,
        path: String,
        shared: BTreeSet<String>,
    ) {
        self.retained.push_back((id, path, shared));
        while self.retained.len() > self.config.num_retained {
            let Some((old, dir, shared)) = self.retained.pop_front() else {
                break;
            };
            self.shared_files.discarded.extend(shared);
            if self.unknown_retained.remove(&old) && self.unknown_retained.is_empty() {
                self.shared_files.complete = true;
            }
            let deleted = match Location::open(&dir) {
                Ok(location) => location.delete_all().await.map(|()| location),
                Err(e) => Err(e),
            };
            match deleted {
                Ok(location) => {
                    if location.is_local() {
                        // A local directory's emptied folder goes too.
                        let _ = std::fs::remove_dir_all(location.as_str());
                    }
                    tracing::debug!(%job_id, checkpoint_id = old, "subsumed checkpoint deleted")
                }
                Err(e) => {
                    tracing::warn!(%job_id, checkpoint_id = old, error = %e, "cannot delete a subsumed checkpoint")
                }
            }
        }
        self.delete_unreferenced_shared_files(job_id).await;
    }

    /// The job's folder of shared files.
    fn shared_dir(&self, job_id: &str) -> Result<Location, eddy_storage::StorageError> {
        Ok(Location::open(&self.config.root)?.child(&format!("{job_id}/{SHARED_DIR}")))
    }

    /// Deletes the discarded shared files no retained, pending or latest incremental
    /// checkpoint refers to, and — when nothing is pending — those of checkpoints that
    /// never completed (see [`SharedFiles`]).
    pub(super) async fn delete_unreferenced_shared_files(&mut self, job_id: &str) {
        let idle = self.pending.is_empty();
        let aborted_due = idle && !self.shared_files.aborted.is_empty();
        if self.shared_files.discarded.is_empty() && !aborted_due {
            return;
        }
        let referenced = self
            .retained
            .iter()
            .flat_map(|(_, _, s)| s)
            .chain(self.pending.values().flat_map(|p| &p.shared));
        let delete = self.shared_files.take_unreferenced(referenced, idle);
        if delete.is_empty() {
            return;
        }
        let dir = match self.shared_dir(job_id) {
            Ok(dir) => dir,
            Err(e) => {
                tracing::warn!(%job_id, error = %e, "cannot open the checkpoint storage to delete shared files");
                return;
            }
        };
        for file in &delete {
            if let Err(e) = dir.delete(file).await {
                tracing::warn!(%job_id, %file, error = %e, "cannot delete a shared checkpoint file");
            }
        }
        tracing::debug!(%job_id, deleted = delete.len(), "unreferenced shared checkpoint files deleted");
    }

    /// Checkpoint `id` never completes: the shared files it uploaded — those its
    /// acknowledgements named and, when nothing else is pending, every file of the
    /// shared folder no retained checkpoint refers to (uploads of subtasks that never
    /// acknowledged) — are deleted unless the latest completed checkpoint holds them.
    pub(super) async fn abort_shared_files(
        &mut self,
        job_id: &str,
        id: u64,
        files: BTreeSet<String>,
    ) {
        let listed = if self.pending.is_empty() && self.shared_files.complete {
            match self.shared_dir(job_id) {
                Ok(dir) => match dir.list().await {
                    Ok(listed) => Some(listed.into_iter().map(|(name, _)| name).collect()),
                    Err(e) => {
                        tracing::warn!(%job_id, checkpoint_id = id, error = %e, "cannot list the shared checkpoint files");
                        None
                    }
                },
                Err(_) => None,
            }
        } else {
            None
        };
        self.shared_files.abort(files, listed);
        self.delete_unreferenced_shared_files(job_id).await;
    }

    /// Rebuilds the retained checkpoints and their shared files (after a master
    /// restart or failover, before the first attempt): the newest `num_retained`
    /// completed checkpoints (the store's, and Raft's latest) whose directory still
    /// holds `_metadata`,
    /// each with the shared files the metadata lists; the newest non-savepoint one is
    /// the latest incremental. Then files of the shared folder none of them refers to
    /// (left by checkpoints that never completed) are deleted. A retained checkpoint
    /// whose metadata lists no files (written before the list existed) keeps the
    /// registry incomplete — nothing unknown is deleted — until retention discards it.
    pub(crate) async fn recover_retained(&mut self, shared: &Shared, job_id: &str) {
        let rows = match shared.store.checkpoints(job_id).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(%job_id, error = %e, "cannot read the retained checkpoints; shared files are not deleted");
                return;
            }
        };
        // The store's completed checkpoints, newest first, and Raft's latest (the
        // master may have stopped between committing it and recording it).
        let mut candidates: Vec<(u64, String, bool)> = rows
            .iter()
            .filter(|r| r.status == checkpoint_status::COMPLETED)
            .map(|r| (r.checkpoint_id, r.path.clone(), r.is_savepoint))
            .collect();
        if let Some(latest) = shared.raft.latest_checkpoint(job_id)
            && !candidates.iter().any(|c| c.0 == latest.checkpoint_id)
        {
            candidates.push((latest.checkpoint_id, latest.path, false));
            candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
        }
        let found = read_retained(job_id, candidates, self.config.num_retained).await;
        let unknown: BTreeSet<u64> = found
            .iter()
            .filter(|c| c.files.is_none())
            .map(|c| c.id)
            .collect();
        if let Some(c) = found.iter().rev().find(|c| !c.is_savepoint) {
            self.shared_files.latest_incremental = c.files.clone().unwrap_or_default();
        }
        let retained = found.len();
        self.retained = found
            .into_iter()
            .map(|c| (c.id, c.path, c.files.unwrap_or_default()))
            .collect();
        self.shared_files.complete = unknown.is_empty();
        self.unknown_retained = unknown;
        tracing::info!(%job_id, retained, complete = self.shared_files.complete, "retained checkpoints and their shared files rebuilt");
        if self.shared_files.complete {
            self.abort_shared_files(job_id, 0, BTreeSet::new()).await;
        }
    }
}
