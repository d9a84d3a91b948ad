//! The master's side of the worker protocol: the `ResourceManager` gRPC service.

use std::sync::Arc;

use eddy_api::rpc::resource_manager_server::ResourceManager;
use eddy_api::rpc::{
    HeartbeatRequest, HeartbeatResponse, RegisterWorkerRequest, RegisterWorkerResponse,
};
use tonic::{Request, Response, Status};

use crate::registry::{RegistryError, WorkerRegistry};

pub struct ResourceManagerService {
    registry: Arc<WorkerRegistry>,
}

impl ResourceManagerService {
    pub fn new(registry: Arc<WorkerRegistry>) -> Self {
        Self { registry }
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
        let known = self.registry.heartbeat(request.into_inner());
        Ok(Response::new(HeartbeatResponse {
            known,
            cancel: Vec::new(),
        }))
    }
}
