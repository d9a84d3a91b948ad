//! The worker-to-worker exchange over real sockets on 127.0.0.1: round trip of every
//! message kind, credit-based back pressure, one connection per remote worker, early
//! producers, and broken streams.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
use arrow::record_batch::RecordBatch;
use eddy_worker::exchange::{ChannelKey, ExchangeClient, ExchangeServer, INITIAL_CREDITS};
use eddy_worker::runtime::channel::{ChannelReceiver, channel};
use eddy_worker::runtime::error::RuntimeError;
use eddy_worker::runtime::message::{CheckpointBarrier, Message, WatermarkStatus};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;

/// Bound on any single wait in these tests.
const WAIT: Duration = Duration::from_secs(10);

/// Serves `server` on a free port of 127.0.0.1; returns its address.
async fn serve(server: &ExchangeServer) -> String {
    serve_counting(server).await.0
}

/// Serves `server`; returns its address and the number of TCP connections it accepted.
async fn serve_counting(server: &ExchangeServer) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    let incoming = TcpListenerStream::new(listener).map(move |connection| {
        counter.fetch_add(1, Ordering::SeqCst);
        connection
    });
    let service = server.service();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(incoming)
            .await
            .unwrap();
    });
    (address, accepted)
}

/// A served exchange server with a consumer queue of `capacity` registered for
/// `key(0, 0, 0)`.
async fn served_with_consumer(capacity: usize) -> (ExchangeServer, String, ChannelReceiver) {
    let server = ExchangeServer::new();
    let address = serve(&server).await;
    let (consumer_tx, consumer_rx) = channel(capacity);
    server.register_inbound(key(0, 0, 0), consumer_tx).unwrap();
    (server, address, consumer_rx)
}

fn key(edge: u32, producer: u32, consumer: u32) -> ChannelKey {
    ChannelKey {
        job_id: "job-1".to_string(),
        attempt: 1,
        edge,
        producer,
        consumer,
    }
}

fn never_cancelled() -> watch::Receiver<bool> {
    watch::channel(false).1
}

/// Spawns `send_channel` of a new local channel of `capacity`; returns its sender side.
fn spawn_producer(
    client: &ExchangeClient,
    key: ChannelKey,
    address: &str,
    capacity: usize,
    cancel: watch::Receiver<bool>,
) -> (
    eddy_worker::runtime::channel::ChannelSender,
    JoinHandle<Result<(), RuntimeError>>,
) {
    let (tx, rx) = channel(capacity);
    let client = client.clone();
    let address = address.to_string();
    let task = tokio::spawn(async move { client.send_channel(key, &address, rx, cancel).await });
    (tx, task)
}

fn batch(offset: i64) -> RecordBatch {
    RecordBatch::try_from_iter(vec![
        (
            "id",
            Arc::new(Int64Array::from(vec![Some(offset), None, Some(offset + 2)])) as ArrayRef,
        ),
        (
            "name",
            Arc::new(StringArray::from(vec![
                Some("auction"),
                None,
                Some("bid ✓"),
            ])) as ArrayRef,
        ),
        (
            "price",
            Arc::new(Float64Array::from(vec![Some(1.5), Some(-2.0), None])) as ArrayRef,
        ),
        (
            "flag",
            Arc::new(BooleanArray::from(vec![None, Some(true), Some(false)])) as ArrayRef,
        ),
    ])
    .unwrap()
}

fn assert_same(got: &Message, want: &Message) {
    let same = match (got, want) {
        (Message::Data(a), Message::Data(b)) => a == b,
        (Message::Watermark(a), Message::Watermark(b)) => a == b,
        (Message::WatermarkStatus(a), Message::WatermarkStatus(b)) => a == b,
        (Message::Barrier(a), Message::Barrier(b)) => a == b,
        (Message::EndOfStream, Message::EndOfStream) => true,
        _ => false,
    };
    assert!(same, "got {got:?}, want {want:?}");
}

async fn recv(rx: &mut ChannelReceiver) -> Option<Message> {
    timeout(WAIT, rx.recv())
        .await
        .expect("consumer waited too long")
}

/// Receives the next message and asserts it is `want`.
async fn expect(rx: &mut ChannelReceiver, want: &Message) {
    let got = recv(rx).await.expect("queue closed");
    assert_same(&got, want);
}

