//! The window aggregates (TUMBLE and merging SESSION) on the rocksdb backend: same
//! results as on the heap; an incremental checkpoint (uploaded, downloaded) restores
//! them, also split by key group (rescaling); their savepoint is the canonical format
//! the hashmap backend restores, and the other way round.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, TimestampMillisecondArray};
use eddy_storage::Location;

use super::*;
use crate::operators::aggregate::{AggregateKind, AggregateSpec};
use crate::operators::test_util::{
    barrier, context, downloaded_state, drain, rocksdb_checkpoint, rocksdb_context,
    rows_in_key_groups, sorted, subtask_context,
};
use crate::runtime::operator::{OperatorContext, Output};
use crate::time::clock::ManualClock;

type Row = (i64, i64, i64);

fn bids(rows: &[Row]) -> RecordBatch {
    let column = |f: fn(&Row) -> i64| Int64Array::from_iter_values(rows.iter().map(f));
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

fn window(assigner: WindowAssigner) -> Box<dyn Operator> {
    let spec = WindowAggregateSpec {
        assigner,
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

fn tumble() -> Box<dyn Operator> {
    window(WindowAssigner::Tumble {
        size: 1_000,
        offset: 0,
    })
}

/// Sessions of a 200 ms gap: over [`rows`] most rows join a session, some bridge
/// two (a merge), some open their own, some are late.
fn session() -> Box<dyn Operator> {
    window(WindowAssigner::session(200).unwrap())
}

const KINDS: [(&str, fn() -> Box<dyn Operator>); 2] = [("tumble", tumble), ("session", session)];

/// A key's rows are about 299 ms apart, out of order by up to a second, with a
/// 400 ms pause every 97 rows.
fn rows() -> Vec<Row> {
    (0..600)
        .map(|i| {
            let time = i * 13 + (i / 97) * 400 - (i * 37 % 11) * 100;
            (i % 23, i * 7 % 101, time)
        })
        .collect()
}

/// Feeds `rows` in batches of 50 with a watermark after each; returns what fired.
fn feed(op: &mut dyn Operator, ctx: &OperatorContext, rows: &[Row]) -> Vec<String> {
    feed_own(op, ctx, rows, (0, 127))
}

/// [`feed`] of the rows of key groups `start..=end` (a subtask's share), with the
/// watermarks of all rows.
fn feed_own(
    op: &mut dyn Operator,
    ctx: &OperatorContext,
    rows: &[Row],
    (start, end): (u32, u32),
) -> Vec<String> {
    let mut out = Output::default();
    for chunk in rows.chunks(50) {
        let own = own_rows(chunk, start, end);
        op.process_batch(0, bids(&own), ctx, &mut out).unwrap();
        let wm = chunk.iter().map(|r| r.2).max().unwrap_or(0) - 500;
        op.process_watermark(wm, ctx, &mut out).unwrap();
    }
    drain(&mut out).0
}

/// Gives a restored operator the watermark an uninterrupted run had after `before`
/// (operators do not snapshot watermarks), so the same rows are late.
fn resume(op: &mut dyn Operator, ctx: &OperatorContext, before: &[Row]) -> Vec<String> {
    let last = &before[(before.len() - 1) / 50 * 50..];
    let mut out = Output::default();
    let wm = last.iter().map(|r| r.2).max().unwrap_or(0) - 500;
    op.process_watermark(wm, ctx, &mut out).unwrap();
    drain(&mut out).0
}

fn finish(op: &mut dyn Operator, ctx: &OperatorContext) -> Vec<String> {
    let mut out = Output::default();
    op.finish(ctx, &mut out).unwrap();
    drain(&mut out).0
}

/// Everything `make` fires over `rows` on the heap, in one run.
fn reference(make: fn() -> Box<dyn Operator>) -> Vec<String> {
    let ctx = context(ManualClock::new(0));
    let mut op = make();
    op.open(&ctx).unwrap();
    let mut all = feed(op.as_mut(), &ctx, &rows());
    all.extend(finish(op.as_mut(), &ctx));
    sorted(all)
}

/// The rows of key groups `start..=end`.
fn own_rows(rows: &[Row], start: u32, end: u32) -> Vec<Row> {
    rows_in_key_groups(rows, &bids(rows), (start, end))
}

#[test]
fn rocksdb_state_gives_the_heaps_results() {
    for (name, make) in KINDS {
        let tmp = tempfile::tempdir().unwrap();
        let ctx = rocksdb_context(ManualClock::new(0), tmp.path());
        let mut op = make();
        op.open(&ctx).unwrap();
        let mut all = feed(op.as_mut(), &ctx, &rows());
        assert!(!all.is_empty(), "{name}: windows fire before the end");
        all.extend(finish(op.as_mut(), &ctx));
        assert_eq!(sorted(all), reference(make), "{name}");
    }
}

/// Runs the first 200 rows on rocksdb, checkpoints twice (uploading through the
/// writer's path into `storage`), restores the second checkpoint from a download
/// into a fresh operator, and runs the rest: the output equals one uninterrupted run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incremental_checkpoint_uploads_only_new_files_and_restores() {
    for (name, make) in KINDS {
        let tmp = tempfile::tempdir().unwrap();
        let storage = tempfile::tempdir().unwrap();
        let job = Location::open(storage.path().to_str().unwrap())
            .unwrap()
            .child("job");
        let rows = rows();
        let ctx = rocksdb_context(ManualClock::new(0), &tmp.path().join("a"));
        let mut op = make();
        op.open(&ctx).unwrap();
        let mut fired = feed(op.as_mut(), &ctx, &rows[..200]);

        let first = rocksdb_checkpoint(op.as_mut(), 1, &job).await;
        assert!(!first.shared_files.is_empty(), "{name}");
        op.notify_checkpoint_complete(1).unwrap();
        fired.extend(feed(op.as_mut(), &ctx, &rows[200..400]));
        let second = rocksdb_checkpoint(op.as_mut(), 2, &job).await;
        assert!(
            second
                .shared_files
                .iter()
                .any(|f| first.shared_files.contains(f)),
            "{name}: the second checkpoint refers to the first's files"
        );
        let shared_bytes: u64 = std::fs::read_dir(storage.path().join("job/shared"))
            .unwrap()
            .map(|f| f.unwrap().metadata().unwrap().len())
            .sum();
        assert!(
            second.uploaded < second.state_size,
            "{name}: uploaded {} of {} bytes",
            second.uploaded,
            second.state_size
        );
        assert!(
            first.uploaded + second.uploaded - first.bytes.len() as u64 - second.bytes.len() as u64
                >= shared_bytes
        );
        drop(op);

        // Restore: the writer's output → download → a new operator on rocksdb.
        let state = downloaded_state(&second, &tmp.path().join("restore")).await;
        let ctx = rocksdb_context(ManualClock::new(0), &tmp.path().join("b"));
        let mut restored = make();
        restored.restore_state(&state).unwrap();
        restored.open(&ctx).unwrap();
        fired.extend(resume(restored.as_mut(), &ctx, &rows[..400]));
        fired.extend(feed(restored.as_mut(), &ctx, &rows[400..]));
        fired.extend(finish(restored.as_mut(), &ctx));
        assert_eq!(sorted(fired), reference(make), "{name}");

        // The restored instance keeps sharing the checkpoint's files.
        restored.notify_checkpoint_complete(2).unwrap();
        let third = rocksdb_checkpoint(restored.as_mut(), 3, &job).await;
        assert!(third.shared_files.iter().all(|f| !f.is_empty()));
    }
}

/// A RocksDB checkpoint of one subtask restores into two of half the key groups
/// each (each imports its range): together they fire what one run fires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rocksdb_checkpoint_restores_split_by_key_group() {
    for (name, make) in KINDS {
        let tmp = tempfile::tempdir().unwrap();
        let storage = tempfile::tempdir().unwrap();
        let job = Location::open(storage.path().to_str().unwrap())
            .unwrap()
            .child("job");
        let rows = rows();
        let ctx = rocksdb_context(ManualClock::new(0), &tmp.path().join("a"));
        let mut op = make();
        op.open(&ctx).unwrap();
        let mut fired = feed(op.as_mut(), &ctx, &rows[..300]);
        let checkpoint = rocksdb_checkpoint(op.as_mut(), 1, &job).await;
        drop(op);
        for (i, (start, end)) in [(0, 63), (64, 127)].into_iter().enumerate() {
            let state = downloaded_state(&checkpoint, &tmp.path().join(format!("r{i}"))).await;
            let dir = tmp.path().join(format!("s{i}"));
            let ctx = subtask_context(start, end, Some(&dir));
            let mut op = make();
            op.restore_state(&state).unwrap();
            op.open(&ctx).unwrap();
            fired.extend(resume(op.as_mut(), &ctx, &rows[..300]));
            fired.extend(feed_own(op.as_mut(), &ctx, &rows[300..], (start, end)));
            fired.extend(finish(op.as_mut(), &ctx));
        }
        assert_eq!(sorted(fired), reference(make), "{name}");
    }
}

/// A savepoint is canonical: one taken on rocksdb restores on the heap, and one
/// taken on the heap restores on rocksdb.
#[test]
fn savepoints_move_between_backends() {
    for (name, make) in KINDS {
        let tmp = tempfile::tempdir().unwrap();
        let rows = rows();
        let heap = context(ManualClock::new(0));
        let rocks = rocksdb_context(ManualClock::new(0), tmp.path());
        for (from, to) in [(&rocks, &heap), (&heap, &rocks)] {
            let mut op = make();
            op.open(from).unwrap();
            let mut fired = feed(op.as_mut(), from, &rows[..300]);
            let savepoint = op
                .snapshot_state(&barrier(7, true))
                .unwrap()
                .expect("state");
            assert!(
                savepoint.starts_with(&[0xff, 0xff, 0xff, 0xff]),
                "{name}: an Arrow IPC stream (canonical keyed snapshot)"
            );
            drop(op);
            let mut restored = make();
            restored.restore_state(&savepoint).unwrap();
            restored.open(to).unwrap();
            fired.extend(resume(restored.as_mut(), to, &rows[..300]));
            fired.extend(feed(restored.as_mut(), to, &rows[300..]));
            fired.extend(finish(restored.as_mut(), to));
            assert_eq!(sorted(fired), reference(make), "{name}");
        }
    }
}
