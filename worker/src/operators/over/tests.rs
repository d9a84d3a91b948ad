use std::sync::Arc;
use std::sync::atomic::Ordering;

use arrow::array::{ArrayRef, Int64Array, StringArray, TimestampMillisecondArray};

use super::*;
use crate::operators::aggregate::AggregateKind;
use crate::operators::test_util::{context, drain};
use crate::time::clock::ManualClock;

fn rows(rows: &[(&str, i64, i64)]) -> RecordBatch {
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

fn over(frame: OverFrame, aggs: Vec<AggregateSpec>) -> OverAggregateOperator {
    let spec = OverSpec {
        frame,
        partition_columns: vec![0],
        time_column: 2,
        aggregates: aggs,
    };
    OverAggregateOperator::new("over", spec, rows(&[]).schema()).unwrap()
}

fn sum() -> AggregateSpec {
    AggregateSpec::new(AggregateKind::Sum, Some(1), "s")
}

/// Only the key, value and aggregate columns of the output rows.
fn short(out: &mut Output) -> Vec<String> {
    drain(out)
        .0
        .into_iter()
        .map(|r| {
            let cols: Vec<&str> = r.split('|').collect();
            let mut keep = vec![cols[0], cols[1]];
            keep.extend(&cols[3..]);
            keep.join("|")
        })
        .collect()
}

#[test]
fn rows_preceding_waits_for_watermark_orders_by_time_and_retracts() {
    let ctx = context(ManualClock::new(0));
    let aggs = vec![
        sum(),
        AggregateSpec::count_star("c"),
        AggregateSpec::new(AggregateKind::Max, Some(1), "m"),
    ];
    let mut op = over(OverFrame::Rows { preceding: 1 }, aggs);
    let mut out = Output::default();
    op.process_batch(
        0,
        rows(&[
            ("a", 5, 20),
            ("a", 1, 10),
            ("b", 7, 15),
            ("a", 3, 20),
            ("c", 1, 0),
        ]),
        &ctx,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        ctx.metrics.late_records_dropped.load(Ordering::Relaxed),
        1,
        "Flink's bounded OVER drops time <= 0"
    );
    assert!(out.is_empty(), "rows wait for the watermark");
    op.process_watermark(15, &ctx, &mut out).unwrap();
    assert_eq!(
        drain(&mut out).0,
        vec![
            "a|1|1970-01-01T00:00:00.010|1|1|1",
            "b|7|1970-01-01T00:00:00.015|7|1|7"
        ]
    );
    op.process_watermark(30, &ctx, &mut out).unwrap();
    // Equal times in ROWS mode: one row after the other, in arrival order.
    assert_eq!(short(&mut out), vec!["a|5|6|2|5", "a|3|8|2|5"]);
    // Key a's last time is 20: 20 is late, 25 is not (although behind the watermark).
    op.process_batch(0, rows(&[("a", 9, 20), ("a", 2, 25)]), &ctx, &mut out)
        .unwrap();
    assert_eq!(ctx.metrics.late_records_dropped.load(Ordering::Relaxed), 2);
    op.process_watermark(40, &ctx, &mut out).unwrap();
    assert_eq!(short(&mut out), vec!["a|2|5|2|3"]);
}

#[test]
fn unbounded_rows_and_range_differ_on_ties() {
    let ctx = context(ManualClock::new(0));
    let input = rows(&[
        ("a", 1, 10),
        ("a", 2, 20),
        ("b", 50, 20),
        ("a", 3, 20),
        ("a", 4, 30),
    ]);
    let mut out = Output::default();
    let mut by_rows = over(OverFrame::RowsUnbounded, vec![sum()]);
    by_rows
        .process_batch(0, input.clone(), &ctx, &mut out)
        .unwrap();
    by_rows.finish(&ctx, &mut out).unwrap();
    assert_eq!(
        short(&mut out),
        vec!["a|1|1", "a|2|3", "b|50|50", "a|3|6", "a|4|10"]
    );
    let mut by_range = over(OverFrame::RangeUnbounded, vec![sum()]);
    by_range.process_batch(0, input, &ctx, &mut out).unwrap();
    by_range.process_watermark(20, &ctx, &mut out).unwrap();
    // Rows at 20 share one result.
    assert_eq!(short(&mut out), vec!["a|1|1", "a|2|6", "b|50|50", "a|3|6"]);
    // Unbounded frames drop rows at or behind the watermark.
    by_range
        .process_batch(0, rows(&[("a", 100, 20), ("a", 5, 25)]), &ctx, &mut out)
        .unwrap();
    assert_eq!(ctx.metrics.late_records_dropped.load(Ordering::Relaxed), 1);
    by_range
        .process_watermark(i64::MAX, &ctx, &mut out)
        .unwrap();
    assert_eq!(short(&mut out), vec!["a|5|11", "a|4|15"]);
}

#[test]
fn range_interval_retracts_rows_older_than_the_interval() {
    let ctx = context(ManualClock::new(0));
    let aggs = vec![
        sum(),
        AggregateSpec::new(AggregateKind::Min, Some(1), "mn"),
        AggregateSpec::count_star("c"),
    ];
    let mut op = over(OverFrame::Range { preceding_ms: 10 }, aggs);
    let mut out = Output::default();
    op.process_batch(
        0,
        rows(&[("a", 1, 5), ("a", 2, 10), ("a", 3, 15), ("b", 100, 15)]),
        &ctx,
        &mut out,
    )
    .unwrap();
    op.process_batch(0, rows(&[("a", 4, 15), ("a", 5, 26)]), &ctx, &mut out)
        .unwrap();
    op.finish(&ctx, &mut out).unwrap();
    assert_eq!(
        short(&mut out),
        vec![
            "a|1|1|1|1",
            "a|2|3|1|2",
            // 15 - 5 = 10 is inside the interval; both rows at 15 share the result.
            "a|3|10|1|4",
            "b|100|100|100|1",
            "a|4|10|1|4",
            // 26 - 15 = 11: everything before leaves the frame; MIN finds 5 again.
            "a|5|5|5|1",
        ]
    );
    assert_eq!(op.output_schema().fields().len(), 6);
}

/// Every frame with COUNT, SUM, MIN and MAX (retractable in bounded frames, so their
/// multisets are state): snapshotted with rows waiting for the watermark, restored
/// whole and split into two subtasks by key group, the output equals one
/// uninterrupted run's.
#[test]
fn snapshots_restore_whole_and_split_by_key_group() {
    use crate::operators::test_util::{Step, assert_restores_whole_and_split};
    let keys = ["a", "b", "c", "d", "e", "f", "g"];
    let data: Vec<(&str, i64, i64)> = (0..72)
        .map(|i| {
            let time = 10 + (i / 2) * 4 - (i % 3);
            (keys[i as usize * 5 % 7], (i * 37 % 23) - 11, time)
        })
        .collect();
    let mut steps = Vec::new();
    let mut max_time = 0;
    for chunk in data.chunks(6) {
        steps.push(Step::Batch(0, rows(chunk)));
        max_time = chunk.iter().map(|r| r.2).max().unwrap().max(max_time);
        steps.push(Step::Watermark(max_time - 8));
    }
    for frame in [
        OverFrame::RowsUnbounded,
        OverFrame::RangeUnbounded,
        OverFrame::Rows { preceding: 3 },
        OverFrame::Range { preceding_ms: 10 },
    ] {
        let make = || -> Box<dyn Operator> {
            Box::new(over(
                frame,
                vec![
                    AggregateSpec::count_star("c"),
                    sum(),
                    AggregateSpec::new(AggregateKind::Min, Some(1), "lo"),
                    AggregateSpec::new(AggregateKind::Max, Some(0), "hi"),
                ],
            ))
        };
        for at in [9, 14] {
            let expected = assert_restores_whole_and_split(&make, &steps, at, &[vec![0]]);
            assert_eq!(expected.len(), data.len(), "{frame:?}");
        }
    }
}
