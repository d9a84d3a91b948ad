//! Time in the runtime: watermarks flow min-over-inputs through exchanges, an idle
//! split stops holding them back, processing-time timers fire on the operator's clock,
//! and ingestion time stamps arrival at the source.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use common::*;
use eddy_worker::connectors::values::{CollectSink, ValuesSource};
use eddy_worker::connectors::{Source, SourceEvent, SourceReader};
use eddy_worker::graph::{JobGraph, Partitioning, StreamGraph};
use eddy_worker::runtime::error::Result;
use eddy_worker::runtime::executor::{ExecutionConfig, deploy, execute};
use eddy_worker::runtime::message::{MAX_WATERMARK, Timestamp};
use eddy_worker::runtime::operator::{Operator, OperatorContext, Output, SubtaskInfo};
use eddy_worker::time::clock::ManualClock;
use eddy_worker::time::watermark::WatermarkStrategy;

fn event_time(idle_ms: Option<u64>) -> WatermarkStrategy {
    WatermarkStrategy::BoundedOutOfOrderness {
        column: "ts".into(),
        max_out_of_orderness: Duration::from_millis(100),
        idle_timeout: idle_ms.map(Duration::from_millis),
    }
}

/// Records every watermark it is given, then forwards it.
struct Recorder(Arc<Mutex<Vec<Timestamp>>>);
impl Operator for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    fn process_batch(
        &mut self,
        _i: usize,
        b: RecordBatch,
        _c: &OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        out.emit(b);
        Ok(())
    }
    fn process_watermark(
        &mut self,
        w: Timestamp,
        _c: &OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        self.0.lock().unwrap().push(w);
        out.emit_watermark(w);
        Ok(())
    }
}

fn recorder(
    seen: &Arc<Mutex<Vec<Timestamp>>>,
) -> Arc<dyn eddy_worker::runtime::operator::OperatorFactory> {
    let seen = seen.clone();
    factory(move |_| Ok(Box::new(Recorder(seen.clone()))))
}

