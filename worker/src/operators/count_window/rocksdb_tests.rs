//! Count windows on the rocksdb backend: the heap's results with nothing on the heap;
//! an incremental checkpoint restores whole and split by key group; savepoints move
//! between the backends both ways.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray};
use eddy_storage::Location;

use super::*;
use crate::operators::aggregate::AggregateKind;
use crate::operators::test_util::{
    barrier, context, downloaded_state, drain, rocksdb_checkpoint, rocksdb_context,
    rows_in_key_groups, sorted, subtask_context,
};
use crate::time::clock::ManualClock;

type Row = (&'static str, i64);

/// Tumbling, sliding, a slide longer than the size, and a slide of one.
const CASES: [(u64, u64); 4] = [(2, 2), (3, 2), (1, 3), (4, 1)];

fn batch(rows: &[Row]) -> RecordBatch {
    RecordBatch::try_from_iter(vec![
        (
            "k",
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef,
        ),
        (
            "v",
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))) as ArrayRef,
        ),
    ])
    .unwrap()
}

fn op(size: u64, slide: u64) -> CountWindowOperator {
    let spec = CountWindowSpec {
        size,
        slide,
        key_columns: vec![0],
        aggregates: vec![
            AggregateSpec::count_star("cnt"),
            AggregateSpec::new(AggregateKind::Sum, Some(1), "sum"),
            AggregateSpec::new(AggregateKind::Max, Some(1), "max"),
            AggregateSpec::new(AggregateKind::Avg, Some(1), "avg"),
        ],
    };
    CountWindowOperator::new("count", spec, batch(&[]).schema()).unwrap()
}

/// 300 rows over 11 keys in an irregular order.
fn rows() -> Vec<Row> {
    const KEYS: [&str; 11] = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"];
    (0..300)
        .map(|i| (KEYS[(i * 7 + i / 13) % 11], (i as i64 * 37) % 101 - 50))
        .collect()
}

/// The rows of key groups `start..=end` of 128.
fn own(rows: &[Row], range: (u32, u32)) -> Vec<Row> {
    rows_in_key_groups(rows, &batch(rows), range)
}

/// Feeds `rows` in batches of 23 (of key groups `range`); returns what fired.
fn feed(
    op: &mut CountWindowOperator,
    ctx: &OperatorContext,
    rows: &[Row],
    range: (u32, u32),
) -> Vec<String> {
    let mut out = Output::default();
    for chunk in rows.chunks(23) {
        op.process_batch(0, batch(&own(chunk, range)), ctx, &mut out)
            .unwrap();
    }
    op.finish(ctx, &mut out).unwrap();
    drain(&mut out).0
}

const ALL: (u32, u32) = (0, 127);

fn reference(size: u64, slide: u64) -> Vec<String> {
    let ctx = context(ManualClock::new(0));
    let mut heap = op(size, slide);
    heap.open(&ctx).unwrap();
    feed(&mut heap, &ctx, &rows(), ALL)
}

/// The entries of `op`'s RocksDB instance.
fn entries_in_rocksdb(op: &CountWindowOperator) -> usize {
    let mut n = 0;
    op.rocks
        .as_ref()
        .expect("state in rocksdb")
        .for_each_key(|_, _| {
            n += 1;
            Ok(())
        })
        .unwrap();
    n
}

#[test]
fn rocksdb_count_windows_give_the_heaps_results() {
    for (size, slide) in CASES {
        let tmp = tempfile::tempdir().unwrap();
        let ctx = rocksdb_context(ManualClock::new(0), tmp.path());
        let mut running = op(size, slide);
        running.open(&ctx).unwrap();
        let fired = feed(&mut running, &ctx, &rows(), ALL);
        assert!(fired.len() > 50, "{size}/{slide}");
        assert_eq!(fired, reference(size, slide), "{size}/{slide}");
        let st = running.state.as_ref().unwrap();
        assert!(st.table.is_empty(), "{size}/{slide}: no key on the heap");
        assert_eq!(st.table.size_bytes(), 0);
        assert_eq!(
            st.aggs.live_slots(),
            0,
            "{size}/{slide}: no slot outlives a batch"
        );
        // Every key has its pending fire points, or its count alone.
        assert!(entries_in_rocksdb(&running) >= 11, "{size}/{slide}");
    }
}