/// Every message up to the queue's close; asserts it closed without end of stream.
async fn drain_until_closed(rx: &mut ChannelReceiver) -> usize {
    let mut n = 0;
    while let Some(message) = recv(rx).await {
        assert!(
            !matches!(message, Message::EndOfStream),
            "unexpected end of stream"
        );
        n += 1;
    }
    n
}

async fn finished(task: JoinHandle<Result<(), RuntimeError>>) -> Result<(), RuntimeError> {
    timeout(WAIT, task)
        .await
        .expect("producer did not finish")
        .unwrap()
}

#[tokio::test]
async fn every_message_kind_arrives_in_order() {
    let (_server, address, mut consumer_rx) = served_with_consumer(4).await;
    let messages = vec![
        Message::Data(batch(1)),
        Message::Watermark(10),
        Message::WatermarkStatus(WatermarkStatus::Idle),
        Message::WatermarkStatus(WatermarkStatus::Active),
        Message::Data(batch(100).slice(1, 2)),
        Message::Barrier(CheckpointBarrier {
            checkpoint_id: 3,
            timestamp_ms: 1_700_000_000_000,
            savepoint: false,
        }),
        Message::Data(batch(0).slice(0, 0)),
        Message::Watermark(i64::MAX),
        Message::EndOfStream,
    ];
    let client = ExchangeClient::new();
    let (tx, task) = spawn_producer(&client, key(0, 0, 0), &address, 2, never_cancelled());
    let to_send = messages.clone();
    tokio::spawn(async move {
        for message in to_send {
            tx.send(message).await.unwrap();
        }
    });
    for want in &messages {
        expect(&mut consumer_rx, want).await;
    }
    assert!(
        recv(&mut consumer_rx).await.is_none(),
        "queue dropped after end of stream"
    );
    finished(task).await.unwrap();
}

#[tokio::test]
async fn a_slow_consumer_stops_the_remote_producer_by_credits() {
    const QUEUE: usize = 2;
    const LOCAL: usize = 1;
    const TOTAL: usize = 200;
    let (_server, address, mut consumer_rx) = served_with_consumer(QUEUE).await;
    let client = ExchangeClient::new();
    let (tx, task) = spawn_producer(&client, key(0, 0, 0), &address, LOCAL, never_cancelled());
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&sent);
    tokio::spawn(async move {
        for i in 0..TOTAL {
            tx.send(Message::Watermark(i as i64)).await.unwrap();
            counter.fetch_add(1, Ordering::SeqCst);
        }
        tx.send(Message::EndOfStream).await.unwrap();
    });

    sleep(Duration::from_millis(500)).await;
    let stalled = sent.load(Ordering::SeqCst);
    // Queue full, every credit used, the local channel full (+1 for the frame the
    // server holds while its queue is full, +1 slack).
    let bound = QUEUE + INITIAL_CREDITS as usize + LOCAL + 2;
    assert!(
        stalled <= bound,
        "{stalled} messages sent past a full consumer (bound {bound})"
    );
    assert!(
        stalled >= INITIAL_CREDITS as usize,
        "only {stalled} sent: credits unused"
    );
    sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sent.load(Ordering::SeqCst),
        stalled,
        "the producer kept sending"
    );

    for i in 0..TOTAL {
        expect(&mut consumer_rx, &Message::Watermark(i as i64)).await;
    }
    expect(&mut consumer_rx, &Message::EndOfStream).await;
    finished(task).await.unwrap();
    assert_eq!(sent.load(Ordering::SeqCst), TOTAL);
}

#[tokio::test]
async fn channels_to_one_worker_share_one_connection() {
    let (server_a, server_b) = (ExchangeServer::new(), ExchangeServer::new());
    let (address_a, accepted_a) = serve_counting(&server_a).await;
    let (address_b, accepted_b) = serve_counting(&server_b).await;
    let client = ExchangeClient::new();
    let to_a = [
        address_a.clone(),
        address_a.clone(),
        format!("http://{address_a}"),
    ];
    transfer_batches(&client, &server_a, &to_a).await;
    assert_eq!(client.connections(), 1);
    assert_eq!(
        accepted_a.load(Ordering::SeqCst),
        1,
        "one TCP connection to worker A"
    );
    transfer_batches(&client, &server_b, &[address_b]).await;
    assert_eq!(client.connections(), 2);
    assert_eq!(accepted_b.load(Ordering::SeqCst), 1);
    transfer_batches(&client, &server_a, &to_a[..1]).await;
    assert_eq!(
        accepted_a.load(Ordering::SeqCst),
        1,
        "the connection is reused"
    );
}

