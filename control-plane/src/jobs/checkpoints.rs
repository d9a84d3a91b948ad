//! The checkpoint coordinator of one job (Flink's `CheckpointCoordinator`): triggers
//! checkpoints at the configured interval (ids drawn through Raft), collects every
//! subtask's acknowledgement, and completes a checkpoint — recording it through Raft as
//! the job's latest — once all acknowledged; a decline or the timeout fails it.
//! Statistics go to the store as they happen.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use eddy_api::rest::Event;
use eddy_api::rpc::{
    CheckpointAck, CheckpointDecline, NotifyCheckpointRequest, TriggerCheckpointRequest,
};
use eddy_storage::Location;

use super::Shared;
use super::savepoints::{self, Rescale, SavepointTrigger, StopMode};
use super::shared_files::{METADATA_SHARED_FILES, SharedFiles};
use super::state::{JobState, exec};

mod retention;
use crate::raft::Command;
use crate::registry::now_ms;
use crate::store::{CheckpointRow, CheckpointSubtaskRow, checkpoint_status};

/// Flink's option names and defaults.
pub const INTERVAL: &str = "execution.checkpointing.interval";
pub const TIMEOUT: &str = "execution.checkpointing.timeout";
pub const MIN_PAUSE: &str = "execution.checkpointing.min-pause";
pub const MAX_CONCURRENT: &str = "execution.checkpointing.max-concurrent-checkpoints";
pub const TOLERABLE_FAILED: &str = "execution.checkpointing.tolerable-failed-checkpoints";
/// EXACTLY_ONCE (barriers aligned, the default) or AT_LEAST_ONCE (not aligned).
pub const MODE: &str = "execution.checkpointing.mode";
/// Completed checkpoints kept (Flink 2's name, and its 1.x `state.checkpoints.*` one).
/// The job directory's folder of files incremental checkpoints share.
pub const SHARED_DIR: &str = "shared";
pub const NUM_RETAINED: &str = "execution.checkpointing.num-retained";
pub const NUM_RETAINED_LEGACY: &str = "state.checkpoints.num-retained";
/// Upper bound of retained checkpoints (explicit limit).
pub const MAX_RETAINED: usize = 100;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// Upper bound of concurrent checkpoints one job may ask for (explicit limit).
pub const MAX_CONCURRENT_LIMIT: usize = 16;
/// Shortest interval accepted (Flink's minimum).
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointConfig {
    pub interval: Duration,
    pub timeout: Duration,
    pub min_pause: Duration,
    pub max_concurrent: usize,
    /// Consecutive failed checkpoints tolerated before the attempt fails; `None`:
    /// any number (Eddy's default; a failed checkpoint never fails the job).
    pub tolerable_failed: Option<u32>,
    /// Completed checkpoints kept on storage; older ones are deleted (default 1).
    pub num_retained: usize,
    /// Checkpoints are triggered every `interval`; false: savepoints only.
    pub periodic: bool,
    /// AT_LEAST_ONCE: multi-input tasks do not block channels for barrier alignment.
    pub at_least_once: bool,
    /// The checkpoint storage root (a directory every worker can reach, or an object
    /// store URL).
    pub root: String,
}

