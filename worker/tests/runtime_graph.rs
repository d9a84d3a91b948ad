//! The runtime over whole job graphs: chaining, slot sharing, partitioning, back
//! pressure and failure, run in-process with real channels and tasks.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arrow::array::RecordBatch;
use common::*;
use datafusion::logical_expr::Operator as BinOp;
use datafusion::physical_expr::expressions::{BinaryExpr, Column, Literal};
use datafusion::scalar::ScalarValue;
use eddy_worker::connectors::values::{CollectSink, ValuesSource};
use eddy_worker::graph::slot_sharing::SlotPlan;
use eddy_worker::graph::{JobGraph, Partitioning, StreamGraph};
use eddy_worker::key_groups::range_for_subtask;
use eddy_worker::operators::basic::FilterOperator;
use eddy_worker::runtime::error::{Result, RuntimeError};
use eddy_worker::runtime::executor::{ExecutionConfig, deploy, execute};
use eddy_worker::runtime::operator::{Operator, OperatorContext, Output, SubtaskInfo};
use eddy_worker::state::key::key_groups;
use eddy_worker::time::watermark::WatermarkStrategy;

fn values(splits: usize, batches_per_split: i64, rows: i64) -> Arc<ValuesSource> {
    let splits = (0..splits as i64)
        .map(|s| {
            (0..batches_per_split)
                .map(|b| numbered((s * batches_per_split + b) * rows, rows, 37))
                .collect()
        })
        .collect();
    Arc::new(ValuesSource::new(schema(), splits))
}

fn even_filter() -> Arc<dyn eddy_worker::runtime::operator::OperatorFactory> {
    factory(|_| {
        // value % 2 = 0
        let value = Arc::new(Column::new("value", 1));
        let rem = Arc::new(BinaryExpr::new(
            value,
            BinOp::Modulo,
            Arc::new(Literal::new(ScalarValue::Int64(Some(2)))),
        ));
        let pred = Arc::new(BinaryExpr::new(
            rem,
            BinOp::Eq,
            Arc::new(Literal::new(ScalarValue::Int64(Some(0)))),
        ));
        Ok(Box::new(FilterOperator::new(pred)) as Box<dyn Operator>)
    })
}

/// Tags each row's key with the subtask that saw it: value := subtask index.
struct TagSubtask;
impl Operator for TagSubtask {
    fn name(&self) -> &str {
        "tag"
    }
    fn process_batch(
        &mut self,
        _i: usize,
        b: RecordBatch,
        ctx: &OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        let idx = ctx.subtask.index as i64;
        let rows: Vec<(i64, i64, i64)> = column_i64(&b, 0)
            .into_iter()
            .zip(column_i64(&b, 2))
            .map(|(k, t)| (k, idx, t))
            .collect();
        out.emit(batch(&rows));
        Ok(())
    }
}

#[test]
fn forward_edges_with_equal_parallelism_chain_and_others_do_not() {
    let mut g = StreamGraph::new("chain");
    let src = g.add_source("src", 2, values(2, 1, 10), WatermarkStrategy::None);
    let f = g.add_operator("filter", 2, &[(src, Partitioning::Forward)], even_filter());
    let k = g.add_operator(
        "keyed",
        3,
        &[(
            f,
            Partitioning::Hash {
                key_columns: vec![0],
            },
        )],
        factory(|_| Ok(Box::new(TagSubtask))),
    );
    let t = g.add_operator(
        "tag2",
        3,
        &[(k, Partitioning::Forward)],
        factory(|_| Ok(Box::new(TagSubtask))),
    );
    g.set_slot_sharing_group(t, "other");
    let sink = g.add_sink(
        "sink",
        3,
        (t, Partitioning::Forward),
        Arc::new(CollectSink::new()),
    );
    g.set_slot_sharing_group(sink, "other");
    let jg = JobGraph::from_stream_graph(g).unwrap();
    let names: Vec<&str> = jg.vertices.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, vec!["src -> filter", "keyed", "tag2 -> sink"]);
    assert_eq!(jg.edges.len(), 2);
    assert_eq!(jg.edges[0].partitioning.name(), "HASH");
    assert_eq!(jg.edges[1].partitioning.name(), "FORWARD");
    // Slot sharing: default group needs max(2, 3) = 3 slots, "other" needs 3.
    let plan = SlotPlan::new(&jg);
    assert_eq!(plan.slots.len(), 6);
    assert_eq!(
        plan.slot_of(0, 1),
        plan.slot_of(1, 1),
        "subtask 1 of src and keyed share a slot"
    );
    assert_ne!(
        plan.slot_of(1, 0),
        plan.slot_of(2, 0),
        "different groups never share"
    );
}

