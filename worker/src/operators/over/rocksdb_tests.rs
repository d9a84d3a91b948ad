//! OVER on the rocksdb backend, every frame: the heap's output (same rows, same
//! order, same late rows) with nothing keyed on the heap; an incremental checkpoint
//! restores whole and split by key group; savepoints move between the backends both
//! ways.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use arrow::array::{ArrayRef, Int64Array, StringArray, TimestampMillisecondArray};
use eddy_storage::Location;

use super::*;
use crate::operators::aggregate::AggregateKind;
use crate::operators::test_util::{
    barrier, context, downloaded_state, drain, rocksdb_checkpoint, rocksdb_context,
    rows_in_key_groups, sorted, subtask_context,
};
use crate::time::clock::ManualClock;

type Row = (&'static str, i64, i64);

const FRAMES: [OverFrame; 4] = [
    OverFrame::RowsUnbounded,
    OverFrame::RangeUnbounded,
    OverFrame::Rows { preceding: 3 },
    OverFrame::Range { preceding_ms: 10 },
];

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
        (
            "t",
            Arc::new(TimestampMillisecondArray::from_iter_values(
                rows.iter().map(|r| r.2),
            )) as ArrayRef,
        ),
    ])
    .unwrap()
}

/// COUNT(*), SUM, MIN and MAX (of a string: in bounded frames a retractable MIN/MAX
/// keeps its multisets as state).
fn over(frame: OverFrame) -> OverAggregateOperator {
    let spec = OverSpec {
        frame,
        partition_columns: vec![0],
        time_column: 2,
        aggregates: vec![
            AggregateSpec::count_star("c"),
            AggregateSpec::new(AggregateKind::Sum, Some(1), "s"),
            AggregateSpec::new(AggregateKind::Min, Some(1), "lo"),
            AggregateSpec::new(AggregateKind::Max, Some(0), "hi"),
        ],
    };
    OverAggregateOperator::new("over", spec, batch(&[]).schema()).unwrap()
}

/// 300 rows of 7 keys, out of order by up to 6 ms, with ties; every 17th is late.
fn rows() -> Vec<Row> {
    const KEYS: [&str; 7] = ["a", "b", "c", "d", "e", "f", "g"];
    (0..300)
        .map(|i| {
            let late = if i % 17 == 5 { 30 } else { 0 };
            let time = 40 + (i / 2) * 4 - (i % 3) * 3 - late;
            (KEYS[i as usize * 5 % 7], (i * 37 % 23) - 11, time)
        })
        .collect()
}

/// The rows of key groups `start..=end` of 128.
fn own(rows: &[Row], range: (u32, u32)) -> Vec<Row> {
    rows_in_key_groups(rows, &batch(rows), range)
}

const ALL: (u32, u32) = (0, 127);

/// Feeds `rows` (those of key groups `range`) in batches of 6 (a run cut at a multiple
/// of 6 sees the watermarks of an uninterrupted one), each followed by the
/// watermark of all rows so far minus 8; returns the output rows.
fn feed(
    op: &mut OverAggregateOperator,
    ctx: &OperatorContext,
    rows: &[Row],
    range: (u32, u32),
    max_time: &mut i64,
) -> Vec<String> {
    let mut out = Output::default();
    for chunk in rows.chunks(6) {
        op.process_batch(0, batch(&own(chunk, range)), ctx, &mut out)
            .unwrap();
        *max_time = chunk.iter().map(|r| r.2).max().unwrap().max(*max_time);
        op.process_watermark(*max_time - 8, ctx, &mut out).unwrap();
    }
    drain(&mut out).0
}

/// Gives a restored operator the watermark the run had (operators do not snapshot
/// it), so the same rows are late.
fn resume(op: &mut OverAggregateOperator, ctx: &OperatorContext, max_time: i64) -> Vec<String> {
    let mut out = Output::default();
    op.process_watermark(max_time - 8, ctx, &mut out).unwrap();
    drain(&mut out).0
}

fn finish(op: &mut OverAggregateOperator, ctx: &OperatorContext) -> Vec<String> {
    let mut out = Output::default();
    op.finish(ctx, &mut out).unwrap();
    drain(&mut out).0
}

