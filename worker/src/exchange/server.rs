//! The receiving side of the exchange, served by every worker: each producer stream
//! (`Exchange/Transfer`) names its channel in its first frame, is joined to the
//! consumer's registered input channel queue, gets [`INITIAL_CREDITS`] and then one more
//! credit each time a frame was handed to that bounded queue (Flink's credit-based
//! `RemoteInputChannel`, whose credits are its free buffers: frames are read off the
//! connection at once and wait in the channel's own buffer). After end of stream the
//! queue is dropped and the response stream ends; a stream that breaks before drops the
//! queue without end of stream.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use eddy_api::rpc::exchange_server::{self, Exchange};
use eddy_api::rpc::{ExchangeCredit, ExchangeFrame, exchange_frame};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;

use super::inbound::InputChannels;
use super::{ChannelKey, ExchangeError, codec};
use crate::runtime::channel::{ChannelSender, DEFAULT_CHANNEL_CAPACITY};
use crate::runtime::message::Message;

/// How long a producer stream that arrives before its consumer registered waits for it.
pub const INBOUND_WAIT_TIMEOUT: Duration = Duration::from_secs(30);
/// Credits granted when a stream is joined to its consumer: a channel's capacity.
pub const INITIAL_CREDITS: u32 = DEFAULT_CHANNEL_CAPACITY as u32;
/// Credit messages queued towards one producer: the initial grant plus one per frame, so
/// the producer (never holding more frames in flight than credits) cannot overrun it.
const CREDIT_QUEUE: usize = INITIAL_CREDITS as usize + 1;

type CreditSender = mpsc::Sender<Result<ExchangeCredit, Status>>;

/// The receiving side, served by every worker (cheap to clone, shared state inside).
#[derive(Clone)]
pub struct ExchangeServer {
    channels: Arc<InputChannels>,
    wait_timeout: Duration,
}

impl Default for ExchangeServer {
    fn default() -> ExchangeServer {
        ExchangeServer::new()
    }
}

impl ExchangeServer {
    pub fn new() -> ExchangeServer {
        ExchangeServer::with_wait_timeout(INBOUND_WAIT_TIMEOUT)
    }

    /// A server whose early producer streams wait `wait_timeout` for their consumer.
    pub fn with_wait_timeout(wait_timeout: Duration) -> ExchangeServer {
        ExchangeServer {
            channels: Arc::default(),
            wait_timeout,
        }
    }

    /// The consumer's queue for `key`. A producer stream may arrive before or after this
    /// call; one that arrives first waits up to the wait timeout for it.
    pub fn register_inbound(
        &self,
        key: ChannelKey,
        tx: ChannelSender,
    ) -> Result<(), ExchangeError> {
        self.channels.register(key, tx)
    }

    /// Forgets registrations of one attempt of a job (cancel/restart); its open streams
    /// end with an error and their consumers' queues close.
    pub fn unregister_attempt(&self, job_id: &str, attempt: u32) {
        tracing::debug!(job_id, attempt, "exchange: unregistering attempt");
        self.channels.unregister_attempt(job_id, attempt);
    }

    /// The tonic service to mount on the worker's RPC server.
    pub fn service(&self) -> exchange_server::ExchangeServer<impl Exchange + use<>> {
        exchange_server::ExchangeServer::new(TransferService {
            server: self.clone(),
        })
        .max_decoding_message_size(codec::MAX_FRAME_BYTES)
        .max_encoding_message_size(codec::MAX_FRAME_BYTES)
    }
}

struct TransferService {
    server: ExchangeServer,
}

#[tonic::async_trait]
impl Exchange for TransferService {
    type TransferStream = ReceiverStream<Result<ExchangeCredit, Status>>;

    async fn transfer(
        &self,
        request: Request<Streaming<ExchangeFrame>>,
    ) -> Result<Response<Self::TransferStream>, Status> {
        let (credits, credits_rx) = mpsc::channel(CREDIT_QUEUE);
        let server = self.server.clone();
        tokio::spawn(async move {
            let frames = request.into_inner();
            if let Err(status) = server.serve_stream(frames, &credits).await {
                // The producer may be gone already; then nobody needs the reason.
                let _ = credits.send(Err(status)).await;
            }
        });
        Ok(Response::new(ReceiverStream::new(credits_rx)))
    }
}