impl CheckpointConfig {
    /// The configuration from the job request's interval and the script's `SET`s;
    /// `None` when checkpointing is off (no interval).
    pub fn from_settings(
        interval_ms: Option<u64>,
        settings: &BTreeMap<String, String>,
        root: String,
    ) -> Result<Option<CheckpointConfig>, String> {
        let interval = match (interval_ms, settings.get(INTERVAL)) {
            (Some(ms), _) => Duration::from_millis(ms),
            (None, Some(v)) => parse_duration(INTERVAL, v)?,
            (None, None) => return Ok(None),
        };
        if interval < MIN_INTERVAL {
            return Err(format!("{INTERVAL} must be at least {MIN_INTERVAL:?}"));
        }
        let duration = |key: &str, default: Duration| -> Result<Duration, String> {
            settings
                .get(key)
                .map_or(Ok(default), |v| parse_duration(key, v))
        };
        let number = |key: &str| -> Result<Option<u64>, String> {
            settings
                .get(key)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| format!("{key}: not a number: '{v}'"))
                })
                .transpose()
        };
        let max_concurrent = number(MAX_CONCURRENT)?.unwrap_or(1) as usize;
        if !(1..=MAX_CONCURRENT_LIMIT).contains(&max_concurrent) {
            return Err(format!(
                "{MAX_CONCURRENT} must be 1..={MAX_CONCURRENT_LIMIT}"
            ));
        }
        let num_retained = match number(NUM_RETAINED)? {
            Some(n) => n,
            None => number(NUM_RETAINED_LEGACY)?.unwrap_or(1),
        } as usize;
        if !(1..=MAX_RETAINED).contains(&num_retained) {
            return Err(format!("{NUM_RETAINED} must be 1..={MAX_RETAINED}"));
        }
        let at_least_once = match settings.get(MODE).map(|m| m.trim().to_ascii_uppercase()) {
            None => false,
            Some(m) if m == "EXACTLY_ONCE" => false,
            Some(m) if m == "AT_LEAST_ONCE" => true,
            Some(m) => {
                return Err(format!(
                    "{MODE}: '{m}' is neither EXACTLY_ONCE nor AT_LEAST_ONCE"
                ));
            }
        };
        Ok(Some(CheckpointConfig {
            periodic: true,
            at_least_once,
            num_retained,
            interval,
            timeout: duration(TIMEOUT, DEFAULT_TIMEOUT)?,
            min_pause: duration(MIN_PAUSE, Duration::ZERO)?,
            max_concurrent,
            tolerable_failed: number(TOLERABLE_FAILED)?.map(|n| n.min(u64::from(u32::MAX)) as u32),
            root,
        }))
    }
}

impl CheckpointConfig {
    /// A job without periodic checkpoints still takes savepoints (Flink's defaults).
    pub fn savepoints_only(root: String) -> CheckpointConfig {
        CheckpointConfig {
            interval: Duration::from_secs(3600),
            timeout: DEFAULT_TIMEOUT,
            min_pause: Duration::ZERO,
            max_concurrent: 1,
            tolerable_failed: None,
            num_retained: 1,
            periodic: false,
            at_least_once: false,
            root,
        }
    }
}

/// The directory of checkpoint `id` of a job: `ROOT/JOB/chk-ID` (workers write their
/// snapshots there; the layout is shared with `eddy_worker::task_executor::checkpoints`).
pub fn checkpoint_dir(root: &str, job_id: &str, id: u64) -> String {
    format!("{}/{job_id}/chk-{id}", root.trim_end_matches('/'))
}

/// Flink's duration syntax: `500 ms`, `1 s`, `10 min`, `1h`; a bare number is milliseconds.
pub fn parse_duration(key: &str, value: &str) -> Result<Duration, String> {
    let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    if let Ok(ms) = compact.parse::<u64>() {
        return Ok(Duration::from_millis(ms));
    }
    humantime::parse_duration(&compact)
        .map_err(|e| format!("{key}: invalid duration '{value}': {e}"))
}

struct Pending {
    row: CheckpointRow,
    started: Instant,
    waiting: BTreeSet<(u32, u32)>,
    /// The workers running the attempt, told when the checkpoint completes.
    workers: BTreeSet<String>,
    /// Present when this checkpoint is a savepoint.
    savepoint: Option<SavepointTrigger>,
    /// The checkpoint's `_metadata` (the vertices and the parallelism its snapshots
    /// are taken at: a restore with another parallelism redistributes them; at
    /// completion, the shared files it refers to).
    metadata: serde_json::Value,
    /// Files under the job's `shared/` directory its acknowledged snapshots refer to
    /// (incremental RocksDB checkpoints).
    shared: BTreeSet<String>,
}