/// One uninterrupted run on the heap: the output and the late rows.
fn reference(frame: OverFrame, rows: &[Row]) -> (Vec<String>, u64) {
    let ctx = context(ManualClock::new(0));
    let mut heap = over(frame);
    heap.open(&ctx).unwrap();
    let mut all = feed(&mut heap, &ctx, rows, ALL, &mut 0);
    all.extend(finish(&mut heap, &ctx));
    let late = ctx.metrics.late_records_dropped.load(Ordering::Relaxed);
    (all, late)
}

#[test]
fn rocksdb_over_gives_the_heaps_output() {
    for frame in FRAMES {
        let tmp = tempfile::tempdir().unwrap();
        let ctx = rocksdb_context(ManualClock::new(0), tmp.path());
        let mut op = over(frame);
        op.open(&ctx).unwrap();
        let mut all = feed(&mut op, &ctx, &rows(), ALL, &mut 0);
        let st = op.state.as_ref().unwrap();
        assert!(st.keyed.table.is_empty(), "{frame:?}: no key on the heap");
        assert!(st.batches.is_empty() && st.waiting.is_empty(), "{frame:?}");
        assert_eq!(st.batch_bytes, 0, "{frame:?}: no row on the heap");
        assert_eq!(
            st.keyed.aggs.live_slots(),
            0,
            "{frame:?}: no slot outlives a chunk"
        );
        let rocks = st.rocks.as_ref().expect("state in rocksdb");
        assert!(rocks.waiting() > 0, "{frame:?}: rows wait in rocksdb");
        // Each key's accumulators, the waiting rows, and bounded frames' rows.
        let frame_rows = rocks.entries() - 7 - rocks.waiting();
        assert_eq!(frame_rows > 0, frame.bounded(), "{frame:?}");
        all.extend(finish(&mut op, &ctx));
        let (expected, late) = reference(frame, &rows());
        assert!(late > 0, "{frame:?}: some rows are late");
        assert_eq!(
            ctx.metrics.late_records_dropped.load(Ordering::Relaxed),
            late,
            "{frame:?}: the same rows are late"
        );
        assert_eq!(all, expected, "{frame:?}");
        assert_eq!(
            op.state.as_ref().unwrap().rocks.as_ref().unwrap().waiting(),
            0
        );
    }
}

/// More rows wait than one read chunk holds, many at one time: processed chunk by
/// chunk (ends between times), the output is the heap's.
#[test]
fn many_waiting_rows_are_read_in_chunks() {
    const KEYS: [&str; 5] = ["a", "b", "c", "d", "e"];
    let rows: Vec<Row> = (0..3 * rocks::READ_ROWS as i64)
        .map(|i| (KEYS[(i % 5) as usize], i % 17, 1 + i / 700 + (i % 3) * 2))
        .collect();
    for frame in FRAMES {
        let heap = context(ManualClock::new(0));
        let tmp = tempfile::tempdir().unwrap();
        let rocks = rocksdb_context(ManualClock::new(0), tmp.path());
        let mut outputs = Vec::new();
        for ctx in [&heap, &rocks] {
            let mut op = over(frame);
            op.open(ctx).unwrap();
            let mut out = Output::default();
            for chunk in rows.chunks(1000) {
                op.process_batch(0, batch(chunk), ctx, &mut out).unwrap();
            }
            op.finish(ctx, &mut out).unwrap();
            outputs.push(drain(&mut out).0);
        }
        assert_eq!(outputs[0].len(), rows.len(), "{frame:?}");
        assert_eq!(outputs[1], outputs[0], "{frame:?}");
    }
}

