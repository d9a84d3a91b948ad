//! The window aggregate on the rocksdb backend: same results as on the heap; an
//! incremental checkpoint (uploaded, downloaded) restores it; its savepoint is the
//! canonical format the hashmap backend restores, and the other way round.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, TimestampMillisecondArray};
use eddy_api::snapshot::{SECTION_OPERATOR, decode_snapshot, encode_snapshot};
use eddy_storage::Location;

use super::*;
use crate::operators::aggregate::{AggregateKind, AggregateSpec};
use crate::operators::test_util::{barrier, context, drain, rocksdb_context, sorted};
use crate::runtime::operator::{OperatorContext, Output};
use crate::state::rocksdb::handle::UploadedSnapshot;
use crate::state::rocksdb::transfer::{download, finalize_snapshot};
use crate::time::clock::ManualClock;

fn bids(rows: &[(i64, i64, i64)]) -> RecordBatch {
    let column = |f: fn(&(i64, i64, i64)) -> i64| Int64Array::from_iter_values(rows.iter().map(f));
    RecordBatch::try_from_iter(vec![
        ("auction", Arc::new(column(|r| r.0)) as ArrayRef),
        ("price", Arc::new(column(|r| r.1)) as ArrayRef),
        (
            "date_time",
            Arc::new(TimestampMillisecondArray::from_iter_values(
                rows.iter().map(|r| r.2),
            )) as ArrayRef,
        ),
    ])
    .unwrap()
}

fn tumble() -> Box<dyn Operator> {
    let spec = WindowAggregateSpec {
        assigner: WindowAssigner::Tumble {
            size: 1_000,
            offset: 0,
        },
        time: WindowTime::EventTime { time_column: 2 },
        key_columns: vec![0],
        aggregates: vec![
            AggregateSpec::count_star("cnt"),
            AggregateSpec::new(AggregateKind::Sum, Some(1), "sum_price"),
            AggregateSpec::new(AggregateKind::Avg, Some(1), "avg_price"),
            AggregateSpec::new(AggregateKind::Max, Some(1), "max_price"),
        ],
    };
    create_window_aggregate("window", spec, bids(&[]).schema()).unwrap()
}

fn rows() -> Vec<(i64, i64, i64)> {
    (0..600).map(|i| (i % 23, i * 7 % 101, i * 13)).collect()
}

/// Feeds `rows` in batches of 50 with a watermark after each; returns what fired.
fn feed(op: &mut dyn Operator, ctx: &OperatorContext, rows: &[(i64, i64, i64)]) -> Vec<String> {
    let mut out = Output::default();
    for chunk in rows.chunks(50) {
        op.process_batch(0, bids(chunk), ctx, &mut out).unwrap();
        let wm = chunk.iter().map(|r| r.2).max().unwrap_or(0) - 500;
        op.process_watermark(wm, ctx, &mut out).unwrap();
    }
    drain(&mut out).0
}

fn finish(op: &mut dyn Operator, ctx: &OperatorContext) -> Vec<String> {
    let mut out = Output::default();
    op.finish(ctx, &mut out).unwrap();
    drain(&mut out).0
}

fn reference() -> Vec<String> {
    let ctx = context(ManualClock::new(0));
    let mut op = tumble();
    op.open(&ctx).unwrap();
    let mut all = feed(op.as_mut(), &ctx, &rows());
    all.extend(finish(op.as_mut(), &ctx));
    sorted(all)
}

#[test]
fn rocksdb_state_gives_the_heaps_results() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = rocksdb_context(ManualClock::new(0), tmp.path());
    let mut op = tumble();
    op.open(&ctx).unwrap();
    let mut all = feed(op.as_mut(), &ctx, &rows());
    all.extend(finish(op.as_mut(), &ctx));
    assert_eq!(sorted(all), reference());
}