/// One job's coordinator, driven by its job master.
pub struct CheckpointCoordinator {
    pub config: CheckpointConfig,
    pending: BTreeMap<u64, Pending>,
    last_trigger: Option<Instant>,
    last_completion: Option<Instant>,
    consecutive_failures: u32,
    /// Completed checkpoints of this coordinator still on storage, oldest first, with
    /// the shared files each refers to.
    retained: std::collections::VecDeque<(u64, String, BTreeSet<String>)>,
    shared_files: SharedFiles,
    /// Retained checkpoints (rebuilt after a master restart) whose shared files are
    /// unknown: until they are discarded, the registry is incomplete.
    unknown_retained: BTreeSet<u64>,
    /// A stop-with-savepoint completed: the savepoint's directory (the job stops) and,
    /// for a rescale, the new plan.
    stopped_at: Option<(String, Option<Rescale>)>,
    /// A stop-with-drain's savepoint completed: its location (the job finishes).
    drained_at: Option<String>,
}

impl CheckpointCoordinator {
    pub fn new(config: CheckpointConfig) -> CheckpointCoordinator {
        CheckpointCoordinator {
            config,
            pending: BTreeMap::new(),
            last_trigger: None,
            last_completion: None,
            consecutive_failures: 0,
            retained: std::collections::VecDeque::new(),
            shared_files: SharedFiles::default(),
            unknown_retained: BTreeSet::new(),
            stopped_at: None,
            drained_at: None,
        }
    }

    /// How often the job master calls [`Self::tick`].
    pub fn tick_period(&self) -> Duration {
        (self.config.interval / 4).clamp(Duration::from_millis(5), Duration::from_secs(1))
    }

