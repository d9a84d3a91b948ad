use std::sync::atomic::Ordering;

use arrow::record_batch::RecordBatch;

use super::*;
use crate::operators::join::interval::tests::{Xorshift, rows, side_schema, ts};
use crate::operators::join::window_tvf::WindowTableFunctionOperator;
use crate::operators::test_util::{batch_rows, context, drain, sorted};
use crate::operators::window::WindowAssigner;
use crate::runtime::message::MAX_WATERMARK;
use crate::runtime::operator::Emit;
use crate::time::clock::ManualClock;

/// Rows `(key, ts, v)` run through a window TVF: `k, ts, v, start, end, time`.
pub(crate) fn windowed(
    assigner: WindowAssigner,
    tag: &str,
    data: &[(Option<i64>, i64, &str)],
) -> RecordBatch {
    let schema = side_schema(tag);
    let ctx = context(ManualClock::new(0));
    let mut tvf = WindowTableFunctionOperator::new("tvf", assigner, 1, &schema).unwrap();
    let mut out = Output::default();
    tvf.process_batch(0, rows(&schema, data), &ctx, &mut out)
        .unwrap();
    let batches: Vec<RecordBatch> = out
        .drain()
        .filter_map(|e| match e {
            Emit::Batch(b) => Some(b),
            Emit::Watermark(_) => None,
        })
        .collect();
    arrow::compute::concat_batches(&tvf.output_schema(), &batches).unwrap()
}

fn spec(join_type: JoinType) -> WindowJoinSpec {
    WindowJoinSpec {
        join_type,
        left_keys: vec![0],
        right_keys: vec![0],
        left_window: (3, 4),
        right_window: (3, 4),
    }
}

fn operator(join_type: JoinType, assigner: WindowAssigner) -> WindowJoinOperator {
    let l = windowed(assigner, "l", &[]).schema();
    let r = windowed(assigner, "r", &[]).schema();
    WindowJoinOperator::new("wj", spec(join_type), l, r).unwrap()
}

#[test]
fn joins_each_window_when_the_watermark_passes_its_end() {
    let hop = WindowAssigner::hop(5, 10).unwrap();
    let mut op = operator(JoinType::Inner, hop);
    let ctx = context(ManualClock::new(0));
    op.open(&ctx).unwrap();
    let mut rng = Xorshift(0x9e37_79b9_7f4a_7c15);
    let (mut all_l, mut all_r, mut got) = (Vec::new(), Vec::new(), Vec::new());
    let mut out = Output::default();
    for step in 0..30 {
        for side in 0..2 {
            let data: Vec<(Option<i64>, i64, String)> = (0..4)
                .map(|i| {
                    (
                        Some(rng.below(3)),
                        step * 4 + rng.below(8),
                        format!("{side}{step}{i}"),
                    )
                })
                .collect();
            let refs: Vec<(Option<i64>, i64, &str)> =
                data.iter().map(|d| (d.0, d.1, d.2.as_str())).collect();
            op.process_batch(
                side,
                windowed(hop, if side == 0 { "l" } else { "r" }, &refs),
                &ctx,
                &mut out,
            )
            .unwrap();
            if side == 0 {
                all_l.extend(data)
            } else {
                all_r.extend(data)
            }
        }
        op.process_watermark(step * 4 - 1, &ctx, &mut out).unwrap();
        got.extend(drain(&mut out).0);
    }
    assert!(op.state_size_bytes() > 0);
    op.process_watermark(MAX_WATERMARK, &ctx, &mut out).unwrap();
    got.extend(drain(&mut out).0);
    // Nested loop: same key, both rows in the same hopping window.
    let mut expected = Vec::new();
    for l in &all_l {
        for r in &all_r {
            let mut windows = Vec::new();
            hop.assign(l.1, &mut windows);
            for (s, e) in windows.into_iter().filter(|(s, e)| (*s..*e).contains(&r.1)) {
                if l.0 == r.0 {
                    let w = format!("{}|{}|{}", ts(s), ts(e), ts(e - 1));
                    expected.push(format!(
                        "{}|{}|{}|{w}|{}|{}|{}|{w}",
                        l.0.unwrap(),
                        ts(l.1),
                        l.2,
                        r.0.unwrap(),
                        ts(r.1),
                        r.2
                    ));
                }
            }
        }
    }
    assert!(expected.len() > 100);
    assert_eq!(sorted(got), sorted(expected));
    assert_eq!(op.state_size_bytes(), 0);
    assert_eq!(ctx.memory.used(), 0);
    assert_eq!(ctx.metrics.late_records_dropped.load(Ordering::Relaxed), 0);
}

#[test]
fn outer_window_join_pads_windows_without_a_partner_and_drops_late_rows() {
    let tumble = WindowAssigner::tumble(10).unwrap();
    let mut op = operator(JoinType::LeftOuter, tumble);
    let ctx = context(ManualClock::new(0));
    op.open(&ctx).unwrap();
    let mut out = Output::default();
    op.process_batch(
        0,
        windowed(
            tumble,
            "l",
            &[(Some(1), 1, "a"), (Some(2), 2, "b"), (Some(1), 12, "c")],
        ),
        &ctx,
        &mut out,
    )
    .unwrap();
    op.process_batch(
        1,
        windowed(tumble, "r", &[(Some(1), 5, "x"), (Some(2), 15, "y")]),
        &ctx,
        &mut out,
    )
    .unwrap();
    op.process_watermark(8, &ctx, &mut out).unwrap();
    let (rows_out, wms) = drain(&mut out);
    assert!(rows_out.is_empty(), "window [0, 10) fires at 9");
    assert_eq!(wms, vec![8]);
    op.process_watermark(9, &ctx, &mut out).unwrap();
    let w = |s: i64| format!("{}|{}|{}", ts(s), ts(s + 10), ts(s + 9));
    assert_eq!(
        sorted(drain(&mut out).0),
        vec![
            format!("1|{}|a|{}|1|{}|x|{}", ts(1), w(0), ts(5), w(0)),
            format!("2|{}|b|{}|NULL|NULL|NULL|NULL|NULL|NULL", ts(2), w(0)),
        ]
    );
    // A row for the fired window is late.
    op.process_batch(
        1,
        windowed(tumble, "r", &[(Some(2), 3, "late")]),
        &ctx,
        &mut out,
    )
    .unwrap();
    assert_eq!(ctx.metrics.late_records_dropped.load(Ordering::Relaxed), 1);
    op.process_watermark(MAX_WATERMARK, &ctx, &mut out).unwrap();
    let (rows_out, _) = drain(&mut out);
    // Left outer: c has no partner in [10, 20); y has no left row and is not padded.
    assert_eq!(
        rows_out,
        vec![format!(
            "1|{}|c|{}|NULL|NULL|NULL|NULL|NULL|NULL",
            ts(12),
            w(10)
        )]
    );
    assert_eq!(op.state_size_bytes(), 0);
    let batch = windowed(tumble, "l", &[(Some(1), 1, "a")]);
    assert_eq!(batch_rows(&batch).len(), 1);
}
