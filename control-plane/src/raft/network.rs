//! Raft transport, client side: openraft requests as JSON over the `RaftService` gRPC
//! service of the target master. Channels connect lazily and time out per RPC.

use std::time::Duration;

use eddy_api::rpc::RaftPayload;
use eddy_api::rpc::raft_service_client::RaftServiceClient;
use openraft::BasicNode;
use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::transport::Channel;

use super::types::{NodeId, TypeConfig};

/// Upper bound for one Raft RPC, on top of openraft's own per-RPC timeouts.
pub const RAFT_RPC_TIMEOUT: Duration = Duration::from_secs(5);

/// Creates one client per target master.
#[derive(Clone, Debug, Default)]
pub struct Network;

/// A connection to one master.
pub struct Connection {
    target: NodeId,
    client: Result<RaftServiceClient<Channel>, String>,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Connection;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Connection {
        let client = Channel::from_shared(node.addr.clone())
            .map(|endpoint| {
                RaftServiceClient::new(endpoint.timeout(RAFT_RPC_TIMEOUT).connect_lazy())
            })
            .map_err(|e| format!("invalid address {:?} of master {target}: {e}", node.addr));
        Connection { target, client }
    }
}

type RpcResult<T, E = RaftError<NodeId>> = Result<T, RPCError<NodeId, BasicNode, E>>;

impl Connection {
    async fn call<Req, Resp, E>(&mut self, kind: RaftRpc, req: &Req) -> RpcResult<Resp, E>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let client = self
            .client
            .as_mut()
            .map_err(|e| RPCError::Network(NetworkError::new(&std::io::Error::other(e.clone()))))?;
        let json = serde_json::to_vec(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let payload = RaftPayload { json };
        let reply = match kind {
            RaftRpc::AppendEntries => client.append_entries(payload).await,
            RaftRpc::Vote => client.vote(payload).await,
            RaftRpc::InstallSnapshot => client.install_snapshot(payload).await,
        }
        .map_err(|status| RPCError::Network(NetworkError::new(&status)))?;
        let result: Result<Resp, E> = serde_json::from_slice(&reply.into_inner().json)
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

#[derive(Clone, Copy)]
enum RaftRpc {
    AppendEntries,
    Vote,
    InstallSnapshot,
}

impl RaftNetwork<TypeConfig> for Connection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>> {
        self.call(RaftRpc::AppendEntries, &rpc).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>> {
        self.call(RaftRpc::InstallSnapshot, &rpc).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>> {
        self.call(RaftRpc::Vote, &rpc).await
    }
}