impl ExchangeServer {
    async fn serve_stream(
        &self,
        mut frames: Streaming<ExchangeFrame>,
        credits: &CreditSender,
    ) -> Result<(), Status> {
        let first = tokio::time::timeout(self.wait_timeout, frames.message())
            .await
            .map_err(|_| Status::deadline_exceeded("no first frame"))??
            .ok_or_else(|| Status::invalid_argument("stream ended before its first frame"))?;
        let key = ChannelKey::from(
            first
                .channel
                .ok_or_else(|| Status::invalid_argument("first frame without a channel id"))?,
        );
        let span = key.span("inbound");
        let result = self
            .feed(&key, first.message, frames, credits)
            .instrument(span.clone())
            .await;
        match &result {
            Ok(()) => span.in_scope(|| tracing::debug!("input channel finished")),
            Err(status) => span.in_scope(|| {
                tracing::warn!(code = ?status.code(), error = status.message(), "input channel failed")
            }),
        }
        result
    }

    /// Joins the stream to its consumer and hands every frame to the consumer's queue,
    /// granting a credit for each, until end of stream. Frames are read off the
    /// connection as soon as they arrive (at most the credits granted, so the buffer is
    /// bounded): a blocked consumer must not hold back HTTP/2's connection window that
    /// the other channels between the two workers share.
    async fn feed(
        &self,
        key: &ChannelKey,
        first: Option<exchange_frame::Message>,
        mut frames: Streaming<ExchangeFrame>,
        credits: &CreditSender,
    ) -> Result<(), Status> {
        let (_attachment, tx, mut stop) = tokio::select! {
            attached = self.channels.attach(key, self.wait_timeout) => attached?,
            () = credits.closed() => return Err(producer_gone()),
        };
        grant(credits, INITIAL_CREDITS).await?;
        let mut received = Received {
            pending: VecDeque::with_capacity(INITIAL_CREDITS as usize),
            available: u64::from(INITIAL_CREDITS),
            ended: false,
        };
        if let Some(payload) = first {
            received.accept(payload)?;
        }
        loop {
            tokio::select! {
                frame = frames.message(), if !received.ended => {
                    let payload = frame?
                        .ok_or_else(|| Status::aborted("producer stream ended before end of stream"))?
                        .message
                        .ok_or_else(|| Status::invalid_argument("frame without a message"))?;
                    received.accept(payload)?;
                }
                permit = tx.reserve(), if !received.pending.is_empty() => {
                    let permit = permit.map_err(|_| {
                        Status::failed_precondition("the consumer's input channel is closed")
                    })?;
                    let Some(message) = received.pending.pop_front() else { continue };
                    let end = matches!(message, Message::EndOfStream);
                    permit.send(message);
                    if end {
                        return Ok(());
                    }
                    grant(credits, 1).await?;
                    received.available += 1;
                }
                _ = &mut stop => return Err(Status::aborted("the attempt was unregistered")),
                () = credits.closed() => return Err(producer_gone()),
            }
        }
    }
}

/// Frames read off a stream and not yet handed to the consumer.
struct Received {
    pending: VecDeque<Message>,
    /// Credits granted and not yet used by a frame.
    available: u64,
    /// End of stream was received: nothing more is read.
    ended: bool,
}

impl Received {
    fn accept(&mut self, payload: exchange_frame::Message) -> Result<(), Status> {
        self.available = self
            .available
            .checked_sub(1)
            .ok_or_else(|| Status::resource_exhausted("frame sent without a credit"))?;
        let message =
            codec::decode(payload).map_err(|e| Status::invalid_argument(e.to_string()))?;
        self.ended = matches!(message, Message::EndOfStream);
        self.pending.push_back(message);
        Ok(())
    }
}

async fn grant(credits: &CreditSender, n: u32) -> Result<(), Status> {
    credits
        .send(Ok(ExchangeCredit { credits: n }))
        .await
        .map_err(|_| producer_gone())
}

fn producer_gone() -> Status {
    Status::cancelled("producer gone")
}
