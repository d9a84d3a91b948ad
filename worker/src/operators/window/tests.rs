use std::sync::Arc;
use std::sync::atomic::Ordering;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, TimestampMillisecondArray};

use super::*;
use crate::operators::aggregate::{AggregateKind, AggregateSpec};
use crate::operators::test_util::{context, drain, sorted};
use crate::runtime::operator::Output;
use crate::time::clock::ManualClock;

/// (key, price, time) rows.
fn bids(rows: &[(i64, i64, i64)]) -> RecordBatch {
    RecordBatch::try_from_iter(vec![
        (
            "auction",
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef,
        ),
        (
            "price",
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))) as ArrayRef,
        ),
        (
            "date_time",
            Arc::new(TimestampMillisecondArray::from_iter_values(
                rows.iter().map(|r| r.2),
            )) as ArrayRef,
        ),
    ])
    .unwrap()
}

fn operator(
    assigner: WindowAssigner,
    time: WindowTime,
    keys: Vec<usize>,
    aggs: Vec<AggregateSpec>,
) -> Box<dyn Operator> {
    let spec = WindowAggregateSpec {
        assigner,
        time,
        key_columns: keys,
        aggregates: aggs,
    };
    create_window_aggregate("window", spec, bids(&[]).schema()).unwrap()
}

const EVENT: WindowTime = WindowTime::EventTime { time_column: 2 };

fn cnt_sum_max() -> Vec<AggregateSpec> {
    vec![
        AggregateSpec::count_star("cnt"),
        AggregateSpec::new(AggregateKind::Sum, Some(1), "sum_price"),
        AggregateSpec::new(AggregateKind::Max, Some(1), "max_price"),
    ]
}

#[test]
fn tumble_fires_at_window_end_minus_one_and_drops_late_rows() {
    let ctx = context(ManualClock::new(0));
    let mut op = operator(
        WindowAssigner::tumble(10_000).unwrap(),
        EVENT,
        vec![0],
        cnt_sum_max(),
    );
    let mut out = Output::default();
    op.open(&ctx).unwrap();
    op.process_batch(
        0,
        bids(&[
            (1, 10, 1_000),
            (2, 20, 2_000),
            (1, 30, 9_999),
            (1, 5, 10_000),
        ]),
        &ctx,
        &mut out,
    )
    .unwrap();
    op.process_watermark(9_998, &ctx, &mut out).unwrap();
    assert_eq!(
        drain(&mut out),
        (vec![], vec![9_998]),
        "maxTimestamp 9999 > watermark"
    );
    op.process_watermark(9_999, &ctx, &mut out).unwrap();
    let (rows, wms) = drain(&mut out);
    assert_eq!(
        sorted(rows),
        vec![
            "1|1970-01-01T00:00:00|1970-01-01T00:00:10|2|40|30",
            "2|1970-01-01T00:00:00|1970-01-01T00:00:10|1|20|20",
        ]
    );
    assert_eq!(wms, vec![9_999], "the watermark follows the fired windows");
    // 9 500 belongs only to the fired window: late. 15 000 is on time.
    op.process_batch(0, bids(&[(1, 7, 9_500), (2, 8, 15_000)]), &ctx, &mut out)
        .unwrap();
    assert_eq!(ctx.metrics.late_records_dropped.load(Ordering::Relaxed), 1);
    op.finish(&ctx, &mut out).unwrap();
    assert_eq!(
        sorted(drain(&mut out).0),
        vec![
            "1|1970-01-01T00:00:10|1970-01-01T00:00:20|1|5|5",
            "2|1970-01-01T00:00:10|1970-01-01T00:00:20|1|8|8",
        ]
    );
}

#[test]
fn hop_keeps_a_partly_late_row_for_its_open_windows() {
    let ctx = context(ManualClock::new(0));
    let mut op = operator(
        WindowAssigner::hop(2, 4).unwrap(),
        EVENT,
        vec![0],
        vec![AggregateSpec::count_star("cnt")],
    );
    let mut out = Output::default();
    op.process_batch(0, bids(&[(7, 0, 1), (7, 0, 3), (7, 0, 6)]), &ctx, &mut out)
        .unwrap();
    // Fires [-2,2) and [0,4) (max timestamps 1 and 3 <= 4).
    op.process_watermark(4, &ctx, &mut out).unwrap();
    let as_ms = |s: &str| s.to_string();
    assert_eq!(
        sorted(drain(&mut out).0),
        vec![
            as_ms("7|1969-12-31T23:59:59.998|1970-01-01T00:00:00.002|1"),
            as_ms("7|1970-01-01T00:00:00|1970-01-01T00:00:00.004|2")
        ]
    );
    // t=3 still belongs to the open [2,6): counted there only. t=1's windows all fired: dropped.
    op.process_batch(0, bids(&[(7, 0, 3), (7, 0, 1)]), &ctx, &mut out)
        .unwrap();
    assert_eq!(ctx.metrics.late_records_dropped.load(Ordering::Relaxed), 1);
    op.process_watermark(i64::MAX, &ctx, &mut out).unwrap();
    let (rows, wms) = drain(&mut out);
    assert_eq!(
        rows,
        vec![
            "7|1970-01-01T00:00:00.002|1970-01-01T00:00:00.006|2",
            "7|1970-01-01T00:00:00.004|1970-01-01T00:00:00.008|1",
            "7|1970-01-01T00:00:00.006|1970-01-01T00:00:00.010|1",
        ],
        "fired in window_end order"
    );
    assert_eq!(wms, vec![i64::MAX]);
}

