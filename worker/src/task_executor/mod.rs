//! The worker's side of task execution (Flink's TaskExecutor): the `TaskExecutor`
//! gRPC service the master deploys and cancels job attempts through. A deployment
//! plans the job's SQL here (through the injected [`JobPlanner`]; planning is
//! deterministic, and the result is checked against the master's vertex list), takes
//! the assigned slots, starts the local subtasks wired to the other workers through
//! the exchange, and reports every subtask's end to the master.

pub mod attempts;
pub mod checkpoints;
mod report;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use eddy_api::rpc::task_executor_server::TaskExecutor;
use eddy_api::rpc::{
    CancelJobRequest, CancelJobResponse, DeployJobRequest, DeployJobResponse,
    NotifyCheckpointRequest, NotifyCheckpointResponse, SubtaskAssignment, TriggerCheckpointRequest,
    TriggerCheckpointResponse,
};
use tonic::{Request, Response, Status};

use crate::exchange::{ExchangeClient, ExchangeServer};
use crate::graph::JobGraph;
use crate::runtime::checkpoint::SourceTrigger;
use crate::runtime::deployment::{Location, Placement, RemoteExchange, start};
use crate::runtime::executor::ExecutionConfig;
use crate::runtime::message::CheckpointBarrier;
use crate::runtime::restore::RestoreFiles;
use crate::slots::SlotTable;
use crate::state::backend::{STATE_BACKEND_OPTION, StateBackendConfig, StateBackendKind};
use crate::state::rocksdb::handle::UploadedSnapshot;
use crate::state::rocksdb::transfer;
use attempts::{Attempt, Attempts, LocalSubtask};
use eddy_storage::Location as StorageLocation;
pub use report::MasterReporter;

/// Largest checkpoint a worker reads to restore (explicit limit; it is held in memory
/// until the subtasks loaded it).
pub const MAX_RESTORE_BYTES: u64 = 4 << 30;

/// The deploy option of the checkpointing mode (Flink's name).
pub const CHECKPOINTING_MODE: &str = "execution.checkpointing.mode";

/// How long an ended attempt stays in the heartbeat's subtask reports.
pub const RETAIN_ENDED_ATTEMPT: std::time::Duration = std::time::Duration::from_secs(15);

pub type PlanFuture = Pin<Box<dyn Future<Output = Result<JobGraph, String>> + Send>>;

/// Plans a job's SQL into a chained job graph (the binary injects eddy-sql's planner;
/// the worker crate never depends on it).
pub trait JobPlanner: Send + Sync + std::fmt::Debug + 'static {
    /// `settings` are Flink options, applied as `SET` after the script's own.
    fn plan(&self, sql: String, parallelism: u32, settings: BTreeMap<String, String>)
    -> PlanFuture;
}

/// What the service needs from its worker.
#[derive(Clone)]
pub struct TaskExecutorService {
    pub worker_id: String,
    pub planner: Option<Arc<dyn JobPlanner>>,
    pub slots: Arc<SlotTable>,
    pub attempts: Arc<Attempts>,
    pub exchange_server: ExchangeServer,
    pub exchange_client: ExchangeClient,
    pub reporter: MasterReporter,
    /// This worker's folder for RocksDB state (one sub-folder per job attempt).
    pub local_state_dir: std::path::PathBuf,
}

#[tonic::async_trait]
impl TaskExecutor for TaskExecutorService {
    async fn deploy_job(
        &self,
        request: Request<DeployJobRequest>,
    ) -> Result<Response<DeployJobResponse>, Status> {
        let request = request.into_inner();
        let (job_id, attempt) = (request.job_id.clone(), request.attempt);
        match self.deploy(request).await {
            Ok(n) => {
                tracing::info!(%job_id, attempt, subtasks = n, "deployed");
                Ok(Response::new(DeployJobResponse {}))
            }
            Err(status) => {
                tracing::warn!(%job_id, attempt, error = %status.message(), "deployment refused");
                Err(status)
            }
        }
    }

    async fn cancel_job(
        &self,
        request: Request<CancelJobRequest>,
    ) -> Result<Response<CancelJobResponse>, Status> {
        let r = request.into_inner();
        let n = self.attempts.cancel_up_to(&r.job_id, r.attempt);
        tracing::info!(job_id = %r.job_id, attempt = r.attempt, attempts = n, "cancel requested");
        Ok(Response::new(CancelJobResponse {}))
    }