#[test]
fn forward_edge_that_changes_parallelism_is_rejected() {
    let mut g = StreamGraph::new("bad");
    let src = g.add_source("src", 2, values(1, 1, 1), WatermarkStrategy::None);
    g.add_sink(
        "sink",
        3,
        (src, Partitioning::Forward),
        Arc::new(CollectSink::new()),
    );
    let err = JobGraph::from_stream_graph(g).unwrap_err();
    assert!(err.to_string().contains("changes parallelism"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hash_partitioning_routes_every_key_to_the_subtask_owning_its_key_group() {
    let sink = CollectSink::new();
    let mut g = StreamGraph::new("hash");
    let src = g.add_source("src", 2, values(4, 5, 100), WatermarkStrategy::None);
    let f = g.add_operator("filter", 2, &[(src, Partitioning::Forward)], even_filter());
    let t = g.add_operator(
        "tag",
        3,
        &[(
            f,
            Partitioning::Hash {
                key_columns: vec![0],
            },
        )],
        factory(|_| Ok(Box::new(TagSubtask))),
    );
    g.add_sink(
        "sink",
        3,
        (t, Partitioning::Forward),
        Arc::new(sink.clone()),
    );
    let result = execute(g, ExecutionConfig::default()).await.unwrap();
    let out = sink.batches();
    assert_eq!(
        rows_of(&out),
        1000,
        "half of 4 splits x 5 batches x 100 rows"
    );
    assert_eq!(result.records_out("filter"), 1000);
    assert_eq!(result.records_in("src"), 2000);
    for b in &out {
        let keys = b.column(0).clone();
        let groups = key_groups(&[keys], b.num_rows(), 128).unwrap();
        for (g, subtask) in groups.iter().zip(column_i64(b, 1)) {
            assert!(
                range_for_subtask(subtask as u32, 3, 128)
                    .unwrap()
                    .contains(*g)
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebalance_spreads_and_broadcast_copies() {
    let rebalanced = CollectSink::new();
    let broadcast = CollectSink::new();
    let mut g = StreamGraph::new("rr");
    let src = g.add_source("src", 1, values(1, 6, 10), WatermarkStrategy::None);
    let t = g.add_operator(
        "tag",
        3,
        &[(src, Partitioning::Rebalance)],
        factory(|_| Ok(Box::new(TagSubtask))),
    );
    g.add_sink(
        "sink",
        3,
        (t, Partitioning::Forward),
        Arc::new(rebalanced.clone()),
    );
    let src2 = g.add_source("src2", 1, values(1, 2, 10), WatermarkStrategy::None);
    let t2 = g.add_operator(
        "tag-b",
        3,
        &[(src2, Partitioning::Broadcast)],
        factory(|_| Ok(Box::new(TagSubtask))),
    );
    g.add_sink(
        "sink-b",
        3,
        (t2, Partitioning::Forward),
        Arc::new(broadcast.clone()),
    );
    execute(g, ExecutionConfig::default()).await.unwrap();
    let mut per_subtask = [0usize; 3];
    for b in rebalanced.batches() {
        for s in column_i64(&b, 1) {
            per_subtask[s as usize] += 1;
        }
    }
    assert_eq!(
        per_subtask,
        [20, 20, 20],
        "6 batches round-robin over 3 subtasks"
    );
    assert_eq!(
        rows_of(&broadcast.batches()),
        60,
        "20 rows to each of 3 subtasks"
    );
}

/// Sleeps per batch: a slow consumer.
struct Slow(Arc<AtomicU64>);
impl Operator for Slow {
    fn name(&self) -> &str {
        "slow"
    }
    fn process_batch(
        &mut self,
        _i: usize,
        b: RecordBatch,
        _c: &OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        std::thread::sleep(Duration::from_millis(5));
        self.0.fetch_add(1, Ordering::SeqCst);
        out.emit(b);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_slows_its_producer_through_bounded_channels() {
    let consumed = Arc::new(AtomicU64::new(0));
    let c = consumed.clone();
    let mut g = StreamGraph::new("backpressure");
    let src = g.add_source("src", 1, values(1, 200, 10), WatermarkStrategy::None);
    let slow = g.add_operator(
        "slow",
        1,
        &[(src, Partitioning::Rebalance)],
        factory(move |_| Ok(Box::new(Slow(c.clone())))),
    );
    g.add_sink(
        "sink",
        1,
        (slow, Partitioning::Forward),
        Arc::new(CollectSink::new()),
    );
    let capacity = 4;
    let job = deploy(
        JobGraph::from_stream_graph(g).unwrap(),
        ExecutionConfig {
            channel_capacity: capacity,
            ..Default::default()
        },
    )
    .unwrap();
    let src_metrics = job
        .subtasks
        .iter()
        .find(|s| s.vertex_name == "src")
        .unwrap()
        .metrics
        .clone();
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(30)).await;
        let produced = src_metrics.records_out.load(Ordering::SeqCst) / 10;
        let taken = consumed.load(Ordering::SeqCst);
        // The producer may run ahead by the channel's capacity plus the batch in hand
        // on each side, never more.
        assert!(
            produced <= taken + capacity as u64 + 2,
            "produced {produced} batches, consumed {taken}"
        );
    }
    let result = job.join().await.unwrap();
    let src = result.of("src").next().unwrap().clone();
    assert!(
        src.backpressure_ratio > 0.3,
        "source mostly waited on the slow consumer: {src:?}"
    );
    assert_eq!(result.records_in("slow"), 2000);
}

struct FailOn(i64);
impl Operator for FailOn {
    fn name(&self) -> &str {
        "fail"
    }
    fn process_batch(
        &mut self,
        _i: usize,
        b: RecordBatch,
        _c: &OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        if column_i64(&b, 1).contains(&self.0) {
            return Err(RuntimeError::Task {
                task: "fail".into(),
                message: format!("saw {}", self.0),
            });
        }
        out.emit(b);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_task_fails_the_job_with_its_own_error() {
    let mut g = StreamGraph::new("fails");
    let src = g.add_source("src", 2, values(2, 50, 10), WatermarkStrategy::None);
    let f = g.add_operator(
        "fail",
        2,
        &[(
            src,
            Partitioning::Hash {
                key_columns: vec![0],
            },
        )],
        factory(|_| Ok(Box::new(FailOn(333)))),
    );
    g.add_sink(
        "sink",
        1,
        (f, Partitioning::Rebalance),
        Arc::new(CollectSink::new()),
    );
    let err = tokio::time::timeout(
        Duration::from_secs(10),
        execute(g, ExecutionConfig::default()),
    )
    .await
    .expect("a failed job ends")
    .unwrap_err();
    assert!(
        err.to_string().contains("saw 333"),
        "root cause reported: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_needing_more_slots_than_available_does_not_start() {
    let mut g = StreamGraph::new("slots");
    let src = g.add_source("src", 3, values(3, 1, 1), WatermarkStrategy::None);
    g.add_sink(
        "sink",
        3,
        (src, Partitioning::Forward),
        Arc::new(CollectSink::new()),
    );
    let err = deploy(
        JobGraph::from_stream_graph(g).unwrap(),
        ExecutionConfig {
            available_slots: Some(2),
            ..Default::default()
        },
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("needs 3 slots"), "{err}");
}

#[allow(dead_code)]
fn _info(_: &SubtaskInfo) {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_subtask_metrics_count_records_bytes_and_busy_time() {
    let consumed = Arc::new(AtomicU64::new(0));
    let c = consumed.clone();
    let mut g = StreamGraph::new("metrics");
    let src = g.add_source("src", 1, values(1, 40, 10), WatermarkStrategy::None);
    let slow = g.add_operator(
        "slow",
        1,
        &[(src, Partitioning::Rebalance)],
        factory(move |_| Ok(Box::new(Slow(c.clone())))),
    );
    g.add_sink(
        "sink",
        1,
        (slow, Partitioning::Forward),
        Arc::new(CollectSink::new()),
    );
    let result = execute(g, ExecutionConfig::default()).await.unwrap();
    let src = result.of("src").next().unwrap().clone();
    let slow = result.of("slow").next().unwrap().clone();
    assert_eq!((src.records_in, src.records_out), (400, 400));
    assert_eq!((slow.records_in, slow.sink_records), (400, 400));
    assert!(
        src.bytes_out > 0 && slow.bytes_in == src.bytes_out,
        "{src:?} {slow:?}"
    );
    // The slow chain sleeps 5 ms per batch inside its operator: mostly busy.
    assert!(slow.busy_ratio > 0.3, "{slow:?}");
    assert_eq!(
        slow.current_watermark,
        Some(i64::MAX),
        "final watermark reached the sink"
    );
}