#[test]
fn cumulate_without_key_emits_growing_windows() {
    let ctx = context(ManualClock::new(0));
    let max = AggregateSpec::new(AggregateKind::Max, Some(1), "max_price");
    let mut op = operator(
        WindowAssigner::cumulate(2, 6).unwrap(),
        EVENT,
        vec![],
        vec![max],
    );
    let mut out = Output::default();
    op.process_batch(
        0,
        bids(&[(1, 5, 0), (2, 9, 3), (3, 1, 5), (4, 2, 6)]),
        &ctx,
        &mut out,
    )
    .unwrap();
    op.process_watermark(5, &ctx, &mut out).unwrap();
    assert_eq!(
        drain(&mut out).0,
        vec![
            "1970-01-01T00:00:00|1970-01-01T00:00:00.002|5",
            "1970-01-01T00:00:00|1970-01-01T00:00:00.004|9",
            "1970-01-01T00:00:00|1970-01-01T00:00:00.006|9",
        ]
    );
    op.finish(&ctx, &mut out).unwrap();
    assert_eq!(
        drain(&mut out).0,
        vec![
            "1970-01-01T00:00:00.006|1970-01-01T00:00:00.008|2",
            "1970-01-01T00:00:00.006|1970-01-01T00:00:00.010|2",
            "1970-01-01T00:00:00.006|1970-01-01T00:00:00.012|2",
        ]
    );
}

#[test]
fn sessions_merge_across_batches_and_touching_sessions_join() {
    let ctx = context(ManualClock::new(0));
    let aggs = vec![
        AggregateSpec::count_star("cnt"),
        AggregateSpec::new(AggregateKind::Sum, Some(1), "sum_price"),
    ];
    let mut op = operator(WindowAssigner::session(5).unwrap(), EVENT, vec![0], aggs);
    let mut out = Output::default();
    op.process_batch(0, bids(&[(1, 1, 0), (1, 2, 10)]), &ctx, &mut out)
        .unwrap();
    // [5,10) touches [0,5) and [10,15): Flink's inclusive intersects merges all three.
    op.process_batch(0, bids(&[(1, 4, 5), (2, 100, 3)]), &ctx, &mut out)
        .unwrap();
    op.process_watermark(7, &ctx, &mut out).unwrap();
    assert_eq!(
        drain(&mut out).0,
        vec!["2|1970-01-01T00:00:00.003|1970-01-01T00:00:00.008|1|100"]
    );
    // Bidder 2 at 1: [1,6) is past the watermark and meets no pending session: late.
    // Bidder 1 at 2 joins the pending [0,15) although 2 < watermark.
    op.process_batch(0, bids(&[(2, 1, 1), (1, 1, 2)]), &ctx, &mut out)
        .unwrap();
    assert_eq!(ctx.metrics.late_records_dropped.load(Ordering::Relaxed), 1);
    op.process_watermark(13, &ctx, &mut out).unwrap();
    assert!(drain(&mut out).0.is_empty());
    op.process_watermark(14, &ctx, &mut out).unwrap();
    assert_eq!(
        drain(&mut out).0,
        vec!["1|1970-01-01T00:00:00|1970-01-01T00:00:00.015|4|8"]
    );
    // A new session after the fired one.
    op.process_batch(0, bids(&[(1, 3, 20), (1, 3, 26)]), &ctx, &mut out)
        .unwrap();
    op.finish(&ctx, &mut out).unwrap();
    assert_eq!(
        drain(&mut out).0,
        vec![
            "1|1970-01-01T00:00:00.020|1970-01-01T00:00:00.025|1|3",
            "1|1970-01-01T00:00:00.026|1970-01-01T00:00:00.031|1|3",
        ]
    );
}