    async fn trigger_checkpoint(
        &self,
        request: Request<TriggerCheckpointRequest>,
    ) -> Result<Response<TriggerCheckpointResponse>, Status> {
        let r = request.into_inner();
        let attempt = self.attempts.get(&r.job_id, r.attempt).ok_or_else(|| {
            Status::not_found(format!("no attempt {} of job {} here", r.attempt, r.job_id))
        })?;
        let barrier = CheckpointBarrier {
            checkpoint_id: r.checkpoint_id,
            timestamp_ms: r.timestamp_ms,
            savepoint: r.savepoint,
        };
        let mut sources = 0;
        let trigger = SourceTrigger {
            barrier,
            end_input: r.end_input,
        };
        for (_, tx) in &attempt.triggers {
            // A source that ended or is far behind misses this checkpoint (it expires).
            if tx.try_send(trigger).is_ok() {
                sources += 1;
            }
        }
        tracing::debug!(job_id = %r.job_id, attempt = r.attempt, checkpoint_id = r.checkpoint_id, sources, "checkpoint triggered");
        Ok(Response::new(TriggerCheckpointResponse { sources }))
    }

    async fn notify_checkpoint_complete(
        &self,
        request: Request<NotifyCheckpointRequest>,
    ) -> Result<Response<NotifyCheckpointResponse>, Status> {
        let r = request.into_inner();
        let attempt = self.attempts.get(&r.job_id, r.attempt).ok_or_else(|| {
            Status::not_found(format!("no attempt {} of job {} here", r.attempt, r.job_id))
        })?;
        let mut notified = 0;
        for tx in &attempt.completions {
            // A full queue means the subtask is far behind: a later completion covers
            // this one (commits are cumulative), so dropping it loses nothing.
            if tx.try_send(r.checkpoint_id).is_ok() {
                notified += 1;
            }
        }
        tracing::debug!(job_id = %r.job_id, attempt = r.attempt, checkpoint_id = r.checkpoint_id, notified, "checkpoint complete");
        Ok(Response::new(NotifyCheckpointResponse {}))
    }
}

impl TaskExecutorService {
    /// Starts this worker's share of an attempt; returns how many subtasks it runs.
    async fn deploy(&self, request: DeployJobRequest) -> Result<usize, Status> {
        let planner = self
            .planner
            .clone()
            .ok_or_else(|| Status::unimplemented("this worker has no SQL planner"))?;
        let local: Vec<&SubtaskAssignment> = request
            .assignments
            .iter()
            .filter(|a| a.worker_id == self.worker_id)
            .collect();
        if local.is_empty() {
            return Err(Status::invalid_argument(
                "no subtask of this attempt is assigned to this worker",
            ));
        }
        let settings: BTreeMap<String, String> = request.options.clone().into_iter().collect();
        let graph = planner
            .plan(request.sql.clone(), request.parallelism, settings)
            .await
            .map_err(|e| Status::invalid_argument(format!("planning the job failed: {e}")))?;
        check_vertices(&graph, &request)?;
        // An earlier attempt still running here is being replaced.
        if request.attempt > 0 {
            self.attempts
                .cancel_up_to(&request.job_id, request.attempt - 1);
        }
        let attempt_dir = self
            .local_state_dir
            .join(format!("{}-{}", request.job_id, request.attempt));
        let backend = match request.options.get(STATE_BACKEND_OPTION) {
            Some(kind) => StateBackendKind::parse(kind)
                .map_err(|e| Status::invalid_argument(e.to_string()))?,
            None => StateBackendKind::HashMap,
        };
        let restore = match request.restore_path.as_str() {
            "" => None,
            location => {
                let local: std::collections::BTreeSet<u32> = request
                    .assignments
                    .iter()
                    .filter(|a| a.worker_id == self.worker_id)
                    .map(|a| a.vertex)
                    .collect();
                let mut files = read_restore_files(location, &local).await?;
                self.download_rocksdb_state(&request, &mut files, &attempt_dir.join("restore"))
                    .await?;
                Some(files)
            }
        };
        let mut placement = self.placement(&graph, &request)?;
        placement.restore = restore;
        if backend == StateBackendKind::RocksDb {
            placement.state_backend = StateBackendConfig::RocksDb {
                dir: attempt_dir.clone(),
            };
        }
        let config = ExecutionConfig::default();
        let mut job = match start(graph, &config, placement) {
            Ok(job) => job,
            Err(e) => {
                self.free_slots(&request);
                return Err(Status::failed_precondition(format!(
                    "starting the subtasks failed: {e}"
                )));
            }
        };
        let subtasks: Vec<Arc<LocalSubtask>> = job
            .subtasks
            .iter()
            .map(|s| {
                Arc::new(LocalSubtask::new(
                    s.vertex as u32,
                    s.index,
                    s.metrics.clone(),
                ))
            })
            .collect();
        let count = subtasks.len();
        let entry = Arc::new(Attempt {
            job_id: request.job_id.clone(),
            attempt: request.attempt,
            subtasks,
            cancel: job.canceller(),
            triggers: std::mem::take(&mut job.triggers),
            completions: std::mem::take(&mut job.completions),
        });
        if let Err(e) = self.attempts.insert(entry.clone()) {
            job.cancel();
            self.free_slots(&request);
            return Err(Status::resource_exhausted(e.to_string()));
        }
        let service = self.clone();
        tokio::spawn(async move {
            let last = report::watch_attempt(&service.reporter, &entry, &mut job).await;
            // Its state (and the memory it reserved) goes before its slots do.
            drop(job);
            service.free_slots(&request);
            if let Some(last) = last {
                service.reporter.report(last).await;
            }
            service
                .exchange_server
                .unregister_attempt(&request.job_id, request.attempt);
            // The attempt's RocksDB instances closed with their subtasks.
            if attempt_dir.exists()
                && let Err(e) = std::fs::remove_dir_all(&attempt_dir)
            {
                tracing::warn!(job_id = %request.job_id, attempt = request.attempt, dir = %attempt_dir.display(), error = %e, "cannot remove the attempt's local state");
            }
            // Heartbeats carry the final states a while longer, in case a report was lost.
            tokio::time::sleep(RETAIN_ENDED_ATTEMPT).await;
            service.attempts.remove(&request.job_id, request.attempt);
        });
        Ok(count)
    }

