//! The master's client of the workers' `TaskExecutor` service (Flink's
//! TaskExecutorGateway): deploy an attempt's share to a worker, cancel it. One lazily
//! connected channel per worker address, reused.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use eddy_api::rpc::task_executor_client::TaskExecutorClient;
use eddy_api::rpc::{
    CancelJobRequest, DeployJobRequest, NotifyCheckpointRequest, TriggerCheckpointRequest,
};
use tonic::transport::{Channel, Endpoint};

/// Timeout of one deploy or cancel call (deploying includes planning the SQL).
pub const TASK_EXECUTOR_RPC_TIMEOUT: Duration = Duration::from_secs(30);
/// Tries of one deployment to a worker that answers `Unavailable`.
pub const DEPLOY_ATTEMPTS: u32 = 3;
pub const DEPLOY_RETRY_PAUSE: Duration = Duration::from_millis(300);
/// Connections kept to workers (explicit limit; the oldest are not tracked).
pub const MAX_CACHED_CONNECTIONS: usize = 4096;

#[derive(Debug, Default)]
pub struct WorkerGateway {
    channels: Mutex<HashMap<String, Channel>>,
}

impl WorkerGateway {
    fn client(&self, address: &str) -> Result<TaskExecutorClient<Channel>, String> {
        let mut channels = self
            .channels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(c) = channels.get(address) {
            return Ok(TaskExecutorClient::new(c.clone()));
        }
        let url = if address.starts_with("http://") {
            address.to_string()
        } else {
            format!("http://{address}")
        };
        let channel = Endpoint::from_shared(url)
            .map_err(|e| format!("invalid worker address {address}: {e}"))?
            .connect_timeout(TASK_EXECUTOR_RPC_TIMEOUT)
            .timeout(TASK_EXECUTOR_RPC_TIMEOUT)
            .connect_lazy();
        if channels.len() >= MAX_CACHED_CONNECTIONS {
            channels.clear();
        }
        channels.insert(address.to_string(), channel.clone());
        Ok(TaskExecutorClient::new(channel))
    }

    /// Deploys, retrying a worker that is not reachable yet (it may have registered a
    /// moment ago) up to [`DEPLOY_ATTEMPTS`] times.
    pub async fn deploy(&self, address: &str, request: DeployJobRequest) -> Result<(), String> {
        let mut client = self.client(address)?;
        let mut tries = 0;
        loop {
            tries += 1;
            match client.deploy_job(request.clone()).await {
                Ok(_) => return Ok(()),
                Err(s) if s.code() == tonic::Code::Unavailable && tries < DEPLOY_ATTEMPTS => {
                    tracing::debug!(%address, error = %describe(s), "worker unavailable; retrying the deployment");
                    tokio::time::sleep(DEPLOY_RETRY_PAUSE).await;
                }
                Err(s) => return Err(describe(s)),
            }
        }
    }

    pub async fn cancel(&self, address: &str, job_id: &str, attempt: u32) -> Result<(), String> {
        let mut client = self.client(address)?;
        client
            .cancel_job(CancelJobRequest {
                job_id: job_id.to_string(),
                attempt,
            })
            .await
            .map(|_| ())
            .map_err(describe)
    }
}

impl WorkerGateway {
    /// Asks a worker to inject a checkpoint barrier at its source subtasks.
    pub async fn trigger_checkpoint(
        &self,
        address: &str,
        request: TriggerCheckpointRequest,
    ) -> Result<(), String> {
        let mut client = self.client(address)?;
        client
            .trigger_checkpoint(request)
            .await
            .map(|_| ())
            .map_err(describe)
    }

    /// Tells a worker a checkpoint completed (its two-phase-commit sinks commit).
    pub async fn notify_checkpoint_complete(
        &self,
        address: &str,
        request: NotifyCheckpointRequest,
    ) -> Result<(), String> {
        let mut client = self.client(address)?;
        client
            .notify_checkpoint_complete(request)
            .await
            .map(|_| ())
            .map_err(describe)
    }
}

/// A status as one line: its message, or its code and transport cause.
fn describe(s: tonic::Status) -> String {
    use std::error::Error;
    let mut line = if s.message().is_empty() {
        format!("{:?}", s.code())
    } else {
        s.message().to_string()
    };
    let mut source = s.source();
    while let Some(e) = source {
        line.push_str(&format!(": {e}"));
        source = e.source();
    }
    line
}
