//! One worker process's lifecycle: bind the RPC address, serve it, register with the
//! master (retrying with capped exponential backoff up to the registration timeout,
//! like Flink's `taskmanager.registration.timeout`), then heartbeat with the slot
//! report, registering again whenever the master no longer knows this worker.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eddy_api::rpc::job_master_client::JobMasterClient;
use eddy_api::rpc::resource_manager_client::ResourceManagerClient;
use eddy_api::rpc::task_executor_server::TaskExecutorServer;
use eddy_api::rpc::{HeartbeatRequest, RegisterWorkerRequest};
use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};

use crate::exchange::{ExchangeClient, ExchangeServer};
use crate::slots::{SlotError, SlotTable};
use crate::task_executor::attempts::Attempts;
use crate::task_executor::{JobPlanner, MasterReporter, TaskExecutorService};

/// Give up registering after this long (Flink: taskmanager.registration.timeout).
pub const REGISTRATION_TIMEOUT: Duration = Duration::from_secs(300);
/// First and largest pause between registration attempts.
pub const REGISTRATION_BACKOFF_INITIAL: Duration = Duration::from_millis(100);
pub const REGISTRATION_BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Timeout of one RPC to the master.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound for the heartbeat interval the master may ask for.
pub const MIN_HEARTBEAT_INTERVAL: Duration = Duration::from_millis(10);

/// Concurrent HTTP/2 streams the worker's RPC server accepts per connection: every
/// exchange channel from another worker is one stream.
pub const MAX_CONCURRENT_STREAMS: u32 = 16_384;

/// Everything a worker needs to start.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The master's URL, e.g. `http://127.0.0.1:8081`.
    pub master: String,
    /// Where this worker serves RPC (port 0 = any free port).
    pub rpc: SocketAddr,
    pub slots: u32,
    /// Managed memory of the whole worker, split evenly across its slots.
    pub managed_memory_bytes: u64,
    /// Heartbeat interval; `None` = the one the master announces at registration.
    pub heartbeat_interval: Option<Duration>,
    /// Without a successful heartbeat for this long the worker considers the master
    /// lost and registers again; `None` = the master's heartbeat timeout.
    pub heartbeat_timeout: Option<Duration>,
    /// Plans the SQL of deployed jobs (injected by the binary; none: deployments fail).
    pub planner: Option<Arc<dyn JobPlanner>>,
    /// Where the RocksDB state backend works (`None`: the system's temporary
    /// directory); each worker uses its own folder `eddy-<worker id>` under it.
    pub local_state_dir: Option<std::path::PathBuf>,
}

/// Heartbeat timing agreed at registration.
#[derive(Debug, Clone, Copy)]
struct HeartbeatTiming {
    interval: Duration,
    timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("invalid master URL {url:?}: {reason}")]
    MasterUrl { url: String, reason: String },
    #[error(transparent)]
    Slots(#[from] SlotError),
    #[error("could not register with the master at {master} within {timeout:?}: {last_error}")]
    Registration {
        master: String,
        timeout: Duration,
        last_error: String,
    },
    #[error("the master refused the registration: {0}")]
    Refused(String),
    #[error("RPC server error: {0}")]
    Serve(String),
    #[error("the heartbeat thread could not start or ended without a result")]
    HeartbeatThread,
}

/// A started worker; [`Worker::run`] serves and heartbeats until shutdown.
pub struct Worker {
    listener: TcpListener,
    session: MasterSession,
    task_executor: TaskExecutorService,
}

/// The worker's relationship with the master: registration and heartbeats.
struct MasterSession {
    id: String,
    config: WorkerConfig,
    address: SocketAddr,
    slots: Arc<SlotTable>,
    attempts: Arc<Attempts>,
    /// The master's address: the session connects from its own runtime.
    endpoint: Endpoint,
}