    /// Locations of every subtask, and the local slots taken with their memory.
    fn placement(&self, graph: &JobGraph, request: &DeployJobRequest) -> Result<Placement, Status> {
        let mut locations = HashMap::new();
        let mut slot_subtasks: BTreeMap<u32, Vec<String>> = BTreeMap::new();
        for a in &request.assignments {
            let vertex = graph
                .vertices
                .get(a.vertex as usize)
                .ok_or_else(|| Status::invalid_argument(format!("no vertex {}", a.vertex)))?;
            let location = if a.worker_id == self.worker_id {
                slot_subtasks.entry(a.slot_index).or_default().push(format!(
                    "{} ({}/{})",
                    vertex.name,
                    a.index + 1,
                    vertex.parallelism
                ));
                Location::Local {
                    slot: a.slot_index as usize,
                }
            } else {
                Location::Remote {
                    address: a.worker_address.clone(),
                }
            };
            locations.insert((a.vertex as usize, a.index), location);
        }
        let mut slot_memory = HashMap::new();
        for (slot, names) in slot_subtasks {
            match self
                .slots
                .allocate(slot, &request.job_id, request.attempt, names)
            {
                Ok(memory) => {
                    slot_memory.insert(slot as usize, memory);
                }
                Err(e) => {
                    for taken in slot_memory.keys() {
                        let _ = self
                            .slots
                            .free(*taken as u32, &request.job_id, request.attempt);
                    }
                    return Err(Status::failed_precondition(e.to_string()));
                }
            }
        }
        let snapshots = match request.options.get(checkpoints::CHECKPOINT_DIR_OPTION) {
            Some(root) => {
                let root = StorageLocation::open(root)
                    .map_err(|e| Status::invalid_argument(e.to_string()))?;
                Some(checkpoints::spawn_writer(
                    self.reporter.clone(),
                    request.job_id.clone(),
                    request.attempt,
                    root,
                ))
            }
            None => None,
        };
        let at_least_once = request
            .options
            .get(CHECKPOINTING_MODE)
            .is_some_and(|m| m.eq_ignore_ascii_case("AT_LEAST_ONCE"));
        Ok(Placement {
            locations,
            slot_memory,
            snapshots,
            restore: None,
            at_least_once,
            state_backend: StateBackendConfig::HashMap,
            exchange: Some(RemoteExchange {
                job_id: request.job_id.clone(),
                attempt: request.attempt,
                server: self.exchange_server.clone(),
                client: self.exchange_client.clone(),
            }),
        })
    }

