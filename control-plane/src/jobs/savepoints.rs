//! Savepoint operations (Flink's asynchronous operations of `/savepoints` and `/stop`):
//! each trigger id's status, kept in memory on the leader and polled by clients. A
//! savepoint is a checkpoint the coordinator triggers on request; once complete its
//! directory is copied to the savepoint target (so retention never deletes it) and, for
//! a stop, the job stops. Statistics of the checkpoint itself are in the store.

use std::collections::BTreeMap;
use std::sync::Mutex;

use eddy_api::savepoints::{SavepointStatus, SavepointTriggerResponse};
use eddy_storage::Location;

use eddy_api::jobs::JobStatus;

use super::JobError;

/// Operations remembered at once (explicit limit; the oldest ended ones go first).
pub const MAX_SAVEPOINT_OPERATIONS: usize = 1024;
/// Longest client-supplied trigger id.
pub const MAX_TRIGGER_ID_CHARS: usize = 128;

pub const IN_PROGRESS: &str = "IN_PROGRESS";
pub const COMPLETED: &str = "COMPLETED";
pub const FAILED: &str = "FAILED";

/// What the coordinator needs of a savepoint request.
#[derive(Debug, Clone, PartialEq)]
pub struct SavepointTrigger {
    pub trigger_id: String,
    /// The location the savepoint's own directory is created in.
    pub target: String,
    /// What the savepoint does to the job.
    pub mode: StopMode,
    /// A rescale: after the stop the job restarts from the savepoint with this plan.
    pub rescale: Option<Rescale>,
}

/// What a savepoint does to the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// The job runs on.
    Run,
    /// The job stops at the savepoint (FINISHED; a job resumed from it goes on there).
    Stop,
    /// The sources end after the savepoint's barrier; the job drains and FINISHES.
    Drain,
}

/// The plan of a rescaled job (planned when the rescale is requested).
#[derive(Debug, Clone, PartialEq)]
pub struct Rescale {
    pub parallelism: u32,
    pub graph: eddy_api::rest::JobGraphInfo,
}

/// The operations of every job, by (job id, trigger id), in trigger order.
#[derive(Debug, Default)]
pub struct SavepointOperations {
    operations: Mutex<BTreeMap<(String, String), (u64, SavepointStatus)>>,
    /// Numbers operations in trigger order (the oldest ended one is evicted first).
    sequence: std::sync::atomic::AtomicU64,
}

impl SavepointOperations {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), (u64, SavepointStatus)>> {
        self.operations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a new operation; false if `trigger_id` is known for the job already
    /// (a retried request: nothing new is triggered).
    pub fn start(&self, job_id: &str, trigger: &SavepointTrigger) -> bool {
        let seq = self
            .sequence
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut ops = self.lock();
        let key = (job_id.to_string(), trigger.trigger_id.clone());
        if ops.contains_key(&key) {
            return false;
        }
        if ops.len() >= MAX_SAVEPOINT_OPERATIONS {
            let oldest = ops
                .iter()
                .filter(|(_, (_, s))| s.status != IN_PROGRESS)
                .min_by_key(|(_, (seq, _))| *seq)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                ops.remove(&k);
            }
        }
        ops.insert(
            key,
            (
                seq,
                SavepointStatus {
                    trigger_id: trigger.trigger_id.clone(),
                    status: IN_PROGRESS.into(),
                    location: None,
                    checkpoint_id: None,
                    failure: None,
                    stop: trigger.mode != StopMode::Run,
                },
            ),
        );
        true
    }

    pub fn get(&self, job_id: &str, trigger_id: &str) -> Option<SavepointStatus> {
        self.lock()
            .get(&(job_id.to_string(), trigger_id.to_string()))
            .map(|(_, s)| s.clone())
    }

    /// Updates an operation (absent ones, e.g. evicted, are ignored).
    pub fn update(&self, job_id: &str, trigger_id: &str, f: impl FnOnce(&mut SavepointStatus)) {
        if let Some((_, s)) = self
            .lock()
            .get_mut(&(job_id.to_string(), trigger_id.to_string()))
        {
            f(s);
        }
    }

    pub fn fail(&self, job_id: &str, trigger_id: &str, reason: &str) {
        self.update(job_id, trigger_id, |s| {
            s.status = FAILED.into();
            s.failure = Some(reason.to_string());
        });
    }
}

