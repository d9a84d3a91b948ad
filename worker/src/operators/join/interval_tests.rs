use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use super::*;
use crate::operators::test_util::{batch_rows, context, drain, sorted};
use crate::time::clock::ManualClock;

pub(crate) fn side_schema(tag: &str) -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(format!("{tag}k"), DataType::Int64, true),
        Field::new(
            format!("{tag}ts"),
            DataType::Timestamp(TimeUnit::Millisecond, None),
            false,
        ),
        Field::new(format!("{tag}v"), DataType::Utf8, false),
    ]))
}

pub(crate) fn rows(schema: &SchemaRef, rows: &[(Option<i64>, i64, &str)]) -> RecordBatch {
    let k: ArrayRef = Arc::new(Int64Array::from(
        rows.iter().map(|r| r.0).collect::<Vec<_>>(),
    ));
    let ts: ArrayRef = Arc::new(TimestampMillisecondArray::from(
        rows.iter().map(|r| r.1).collect::<Vec<_>>(),
    ));
    let v: ArrayRef = Arc::new(StringArray::from(
        rows.iter().map(|r| r.2).collect::<Vec<_>>(),
    ));
    RecordBatch::try_new(schema.clone(), vec![k, ts, v]).unwrap()
}

fn spec(join_type: JoinType, lower: i64, upper: i64) -> IntervalJoinSpec {
    IntervalJoinSpec {
        join_type,
        left_keys: vec![0],
        right_keys: vec![0],
        left_time: 1,
        right_time: 1,
        lower_bound: lower,
        upper_bound: upper,
    }
}

/// A timestamp as the test rows print it.
pub(crate) fn ts(ms: i64) -> String {
    let a: ArrayRef = Arc::new(TimestampMillisecondArray::from(vec![ms]));
    batch_rows(&RecordBatch::try_from_iter(vec![("t", a)]).unwrap()).remove(0)
}

/// A small deterministic generator (xorshift), so tests need no extra crate.
pub(crate) struct Xorshift(pub u64);

impl Xorshift {
    pub(crate) fn below(&mut self, n: i64) -> i64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as i64
    }
}