    /// Downloads the RocksDB files of the incremental snapshots this worker's subtasks
    /// restore from (a subtask's own; every one of a rescaled vertex) into `target`, and
    /// points their sections at the local copies.
    async fn download_rocksdb_state(
        &self,
        request: &DeployJobRequest,
        files: &mut RestoreFiles,
        target: &std::path::Path,
    ) -> Result<(), Status> {
        let local: std::collections::BTreeSet<(u32, u32)> = request
            .assignments
            .iter()
            .filter(|a| a.worker_id == self.worker_id)
            .map(|a| (a.vertex, a.index))
            .collect();
        let rescaled: std::collections::BTreeSet<u32> = request
            .vertices
            .iter()
            .filter(|v| {
                files
                    .parallelism_of(v.id)
                    .is_some_and(|p| p != v.parallelism)
            })
            .map(|v| v.id)
            .collect();
        let needed = |name: &str| {
            let Some((vertex, index)) = name.split_once('-') else {
                return false;
            };
            let (Ok(vertex), Ok(index)) = (vertex.parse::<u32>(), index.parse::<u32>()) else {
                return false;
            };
            local.contains(&(vertex, index))
                || (rescaled.contains(&vertex) && local.iter().any(|(v, _)| *v == vertex))
        };
        let failed = |e: String| {
            Status::failed_precondition(format!(
                "downloading the RocksDB state to restore failed: {e}"
            ))
        };
        let mut total = 0u64;
        for (name, op, bytes) in files.operator_sections_mut() {
            if !needed(name) {
                continue;
            }
            let Some(uploaded) = UploadedSnapshot::decode(bytes) else {
                continue;
            };
            let uploaded = uploaded.map_err(|e| failed(e.to_string()))?;
            let size: u64 = uploaded.shared.iter().map(|f| f.size).sum::<u64>()
                + uploaded.private.iter().map(|f| f.size).sum::<u64>();
            total += size;
            if total > MAX_RESTORE_BYTES {
                return Err(Status::resource_exhausted(format!(
                    "the RocksDB state to restore holds more than {MAX_RESTORE_BYTES} bytes"
                )));
            }
            let (downloaded, _) =
                transfer::download(&uploaded, &target.join(format!("{name}-{op}")))
                    .await
                    .map_err(failed)?;
            *bytes = downloaded.encode().map_err(|e| failed(e.to_string()))?;
        }
        if total > 0 {
            tracing::info!(job_id = %request.job_id, attempt = request.attempt, bytes = total, "rocksdb state downloaded");
        }
        Ok(())
    }

    fn free_slots(&self, request: &DeployJobRequest) {
        for a in request
            .assignments
            .iter()
            .filter(|a| a.worker_id == self.worker_id)
        {
            let _ = self
                .slots
                .free(a.slot_index, &request.job_id, request.attempt);
        }
    }
}

/// Reads the files of a checkpoint (or savepoint) this worker restores from: its
/// metadata and the snapshots `VERTEX-SUBTASK` of the vertices with local subtasks (all
/// of a vertex's: a rescaled subtask reads every earlier one), at most
/// [`MAX_RESTORE_BYTES`].
async fn read_restore_files(
    location: &str,
    local_vertices: &std::collections::BTreeSet<u32>,
) -> Result<RestoreFiles, Status> {
    let unavailable = |e: eddy_storage::StorageError| {
        Status::failed_precondition(format!("reading the checkpoint to restore failed: {e}"))
    };
    let dir = StorageLocation::open(location).map_err(unavailable)?;
    let wanted = |name: &str| {
        name == crate::runtime::restore::METADATA_FILE
            || name
                .split_once('-')
                .and_then(|(vertex, _)| vertex.parse::<u32>().ok())
                .is_some_and(|v| local_vertices.contains(&v))
    };
    let mut listed = dir.list().await.map_err(unavailable)?;
    listed.retain(|(name, _)| wanted(name));
    let total: u64 = listed.iter().map(|(_, size)| size).sum();
    if total > MAX_RESTORE_BYTES {
        return Err(Status::resource_exhausted(format!(
            "the checkpoint at {location} holds {total} bytes, more than {MAX_RESTORE_BYTES}"
        )));
    }
    let mut files = std::collections::BTreeMap::new();
    for (name, _) in listed {
        if let Some(bytes) = dir.get(&name).await.map_err(unavailable)? {
            files.insert(name, bytes.to_vec());
        }
    }
    RestoreFiles::decode(location.to_string(), files)
        .map_err(|e| Status::failed_precondition(format!("the checkpoint to restore: {e}")))
}

/// The worker's plan must be the master's: same vertices, names and parallelism.
fn check_vertices(graph: &JobGraph, request: &DeployJobRequest) -> Result<(), Status> {
    let same = graph.vertices.len() == request.vertices.len()
        && graph
            .vertices
            .iter()
            .zip(&request.vertices)
            .all(|(v, spec)| {
                v.id as u32 == spec.id && v.name == spec.name && v.parallelism == spec.parallelism
            });
    if same {
        Ok(())
    } else {
        Err(Status::failed_precondition(
            "this worker planned a different job graph than the master (different Eddy versions?)",
        ))
    }
}