/// Copies a completed checkpoint's files to `target/savepoint-JOB8-ID`; returns the
/// savepoint's location.
pub async fn copy_to_savepoint(
    checkpoint: &str,
    target: &str,
    job_id: &str,
    checkpoint_id: u64,
) -> Result<String, eddy_storage::StorageError> {
    let short: String = job_id.chars().filter(|c| *c != '-').take(8).collect();
    let savepoint = Location::open(target)?.child(&format!("savepoint-{short}-{checkpoint_id}"));
    Location::open(checkpoint)?.copy_to(&savepoint).await?;
    Ok(savepoint.as_str().to_string())
}

impl super::JobManager {
    /// Triggers a savepoint of a running job — with `stop`, a stop-with-savepoint —
    /// and answers its trigger id at once; `None` if there is no such job. A known
    /// trigger id answers again without triggering anything.
    pub async fn trigger_savepoint(
        &self,
        id: &str,
        trigger_id: Option<String>,
        target_directory: Option<String>,
        mode: StopMode,
    ) -> Result<Option<SavepointTriggerResponse>, JobError> {
        self.savepoint_operation(id, trigger_id, target_directory, mode, None)
            .await
    }

    /// Rescales a running job (Flink's reactive rescale by hand): plans it at
    /// `parallelism`, stops it with a savepoint and restarts it from there, state
    /// redistributed by key group and source positions by split. Answers the
    /// savepoint's trigger id.
    pub async fn rescale(
        &self,
        id: &str,
        parallelism: u32,
        trigger_id: Option<String>,
    ) -> Result<Option<SavepointTriggerResponse>, JobError> {
        if !(1..=super::MAX_PARALLELISM).contains(&parallelism) {
            return Err(JobError::BadRequest(format!(
                "parallelism must be 1..={}",
                super::MAX_PARALLELISM
            )));
        }
        let Some(sql) = self.shared.store.job(id).await?.map(|row| row.sql) else {
            return Ok(None);
        };
        let planner = self.planner.clone().ok_or(JobError::NoPlanner)?;
        let planned = planner
            .validate(sql, parallelism)
            .await
            .map_err(JobError::InvalidSql)?;
        let rescale = Rescale {
            parallelism,
            graph: planned.graph,
        };
        self.savepoint_operation(id, trigger_id, None, StopMode::Stop, Some(rescale))
            .await
    }

    async fn savepoint_operation(
        &self,
        id: &str,
        trigger_id: Option<String>,
        target_directory: Option<String>,
        mode: StopMode,
        rescale: Option<Rescale>,
    ) -> Result<Option<SavepointTriggerResponse>, JobError> {
        if trigger_id
            .as_ref()
            .is_some_and(|t| t.is_empty() || t.chars().count() > MAX_TRIGGER_ID_CHARS)
        {
            return Err(JobError::BadRequest(format!(
                "trigger_id must be 1..={MAX_TRIGGER_ID_CHARS} characters"
            )));
        }
        let trigger_id = trigger_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        if self.shared.savepoints.get(id, &trigger_id).is_some() {
            return Ok(Some(SavepointTriggerResponse { trigger_id }));
        }
        let commands = self
            .shared
            .lock_jobs()
            .get(id)
            .map(|e| (e.commands.clone(), e.job.lock().status));
        let commands = match commands {
            Some((Some(tx), JobStatus::Running)) => tx,
            Some((_, status)) => {
                return Err(JobError::Conflict(format!(
                    "job {id} is {}, not RUNNING",
                    status.as_str()
                )));
            }
            None => match self.shared.store.job(id).await? {
                Some(row) => {
                    return Err(JobError::Conflict(format!(
                        "job {id} is {}, not RUNNING",
                        row.status
                    )));
                }
                None => return Ok(None),
            },
        };
        let target = match target_directory {
            Some(dir) if !dir.trim().is_empty() => dir,
            _ => default_target(&self.shared.checkpoint_root),
        };
        let trigger = SavepointTrigger {
            trigger_id: trigger_id.clone(),
            target,
            mode,
            rescale,
        };
        if self.shared.savepoints.start(id, &trigger)
            && commands
                .send(super::JobCommand::TriggerSavepoint(trigger))
                .await
                .is_err()
        {
            self.shared.savepoints.fail(
                id,
                &trigger_id,
                "the job ended before the savepoint started",
            );
        }
        tracing::info!(job_id = %id, %trigger_id, ?mode, "savepoint requested");
        Ok(Some(SavepointTriggerResponse { trigger_id }))
    }

