//! The master's side of the worker protocol: the `ResourceManager` gRPC service
//! (registration, heartbeats with slot and subtask reports) and the `JobMaster` service
//! (subtask state changes).

use std::sync::Arc;

use eddy_api::rpc::job_master_server::JobMaster;
use eddy_api::rpc::resource_manager_server::ResourceManager;
use eddy_api::rpc::{
    CheckpointAck, CheckpointDecline, CheckpointReply, HeartbeatRequest, HeartbeatResponse,
    RegisterWorkerRequest, RegisterWorkerResponse, TaskExecutionState, TaskExecutionStateAck,
};
use tonic::{Request, Response, Status};

use crate::jobs::{JobCommand, JobManager};
use crate::registry::{RegistryError, WorkerRegistry};

pub struct ResourceManagerService {
    registry: Arc<WorkerRegistry>,
    jobs: JobManager,
}

impl ResourceManagerService {
    pub fn new(registry: Arc<WorkerRegistry>, jobs: JobManager) -> Self {
        Self { registry, jobs }
    }
}

#[tonic::async_trait]
impl ResourceManager for ResourceManagerService {
    async fn register_worker(
        &self,
        request: Request<RegisterWorkerRequest>,
    ) -> Result<Response<RegisterWorkerResponse>, Status> {
        match self.registry.register(request.into_inner()).await {
            Ok(resp) => Ok(Response::new(resp)),
            Err(RegistryError::Invalid(msg)) => Err(Status::invalid_argument(msg)),
            Err(e @ RegistryError::Full) => Err(Status::resource_exhausted(e.to_string())),
            Err(e @ RegistryError::Store(_)) => Err(Status::unavailable(e.to_string())),
        }
    }

    async fn heartbeat(
        &self,
        request: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        let mut request = request.into_inner();
        let subtasks = std::mem::take(&mut request.subtasks);
        let worker_id = request.worker_id.clone();
        let known = self.registry.heartbeat(request);
        let cancel = if known {
            self.jobs.on_heartbeat(&worker_id, &subtasks)
        } else {
            Vec::new()
        };
        Ok(Response::new(HeartbeatResponse { known, cancel }))
    }
}

/// The `JobMaster` gRPC service: workers report subtask state changes as they happen.
pub struct JobMasterService {
    jobs: JobManager,
}

impl JobMasterService {
    pub fn new(jobs: JobManager) -> Self {
        Self { jobs }
    }
}

#[tonic::async_trait]
impl JobMaster for JobMasterService {
    async fn update_task_execution_state(
        &self,
        request: Request<TaskExecutionState>,
    ) -> Result<Response<TaskExecutionStateAck>, Status> {
        let known = self.jobs.on_task_state(request.into_inner());
        Ok(Response::new(TaskExecutionStateAck { known }))
    }

    async fn acknowledge_checkpoint(
        &self,
        request: Request<CheckpointAck>,
    ) -> Result<Response<CheckpointReply>, Status> {
        let ack = request.into_inner();
        let job_id = ack.job_id.clone();
        self.jobs
            .on_checkpoint(&job_id, JobCommand::CheckpointAck(ack));
        Ok(Response::new(CheckpointReply {}))
    }

    async fn decline_checkpoint(
        &self,
        request: Request<CheckpointDecline>,
    ) -> Result<Response<CheckpointReply>, Status> {
        let decline = request.into_inner();
        let job_id = decline.job_id.clone();
        self.jobs
            .on_checkpoint(&job_id, JobCommand::CheckpointDecline(decline));
        Ok(Response::new(CheckpointReply {}))
    }
}