    /// Expires overdue checkpoints and triggers a new one when it is time. Returns an
    /// error message when failures exceed the tolerable number (the attempt fails).
    pub(crate) async fn tick(&mut self, shared: &Shared, job: &JobState) -> Result<(), String> {
        let expired: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.started.elapsed() > self.config.timeout)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.fail(shared, id, "expired before completing").await?;
        }
        let due = self.config.periodic
            && self
                .last_trigger
                .is_none_or(|t| t.elapsed() >= self.config.interval)
            && self
                .last_completion
                .is_none_or(|t| t.elapsed() >= self.config.min_pause)
            && self.pending.len() < self.config.max_concurrent;
        // Like Flink before FLIP-147: no checkpoint once a subtask ended.
        let all_running = job.subtasks.values().all(|s| s.status == exec::RUNNING);
        if due && all_running {
            self.last_trigger = Some(Instant::now());
            self.trigger(shared, job, None).await;
        }
        Ok(())
    }

    /// Triggers a savepoint now (Flink takes them besides periodic checkpoints, whatever
    /// `max-concurrent-checkpoints` says); it fails at once if a subtask is not running.
    pub(crate) async fn trigger_savepoint(
        &mut self,
        shared: &Shared,
        job: &JobState,
        savepoint: SavepointTrigger,
    ) {
        if !job.subtasks.values().all(|s| s.status == exec::RUNNING) {
            shared.savepoints.fail(
                &job.id,
                &savepoint.trigger_id,
                "not every subtask of the job is running",
            );
            return;
        }
        self.trigger(shared, job, Some(savepoint)).await;
    }

    /// The savepoint of a completed stop-with-drain (once).
    pub(crate) fn take_drained(&mut self) -> Option<String> {
        self.drained_at.take()
    }

    /// Whether a savepoint is still waiting for acknowledgements.
    pub(crate) fn savepoint_pending(&self) -> bool {
        self.pending.values().any(|p| p.savepoint.is_some())
    }

    /// The savepoint directory (and rescale plan) of a completed stop-with-savepoint
    /// (once).
    pub(crate) fn take_stop(&mut self) -> Option<(String, Option<Rescale>)> {
        self.stopped_at.take()
    }

    async fn trigger(
        &mut self,
        shared: &Shared,
        job: &JobState,
        savepoint: Option<SavepointTrigger>,
    ) {
        let id = match shared.raft.next_checkpoint_id(&job.id).await {
            Ok(id) => id,
            Err(e) => {
                tracing::warn!(job_id = %job.id, error = %e, "cannot draw a checkpoint id");
                if let Some(s) = &savepoint {
                    shared.savepoints.fail(
                        &job.id,
                        &s.trigger_id,
                        &format!("cannot draw a checkpoint id: {e}"),
                    );
                }
                return;
            }
        };
        if let Some(s) = &savepoint {
            shared
                .savepoints
                .update(&job.id, &s.trigger_id, |op| op.checkpoint_id = Some(id));
        }
        let path = checkpoint_dir(&self.config.root, &job.id, id);
        let row = CheckpointRow {
            job_id: job.id.clone(),
            checkpoint_id: id,
            attempt: job.attempt,
            status: checkpoint_status::IN_PROGRESS.into(),
            is_savepoint: savepoint.is_some(),
            trigger_time_ms: now_ms(),
            end_time_ms: None,
            state_size_bytes: 0,
            checkpointed_bytes: 0,
            alignment_ms: 0,
            path,
            failure: String::new(),
        };
        if let Err(e) = shared
            .store
            .insert_checkpoint(shared.raft.term(), &row)
            .await
        {
            tracing::error!(job_id = %job.id, checkpoint_id = id, error = %e, "cannot record the checkpoint");
        }
        let request = TriggerCheckpointRequest {
            job_id: job.id.clone(),
            attempt: job.attempt,
            checkpoint_id: id,
            timestamp_ms: row.trigger_time_ms as i64,
            storage_path: row.path.clone(),
            end_input: savepoint
                .as_ref()
                .is_some_and(|s| s.mode == StopMode::Drain),
            savepoint: savepoint.is_some(),
        };
        let workers: BTreeSet<String> = job
            .subtasks
            .values()
            .filter_map(|s| s.slot.as_ref().map(|slot| slot.address.clone()))
            .collect();
        self.pending.insert(
            id,
            Pending {
                row,
                started: Instant::now(),
                waiting: job.subtasks.keys().copied().collect(),
                workers: workers.clone(),
                savepoint,
                metadata: metadata(job, id),
                shared: BTreeSet::new(),
            },
        );
        for address in &workers {
            if let Err(e) = shared
                .gateway
                .trigger_checkpoint(address, request.clone())
                .await
            {
                tracing::warn!(job_id = %job.id, checkpoint_id = id, %address, error = %e, "trigger failed");
            }
        }
        tracing::debug!(job_id = %job.id, checkpoint_id = id, "checkpoint triggered");
        publish(shared, &job.id, id, checkpoint_status::IN_PROGRESS);
    }

    pub(crate) async fn on_ack(&mut self, shared: &Shared, ack: CheckpointAck) {
        let Some(p) = self.pending.get_mut(&ack.checkpoint_id) else {
            return;
        };
        if !p.waiting.remove(&(ack.vertex, ack.index)) {
            return;
        }
        p.row.state_size_bytes += ack.state_size;
        // Incremental RocksDB snapshots upload less than their full size.
        p.row.checkpointed_bytes += if ack.checkpointed_size > 0 {
            ack.checkpointed_size
        } else {
            ack.state_size
        };
        p.shared.extend(ack.shared_files.iter().cloned());
        p.row.alignment_ms = p.row.alignment_ms.max(ack.alignment_ms);
        let subtask = CheckpointSubtaskRow {
            vertex: ack.vertex,
            subtask: ack.index,
            ack_time_ms: now_ms(),
            start_delay_ms: ack.start_delay_ms,
            alignment_ms: ack.alignment_ms,
            sync_ms: ack.sync_ms,
            async_ms: ack.async_ms,
            state_size_bytes: ack.state_size,
            key_group_first: ack.key_group_first,
            key_group_last: ack.key_group_last,
            file: ack.file,
        };
        let term = shared.raft.term();
        if let Err(e) = shared
            .store
            .insert_checkpoint_subtask(term, &ack.job_id, ack.checkpoint_id, &subtask)
            .await
        {
            tracing::error!(job_id = %ack.job_id, checkpoint_id = ack.checkpoint_id, error = %e, "cannot record an acknowledgement");
        }
        if p.waiting.is_empty() {
            self.complete(shared, ack.checkpoint_id).await;
        }
    }

    async fn complete(&mut self, shared: &Shared, id: u64) {
        let Some(mut p) = self.pending.remove(&id) else {
            return;
        };
        let job_id = p.row.job_id.clone();
        p.metadata[METADATA_SHARED_FILES] = serde_json::json!(p.shared);
        let written = match Location::open(&p.row.path) {
            Ok(dir) => {
                dir.put(METADATA_FILE, p.metadata.to_string().into_bytes())
                    .await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            let reason = format!("writing the checkpoint's {METADATA_FILE} failed: {e}");
            self.pending.insert(id, p);
            if let Err(failure) = self.fail(shared, id, &reason).await {
                tracing::warn!(%job_id, checkpoint_id = id, %failure, "checkpoint failures exceed the tolerable number");
            }
            return;
        }
        let committed = shared
            .raft
            .propose(Command::CompleteCheckpoint {
                job_id: job_id.clone(),
                checkpoint_id: id,
                path: p.row.path.clone(),
            })
            .await;
        if let Err(e) = &committed {
            p.row.status = checkpoint_status::FAILED.into();
            p.row.failure = format!("committing through Raft failed: {e}");
            self.shared_files.relist = true;
        } else {
            p.row.status = checkpoint_status::COMPLETED.into();
            self.last_completion = Some(Instant::now());
            self.consecutive_failures = 0;
        }
        p.row.end_time_ms = Some(now_ms());
        if let Err(e) = shared
            .store
            .finish_checkpoint(shared.raft.term(), &p.row)
            .await
        {
            tracing::error!(%job_id, checkpoint_id = id, error = %e, "cannot record the checkpoint's end");
        }
        tracing::info!(%job_id, checkpoint_id = id, status = %p.row.status, state_size = p.row.state_size_bytes, "checkpoint ended");
        publish(shared, &job_id, id, &p.row.status);
        if committed.is_ok() {
            if let Some(s) = &p.savepoint {
                self.savepoint_completed(shared, &p.row, s).await;
            }
            notify_complete(shared, &p, id).await;
            if p.savepoint.is_none() {
                self.shared_files.latest_incremental = p.shared.clone();
            }
            self.retain(&job_id, id, p.row.path.clone(), p.shared).await;
            if self.shared_files.relist_due(self.pending.is_empty()) {
                self.abort_shared_files(&job_id, id, BTreeSet::new()).await;
            }
        } else if let Some(s) = &p.savepoint {
            shared
                .savepoints
                .fail(&job_id, &s.trigger_id, &p.row.failure);
        }
    }

    /// Copies a completed savepoint to its target; a stop then stops the job.
    async fn savepoint_completed(
        &mut self,
        shared: &Shared,
        row: &CheckpointRow,
        s: &SavepointTrigger,
    ) {
        let copied =
            savepoints::copy_to_savepoint(&row.path, &s.target, &row.job_id, row.checkpoint_id)
                .await;
        match copied {
            Ok(dir) => {
                tracing::info!(job_id = %row.job_id, checkpoint_id = row.checkpoint_id, location = %dir, mode = ?s.mode, "savepoint completed");
                let location = dir.clone();
                shared.savepoints.update(&row.job_id, &s.trigger_id, |op| {
                    op.status = savepoints::COMPLETED.into();
                    op.location = Some(location);
                });
                match s.mode {
                    StopMode::Run => {}
                    StopMode::Stop => self.stopped_at = Some((dir, s.rescale.clone())),
                    StopMode::Drain => self.drained_at = Some(dir),
                }
            }
            Err(e) => shared.savepoints.fail(
                &row.job_id,
                &s.trigger_id,
                &format!("copying the savepoint to {} failed: {e}", s.target),
            ),
        }
    }

    /// A subtask could not take its snapshot: the checkpoint fails.
    pub(crate) async fn on_decline(
        &mut self,
        shared: &Shared,
        d: CheckpointDecline,
    ) -> Result<(), String> {
        let reason = format!(
            "subtask {} of vertex {} declined: {}",
            d.index, d.vertex, d.reason
        );
        self.fail(shared, d.checkpoint_id, &reason).await
    }

    async fn fail(&mut self, shared: &Shared, id: u64, reason: &str) -> Result<(), String> {
        let Some(mut p) = self.pending.remove(&id) else {
            return Ok(());
        };
        p.row.status = checkpoint_status::FAILED.into();
        p.row.failure = reason.to_string();
        p.row.end_time_ms = Some(now_ms());
        if let Some(s) = &p.savepoint {
            shared.savepoints.fail(&p.row.job_id, &s.trigger_id, reason);
        }
        if let Err(e) = shared
            .store
            .finish_checkpoint(shared.raft.term(), &p.row)
            .await
        {
            tracing::error!(job_id = %p.row.job_id, checkpoint_id = id, error = %e, "cannot record the checkpoint's failure");
        }
        tracing::warn!(job_id = %p.row.job_id, checkpoint_id = id, %reason, "checkpoint failed");
        publish(shared, &p.row.job_id, id, checkpoint_status::FAILED);
        self.abort_shared_files(&p.row.job_id, id, std::mem::take(&mut p.shared))
            .await;
        self.shared_files.relist = true;
        if p.savepoint.is_some() {
            // A failed savepoint never fails the job (as in Flink).
            return Ok(());
        }
        self.consecutive_failures += 1;
        match self.config.tolerable_failed {
            Some(n) if self.consecutive_failures > n => Err(format!(
                "exceeded checkpoint tolerable failure threshold ({n}): {reason}"
            )),
            _ => Ok(()),
        }
    }

    /// The attempt ended: its pending checkpoints fail.
    pub(crate) async fn abort_all(&mut self, shared: &Shared, reason: &str) {
        let ids: Vec<u64> = self.pending.keys().copied().collect();
        for id in ids {
            let _ = self.fail(shared, id, reason).await;
        }
        self.consecutive_failures = 0;
        self.last_trigger = None;
    }
}

