//! Checkpoints of the interval and window joins: snapshotted mid-run (rows buffered on
//! both sides, some matched), restored whole and split into two subtasks by key group,
//! their output equals one uninterrupted run's for inner and outer joins.

use super::super::interval::tests::{Xorshift, rows, side_schema};
use super::super::window::tests::windowed;
use super::super::{
    IntervalJoinOperator, IntervalJoinSpec, JoinType, WindowJoinOperator, WindowJoinSpec,
};
use crate::operators::test_util::{Step, assert_restores_whole_and_split};
use crate::operators::window::WindowAssigner;
use crate::runtime::message::MAX_WATERMARK;
use crate::runtime::operator::Operator;

const TYPES: [JoinType; 3] = [JoinType::Inner, JoinType::LeftOuter, JoinType::FullOuter];

/// A side's rows: `(key or NULL, time, value)`.
type SideRows<'a> = [(Option<i64>, i64, &'a str)];

/// Rounds of a left and a right batch `(key or NULL, time, value)` then a watermark
/// 20 ms behind the largest time (times within a round differ by < 20 ms, so no row
/// is late), then the final watermark. `to_batch(side, rows)` builds a side's batch.
fn steps(to_batch: &dyn Fn(usize, &SideRows<'_>) -> arrow::array::RecordBatch) -> Vec<Step> {
    let mut rng = Xorshift(0x2545_f491_4f6c_dd1d);
    let mut steps = Vec::new();
    let mut max_t = 0;
    for round in 0..24 {
        for side in 0..2 {
            let data: Vec<(Option<i64>, i64, String)> = (0..5)
                .map(|i| {
                    let key = rng.below(6);
                    let key = (key != 5).then_some(key);
                    (
                        key,
                        round * 10 + rng.below(20),
                        format!("{side}-{round}-{i}"),
                    )
                })
                .collect();
            max_t = data.iter().map(|d| d.1).max().unwrap_or(0).max(max_t);
            let refs: Vec<(Option<i64>, i64, &str)> =
                data.iter().map(|d| (d.0, d.1, d.2.as_str())).collect();
            steps.push(Step::Batch(side, to_batch(side, &refs)));
        }
        steps.push(Step::Watermark(max_t - 20));
    }
    steps.push(Step::Watermark(MAX_WATERMARK));
    steps
}

#[test]
fn interval_join_restores_whole_and_split_by_key_group() {
    let (ls, rs) = (side_schema("l"), side_schema("r"));
    let steps = steps(&|side, data| rows(if side == 0 { &ls } else { &rs }, data));
    for join_type in TYPES {
        let spec = IntervalJoinSpec {
            join_type,
            left_keys: vec![0],
            right_keys: vec![0],
            left_time: 1,
            right_time: 1,
            lower_bound: -7,
            upper_bound: 3,
        };
        let make = || -> Box<dyn Operator> {
            Box::new(
                IntervalJoinOperator::new("join", spec.clone(), ls.clone(), rs.clone()).unwrap(),
            )
        };
        for at in [17, 40] {
            let expected = assert_restores_whole_and_split(&make, &steps, at, &[vec![0], vec![0]]);
            assert!(expected.len() > 40, "{join_type:?}: the data must join");
        }
    }
}

#[test]
fn window_join_restores_whole_and_split_by_key_group() {
    let hop = WindowAssigner::hop(5, 10).unwrap();
    let tags = ["l", "r"];
    let steps = steps(&|side, data| windowed(hop, tags[side], data));
    let (l, r) = (
        windowed(hop, "l", &[]).schema(),
        windowed(hop, "r", &[]).schema(),
    );
    for join_type in TYPES {
        let spec = WindowJoinSpec {
            join_type,
            left_keys: vec![0],
            right_keys: vec![0],
            left_window: (3, 4),
            right_window: (3, 4),
        };
        let make = || -> Box<dyn Operator> {
            Box::new(WindowJoinOperator::new("wj", spec.clone(), l.clone(), r.clone()).unwrap())
        };
        for at in [17, 40] {
            let expected = assert_restores_whole_and_split(&make, &steps, at, &[vec![0], vec![0]]);
            assert!(expected.len() > 40, "{join_type:?}: the data must join");
        }
    }
}