/// Emits one batch, then has nothing (idle) until released, then ends.
#[derive(Debug)]
struct Stalling {
    released: Arc<AtomicBool>,
}
struct StallingReader {
    released: Arc<AtomicBool>,
    subtask: u32,
    step: i64,
}
impl Source for Stalling {
    fn name(&self) -> &str {
        "stalling"
    }
    fn schema(&self) -> SchemaRef {
        schema()
    }
    fn create_reader(&self, s: &SubtaskInfo) -> Result<Box<dyn SourceReader>> {
        Ok(Box::new(StallingReader {
            released: self.released.clone(),
            subtask: s.index,
            step: 0,
        }))
    }
}
impl SourceReader for StallingReader {
    fn splits(&self) -> usize {
        1
    }
    fn poll(&mut self) -> Result<SourceEvent> {
        self.step += 1;
        if self.subtask == 0 {
            // The busy subtask: event time advances 1 s per batch, 40 batches, a short
            // pause after each so it outlives the idle timeout.
            let n = (self.step + 1) / 2;
            return Ok(match self.step {
                s if s > 80 => SourceEvent::End,
                s if s % 2 == 0 => SourceEvent::Wait(Duration::from_millis(5)),
                _ => SourceEvent::Batch {
                    split: 0,
                    batch: batch(&[(1, n, n * 1000)]),
                },
            });
        }
        if self.step == 1 {
            return Ok(SourceEvent::Batch {
                split: 0,
                batch: batch(&[(2, 0, 0)]),
            });
        }
        if self.released.load(Ordering::SeqCst) {
            Ok(SourceEvent::End)
        } else {
            Ok(SourceEvent::Wait(Duration::from_millis(5)))
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watermarks_are_the_minimum_over_inputs_and_end_with_the_final_watermark() {
    let released = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut g = StreamGraph::new("wm");
    let s = g.add_source(
        "src",
        2,
        Arc::new(Stalling {
            released: released.clone(),
        }),
        event_time(None),
    );
    let r = g.add_operator(
        "recorder",
        1,
        &[(
            s,
            Partitioning::Hash {
                key_columns: vec![0],
            },
        )],
        recorder(&seen),
    );
    g.add_sink(
        "sink",
        1,
        (r, Partitioning::Forward),
        Arc::new(CollectSink::new()),
    );
    let job = deploy(
        JobGraph::from_stream_graph(g).unwrap(),
        ExecutionConfig::default(),
    )
    .unwrap();
    let busy = job
        .subtasks
        .iter()
        .find(|s| s.vertex_name == "src" && s.index == 0)
        .unwrap()
        .metrics
        .clone();
    while busy.current_watermark.load(Ordering::SeqCst) < 39_899 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        *seen.lock().unwrap(),
        vec![-101],
        "held back by the stalled subtask (0 - 100 - 1)"
    );
    released.store(true, Ordering::SeqCst);
    let result = job.join().await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "watermarks only advance: {seen:?}"
    );
    assert_eq!(
        seen.last(),
        Some(&MAX_WATERMARK),
        "final watermark at end of input"
    );
    assert_eq!(
        result.of("recorder").next().unwrap().current_watermark,
        Some(MAX_WATERMARK)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_source_split_does_not_stall_event_time() {
    let released = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut g = StreamGraph::new("idle");
    let s = g.add_source(
        "src",
        2,
        Arc::new(Stalling {
            released: released.clone(),
        }),
        event_time(Some(50)),
    );
    let r = g.add_operator(
        "recorder",
        1,
        &[(s, Partitioning::Rebalance)],
        recorder(&seen),
    );
    g.add_sink(
        "sink",
        1,
        (r, Partitioning::Forward),
        Arc::new(CollectSink::new()),
    );
    let job = deploy(
        JobGraph::from_stream_graph(g).unwrap(),
        ExecutionConfig::default(),
    )
    .unwrap();
    let mut advanced = false;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        if seen
            .lock()
            .unwrap()
            .iter()
            .any(|w| *w >= 9_899 && *w != MAX_WATERMARK)
        {
            advanced = true;
            break;
        }
    }
    assert!(
        advanced,
        "the busy split's watermark passed the idle one: {:?}",
        seen.lock().unwrap()
    );
    released.store(true, Ordering::SeqCst);
    job.join().await.unwrap();
}

/// Registers a processing-time timer 100 ms after its first batch and emits the
/// rows it buffered when it fires.
struct ProcessingTimeBuffer {
    timer: Option<Timestamp>,
    buffered: Vec<RecordBatch>,
}
impl Operator for ProcessingTimeBuffer {
    fn name(&self) -> &str {
        "proc-buffer"
    }
    fn process_batch(
        &mut self,
        _i: usize,
        b: RecordBatch,
        ctx: &OperatorContext,
        _out: &mut Output,
    ) -> Result<()> {
        self.timer.get_or_insert(ctx.clock.now_ms() + 100);
        self.buffered.push(b);
        Ok(())
    }
    fn next_processing_time_timer(&self) -> Option<Timestamp> {
        self.timer
    }
    fn on_processing_time(
        &mut self,
        now: Timestamp,
        _ctx: &OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        if self.timer.is_some_and(|t| t <= now) {
            self.timer = None;
            for b in self.buffered.drain(..) {
                out.emit(b);
            }
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processing_time_timers_fire_on_the_operator_clock() {
    let clock = ManualClock::new(1_000_000);
    let released = Arc::new(AtomicBool::new(false));
    let sink = CollectSink::new();
    let mut g = StreamGraph::new("proctime");
    // The stalling source keeps the job running (its subtask 1 waits) until released.
    let s = g.add_source(
        "src",
        2,
        Arc::new(Stalling {
            released: released.clone(),
        }),
        WatermarkStrategy::None,
    );
    let b = g.add_operator(
        "buffer",
        1,
        &[(s, Partitioning::Rebalance)],
        factory(|_| {
            Ok(Box::new(ProcessingTimeBuffer {
                timer: None,
                buffered: Vec::new(),
            }))
        }),
    );
    g.add_sink(
        "sink",
        1,
        (b, Partitioning::Forward),
        Arc::new(sink.clone()),
    );
    let job = deploy(
        JobGraph::from_stream_graph(g).unwrap(),
        ExecutionConfig {
            clock: clock.clone(),
            ..Default::default()
        },
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        rows_of(&sink.batches()),
        0,
        "the clock has not moved: the timer waits"
    );
    for _ in 0..200 {
        clock.advance(100);
        tokio::time::sleep(Duration::from_millis(20)).await;
        if rows_of(&sink.batches()) == 41 {
            break;
        }
    }
    assert_eq!(
        rows_of(&sink.batches()),
        41,
        "fired once processing time reached the timer"
    );
    released.store(true, Ordering::SeqCst);
    job.join().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingestion_time_is_stamped_at_the_source_and_drives_watermarks() {
    let clock = ManualClock::new(5_000);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = CollectSink::new();
    let source = Arc::new(ValuesSource::new(schema(), vec![vec![numbered(0, 10, 3)]]));
    let mut g = StreamGraph::new("ingestion");
    let s = g.add_source(
        "src",
        1,
        source,
        WatermarkStrategy::IngestionTime {
            column: "arrival".into(),
            idle_timeout: None,
        },
    );
    let r = g.add_operator(
        "recorder",
        1,
        &[(s, Partitioning::Forward)],
        recorder(&seen),
    );
    g.add_sink(
        "sink",
        1,
        (r, Partitioning::Forward),
        Arc::new(sink.clone()),
    );
    execute(
        g,
        ExecutionConfig {
            clock,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let out = sink.concat().unwrap().unwrap();
    assert_eq!(out.schema().field(3).name(), "arrival");
    assert!(column_i64(&out, 3).iter().all(|t| *t == 5_000));
    assert_eq!(seen.lock().unwrap().first(), Some(&4_999));
}