/// Name of the metadata file of a checkpoint directory (read by the workers'
/// `runtime::restore`).
pub const METADATA_FILE: &str = "_metadata";

fn metadata(job: &JobState, checkpoint_id: u64) -> serde_json::Value {
    let vertices: Vec<serde_json::Value> = job
        .graph
        .vertices
        .iter()
        .map(|v| serde_json::json!({"id": v.id, "name": v.name, "parallelism": v.parallelism}))
        .collect();
    serde_json::json!({
        "job_id": job.id,
        "checkpoint_id": checkpoint_id,
        "vertices": vertices,
    })
}

/// Tells every worker of the attempt that checkpoint `id` completed. A lost notice
/// loses nothing: a later one covers it, and a restore commits what the checkpoint holds.
async fn notify_complete(shared: &Shared, p: &Pending, id: u64) {
    let request = NotifyCheckpointRequest {
        job_id: p.row.job_id.clone(),
        attempt: p.row.attempt,
        checkpoint_id: id,
    };
    for address in &p.workers {
        if let Err(e) = shared
            .gateway
            .notify_checkpoint_complete(address, request.clone())
            .await
        {
            tracing::warn!(job_id = %p.row.job_id, checkpoint_id = id, %address, error = %e, "completion notice failed");
        }
    }
}

