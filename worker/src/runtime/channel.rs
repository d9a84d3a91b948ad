//! Channels between subtasks: bounded queues of [`Message`]s, so a slow consumer
//! slows its producers (back pressure, as Flink's bounded network buffers), and the
//! [`InputGate`] a task reads all its input channels through.

use std::future::poll_fn;
use std::task::Poll;

use tokio::sync::mpsc;

use super::error::{Result, RuntimeError};
use super::message::Message;

/// Default capacity of one channel, in messages (batches of up to `MAX_BATCH_ROWS`).
pub const DEFAULT_CHANNEL_CAPACITY: usize = 8;
/// Upper bound on channels into one subtask (explicit limit).
pub const MAX_INPUT_CHANNELS: usize = 4096;

pub type ChannelSender = mpsc::Sender<Message>;
pub type ChannelReceiver = mpsc::Receiver<Message>;

pub fn channel(capacity: usize) -> (ChannelSender, ChannelReceiver) {
    mpsc::channel(capacity.max(1))
}

/// All input channels of one subtask, read fairly (round-robin), Flink's `InputGate`.
/// A channel can be blocked (barrier alignment); a channel is done after its
/// `EndOfStream`.
#[derive(Debug)]
pub struct InputGate {
    channels: Vec<ChannelReceiver>,
    blocked: Vec<bool>,
    finished: Vec<bool>,
    remaining: usize,
    next: usize,
}

impl InputGate {
    pub fn new(channels: Vec<ChannelReceiver>) -> Result<InputGate> {
        if channels.len() > MAX_INPUT_CHANNELS {
            return Err(RuntimeError::Graph(format!(
                "{} input channels exceed the limit {MAX_INPUT_CHANNELS}",
                channels.len()
            )));
        }
        let n = channels.len();
        Ok(InputGate {
            channels,
            blocked: vec![false; n],
            finished: vec![false; n],
            remaining: n,
            next: 0,
        })
    }

    pub fn num_channels(&self) -> usize {
        self.channels.len()
    }

    /// Channels that have not delivered their `EndOfStream` yet.
    pub fn open_channels(&self) -> usize {
        self.remaining
    }

    /// True once every channel delivered its `EndOfStream`.
    pub fn is_finished(&self) -> bool {
        self.remaining == 0
    }

    /// Stops reading from a channel until [`InputGate::unblock_all`] (barrier alignment).
    pub fn block(&mut self, channel: usize) {
        self.blocked[channel] = true;
    }

    pub fn unblock_all(&mut self) {
        self.blocked.iter_mut().for_each(|b| *b = false);
    }

    /// The next message and the channel it came from. Pending while every open channel
    /// is empty or blocked; `None` once all channels finished. A channel whose sender
    /// vanished without `EndOfStream` means the producer failed: an error.
    pub async fn next(&mut self) -> Result<Option<(usize, Message)>> {
        if self.remaining == 0 {
            return Ok(None);
        }
        poll_fn(|cx| {
            let n = self.channels.len();
            for k in 0..n {
                let i = (self.next + k) % n;
                if self.finished[i] || self.blocked[i] {
                    continue;
                }
                match self.channels[i].poll_recv(cx) {
                    Poll::Ready(Some(message)) => {
                        self.next = (i + 1) % n;
                        if matches!(message, Message::EndOfStream) {
                            self.finished[i] = true;
                            self.remaining -= 1;
                        }
                        return Poll::Ready(Ok(Some((i, message))));
                    }
                    Poll::Ready(None) => {
                        return Poll::Ready(Err(RuntimeError::ChannelClosed(format!(
                            "input channel {i} closed before end of stream"
                        ))));
                    }
                    Poll::Pending => {}
                }
            }
            Poll::Pending
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_all_channels_until_end_of_stream() {
        let (a_tx, a_rx) = channel(2);
        let (b_tx, b_rx) = channel(2);
        let mut gate = InputGate::new(vec![a_rx, b_rx]).unwrap();
        a_tx.send(Message::Watermark(1)).await.unwrap();
        b_tx.send(Message::Watermark(2)).await.unwrap();
        a_tx.send(Message::EndOfStream).await.unwrap();
        b_tx.send(Message::EndOfStream).await.unwrap();
        let mut seen = Vec::new();
        while let Some((ch, m)) = gate.next().await.unwrap() {
            seen.push((ch, format!("{m:?}")));
        }
        assert_eq!(seen.len(), 4);
        assert!(gate.is_finished());
    }

    #[tokio::test]
    async fn blocked_channel_is_not_read_and_lost_sender_is_an_error() {
        let (a_tx, a_rx) = channel(2);
        let (b_tx, b_rx) = channel(2);
        let mut gate = InputGate::new(vec![a_rx, b_rx]).unwrap();
        gate.block(0);
        a_tx.send(Message::Watermark(1)).await.unwrap();
        b_tx.send(Message::Watermark(2)).await.unwrap();
        let (ch, _) = gate.next().await.unwrap().unwrap();
        assert_eq!(ch, 1);
        gate.unblock_all();
        let (ch, _) = gate.next().await.unwrap().unwrap();
        assert_eq!(ch, 0);
        drop(b_tx);
        assert!(matches!(
            gate.next().await,
            Err(RuntimeError::ChannelClosed(_))
        ));
    }
}
