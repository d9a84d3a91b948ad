//! The sending side of the exchange: one tonic `Channel` (one HTTP/2 connection) per
//! remote worker address, shared by every channel to that worker as HTTP/2 streams.
//! [`ExchangeClient::send_channel`] drains one producer subtask's local queue (its
//! result subpartition) into its stream, one frame per credit the consumer granted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use eddy_api::rpc::ExchangeFrame;
use eddy_api::rpc::exchange_client;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};
use tracing::Instrument;

use super::{ChannelKey, ExchangeError, codec};
use crate::runtime::channel::ChannelReceiver;
use crate::runtime::error::RuntimeError;
use crate::runtime::message::Message;

/// Bound on establishing a connection to a remote worker.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// HTTP/2 ping interval on an exchange connection, also while idle.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// A connection whose ping is not answered within this is considered broken.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// Upper bound on distinct remote workers one client connects to.
pub const MAX_CONNECTIONS: usize = 1024;
/// Frames queued between this task and the HTTP/2 stream; credits bound the rest.
const FRAME_QUEUE: usize = 1;

/// The sending side (cheap to clone; clones share the connections).
#[derive(Clone, Default)]
pub struct ExchangeClient {
    connections: Arc<Mutex<HashMap<String, Channel>>>,
}

impl ExchangeClient {
    pub fn new() -> ExchangeClient {
        ExchangeClient::default()
    }

    /// Number of distinct connections (remote addresses) opened so far.
    pub fn connections(&self) -> usize {
        self.lock().len()
    }

    /// Forwards every message of `rx` to the consumer at `address` (a worker's RPC
    /// address, `127.0.0.1:PORT` or `http://127.0.0.1:PORT`), sending a frame only while
    /// it holds a credit. Ok once end of stream was sent and the consumer closed its side;
    /// `Err(Cancelled)` when `cancel` becomes true; any other failure of the connection,
    /// the stream or the consumer is an `Exchange` error.
    pub async fn send_channel(
        &self,
        key: ChannelKey,
        address: &str,
        rx: ChannelReceiver,
        cancel: watch::Receiver<bool>,
    ) -> Result<(), RuntimeError> {
        let span = key.span("outbound");
        let result = self
            .transfer(&key, address, rx, cancel)
            .instrument(span.clone())
            .await;
        span.in_scope(|| match &result {
            Ok(()) => tracing::debug!(address, "result subpartition sent"),
            Err(ExchangeError::Cancelled) => tracing::debug!(address, "sending cancelled"),
            Err(error) => tracing::warn!(address, %error, "sending failed"),
        });
        result.map_err(RuntimeError::from)
    }

    async fn transfer(
        &self,
        key: &ChannelKey,
        address: &str,
        mut rx: ChannelReceiver,
        mut cancel: watch::Receiver<bool>,
    ) -> Result<(), ExchangeError> {
        let mut client = exchange_client::ExchangeClient::new(self.connection(address)?)
            .max_decoding_message_size(codec::MAX_FRAME_BYTES)
            .max_encoding_message_size(codec::MAX_FRAME_BYTES);
        let (frames_tx, frames_rx) = mpsc::channel(FRAME_QUEUE);
        let opening = ExchangeFrame {
            channel: Some(key.into()),
            message: None,
        };
        frames_tx
            .send(opening)
            .await
            .map_err(|_| ExchangeError::ConsumerClosed)?;
        let mut credits_in = tokio::select! {
            response = client.transfer(ReceiverStream::new(frames_rx)) => response?.into_inner(),
            () = cancelled(&mut cancel) => return Err(ExchangeError::Cancelled),
        };
        // Dropped after end of stream: the request side of the stream closes.
        let mut frames_tx = Some(frames_tx);
        let mut credits: u64 = 0;
        loop {
            tokio::select! {
                biased;
                () = cancelled(&mut cancel) => return Err(ExchangeError::Cancelled),
                credit = credits_in.message() => match credit? {
                    Some(credit) => credits += u64::from(credit.credits),
                    None if frames_tx.is_none() => return Ok(()),
                    None => return Err(ExchangeError::ConsumerClosed),
                },
                message = rx.recv(), if credits > 0 && frames_tx.is_some() => {
                    let message = message.ok_or(ExchangeError::ProducerClosed)?;
                    let end = matches!(message, Message::EndOfStream);
                    let frame = codec::encode(&message, None)?;
                    if let Some(frames) = &frames_tx {
                        tokio::select! {
                            sent = frames.send(frame) => sent.map_err(|_| ExchangeError::ConsumerClosed)?,
                            () = cancelled(&mut cancel) => return Err(ExchangeError::Cancelled),
                        }
                    }
                    credits -= 1;
                    if end {
                        frames_tx = None;
                    }
                }
            }
        }
    }

    /// The shared connection to `address`, created (lazily connecting) on first use.
    fn connection(&self, address: &str) -> Result<Channel, ExchangeError> {
        let uri = if address.contains("://") {
            address.to_string()
        } else {
            format!("http://{address}")
        };
        let mut connections = self.lock();
        if let Some(channel) = connections.get(&uri) {
            return Ok(channel.clone());
        }
        if connections.len() >= MAX_CONNECTIONS {
            return Err(ExchangeError::TooManyConnections {
                limit: MAX_CONNECTIONS,
            });
        }
        let endpoint = Endpoint::from_shared(uri.clone()).map_err(|e| ExchangeError::Address {
            address: address.to_string(),
            reason: e.to_string(),
        })?;
        let channel = endpoint
            .connect_timeout(CONNECT_TIMEOUT)
            .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
            .keep_alive_timeout(KEEPALIVE_TIMEOUT)
            .keep_alive_while_idle(true)
            .connect_lazy();
        tracing::debug!(address = %uri, "exchange connection opened");
        connections.insert(uri, channel.clone());
        Ok(channel)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Channel>> {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Resolves once `cancel` is true; never if its sender is gone without cancelling.
async fn cancelled(cancel: &mut watch::Receiver<bool>) {
    if cancel.wait_for(|c| *c).await.is_err() {
        std::future::pending::<()>().await;
    }
}