#[test]
fn inner_join_matches_a_nested_loop_and_cleans_up_state() {
    let (ls, rs) = (side_schema("l"), side_schema("r"));
    let (lower, upper) = (-7, 3);
    let mut op = IntervalJoinOperator::new(
        "join",
        spec(JoinType::Inner, lower, upper),
        ls.clone(),
        rs.clone(),
    )
    .unwrap();
    let ctx = context(ManualClock::new(0));
    op.open(&ctx).unwrap();
    let mut rng = Xorshift(0x2545_f491_4f6c_dd1d);
    let (mut all_l, mut all_r) = (Vec::new(), Vec::new());
    let mut out = Output::default();
    let mut got = Vec::new();
    // Times grow by batch; within a batch they are out of order by < 20 ms, and the
    // watermark trails the max time by 20 ms, so no row is late.
    let mut max_t = 0;
    for batch in 0..40 {
        let base = batch * 10;
        for side in 0..2 {
            let data: Vec<(Option<i64>, i64, String)> = (0..6)
                .map(|i| {
                    (
                        Some(rng.below(3)),
                        base + rng.below(20),
                        format!("{side}-{batch}-{i}"),
                    )
                })
                .collect();
            max_t = data.iter().map(|d| d.1).max().unwrap().max(max_t);
            let refs: Vec<(Option<i64>, i64, &str)> =
                data.iter().map(|d| (d.0, d.1, d.2.as_str())).collect();
            let schema = if side == 0 { &ls } else { &rs };
            op.process_batch(side, rows(schema, &refs), &ctx, &mut out)
                .unwrap();
            if side == 0 {
                all_l.extend(data)
            } else {
                all_r.extend(data)
            }
        }
        op.process_watermark(max_t - 20, &ctx, &mut out).unwrap();
        got.extend(drain(&mut out).0);
    }
    assert!(op.state_size_bytes() > 0);
    op.process_watermark(MAX_WATERMARK, &ctx, &mut out).unwrap();
    got.extend(drain(&mut out).0);
    let mut expected = Vec::new();
    for l in &all_l {
        for r in &all_r {
            if l.0 == r.0 && (lower..=upper).contains(&(l.1 - r.1)) {
                expected.push(format!(
                    "{}|{}|{}|{}|{}|{}",
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
    assert!(expected.len() > 50, "the test data must produce matches");
    assert_eq!(sorted(got), sorted(expected));
    assert_eq!(
        op.state_size_bytes(),
        0,
        "everything expired at the final watermark"
    );
    assert_eq!(ctx.memory.used(), 0);
}

#[test]
fn rows_expire_when_the_watermark_passes_their_bound() {
    let (ls, rs) = (side_schema("l"), side_schema("r"));
    // l.ts BETWEEN r.ts - 10 AND r.ts + 5
    let mut op = IntervalJoinOperator::new(
        "join",
        spec(JoinType::Inner, -10, 5),
        ls.clone(),
        rs.clone(),
    )
    .unwrap();
    let ctx = context(ManualClock::new(0));
    op.open(&ctx).unwrap();
    let mut out = Output::default();
    op.process_batch(0, rows(&ls, &[(Some(1), 100, "a")]), &ctx, &mut out)
        .unwrap();
    // The left row at 100 matches right rows in [95, 110]; it expires at 110.
    op.process_watermark(109, &ctx, &mut out).unwrap();
    let (_, wms) = drain(&mut out);
    assert_eq!(wms, vec![99], "held back by max(10, 5)");
    op.process_batch(
        1,
        rows(&rs, &[(Some(1), 110, "x"), (Some(2), 110, "y")]),
        &ctx,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        drain(&mut out).0,
        vec![format!("1|{}|a|1|{}|x", ts(100), ts(110))]
    );
    op.process_watermark(110, &ctx, &mut out).unwrap();
    // Behind the bound now: a right row at 110 would still have matched, but the
    // left row is gone (a late row in Flink's terms).
    op.process_batch(1, rows(&rs, &[(Some(1), 110, "z")]), &ctx, &mut out)
        .unwrap();
    assert!(drain(&mut out).0.is_empty());
}

#[test]
fn outer_joins_pad_rows_that_never_matched_when_they_expire() {
    let (ls, rs) = (side_schema("l"), side_schema("r"));
    let mut op = IntervalJoinOperator::new(
        "join",
        spec(JoinType::FullOuter, -5, 5),
        ls.clone(),
        rs.clone(),
    )
    .unwrap();
    assert!(op.output_schema().fields().iter().all(|f| f.is_nullable()));
    let ctx = context(ManualClock::new(0));
    op.open(&ctx).unwrap();
    let mut out = Output::default();
    op.process_batch(
        0,
        rows(
            &ls,
            &[(Some(1), 100, "a"), (Some(2), 100, "b"), (None, 100, "n")],
        ),
        &ctx,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        drain(&mut out).0,
        vec![format!("NULL|{}|n|NULL|NULL|NULL", ts(100))],
        "a NULL key never matches"
    );
    op.process_batch(
        1,
        rows(&rs, &[(Some(1), 104, "x"), (Some(3), 200, "y")]),
        &ctx,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        drain(&mut out).0,
        vec![format!("1|{}|a|1|{}|x", ts(100), ts(104))]
    );
    op.process_watermark(104, &ctx, &mut out).unwrap();
    assert!(
        drain(&mut out).0.is_empty(),
        "b may still match a right row up to 105"
    );
    op.process_watermark(105, &ctx, &mut out).unwrap();
    assert_eq!(
        drain(&mut out).0,
        vec![format!("2|{}|b|NULL|NULL|NULL", ts(100))]
    );
    op.process_watermark(MAX_WATERMARK, &ctx, &mut out).unwrap();
    let (rows_out, wms) = drain(&mut out);
    assert_eq!(rows_out, vec![format!("NULL|NULL|NULL|3|{}|y", ts(200))]);
    assert_eq!(wms, vec![MAX_WATERMARK]);
    assert_eq!(op.state_size_bytes(), 0);
}

#[test]
fn rejects_inverted_bounds_and_mismatched_keys() {
    let (ls, rs) = (side_schema("l"), side_schema("r"));
    assert!(
        IntervalJoinOperator::new("j", spec(JoinType::Inner, 5, -5), ls.clone(), rs.clone())
            .is_err()
    );
    let mut s = spec(JoinType::Inner, 0, 0);
    s.right_keys = vec![2];
    assert!(IntervalJoinOperator::new("j", s, ls, rs).is_err());
}