#[test]
fn processing_time_windows_fire_on_timers_and_at_finish() {
    let clock = ManualClock::new(1_000);
    let ctx = context(clock.clone());
    let time = WindowTime::ProcessingTime;
    let mut op = operator(
        WindowAssigner::tumble(1_000).unwrap(),
        time,
        vec![0],
        vec![AggregateSpec::count_star("c")],
    );
    let mut out = Output::default();
    // Event times in the rows are ignored: the clock assigns.
    op.process_batch(0, bids(&[(1, 0, 99_999), (1, 0, 5)]), &ctx, &mut out)
        .unwrap();
    assert_eq!(op.next_processing_time_timer(), Some(1_999));
    op.on_processing_time(1_500, &ctx, &mut out).unwrap();
    assert!(out.is_empty());
    clock.set(2_500);
    op.process_batch(0, bids(&[(1, 0, 0)]), &ctx, &mut out)
        .unwrap();
    op.on_processing_time(1_999, &ctx, &mut out).unwrap();
    assert_eq!(
        drain(&mut out).0,
        vec!["1|1970-01-01T00:00:01|1970-01-01T00:00:02|2"]
    );
    assert_eq!(op.next_processing_time_timer(), Some(2_999));
    op.finish(&ctx, &mut out).unwrap();
    assert_eq!(
        drain(&mut out).0,
        vec!["1|1970-01-01T00:00:02|1970-01-01T00:00:03|1"]
    );
    assert_eq!(op.next_processing_time_timer(), None);
}

#[test]
fn processing_time_sessions_and_many_keys_in_several_batches() {
    let clock = ManualClock::new(100);
    let ctx = context(clock.clone());
    let mut op = operator(
        WindowAssigner::session(50).unwrap(),
        WindowTime::ProcessingTime,
        vec![0],
        vec![AggregateSpec::count_star("c")],
    );
    let mut out = Output::default();
    let rows: Vec<(i64, i64, i64)> = (0..20_000).map(|i| (i % 10_000, 0, 0)).collect();
    op.process_batch(0, bids(&rows), &ctx, &mut out).unwrap();
    clock.set(140);
    op.process_batch(0, bids(&[(3, 0, 0)]), &ctx, &mut out)
        .unwrap();
    assert_eq!(op.next_processing_time_timer(), Some(149));
    op.on_processing_time(149, &ctx, &mut out).unwrap();
    let mut fired = 0;
    for e in out.drain() {
        if let crate::runtime::operator::Emit::Batch(b) = e {
            assert!(b.num_rows() <= MAX_OUTPUT_BATCH_ROWS);
            fired += b.num_rows();
        }
    }
    assert_eq!(fired, 9_999, "key 3's session grew to [100, 190)");
    op.finish(&ctx, &mut out).unwrap();
    assert_eq!(
        drain(&mut out).0,
        vec!["3|1970-01-01T00:00:00.100|1970-01-01T00:00:00.190|3"]
    );
}

