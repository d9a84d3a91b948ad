//! Wires a master together: store, Raft node, worker registry, HTTP + gRPC server.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use eddy_api::rest::Event;
use eddy_api::rpc::job_master_server::JobMasterServer;
use eddy_api::rpc::raft_service_server::RaftServiceServer;
use eddy_api::rpc::resource_manager_server::ResourceManagerServer;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::task::JoinSet;

use crate::http::{self, AppState};
use crate::raft::service::RaftServiceImpl;
use crate::raft::{RaftError, RaftNode};
use crate::registry::WorkerRegistry;
use crate::rpc::{JobMasterService, ResourceManagerService};
use crate::store::{Store, StoreError};

/// How long a stopping master waits for open connections (e.g. event streams).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Everything a master needs to start.
#[derive(Debug, Clone)]
pub struct MasterConfig {
    /// HTTP address: REST, dashboard, and the gRPC services.
    pub http: SocketAddr,
    /// Optional second address serving only the gRPC services.
    pub rpc: Option<SocketAddr>,
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://…`; default `sqlite://DATA_DIR/eddy.db`.
    pub db: Option<String>,
    pub heartbeat_interval: Duration,
    pub heartbeat_timeout: Duration,
    /// Checkpoint storage location (a directory or `s3://…`); default
    /// `DATA_DIR/checkpoints`.
    pub checkpoint_dir: Option<String>,
    /// This master's Raft node id.
    pub node_id: u64,
    /// The SQL planner (injected by the binary; `None` disables the SQL endpoints).
    pub sql: Option<std::sync::Arc<dyn crate::sql::SqlPlanner>>,
}

#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Raft(#[from] RaftError),
    #[error("recovering jobs: {0}")]
    Jobs(#[from] crate::jobs::JobError),
    #[error("server error: {0}")]
    Serve(std::io::Error),
}

/// A started master; [`Master::run`] serves until shutdown.
pub struct Master {
    http_listener: TcpListener,
    rpc_listener: Option<TcpListener>,
    http_addr: SocketAddr,
    state: AppState,
    router: axum::Router,
    grpc_router: axum::Router,
}

impl Master {
    /// Binds the ports, connects the store (running migrations), starts Raft and
    /// becomes leader. Errors here are start-up errors: the process should exit.
    pub async fn start(config: MasterConfig) -> Result<Master, MasterError> {
        if config.heartbeat_interval >= config.heartbeat_timeout {
            return Err(MasterError::Config(format!(
                "--heartbeat-interval ({:?}) must be shorter than --heartbeat-timeout ({:?})",
                config.heartbeat_interval, config.heartbeat_timeout
            )));
        }
        let http_listener = bind(config.http).await?;
        let http_addr = http_listener
            .local_addr()
            .map_err(|source| MasterError::Bind {
                addr: config.http,
                source,
            })?;
        let rpc_listener = match config.rpc {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };

        let db_url = config
            .db
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", config.data_dir.join("eddy.db").display()));
        let store = Store::connect(&db_url).await?;
        tracing::info!(db = %crate::store::redact(&db_url), "store ready");

        let advertise = format!("http://{}", advertised(http_addr));
        let raft = RaftNode::start(config.node_id, &config.data_dir, &advertise).await?;

        let (events, _) = broadcast::channel(http::EVENT_BUFFER);
        let registry = WorkerRegistry::new(
            store.clone(),
            raft.clone(),
            events.clone(),
            config.heartbeat_interval,
            config.heartbeat_timeout,
        );
        let jobs = crate::jobs::JobManager::new(
            store.clone(),
            raft.clone(),
            registry.clone(),
            events.clone(),
            config.sql.clone(),
            config.checkpoint_dir.clone().unwrap_or_else(|| {
                let dir = config.data_dir.join("checkpoints");
                std::path::absolute(&dir)
                    .unwrap_or(dir)
                    .display()
                    .to_string()
            }),
        );
        let recovered = jobs.recover().await?;
        if recovered > 0 {
            tracing::info!(jobs = recovered, "recovered unfinished jobs");
        }
        let state = AppState {
            jobs,
            registry,
            raft: raft.clone(),
            store,
            events,
            sql: config.sql.clone(),
        };
        let grpc_router = grpc_routes(&state);
        let router = http::router(state.clone(), grpc_router.clone());
        Ok(Master {
            http_listener,
            rpc_listener,
            http_addr,
            state,
            router,
            grpc_router,
        })
    }

    /// The bound HTTP address (useful with port 0).
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The URL workers, the CLI and browsers use for this master.
    pub fn url(&self) -> String {
        format!("http://{}", advertised(self.http_addr))
    }

    /// Serves until `shutdown` resolves, then stops within [`SHUTDOWN_GRACE`].
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), MasterError> {
        let Master {
            http_listener,
            rpc_listener,
            state,
            router,
            grpc_router,
            ..
        } = self;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut tasks = JoinSet::new();
        let registry = Arc::clone(&state.registry);
        tasks.spawn(async move {
            registry.run_expiry().await;
            Ok(())
        });
        let jobs = state.jobs.clone();
        tasks.spawn(async move {
            jobs.run_events().await;
            Ok(())
        });
        tasks.spawn(publish_leader_changes(
            state.raft.clone(),
            state.events.clone(),
        ));
        tasks.spawn(serve(http_listener, router, stop_rx.clone()));
        if let Some(listener) = rpc_listener {
            tasks.spawn(serve(listener, grpc_router, stop_rx));
        }
        tokio::select! {
            _ = shutdown => tracing::info!("shutting down"),
            Some(res) = tasks.join_next() => {
                if let Ok(Err(e)) = res { return Err(e) }
            }
        }
        let _ = stop_tx.send(true);
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        tasks.abort_all();
        state.raft.shutdown().await;
        state.store.close().await;
        Ok(())
    }
}

/// Publishes a `leader_changed` event whenever Raft's leader or term changes.
async fn publish_leader_changes(
    raft: RaftNode,
    events: broadcast::Sender<Event>,
) -> Result<(), MasterError> {
    let mut metrics = raft.raft.metrics();
    let mut last = None;
    loop {
        let current = {
            let m = metrics.borrow_and_update();
            (m.current_leader, m.current_term)
        };
        if last != Some(current) {
            if last.is_some() {
                tracing::info!(leader_id = ?current.0, term = current.1, "Raft leadership changed");
                // No subscriber is fine: the event stream is best-effort.
                let _ = events.send(Event::LeaderChanged {
                    leader_id: current.0,
                    term: current.1,
                });
            }
            last = Some(current);
        }
        if metrics.changed().await.is_err() {
            return Ok(()); // Raft stopped.
        }
    }
}

fn grpc_routes(state: &AppState) -> axum::Router {
    tonic::service::Routes::new(ResourceManagerServer::new(ResourceManagerService::new(
        Arc::clone(&state.registry),
        state.jobs.clone(),
    )))
    .add_service(JobMasterServer::new(JobMasterService::new(
        state.jobs.clone(),
    )))
    .add_service(RaftServiceServer::new(RaftServiceImpl::new(
        state.raft.raft.clone(),
    )))
    .prepare()
    .into_axum_router()
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, MasterError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| MasterError::Bind { addr, source })
}

async fn serve(
    listener: TcpListener,
    router: axum::Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), MasterError> {
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
        .map_err(MasterError::Serve)
}

/// An address others can dial: the unspecified address becomes loopback.
fn advertised(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
    } else {
        addr
    }
}