impl Worker {
    /// Binds the RPC address and prepares the connection to the master.
    pub async fn start(config: WorkerConfig) -> Result<Worker, WorkerError> {
        let slots = Arc::new(SlotTable::new(config.slots, config.managed_memory_bytes)?);
        let endpoint = Endpoint::from_shared(config.master.clone())
            .map_err(|e| WorkerError::MasterUrl {
                url: config.master.clone(),
                reason: e.to_string(),
            })?
            .connect_timeout(RPC_TIMEOUT)
            .timeout(RPC_TIMEOUT);
        let channel = endpoint.connect_lazy();
        let listener = TcpListener::bind(config.rpc)
            .await
            .map_err(|source| WorkerError::Bind {
                addr: config.rpc,
                source,
            })?;
        let address = listener.local_addr().map_err(|source| WorkerError::Bind {
            addr: config.rpc,
            source,
        })?;
        let id = format!("worker-{}", uuid::Uuid::new_v4().simple());
        let attempts = Arc::new(Attempts::default());
        let task_executor = TaskExecutorService {
            worker_id: id.clone(),
            planner: config.planner.clone(),
            slots: slots.clone(),
            attempts: attempts.clone(),
            exchange_server: ExchangeServer::new(),
            exchange_client: ExchangeClient::new(),
            local_state_dir: config
                .local_state_dir
                .clone()
                .unwrap_or_else(std::env::temp_dir)
                .join(format!("eddy-{id}")),
            reporter: MasterReporter {
                worker_id: id.clone(),
                client: JobMasterClient::new(channel),
            },
        };
        Ok(Worker {
            listener,
            session: MasterSession {
                id,
                config,
                address,
                slots,
                attempts,
                endpoint,
            },
            task_executor,
        })
    }

    pub fn id(&self) -> &str {
        &self.session.id
    }

    /// The RPC address this worker reports to the master.
    pub fn address(&self) -> SocketAddr {
        self.session.address
    }

    /// Serves RPC, registers, and heartbeats until `shutdown` resolves.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), WorkerError> {
        let Worker {
            listener,
            session,
            task_executor,
        } = self;
        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        health_reporter
            .set_service_status("", tonic_health::ServingStatus::Serving)
            .await;
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let exchange = task_executor.exchange_server.service();
        let server = tonic::transport::Server::builder()
            .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
            .add_service(health_service)
            .add_service(TaskExecutorServer::new(task_executor))
            .add_service(exchange)
            .serve_with_incoming(incoming);
        let id = session.id.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let heartbeats = session.spawn_heartbeat_thread(stopped)?;
        let result = tokio::select! {
            res = server => res.map_err(|e| WorkerError::Serve(e.to_string())),
            res = heartbeats => res.unwrap_or(Err(WorkerError::HeartbeatThread)),
            _ = shutdown => {
                tracing::info!(worker_id = %id, "worker shutting down");
                Ok(())
            }
        };
        let _ = stop.send(());
        result
    }
}

