//! The table of a worker's remote input channels (Flink's `RemoteInputChannel`s, by
//! channel key): the consumer's queue registered by the executor, or a producer stream
//! waiting for that registration, or the stream feeding it. Owns the hand-over between
//! the two (whichever comes first waits for the other) and the per-stream stop signal
//! that `unregister_attempt` fires by dropping it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;
use tonic::Status;

use super::{ChannelKey, ExchangeError};
use crate::runtime::channel::ChannelSender;

/// Upper bound on entries in the table (registered, waiting and streaming channels).
pub const MAX_INBOUND_CHANNELS: usize = 65_536;

/// Resolves (with an error) when the channel's entry is dropped: unregistered.
pub(crate) type Stop = oneshot::Receiver<()>;

enum Entry {
    /// The consumer's queue, waiting for its producer's stream.
    Registered(ChannelSender),
    /// A producer stream waiting for the consumer to register.
    Waiting {
        stream: u64,
        handoff: oneshot::Sender<(ChannelSender, Stop)>,
    },
    /// A producer stream feeding the consumer's queue; dropping `stop` ends it.
    Streaming {
        stream: u64,
        _stop: oneshot::Sender<()>,
    },
}

impl Entry {
    fn stream(&self) -> Option<u64> {
        match self {
            Entry::Registered(_) => None,
            Entry::Waiting { stream, .. } | Entry::Streaming { stream, .. } => Some(*stream),
        }
    }
}

#[derive(Default)]
pub(crate) struct InputChannels {
    entries: Mutex<HashMap<ChannelKey, Entry>>,
    next_stream: AtomicU64,
}

/// A producer stream's claim on its entry; dropping it removes the entry if it is still
/// this stream's (the consumer's queue is then dropped: closed without end of stream
/// unless the stream delivered it).
pub(crate) struct Attachment {
    channels: Arc<InputChannels>,
    key: ChannelKey,
    stream: u64,
}

impl Drop for Attachment {
    fn drop(&mut self) {
        let mut entries = self.channels.lock();
        if entries.get(&self.key).and_then(Entry::stream) == Some(self.stream) {
            entries.remove(&self.key);
        }
    }
}

impl InputChannels {
    fn lock(&self) -> MutexGuard<'_, HashMap<ChannelKey, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers the consumer's queue, handing it straight to a waiting producer stream.
    pub(crate) fn register(&self, key: ChannelKey, tx: ChannelSender) -> Result<(), ExchangeError> {
        let mut entries = self.lock();
        let tx = match entries.remove(&key) {
            None => tx,
            Some(Entry::Waiting { stream, handoff }) => {
                let (stop_tx, stop_rx) = oneshot::channel();
                match handoff.send((tx, stop_rx)) {
                    Ok(()) => {
                        entries.insert(
                            key,
                            Entry::Streaming {
                                stream,
                                _stop: stop_tx,
                            },
                        );
                        return Ok(());
                    }
                    // The waiting stream just went away: keep the queue for the next one.
                    Err((tx, _)) => tx,
                }
            }
            Some(other) => {
                entries.insert(key.clone(), other);
                return Err(ExchangeError::AlreadyRegistered(key));
            }
        };
        if entries.len() >= MAX_INBOUND_CHANNELS {
            return Err(ExchangeError::TooManyChannels {
                limit: MAX_INBOUND_CHANNELS,
            });
        }
        entries.insert(key, Entry::Registered(tx));
        Ok(())
    }

    /// Drops every entry of one attempt: registered queues close, waiting and running
    /// streams stop.
    pub(crate) fn unregister_attempt(&self, job_id: &str, attempt: u32) {
        self.lock()
            .retain(|key, _| !(key.job_id == job_id && key.attempt == attempt));
    }

    /// The consumer's queue for a producer stream, waiting up to `wait` for it to be
    /// registered. The attachment must live as long as the stream.
    pub(crate) async fn attach(
        self: &Arc<Self>,
        key: &ChannelKey,
        wait: Duration,
    ) -> Result<(Attachment, ChannelSender, Stop), Status> {
        let stream = self.next_stream.fetch_add(1, Ordering::Relaxed);
        let attachment = Attachment {
            channels: Arc::clone(self),
            key: key.clone(),
            stream,
        };
        let mut handoff_rx = {
            let mut entries = self.lock();
            match entries.remove(key) {
                Some(Entry::Registered(tx)) => {
                    let (stop_tx, stop_rx) = oneshot::channel();
                    let entry = Entry::Streaming {
                        stream,
                        _stop: stop_tx,
                    };
                    entries.insert(key.clone(), entry);
                    return Ok((attachment, tx, stop_rx));
                }
                Some(other) => {
                    entries.insert(key.clone(), other);
                    return Err(Status::already_exists(format!(
                        "a producer stream is already open for {key}"
                    )));
                }
                None if entries.len() >= MAX_INBOUND_CHANNELS => {
                    return Err(Status::resource_exhausted(format!(
                        "more than {MAX_INBOUND_CHANNELS} inbound channels"
                    )));
                }
                None => {
                    let (handoff, handoff_rx) = oneshot::channel();
                    entries.insert(key.clone(), Entry::Waiting { stream, handoff });
                    handoff_rx
                }
            }
        };
        tracing::debug!("producer stream waits for its consumer to register");
        let (tx, stop) = match tokio::time::timeout(wait, &mut handoff_rx).await {
            Ok(handed) => handed.map_err(|_| {
                Status::aborted(format!(
                    "{key} was unregistered before its consumer registered"
                ))
            })?,
            Err(_elapsed) => {
                // Registration may have raced the timeout; it hands over under the lock,
                // so once our waiting entry is gone under it nothing more can arrive.
                let mut entries = self.lock();
                if matches!(entries.get(key), Some(Entry::Waiting { stream: s, .. }) if *s == stream)
                {
                    entries.remove(key);
                }
                handoff_rx.try_recv().map_err(|_| {
                    Status::deadline_exceeded(format!(
                        "no consumer registered for {key} within {wait:?}"
                    ))
                })?
            }
        };
        Ok((attachment, tx, stop))
    }
}