/// Runs the first `split` rows on rocksdb, checkpoints twice (uploading through the
/// writer's path into `storage`), restores the second checkpoint from a download
/// into a fresh operator, and runs the rest: the output equals one uninterrupted run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incremental_checkpoint_uploads_only_new_files_and_restores() {
    let tmp = tempfile::tempdir().unwrap();
    let storage = tempfile::tempdir().unwrap();
    let job = Location::open(storage.path().to_str().unwrap())
        .unwrap()
        .child("job");
    let rows = rows();
    let ctx = rocksdb_context(ManualClock::new(0), &tmp.path().join("a"));
    let mut op = tumble();
    op.open(&ctx).unwrap();
    let mut fired = feed(op.as_mut(), &ctx, &rows[..200]);

    let checkpoint = |op: &mut dyn Operator, id: u64| {
        let state = op
            .snapshot_state(&barrier(id, false))
            .unwrap()
            .expect("state");
        encode_snapshot(None, vec![Some(state)])
    };
    let first = finalize_snapshot(&checkpoint(op.as_mut(), 1), &job, 1, 0, 0)
        .await
        .unwrap();
    assert!(!first.shared_files.is_empty());
    op.notify_checkpoint_complete(1).unwrap();
    fired.extend(feed(op.as_mut(), &ctx, &rows[200..400]));
    let second = finalize_snapshot(&checkpoint(op.as_mut(), 2), &job, 2, 0, 0)
        .await
        .unwrap();
    let reused: Vec<&String> = second
        .shared_files
        .iter()
        .filter(|f| first.shared_files.contains(f))
        .collect();
    assert!(
        !reused.is_empty(),
        "the second checkpoint refers to the first's files"
    );
    let shared_bytes: u64 = std::fs::read_dir(storage.path().join("job/shared"))
        .unwrap()
        .map(|f| f.unwrap().metadata().unwrap().len())
        .sum();
    assert!(
        second.uploaded < second.state_size,
        "uploaded {} of {} bytes",
        second.uploaded,
        second.state_size
    );
    assert!(
        first.uploaded + second.uploaded - first.bytes.len() as u64 - second.bytes.len() as u64
            >= shared_bytes
    );
    drop(op);

    // Restore: the writer's output → download → a new operator on rocksdb.
    let sections = decode_snapshot(&second.bytes).unwrap();
    let (kind, _, handle) = &sections[0];
    assert_eq!(*kind, SECTION_OPERATOR);
    let uploaded = UploadedSnapshot::decode(handle).unwrap().unwrap();
    let (downloaded, _) = download(&uploaded, &tmp.path().join("restore"))
        .await
        .unwrap();
    let ctx = rocksdb_context(ManualClock::new(0), &tmp.path().join("b"));
    let mut restored = tumble();
    restored
        .restore_state(&downloaded.encode().unwrap())
        .unwrap();
    restored.open(&ctx).unwrap();
    fired.extend(feed(restored.as_mut(), &ctx, &rows[400..]));
    fired.extend(finish(restored.as_mut(), &ctx));
    assert_eq!(sorted(fired), reference());

    // The restored instance keeps sharing the checkpoint's files.
    restored.notify_checkpoint_complete(2).unwrap();
    let third = finalize_snapshot(&checkpoint(restored.as_mut(), 3), &job, 3, 0, 0)
        .await
        .unwrap();
    assert!(third.shared_files.iter().all(|f| !f.is_empty()));
}

/// A savepoint is canonical: one taken on rocksdb restores on the heap, and one
/// taken on the heap restores on rocksdb.
#[test]
fn savepoints_move_between_backends() {
    let tmp = tempfile::tempdir().unwrap();
    let rows = rows();
    let heap = context(ManualClock::new(0));
    let rocks = rocksdb_context(ManualClock::new(0), tmp.path());
    for (from, to) in [(&rocks, &heap), (&heap, &rocks)] {
        let mut op = tumble();
        op.open(from).unwrap();
        let mut fired = feed(op.as_mut(), from, &rows[..300]);
        let savepoint = op
            .snapshot_state(&barrier(7, true))
            .unwrap()
            .expect("state");
        assert!(
            savepoint.starts_with(&[0xff, 0xff, 0xff, 0xff]),
            "an Arrow IPC stream (canonical keyed snapshot)"
        );
        drop(op);
        let mut restored = tumble();
        restored.restore_state(&savepoint).unwrap();
        restored.open(to).unwrap();
        fired.extend(feed(restored.as_mut(), to, &rows[300..]));
        fired.extend(finish(restored.as_mut(), to));
        assert_eq!(sorted(fired), reference());
    }
}