impl MasterSession {
    /// Registers and heartbeats on a thread of its own, with its own runtime and
    /// connection to the master: subtasks keep the worker's runtime busy, and a long
    /// batch (a RocksDB write stall, a large firing) must not delay a heartbeat past the
    /// master's timeout (Flink, too, keeps RPC apart from the task threads). Ends with
    /// the session's error, or when `stop` fires or is dropped.
    fn spawn_heartbeat_thread(
        mut self,
        stop: tokio::sync::oneshot::Receiver<()>,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<(), WorkerError>>, WorkerError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|_| WorkerError::HeartbeatThread)?;
        std::thread::Builder::new()
            .name("eddy-heartbeat".into())
            .spawn(move || {
                let ended = runtime.block_on(async move {
                    tokio::select! {
                        res = self.register_and_heartbeat() => res,
                        _ = stop => Ok(()),
                    }
                });
                let _ = done.send(ended);
            })
            .map_err(|_| WorkerError::HeartbeatThread)?;
        Ok(result)
    }

    async fn register_and_heartbeat(&mut self) -> Result<(), WorkerError> {
        // Connected here, so the connection's tasks run on the caller's runtime.
        let mut master = ResourceManagerClient::new(self.endpoint.connect_lazy());
        loop {
            let timing = self.register(&mut master).await?;
            self.heartbeat_until_disconnected(&mut master, timing).await;
        }
    }

    /// Registers, retrying until [`REGISTRATION_TIMEOUT`]; returns the heartbeat timing.
    async fn register(
        &mut self,
        master: &mut ResourceManagerClient<Channel>,
    ) -> Result<HeartbeatTiming, WorkerError> {
        let started = Instant::now();
        let mut backoff = REGISTRATION_BACKOFF_INITIAL;
        loop {
            let req = RegisterWorkerRequest {
                worker_id: self.id.clone(),
                address: self.address.to_string(),
                slot_report: Some(self.slots.report()),
            };
            match master.register_worker(req).await {
                Ok(resp) => {
                    let resp = resp.into_inner();
                    let interval = self
                        .config
                        .heartbeat_interval
                        .unwrap_or(Duration::from_millis(resp.heartbeat_interval_ms))
                        .max(MIN_HEARTBEAT_INTERVAL);
                    let timeout = self
                        .config
                        .heartbeat_timeout
                        .unwrap_or(Duration::from_millis(resp.heartbeat_timeout_ms))
                        .max(interval * 2);
                    tracing::info!(
                        worker_id = %self.id, address = %self.address, master = %self.config.master,
                        slots = self.slots.len(), heartbeat_interval = ?interval, heartbeat_timeout = ?timeout,
                        "registered with the master"
                    );
                    return Ok(HeartbeatTiming { interval, timeout });
                }
                Err(status) if status.code() == tonic::Code::InvalidArgument => {
                    return Err(WorkerError::Refused(status.message().to_string()));
                }
                Err(status) => {
                    if started.elapsed() >= REGISTRATION_TIMEOUT {
                        return Err(WorkerError::Registration {
                            master: self.config.master.clone(),
                            timeout: REGISTRATION_TIMEOUT,
                            last_error: status.message().to_string(),
                        });
                    }
                    tracing::debug!(worker_id = %self.id, error = %status.message(), ?backoff, "registration failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(REGISTRATION_BACKOFF_MAX);
                }
            }
        }
    }

    /// Heartbeats every interval until the master answers that it does not know this
    /// worker, or no heartbeat succeeded for the timeout (the master is lost).
    async fn heartbeat_until_disconnected(
        &mut self,
        master: &mut ResourceManagerClient<Channel>,
        timing: HeartbeatTiming,
    ) {
        let mut last_ok = Instant::now();
        let mut tick = tokio::time::interval(timing.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let req = HeartbeatRequest {
                worker_id: self.id.clone(),
                slot_report: Some(self.slots.report()),
                subtasks: self.attempts.reports(),
            };
            match master.heartbeat(req).await {
                Ok(resp) if resp.get_ref().known => {
                    last_ok = Instant::now();
                    for c in &resp.get_ref().cancel {
                        tracing::info!(worker_id = %self.id, job_id = %c.job_id, attempt = c.attempt, "the master no longer runs this attempt; cancelling it");
                        self.attempts.cancel_up_to(&c.job_id, c.attempt);
                    }
                }
                Ok(_) => {
                    tracing::warn!(worker_id = %self.id, "the master no longer knows this worker; registering again");
                    return;
                }
                Err(status) => {
                    tracing::warn!(worker_id = %self.id, error = %status.message(), "heartbeat to the master failed");
                    if last_ok.elapsed() > timing.timeout {
                        tracing::warn!(worker_id = %self.id, timeout = ?timing.timeout, "master lost; registering again");
                        return;
                    }
                }
            }
        }
    }
}
