//! The Raft type configuration and the replicated state (what ZooKeeper holds for
//! Flink): the masters and their HTTP addresses. Later: per-job desired state and
//! attempt, the checkpoint id counter, the latest completed checkpoint.

use std::collections::BTreeMap;
use std::io::Cursor;

use openraft::{BasicNode, LogId, StoredMembership};
use serde::{Deserialize, Serialize};

/// Raft node id of a master.
pub type NodeId = u64;

openraft::declare_raft_types!(
    /// Eddy's Raft types: commands in, results out, masters as nodes.
    pub TypeConfig:
        D = Command,
        R = CommandResult,
        NodeId = NodeId,
        Node = BasicNode,
        SnapshotData = Cursor<Vec<u8>>,
);

/// A change to the replicated cluster state; only the leader proposes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// A master publishes the HTTP address it serves (REST, dashboard, gRPC), so that
    /// clients and standbys can find the leader (Flink publishes its leader address
    /// in ZooKeeper the same way).
    RegisterMaster { id: NodeId, http_address: String },
}

/// What applying a [`Command`] returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CommandResult {
    /// Log index at which the command was applied.
    pub applied_index: u64,
}

/// The replicated state itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ClusterState {
    /// Master id → HTTP address.
    pub masters: BTreeMap<NodeId, String>,
}

impl ClusterState {
    pub(crate) fn apply(&mut self, command: &Command) {
        match command {
            Command::RegisterMaster { id, http_address } => {
                self.masters.insert(*id, http_address.clone());
            }
        }
    }
}

/// The state machine's durable content: the state plus Raft's bookkeeping.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct StateMachineData {
    pub last_applied: Option<LogId<NodeId>>,
    pub last_membership: StoredMembership<NodeId, BasicNode>,
    pub state: ClusterState,
}