/// Two incremental checkpoints (the second refers to the first's files); the second
/// restores into one subtask (adopted) and into two of half the key groups each
/// (imported): the output goes on as one uninterrupted run's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rocksdb_checkpoint_restores_whole_and_split() {
    for frame in FRAMES {
        let tmp = tempfile::tempdir().unwrap();
        let storage = tempfile::tempdir().unwrap();
        let job = Location::open(storage.path().to_str().unwrap())
            .unwrap()
            .child("job");
        let rows = rows();
        let expected = sorted(reference(frame, &rows).0);
        let ctx = rocksdb_context(ManualClock::new(0), &tmp.path().join("a"));
        let mut running = over(frame);
        running.open(&ctx).unwrap();
        let mut max_time = 0;
        let mut before = feed(&mut running, &ctx, &rows[..90], ALL, &mut max_time);
        let first = rocksdb_checkpoint(&mut running, 1, &job).await;
        running.notify_checkpoint_complete(1).unwrap();
        before.extend(feed(&mut running, &ctx, &rows[90..150], ALL, &mut max_time));
        let second = rocksdb_checkpoint(&mut running, 2, &job).await;
        assert!(
            second
                .shared_files
                .iter()
                .any(|f| first.shared_files.contains(f)),
            "{frame:?}: the second checkpoint refers to the first's files"
        );
        drop(running);

        let state = downloaded_state(&second, &tmp.path().join("whole")).await;
        let ctx = rocksdb_context(ManualClock::new(0), &tmp.path().join("b"));
        let mut whole = over(frame);
        whole.restore_state(&state).unwrap();
        whole.open(&ctx).unwrap();
        let mut out = before.clone();
        out.extend(resume(&mut whole, &ctx, max_time));
        out.extend(feed(
            &mut whole,
            &ctx,
            &rows[150..],
            ALL,
            &mut max_time.clone(),
        ));
        out.extend(finish(&mut whole, &ctx));
        assert_eq!(sorted(out), expected, "{frame:?}: restored whole");

        let mut out = before;
        for (i, range) in [(0, 63), (64, 127)].into_iter().enumerate() {
            let state = downloaded_state(&second, &tmp.path().join(format!("r{i}"))).await;
            let dir = tmp.path().join(format!("s{i}"));
            let ctx = subtask_context(range.0, range.1, Some(&dir));
            let mut half = over(frame);
            half.restore_state(&state).unwrap();
            half.open(&ctx).unwrap();
            out.extend(resume(&mut half, &ctx, max_time));
            out.extend(feed(
                &mut half,
                &ctx,
                &rows[150..],
                range,
                &mut max_time.clone(),
            ));
            out.extend(finish(&mut half, &ctx));
        }
        assert_eq!(sorted(out), expected, "{frame:?}: restored split");
    }
}

/// A savepoint is canonical: one taken on rocksdb restores on the heap, one taken on
/// the heap restores on rocksdb (also split by key group).
#[test]
fn savepoints_move_between_backends() {
    for frame in FRAMES {
        let tmp = tempfile::tempdir().unwrap();
        let rows = rows();
        let expected = sorted(reference(frame, &rows).0);
        let heap = context(ManualClock::new(0));
        let rocks = rocksdb_context(ManualClock::new(0), &tmp.path().join("a"));
        for (from, to) in [(&rocks, &heap), (&heap, &rocks)] {
            let mut first = over(frame);
            first.open(from).unwrap();
            let mut max_time = 0;
            let before = feed(&mut first, from, &rows[..132], ALL, &mut max_time);
            let savepoint = first
                .snapshot_state(&barrier(3, true))
                .unwrap()
                .expect("state");
            assert!(
                savepoint.starts_with(&[0xff, 0xff, 0xff, 0xff]),
                "{frame:?}: an Arrow IPC stream (canonical keyed snapshot)"
            );
            drop(first);
            let mut out = before.clone();
            let mut restored = over(frame);
            restored.restore_state(&savepoint).unwrap();
            restored.open(to).unwrap();
            out.extend(resume(&mut restored, to, max_time));
            out.extend(feed(
                &mut restored,
                to,
                &rows[132..],
                ALL,
                &mut max_time.clone(),
            ));
            out.extend(finish(&mut restored, to));
            let into = match to.state_backend.rocksdb() {
                Some(_) => "heap to rocksdb",
                None => "rocksdb to heap",
            };
            assert_eq!(sorted(out), expected, "{frame:?} {into}: restored whole");

            let mut out = before;
            let rocks_target = to.state_backend.rocksdb().is_some();
            for (i, range) in [(0, 63), (64, 127)].into_iter().enumerate() {
                let dir = tmp.path().join(format!("s{i}-{rocks_target}"));
                let ctx = subtask_context(range.0, range.1, rocks_target.then_some(&*dir));
                let mut half = over(frame);
                half.restore_state(&savepoint).unwrap();
                half.open(&ctx).unwrap();
                out.extend(resume(&mut half, &ctx, max_time));
                out.extend(feed(
                    &mut half,
                    &ctx,
                    &rows[132..],
                    range,
                    &mut max_time.clone(),
                ));
                out.extend(finish(&mut half, &ctx));
            }
            assert_eq!(sorted(out), expected, "{frame:?} {into}: restored split");
        }
    }
}