fn publish(shared: &Shared, job_id: &str, checkpoint_id: u64, status: &str) {
    let _ = shared.events.send(Event::Checkpoint {
        job_id: job_id.to_string(),
        checkpoint_id,
        status: status.to_string(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flink_durations_and_options() {
        assert_eq!(parse_duration("k", "1 s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("k", "500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("k", "10 min"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("k", "250"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("k", "soon").is_err());
        let root = "/cp".to_string();
        assert_eq!(
            CheckpointConfig::from_settings(None, &BTreeMap::new(), root.clone()),
            Ok(None)
        );
        let settings = BTreeMap::from([
            (INTERVAL.to_string(), "2 s".to_string()),
            (TOLERABLE_FAILED.to_string(), "3".to_string()),
        ]);
        let c = CheckpointConfig::from_settings(None, &settings, root.clone())
            .unwrap()
            .unwrap();
        assert_eq!(
            (c.interval, c.timeout, c.max_concurrent, c.tolerable_failed),
            (Duration::from_secs(2), DEFAULT_TIMEOUT, 1, Some(3))
        );
        // The request's interval wins over the script's.
        let c = CheckpointConfig::from_settings(Some(100), &settings, root.clone())
            .unwrap()
            .unwrap();
        assert_eq!(c.interval, Duration::from_millis(100));
        assert!(CheckpointConfig::from_settings(Some(1), &BTreeMap::new(), root).is_err());
    }
}