/// Sends five batches and end of stream on one channel per address, all at once, and
/// checks that every consumer gets them.
async fn transfer_batches(client: &ExchangeClient, server: &ExchangeServer, addresses: &[String]) {
    let mut channels = Vec::new();
    for (consumer, address) in (0..).zip(addresses) {
        let (consumer_tx, consumer_rx) = channel(2);
        server
            .register_inbound(key(1, 0, consumer), consumer_tx)
            .unwrap();
        let (tx, task) = spawn_producer(client, key(1, 0, consumer), address, 2, never_cancelled());
        tokio::spawn(async move {
            for i in 0..5 {
                tx.send(Message::Data(batch(i))).await.unwrap();
            }
            tx.send(Message::EndOfStream).await.unwrap();
        });
        channels.push((consumer_rx, task));
    }
    for (mut consumer_rx, task) in channels {
        for i in 0..5 {
            expect(&mut consumer_rx, &Message::Data(batch(i))).await;
        }
        expect(&mut consumer_rx, &Message::EndOfStream).await;
        finished(task).await.unwrap();
    }
}

#[tokio::test]
async fn an_early_producer_waits_for_its_consumer() {
    let server = ExchangeServer::with_wait_timeout(WAIT);
    let address = serve(&server).await;
    let client = ExchangeClient::new();
    let (tx, task) = spawn_producer(&client, key(0, 2, 3), &address, 2, never_cancelled());
    tx.send(Message::Watermark(7)).await.unwrap();
    tx.send(Message::EndOfStream).await.unwrap();
    sleep(Duration::from_millis(200)).await;
    assert!(!task.is_finished());

    let (consumer_tx, mut consumer_rx) = channel(2);
    server.register_inbound(key(0, 2, 3), consumer_tx).unwrap();
    expect(&mut consumer_rx, &Message::Watermark(7)).await;
    expect(&mut consumer_rx, &Message::EndOfStream).await;
    finished(task).await.unwrap();
}

#[tokio::test]
async fn a_producer_without_consumer_fails_after_the_wait_timeout() {
    let server = ExchangeServer::with_wait_timeout(Duration::from_millis(200));
    let address = serve(&server).await;
    let client = ExchangeClient::new();
    let (_tx, task) = spawn_producer(&client, key(0, 0, 0), &address, 2, never_cancelled());
    let error = finished(task).await.unwrap_err();
    assert!(matches!(error, RuntimeError::Exchange(_)), "{error}");
    assert!(
        error.to_string().contains("no consumer registered"),
        "{error}"
    );
    // The key is free again: a consumer registering now is not refused.
    let (consumer_tx, _consumer_rx) = channel(2);
    server.register_inbound(key(0, 0, 0), consumer_tx).unwrap();
}

#[tokio::test]
async fn a_second_registration_of_a_key_is_refused() {
    let server = ExchangeServer::new();
    let (first, _first_rx) = channel(2);
    let (second, _second_rx) = channel(2);
    server.register_inbound(key(0, 0, 0), first).unwrap();
    assert!(server.register_inbound(key(0, 0, 0), second).is_err());
}

#[tokio::test]
async fn a_cancelled_producer_closes_the_consumer_without_end_of_stream() {
    let (_server, address, mut consumer_rx) = served_with_consumer(8).await;
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let client = ExchangeClient::new();
    let (tx, task) = spawn_producer(&client, key(0, 0, 0), &address, 2, cancel_rx);
    for i in 0..3 {
        tx.send(Message::Watermark(i)).await.unwrap();
    }
    for i in 0..3 {
        expect(&mut consumer_rx, &Message::Watermark(i)).await;
    }
    cancel_tx.send(true).unwrap();
    assert!(matches!(finished(task).await, Err(RuntimeError::Cancelled)));
    assert_eq!(drain_until_closed(&mut consumer_rx).await, 0);
}

