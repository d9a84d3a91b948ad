//! The master's Raft node (openraft): the small authoritative state of the control
//! plane, replicated among masters. A lone master runs a single-member group and
//! elects itself; further masters join as members (HA issue) with no change of design.
//!
//! Storage lives under `DATA_DIR/raft` (RocksDB): the log ([`log_store`]) and the
//! state machine with its snapshots ([`state_machine`]). The transport is gRPC on the
//! master's own port ([`network`], [`service`]).

pub mod log_store;
pub mod network;
pub mod service;
pub mod state_machine;
pub mod types;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use eddy_api::rest::{ClusterInfo, MasterInfo, MasterRole};
use openraft::{BasicNode, Config, Raft, ServerState};
use rocksdb::{ColumnFamilyDescriptor, DB, Options};

pub use state_machine::SharedState;
pub use types::{ClusterState, Command, CommandResult, NodeId, TypeConfig};

/// How long a starting master waits to become leader of its group.
pub const ELECTION_WAIT: Duration = Duration::from_secs(10);
/// Raft heartbeat and election timing (milliseconds).
pub const HEARTBEAT_INTERVAL_MS: u64 = 100;
pub const ELECTION_TIMEOUT_MIN_MS: u64 = 400;
pub const ELECTION_TIMEOUT_MAX_MS: u64 = 800;

#[derive(Debug, thiserror::Error)]
pub enum RaftError {
    #[error(
        "cannot open the Raft store at {path}: {source} (is another master using this data dir?)"
    )]
    Open {
        path: String,
        source: rocksdb::Error,
    },
    #[error("invalid Raft configuration: {0}")]
    Config(String),
    #[error("Raft node failed: {0}")]
    Fatal(String),
    #[error("this master did not become leader within {0:?}: {1}")]
    NoLeader(Duration, String),
    #[error("proposing to Raft failed: {0}")]
    Write(String),
}

/// A running Raft node and read access to its applied state.
#[derive(Clone)]
pub struct RaftNode {
    pub id: NodeId,
    pub raft: Raft<TypeConfig>,
    pub state: SharedState,
}

impl RaftNode {
    /// Opens (or creates) the node's storage, starts Raft, initialises a new
    /// single-member group if there is none yet, and waits to become leader.
    pub async fn start(
        id: NodeId,
        data_dir: &Path,
        advertise_url: &str,
    ) -> Result<RaftNode, RaftError> {
        let path = data_dir.join("raft");
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let cfs = [log_store::CF_LOGS, log_store::CF_META, state_machine::CF_SM]
            .map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
        let db = DB::open_cf_descriptors(&opts, &path, cfs).map_err(|source| RaftError::Open {
            path: path.display().to_string(),
            source,
        })?;
        let db = Arc::new(db);

        let config = Config {
            cluster_name: "eddy".to_string(),
            heartbeat_interval: HEARTBEAT_INTERVAL_MS,
            election_timeout_min: ELECTION_TIMEOUT_MIN_MS,
            election_timeout_max: ELECTION_TIMEOUT_MAX_MS,
            ..Default::default()
        }
        .validate()
        .map_err(|e| RaftError::Config(e.to_string()))?;

        let log_store = log_store::LogStore::new(db.clone());
        let sm =
            state_machine::StateMachine::open(db).map_err(|e| RaftError::Fatal(e.to_string()))?;
        let state = sm.shared();
        let raft = Raft::new(id, Arc::new(config), network::Network, log_store, sm)
            .await
            .map_err(|e| RaftError::Fatal(e.to_string()))?;

        let initialized = raft
            .is_initialized()
            .await
            .map_err(|e| RaftError::Fatal(e.to_string()))?;
        if !initialized {
            let members = BTreeMap::from([(id, BasicNode::new(advertise_url))]);
            raft.initialize(members)
                .await
                .map_err(|e| RaftError::Fatal(e.to_string()))?;
            tracing::info!(node_id = id, "initialised a new single-member Raft group");
        }
        raft.wait(Some(ELECTION_WAIT))
            .state(ServerState::Leader, "master becomes leader")
            .await
            .map_err(|e| RaftError::NoLeader(ELECTION_WAIT, e.to_string()))?;
        let node = RaftNode { id, raft, state };
        node.propose(Command::RegisterMaster {
            id,
            http_address: advertise_url.to_string(),
        })
        .await?;
        tracing::info!(node_id = id, term = node.term(), "master is Raft leader");
        Ok(node)
    }

    /// Proposes a command and waits until it is committed and applied.
    pub async fn propose(&self, command: Command) -> Result<u64, RaftError> {
        Ok(self.propose_for_result(command).await?.applied_index)
    }

    /// Like [`RaftNode::propose`], returning what applying the command computed.
    pub async fn propose_for_result(&self, command: Command) -> Result<CommandResult, RaftError> {
        let resp = self
            .raft
            .client_write(command)
            .await
            .map_err(|e| RaftError::Write(e.to_string()))?;
        Ok(resp.data)
    }

    /// Draws the next checkpoint id of a job through Raft.
    pub async fn next_checkpoint_id(&self, job_id: &str) -> Result<u64, RaftError> {
        self.propose_for_result(Command::NextCheckpointId {
            job_id: job_id.to_string(),
        })
        .await?
        .value
        .ok_or_else(|| RaftError::Write("no checkpoint id returned".into()))
    }

    /// The latest completed checkpoint of a job, as the replicated state has it.
    pub fn latest_checkpoint(&self, job_id: &str) -> Option<types::CompletedCheckpoint> {
        self.state
            .cluster_state()
            .completed_checkpoints
            .get(job_id)
            .cloned()
    }

    /// The current Raft term: every store write carries it (fencing).
    pub fn term(&self) -> u64 {
        self.raft.metrics().borrow().current_term
    }

    pub fn is_leader(&self) -> bool {
        let m = self.raft.metrics();
        let m = m.borrow();
        m.current_leader == Some(self.id) && m.state == ServerState::Leader
    }

    /// Masters, their roles and the leader, for `GET /api/v1/cluster`.
    pub fn cluster_info(&self) -> ClusterInfo {
        let metrics = self.raft.metrics().borrow().clone();
        let addresses = self.state.cluster_state().masters;
        let membership = metrics.membership_config.membership();
        let voters: Vec<NodeId> = membership.voter_ids().collect();
        let masters = membership
            .nodes()
            .map(|(id, node)| {
                let role = if *id == self.id {
                    role_of(metrics.state)
                } else if metrics.current_leader == Some(*id) {
                    MasterRole::Leader
                } else if voters.contains(id) {
                    MasterRole::Follower
                } else {
                    MasterRole::Learner
                };
                let http_address = addresses
                    .get(id)
                    .cloned()
                    .unwrap_or_else(|| node.addr.clone());
                MasterInfo {
                    id: *id,
                    http_address,
                    role,
                }
            })
            .collect();
        ClusterInfo {
            leader_id: metrics.current_leader,
            term: metrics.current_term,
            last_log_index: metrics.last_log_index,
            last_applied_index: metrics.last_applied.map(|id| id.index),
            masters,
        }
    }

    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
    }
}

fn role_of(state: ServerState) -> MasterRole {
    match state {
        ServerState::Leader => MasterRole::Leader,
        ServerState::Follower => MasterRole::Follower,
        ServerState::Candidate => MasterRole::Candidate,
        ServerState::Learner => MasterRole::Learner,
        ServerState::Shutdown => MasterRole::Unknown,
    }
}
