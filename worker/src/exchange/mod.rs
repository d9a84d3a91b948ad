//! The data exchange between workers (Flink's netty shuffle with credit-based flow
//! control): how a logical channel — one producer subtask to one consumer subtask of one
//! edge — crosses from one worker to another.
//!
//! - [`codec`]: [`Message`](crate::runtime::message::Message) ⇄ `ExchangeFrame` (a batch
//!   as an Arrow IPC stream), with the frame size limit.
//! - [`server`]: the receiving side served by every worker ([`ExchangeServer`]): the
//!   consumers' input channels registered by key, fed by producer streams, one credit
//!   granted per frame handed to the consumer's bounded queue; `inbound` keeps the table
//!   of those input channels.
//! - [`client`]: the sending side ([`ExchangeClient`]): one HTTP/2 connection per remote
//!   worker shared by all channels to it, a result subpartition drained into its stream
//!   only while it holds credits.
//!
//! A slow consumer thus stops its remote producer exactly as a local one does: the
//! producer's local queue is no longer drained and its `send` blocks (back pressure).

pub mod client;
pub mod codec;
mod inbound;
pub mod server;

use std::fmt;

use eddy_api::rpc::ChannelId;

use crate::runtime::error::RuntimeError;

pub use client::{CONNECT_TIMEOUT, ExchangeClient, KEEPALIVE_INTERVAL, KEEPALIVE_TIMEOUT};
pub use codec::MAX_FRAME_BYTES;
pub use inbound::MAX_INBOUND_CHANNELS;
pub use server::{ExchangeServer, INBOUND_WAIT_TIMEOUT, INITIAL_CREDITS};

/// Identity of one logical channel: one producer subtask to one consumer subtask of one
/// edge of one attempt of a job.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChannelKey {
    pub job_id: String,
    pub attempt: u32,
    /// Index of the edge in the job graph.
    pub edge: u32,
    /// Subtask index of the producer.
    pub producer: u32,
    /// Subtask index of the consumer.
    pub consumer: u32,
}

impl ChannelKey {
    /// A tracing span carrying the key's fields, for every log line of one channel.
    pub(crate) fn span(&self, name: &'static str) -> tracing::Span {
        tracing::info_span!(
            "exchange",
            side = name,
            job_id = %self.job_id,
            attempt = self.attempt,
            edge = self.edge,
            producer = self.producer,
            consumer = self.consumer,
        )
    }
}

impl fmt::Display for ChannelKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "job {} attempt {} edge {} subtask {} -> {}",
            self.job_id, self.attempt, self.edge, self.producer, self.consumer
        )
    }
}

impl From<&ChannelKey> for ChannelId {
    fn from(key: &ChannelKey) -> ChannelId {
        ChannelId {
            job_id: key.job_id.clone(),
            attempt: key.attempt,
            edge: key.edge,
            producer: key.producer,
            consumer: key.consumer,
        }
    }
}

impl From<ChannelKey> for ChannelId {
    fn from(key: ChannelKey) -> ChannelId {
        ChannelId {
            job_id: key.job_id,
            attempt: key.attempt,
            edge: key.edge,
            producer: key.producer,
            consumer: key.consumer,
        }
    }
}

impl From<ChannelId> for ChannelKey {
    fn from(id: ChannelId) -> ChannelKey {
        ChannelKey {
            job_id: id.job_id,
            attempt: id.attempt,
            edge: id.edge,
            producer: id.producer,
            consumer: id.consumer,
        }
    }
}

/// What goes wrong in the exchange.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("frame of {bytes} bytes exceeds the limit of {limit} bytes")]
    FrameTooLarge { bytes: usize, limit: usize },
    #[error("arrow IPC: {0}")]
    Ipc(#[from] arrow::error::ArrowError),
    #[error("malformed exchange frame: {0}")]
    MalformedFrame(String),
    #[error("input channel already registered: {0}")]
    AlreadyRegistered(ChannelKey),
    #[error("more than {limit} inbound channels")]
    TooManyChannels { limit: usize },
    #[error("more than {limit} exchange connections")]
    TooManyConnections { limit: usize },
    #[error("invalid worker address {address:?}: {reason}")]
    Address { address: String, reason: String },
    #[error("exchange stream failed: {0}")]
    Stream(#[from] tonic::Status),
    #[error("the consumer closed the channel before end of stream")]
    ConsumerClosed,
    #[error("the producer's queue closed before end of stream")]
    ProducerClosed,
    #[error("cancelled")]
    Cancelled,
}

impl From<ExchangeError> for RuntimeError {
    fn from(error: ExchangeError) -> RuntimeError {
        match error {
            ExchangeError::Cancelled => RuntimeError::Cancelled,
            other => RuntimeError::Exchange(other.to_string()),
        }
    }
}