#[test]
fn null_event_time_fails() {
    let ctx = context(ManualClock::new(0));
    let mut op = operator(
        WindowAssigner::tumble(10).unwrap(),
        EVENT,
        vec![0],
        vec![AggregateSpec::count_star("c")],
    );
    let b = RecordBatch::try_from_iter(vec![
        ("auction", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
        ("price", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
        (
            "date_time",
            Arc::new(TimestampMillisecondArray::from(vec![None])) as ArrayRef,
        ),
    ])
    .unwrap();
    assert!(
        op.process_batch(0, b, &ctx, &mut Output::default())
            .is_err()
    );
}

/// Bench-shaped run (tumble_count / hop_count / q7_max): many keys, out-of-order rows
/// within the watermark delay, several batches; checked against a brute-force count.
#[test]
fn matches_brute_force_on_bench_shaped_input() {
    use std::collections::BTreeMap;
    let mut seed = 42u64;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        seed >> 33
    };
    let rows: Vec<(i64, i64, i64)> = (0..30_000i64)
        .map(|i| {
            let late = if next() % 10 == 0 {
                (next() % 200) as i64
            } else {
                0
            };
            (
                1000 + (next() % 50) as i64,
                (next() % 1000) as i64,
                (i - late).max(0),
            )
        })
        .collect();
    for (assigner, keyed) in [
        (WindowAssigner::tumble(10_000).unwrap(), true),
        (WindowAssigner::hop(2_000, 10_000).unwrap(), true),
        (WindowAssigner::tumble(10_000).unwrap(), false),
    ] {
        let ctx = context(ManualClock::new(0));
        let keys = if keyed { vec![0] } else { vec![] };
        let mut op = operator(assigner, EVENT, keys, cnt_sum_max());
        let mut out = Output::default();
        let mut got = Vec::new();
        for chunk in rows.chunks(4_096) {
            op.process_batch(0, bids(chunk), &ctx, &mut out).unwrap();
            let max_t = chunk.iter().map(|r| r.2).max().unwrap();
            op.process_watermark(max_t - 1_000, &ctx, &mut out).unwrap();
            got.extend(drain(&mut out).0);
        }
        op.process_watermark(i64::MAX, &ctx, &mut out).unwrap();
        got.extend(drain(&mut out).0);
        assert_eq!(ctx.metrics.late_records_dropped.load(Ordering::Relaxed), 0);
        let mut expected: BTreeMap<(i64, i64, i64), (i64, i64, i64)> = BTreeMap::new();
        for &(k, p, t) in &rows {
            let mut ws = Vec::new();
            assigner.assign(t, &mut ws);
            for (s, e) in ws {
                let acc = expected
                    .entry((if keyed { k } else { 0 }, s, e))
                    .or_insert((0, 0, i64::MIN));
                *acc = (acc.0 + 1, acc.1 + p, acc.2.max(p));
            }
        }
        let fmt = |ms: i64| {
            arrow::array::TimestampMillisecondArray::from(vec![ms])
                .value_as_datetime(0)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%S%.f")
                .to_string()
        };
        let want: Vec<String> = expected
            .iter()
            .map(|(&(k, s, e), &(c, sum, m))| {
                let key = if keyed {
                    format!("{k}|")
                } else {
                    String::new()
                };
                format!("{key}{}|{}|{c}|{sum}|{m}", fmt(s), fmt(e))
            })
            .collect();
        assert_eq!(sorted(got), sorted(want), "{assigner:?} keyed={keyed}");
    }
}

/// A snapshot restores into any split of the key groups (rescaling): two subtasks
/// with half the range each fire, together, exactly what the original would have.
#[test]
fn window_state_snapshot_restores_by_key_group_into_a_rescaled_job() {
    let aggs = || {
        let mut a = cnt_sum_max();
        a.push(AggregateSpec::new(AggregateKind::Avg, Some(1), "avg_price"));
        a.push(AggregateSpec::new(AggregateKind::Min, Some(1), "min_price"));
        a
    };
    let assigners = [
        WindowAssigner::tumble(10_000).unwrap(),
        WindowAssigner::session(2_000).unwrap(),
    ];
    for assigner in assigners {
        restores_by_key_group(assigner, aggs());
    }
}

/// Snapshot after 120 of 200 rows, restore into two subtasks of half the key groups
/// each, finish: the windows fired equal those of one uninterrupted operator.
fn restores_by_key_group(assigner: WindowAssigner, aggs: Vec<AggregateSpec>) {
    let make = || operator(assigner, EVENT, vec![0], aggs.clone());
    // A key's rows are 1649 ms apart, with a 5 s pause every 40 rows: sessions merge
    // within a stretch and a key has several.
    let rows: Vec<(i64, i64, i64)> = (0..200)
        .map(|i| (i % 17, i * 3, i * 97 + (i / 40) * 5_000))
        .collect();
    let ctx = context(ManualClock::new(0));

    let mut reference = make();
    let mut out = Output::default();
    reference.open(&ctx).unwrap();
    reference
        .process_batch(0, bids(&rows), &ctx, &mut out)
        .unwrap();
    reference.finish(&ctx, &mut out).unwrap();
    let expected = sorted(drain(&mut out).0);

    let mut original = make();
    original.open(&ctx).unwrap();
    original
        .process_batch(0, bids(&rows[..120]), &ctx, &mut out)
        .unwrap();
    let snapshot = original
        .snapshot_state(&crate::operators::test_util::barrier(1, false))
        .unwrap()
        .expect("window state");
    drop(original);
    drain(&mut out);

    let mut fired = Vec::new();
    for (start, end) in [(0, 63), (64, 127)] {
        let mut ctx = context(ManualClock::new(0));
        ctx.subtask.key_group_range = crate::key_groups::KeyGroupRange { start, end };
        let mut op = make();
        op.restore_state(&snapshot).unwrap();
        op.open(&ctx).unwrap();
        let encoded = crate::operators::keys::KeyEncoder::new(&bids(&[]).schema(), &[0])
            .unwrap()
            .encode(&bids(&rows[120..]), 128)
            .unwrap();
        let own: Vec<(i64, i64, i64)> = rows[120..]
            .iter()
            .zip(&encoded.key_groups)
            .filter(|(_, kg)| (start..=end).contains(*kg))
            .map(|(r, _)| *r)
            .collect();
        op.process_batch(0, bids(&own), &ctx, &mut out).unwrap();
        op.finish(&ctx, &mut out).unwrap();
        fired.extend(drain(&mut out).0);
    }
    assert_eq!(sorted(fired), expected, "{assigner:?}");
    let garbage = make().restore_state(b"not a snapshot");
    assert!(garbage.is_ok(), "kept until open");
    let mut op = make();
    op.restore_state(b"not a snapshot").unwrap();
    assert!(
        op.open(&ctx).is_err(),
        "a corrupt snapshot is an error, not a panic"
    );
}