#[tokio::test]
async fn a_broken_producer_stream_closes_the_consumer_without_end_of_stream() {
    let server = ExchangeServer::new();
    let address = serve(&server).await;
    let client = ExchangeClient::new();

    // The producer task vanishes mid-way (its future dropped: the stream is reset).
    let (consumer_tx, mut consumer_rx) = channel(8);
    server.register_inbound(key(0, 0, 0), consumer_tx).unwrap();
    let (tx, task) = spawn_producer(&client, key(0, 0, 0), &address, 2, never_cancelled());
    tx.send(Message::Data(batch(0))).await.unwrap();
    expect(&mut consumer_rx, &Message::Data(batch(0))).await;
    task.abort();
    assert_eq!(drain_until_closed(&mut consumer_rx).await, 0);

    // The producer subtask's queue closes without end of stream (its task failed).
    let (consumer_tx, mut consumer_rx) = channel(8);
    server.register_inbound(key(0, 1, 0), consumer_tx).unwrap();
    let (tx, task) = spawn_producer(&client, key(0, 1, 0), &address, 2, never_cancelled());
    tx.send(Message::Watermark(1)).await.unwrap();
    drop(tx);
    let error = finished(task).await.unwrap_err();
    assert!(
        error.to_string().contains("before end of stream"),
        "{error}"
    );
    // The failed producer's last frame may or may not have made it.
    assert!(drain_until_closed(&mut consumer_rx).await <= 1);
}

#[tokio::test]
async fn unregistering_an_attempt_ends_its_streams() {
    let (server, address, mut consumer_rx) = served_with_consumer(8).await;
    let (idle_tx, mut idle_rx) = channel(8);
    server.register_inbound(key(0, 0, 1), idle_tx).unwrap();
    let client = ExchangeClient::new();
    let (tx, task) = spawn_producer(&client, key(0, 0, 0), &address, 2, never_cancelled());
    tx.send(Message::Watermark(1)).await.unwrap();
    expect(&mut consumer_rx, &Message::Watermark(1)).await;

    server.unregister_attempt("job-1", 1);
    let error = finished(task).await.unwrap_err();
    assert!(error.to_string().contains("unregistered"), "{error}");
    assert_eq!(drain_until_closed(&mut consumer_rx).await, 0);
    assert_eq!(drain_until_closed(&mut idle_rx).await, 0);
    drop(tx);
}

#[tokio::test]
async fn a_blocked_channel_does_not_stall_the_others_on_its_connection() {
    const BIG_BATCHES: usize = 20;
    // 2 MiB per batch: the in-flight frames of one channel exceed HTTP/2's windows.
    let big = RecordBatch::try_from_iter(vec![(
        "v",
        Arc::new(Int64Array::from_iter_values(0..256 * 1024)) as ArrayRef,
    )])
    .unwrap();
    let (server, address, mut blocked_rx) = served_with_consumer(1).await;
    let client = ExchangeClient::new();
    let (blocked_tx, blocked_task) =
        spawn_producer(&client, key(0, 0, 0), &address, 1, never_cancelled());
    let to_send = big.clone();
    tokio::spawn(async move {
        for _ in 0..BIG_BATCHES {
            blocked_tx
                .send(Message::Data(to_send.clone()))
                .await
                .unwrap();
        }
        blocked_tx.send(Message::EndOfStream).await.unwrap();
    });
    sleep(Duration::from_millis(300)).await;

    let (other_tx, mut other_rx) = channel(1);
    server.register_inbound(key(0, 1, 0), other_tx).unwrap();
    let (tx, task) = spawn_producer(&client, key(0, 1, 0), &address, 1, never_cancelled());
    for i in 0..20 {
        tx.send(Message::Watermark(i)).await.unwrap();
        expect(&mut other_rx, &Message::Watermark(i)).await;
    }
    tx.send(Message::EndOfStream).await.unwrap();
    expect(&mut other_rx, &Message::EndOfStream).await;
    finished(task).await.unwrap();
    assert_eq!(client.connections(), 1);

    for _ in 0..BIG_BATCHES {
        expect(&mut blocked_rx, &Message::Data(big.clone())).await;
    }
    expect(&mut blocked_rx, &Message::EndOfStream).await;
    finished(blocked_task).await.unwrap();
}

#[tokio::test]
async fn an_unreachable_worker_is_an_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    let client = ExchangeClient::new();
    let (_tx, task) = spawn_producer(&client, key(0, 0, 0), &address, 1, never_cancelled());
    let error = finished(task).await.unwrap_err();
    assert!(matches!(error, RuntimeError::Exchange(_)), "{error}");
}