/// Checkpoints twice on rocksdb (the second refers to the first's files), restores
/// the second into one subtask (adopting it) and into two of half the key groups
/// each (importing their ranges): the output goes on as one uninterrupted run's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rocksdb_checkpoint_restores_whole_and_split() {
    for (size, slide) in CASES {
        let tmp = tempfile::tempdir().unwrap();
        let storage = tempfile::tempdir().unwrap();
        let job = Location::open(storage.path().to_str().unwrap())
            .unwrap()
            .child("job");
        let rows = rows();
        let expected = sorted(reference(size, slide));
        let ctx = rocksdb_context(ManualClock::new(0), &tmp.path().join("a"));
        let mut running = op(size, slide);
        running.open(&ctx).unwrap();
        let mut out = Output::default();
        for chunk in rows[..100].chunks(23) {
            running
                .process_batch(0, batch(chunk), &ctx, &mut out)
                .unwrap();
        }
        let first = rocksdb_checkpoint(&mut running, 1, &job).await;
        running.notify_checkpoint_complete(1).unwrap();
        for chunk in rows[100..170].chunks(23) {
            running
                .process_batch(0, batch(chunk), &ctx, &mut out)
                .unwrap();
        }
        let second = rocksdb_checkpoint(&mut running, 2, &job).await;
        assert!(
            second
                .shared_files
                .iter()
                .any(|f| first.shared_files.contains(f)),
            "{size}/{slide}: incremental: the second checkpoint refers to the first's files"
        );
        let before = drain(&mut out).0;
        drop(running);

        let state = downloaded_state(&second, &tmp.path().join("whole")).await;
        let ctx = rocksdb_context(ManualClock::new(0), &tmp.path().join("b"));
        let mut whole = op(size, slide);
        whole.restore_state(&state).unwrap();
        whole.open(&ctx).unwrap();
        let mut fired = before.clone();
        fired.extend(feed(&mut whole, &ctx, &rows[170..], ALL));
        assert_eq!(sorted(fired), expected, "{size}/{slide}: restored whole");

        let mut fired = before;
        for (i, range) in [(0, 63), (64, 127)].into_iter().enumerate() {
            let state = downloaded_state(&second, &tmp.path().join(format!("r{i}"))).await;
            let dir = tmp.path().join(format!("s{i}"));
            let ctx = subtask_context(range.0, range.1, Some(&dir));
            let mut half = op(size, slide);
            half.restore_state(&state).unwrap();
            half.open(&ctx).unwrap();
            fired.extend(feed(&mut half, &ctx, &rows[170..], range));
        }
        assert_eq!(sorted(fired), expected, "{size}/{slide}: restored split");
    }
}

/// A savepoint is canonical: one taken on rocksdb restores on the heap, and one
/// taken on the heap restores on rocksdb.
#[test]
fn savepoints_move_between_backends() {
    for (size, slide) in CASES {
        let tmp = tempfile::tempdir().unwrap();
        let rows = rows();
        let expected = sorted(reference(size, slide));
        let heap = context(ManualClock::new(0));
        let rocks = rocksdb_context(ManualClock::new(0), tmp.path());
        for (from, to) in [(&rocks, &heap), (&heap, &rocks)] {
            let mut first = op(size, slide);
            first.open(from).unwrap();
            let mut out = Output::default();
            for chunk in rows[..130].chunks(23) {
                first
                    .process_batch(0, batch(chunk), from, &mut out)
                    .unwrap();
            }
            let savepoint = first
                .snapshot_state(&barrier(5, true))
                .unwrap()
                .expect("state");
            assert!(
                savepoint.starts_with(&[0xff, 0xff, 0xff, 0xff]),
                "{size}/{slide}: an Arrow IPC stream (canonical keyed snapshot)"
            );
            let mut fired = drain(&mut out).0;
            drop(first);
            let mut restored = op(size, slide);
            restored.restore_state(&savepoint).unwrap();
            restored.open(to).unwrap();
            fired.extend(feed(&mut restored, to, &rows[130..], ALL));
            assert_eq!(sorted(fired), expected, "{size}/{slide}");
        }
    }
}
