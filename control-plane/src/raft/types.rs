//! The Raft type configuration and the replicated state (what ZooKeeper holds for
//! Flink): the masters and their HTTP addresses, each job's checkpoint id counter and
//! its latest completed checkpoint.

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
    /// Draws the next checkpoint id of a job (Flink's `CheckpointIDCounter`); the
    /// result's `value` is the id.
    NextCheckpointId { job_id: String },
    /// A checkpoint of a job completed: every task acknowledged it. Recovery restores
    /// the latest one (Flink's `CompletedCheckpointStore`).
    CompleteCheckpoint {
        job_id: String,
        checkpoint_id: u64,
        /// Where its snapshots are (a directory of the checkpoint storage).
        path: String,
    },
}

/// What applying a [`Command`] returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CommandResult {
    /// Log index at which the command was applied.
    pub applied_index: u64,
    /// What the command computed (the id of `NextCheckpointId`).
    #[serde(default)]
    pub value: Option<u64>,
}

/// A job's latest completed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletedCheckpoint {
    pub checkpoint_id: u64,
    pub path: String,
}

/// The replicated state itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ClusterState {
    /// Master id → HTTP address.
    pub masters: BTreeMap<NodeId, String>,
    /// Job id → the last checkpoint id drawn.
    #[serde(default)]
    pub checkpoint_ids: BTreeMap<String, u64>,
    /// Job id → its latest completed checkpoint.
    #[serde(default)]
    pub completed_checkpoints: BTreeMap<String, CompletedCheckpoint>,
}

impl ClusterState {
    /// Applies a command; returns what it computed.
    pub(crate) fn apply(&mut self, command: &Command) -> Option<u64> {
        match command {
            Command::RegisterMaster { id, http_address } => {
                self.masters.insert(*id, http_address.clone());
                None
            }
            Command::NextCheckpointId { job_id } => {
                let id = self.checkpoint_ids.entry(job_id.clone()).or_insert(0);
                *id += 1;
                Some(*id)
            }
            Command::CompleteCheckpoint {
                job_id,
                checkpoint_id,
                path,
            } => {
                let newer = self
                    .completed_checkpoints
                    .get(job_id)
                    .is_none_or(|c| c.checkpoint_id < *checkpoint_id);
                if newer {
                    self.completed_checkpoints.insert(
                        job_id.clone(),
                        CompletedCheckpoint {
                            checkpoint_id: *checkpoint_id,
                            path: path.clone(),
                        },
                    );
                }
                None
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