    /// A savepoint operation's status; `None` if the job or the trigger id is unknown.
    pub fn savepoint_status(&self, id: &str, trigger_id: &str) -> Option<SavepointStatus> {
        self.shared.savepoints.get(id, trigger_id)
    }
}

/// Refuses a `savepoint_path` that holds no checkpoint (no `_metadata`).
pub(super) async fn check_savepoint(path: &str) -> Result<(), JobError> {
    let bad = |why: String| JobError::BadRequest(format!("savepoint_path '{path}': {why}"));
    let dir = Location::open(path).map_err(|e| bad(e.to_string()))?;
    match dir.get(super::checkpoints::METADATA_FILE).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(bad("no savepoint or checkpoint there".into())),
        Err(e) => Err(bad(e.to_string())),
    }
}

/// `…/savepoints` beside the checkpoint root (`DATA_DIR/savepoints` by default), or
/// inside it when the root is a bucket itself.
fn default_target(checkpoint_root: &str) -> String {
    let root = checkpoint_root.trim_end_matches('/');
    match root.rsplit_once('/') {
        Some((parent, _)) if !parent.is_empty() && !parent.ends_with(":/") => {
            format!("{parent}/savepoints")
        }
        _ => format!("{root}/savepoints"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger(id: &str) -> SavepointTrigger {
        SavepointTrigger {
            trigger_id: id.into(),
            target: "/sp".into(),
            mode: StopMode::Run,
            rescale: None,
        }
    }

    #[test]
    fn a_retried_trigger_id_starts_nothing_new_and_updates_show() {
        let ops = SavepointOperations::default();
        assert!(ops.start("job", &trigger("t1")));
        assert!(!ops.start("job", &trigger("t1")), "idempotent retry");
        assert!(ops.start("other", &trigger("t1")), "ids are per job");
        assert_eq!(
            ops.get("job", "t1").map(|s| s.status),
            Some(IN_PROGRESS.into())
        );
        ops.fail("job", "t1", "declined");
        let s = ops.get("job", "t1").unwrap();
        assert_eq!(
            (s.status.as_str(), s.failure.as_deref()),
            (FAILED, Some("declined"))
        );
        assert!(ops.get("job", "nope").is_none());
    }

    #[tokio::test]
    async fn copies_a_checkpoint_directory() {
        let dir = tempfile::tempdir().unwrap();
        let chk = dir.path().join("chk-3");
        std::fs::create_dir_all(&chk).unwrap();
        std::fs::write(chk.join("0-0"), b"EDDYSNP1").unwrap();
        let target = dir.path().join("sp").display().to_string();
        let sp = copy_to_savepoint(chk.to_str().unwrap(), &target, "ab-cd-ef-12345", 3)
            .await
            .unwrap();
        assert!(sp.ends_with("savepoint-abcdef12-3"), "{sp}");
        assert_eq!(std::fs::read(format!("{sp}/0-0")).unwrap(), b"EDDYSNP1");
    }

    #[test]
    fn savepoints_go_beside_the_checkpoints() {
        assert_eq!(default_target("/data/checkpoints"), "/data/savepoints");
        assert_eq!(default_target("s3://b/ckpt"), "s3://b/savepoints");
        assert_eq!(default_target("s3://b"), "s3://b/savepoints");
    }
}
