//! The interval and window joins on the rocksdb backend: the same output as on the
//! heap (inner and outer), the rows in RocksDB and not on the heap, an incremental
//! checkpoint restored whole and split by key group (rescaling), savepoints moving
//! between the backends, and the key layout's time order.

use arrow::array::RecordBatch;
use eddy_storage::Location;

use super::super::interval::tests::{Xorshift, rows, side_schema};
use super::super::window::tests::windowed;
use super::super::{
    IntervalJoinOperator, IntervalJoinSpec, JoinType, WindowJoinOperator, WindowJoinSpec,
};
use super::{decode_key, ordered, prefix, unordered};
use crate::operators::keys::KeyEncoder;
use crate::operators::test_util::{
    Step, barrier, context, downloaded_state, drain, rocksdb_checkpoint, rocksdb_context, sorted,
    subtask_context,
};
use crate::operators::window::WindowAssigner;
use crate::runtime::message::MAX_WATERMARK;
use crate::runtime::operator::{Operator, OperatorContext, Output};
use crate::state::keyed::KeyBytes;
use crate::time::clock::ManualClock;

const TAGS: [&str; 2] = ["l", "r"];
const TYPES: [JoinType; 3] = [JoinType::Inner, JoinType::LeftOuter, JoinType::FullOuter];

fn hop() -> WindowAssigner {
    WindowAssigner::hop(5, 10).unwrap()
}

fn interval(join_type: JoinType) -> IntervalJoinOperator {
    let spec = IntervalJoinSpec {
        join_type,
        left_keys: vec![0],
        right_keys: vec![0],
        left_time: 1,
        right_time: 1,
        lower_bound: -7,
        upper_bound: 3,
    };
    IntervalJoinOperator::new("join", spec, side_schema("l"), side_schema("r")).unwrap()
}

fn window(join_type: JoinType) -> WindowJoinOperator {
    let spec = WindowJoinSpec {
        join_type,
        left_keys: vec![0],
        right_keys: vec![0],
        left_window: (3, 4),
        right_window: (3, 4),
    };
    let schema = |tag| windowed(hop(), tag, &[]).schema();
    WindowJoinOperator::new("wj", spec, schema("l"), schema("r")).unwrap()
}

/// Rounds of a left and a right batch of `(key or NULL, time, value)`, times from
/// -300 ms on (negative and positive: the key layout must order both), out of order
/// by < 20 ms within a round, then a watermark 20 ms behind the largest time (no row
/// is late), then the final watermark. `to_batch(side, rows)` builds a side's batch.
/// A side's rows: `(key or NULL, time, value)`.
type SideRows<'a> = [(Option<i64>, i64, &'a str)];

fn steps(to_batch: &dyn Fn(usize, &SideRows<'_>) -> RecordBatch) -> Vec<Step> {
    let mut rng = Xorshift(0x9e37_79b9_7f4a_7c15);
    let mut steps = Vec::new();
    let mut max_t = i64::MIN;
    for round in 0..40 {
        for side in 0..2 {
            let data: Vec<(Option<i64>, i64, String)> = (0..8)
                .map(|i| {
                    let key = rng.below(10);
                    let time = round * 15 - 300 + rng.below(20);
                    (
                        (key != 9).then_some(key),
                        time,
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

/// A join under test: its name, how to make it, and its input.
struct Case {
    name: String,
    make: Box<dyn Fn() -> Box<dyn Operator>>,
    steps: Vec<Step>,
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for join_type in TYPES {
        cases.push(Case {
            name: format!("interval {join_type:?}"),
            make: Box::new(move || Box::new(interval(join_type))),
            steps: steps(&|side, data| rows(&side_schema(TAGS[side]), data)),
        });
        cases.push(Case {
            name: format!("window {join_type:?}"),
            make: Box::new(move || Box::new(window(join_type))),
            steps: steps(&|side, data| windowed(hop(), TAGS[side], data)),
        });
    }
    cases
}

fn run(op: &mut dyn Operator, steps: &[Step], ctx: &OperatorContext, finish: bool) -> Vec<String> {
    let mut out = Output::default();
    for step in steps {
        match step {
            Step::Batch(input, b) => op.process_batch(*input, b.clone(), ctx, &mut out),
            Step::Watermark(w) => op.process_watermark(*w, ctx, &mut out),
        }
        .unwrap();
    }
    if finish {
        op.finish(ctx, &mut out).unwrap();
    }
    drain(&mut out).0
}

/// `steps` with only the rows whose key (column 0) is in key groups `start..=end`.
fn own(steps: &[Step], start: u32, end: u32) -> Vec<Step> {
    steps
        .iter()
        .map(|s| match s {
            Step::Batch(input, b) => {
                let groups = KeyEncoder::new(&b.schema(), &[0])
                    .unwrap()
                    .encode(b, 128)
                    .unwrap()
                    .key_groups;
                let mask: arrow::array::BooleanArray = groups
                    .iter()
                    .map(|kg| Some((start..=end).contains(kg)))
                    .collect();
                let own = arrow::compute::filter_record_batch(b, &mask).unwrap();
                Step::Batch(*input, own)
            }
            w => w.clone(),
        })
        .collect()
}

/// Everything the case emits on the heap in one run.
fn reference(case: &Case) -> Vec<String> {
    let ctx = context(ManualClock::new(0));
    let mut op = (case.make)();
    op.open(&ctx).unwrap();
    sorted(run(op.as_mut(), &case.steps, &ctx, true))
}

#[test]
fn rocksdb_state_gives_the_heaps_results() {
    for case in cases() {
        let tmp = tempfile::tempdir().unwrap();
        let ctx = rocksdb_context(ManualClock::new(0), tmp.path());
        let mut op = (case.make)();
        op.open(&ctx).unwrap();
        let got = sorted(run(op.as_mut(), &case.steps, &ctx, true));
        let expected = reference(&case);
        assert!(expected.len() > 150, "{}: the data must join", case.name);
        assert_eq!(got, expected, "{}", case.name);
    }
}

/// A join that tells where its rows are: heap bytes, RocksDB entries.
trait Buffered: Operator {
    fn buffered(&self) -> (usize, usize);
}

impl Buffered for IntervalJoinOperator {
    fn buffered(&self) -> (usize, usize) {
        IntervalJoinOperator::buffered(self)
    }
}

impl Buffered for WindowJoinOperator {
    fn buffered(&self) -> (usize, usize) {
        WindowJoinOperator::buffered(self)
    }
}

fn rows_are_in_rocksdb<T: Buffered>(name: &str, make: impl Fn() -> T, steps: &[Step]) {
    let tmp = tempfile::tempdir().unwrap();
    let (heap, rocks) = (
        context(ManualClock::new(0)),
        rocksdb_context(ManualClock::new(0), tmp.path()),
    );
    let (mut on_heap, mut in_rocks) = (make(), make());
    on_heap.open(&heap).unwrap();
    in_rocks.open(&rocks).unwrap();
    let half = steps.len() / 2;
    run(&mut on_heap, &steps[..half], &heap, false);
    run(&mut in_rocks, &steps[..half], &rocks, false);
    let (heap_bytes, heap_entries) = on_heap.buffered();
    assert!(heap_bytes > 0 && heap_entries == 0, "{name}: {heap_bytes}");
    let (bytes, entries) = in_rocks.buffered();
    assert_eq!(bytes, 0, "{name}: no rows on the heap");
    assert!(entries > 20, "{name}: {entries} rows in rocksdb");
    run(&mut in_rocks, &steps[half..], &rocks, true);
    assert_eq!(in_rocks.buffered(), (0, 0), "{name}: all expired");
}

#[test]
fn the_rows_are_in_rocksdb_not_on_the_heap() {
    let interval_steps = steps(&|side, data| rows(&side_schema(TAGS[side]), data));
    let window_steps = steps(&|side, data| windowed(hop(), TAGS[side], data));
    for join_type in TYPES {
        let name = format!("{join_type:?}");
        rows_are_in_rocksdb(&name, || interval(join_type), &interval_steps);
        rows_are_in_rocksdb(&name, || window(join_type), &window_steps);
    }
}

/// Checkpoints twice on rocksdb (the second incremental: it reuses the first's
/// files), then restores the second from a download into a fresh operator and into
/// two subtasks of half the key groups each: with the rows after it, each gives one
/// uninterrupted run's output. The heap backend refuses the RocksDB checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incremental_checkpoint_restores_whole_and_split_by_key_group() {
    for case in cases() {
        let (name, steps) = (&case.name, &case.steps);
        let tmp = tempfile::tempdir().unwrap();
        let storage = tempfile::tempdir().unwrap();
        let job = Location::open(storage.path().to_str().unwrap())
            .unwrap()
            .child("job");
        let expected = reference(&case);
        let (at1, at2) = (31, 71);
        let ctx = rocksdb_context(ManualClock::new(0), &tmp.path().join("a"));
        let mut op = (case.make)();
        op.open(&ctx).unwrap();
        let mut before = run(op.as_mut(), &steps[..at1], &ctx, false);
        let first = rocksdb_checkpoint(op.as_mut(), 1, &job).await;
        assert!(!first.shared_files.is_empty(), "{name}");
        op.notify_checkpoint_complete(1).unwrap();
        before.extend(run(op.as_mut(), &steps[at1..at2], &ctx, false));
        let second = rocksdb_checkpoint(op.as_mut(), 2, &job).await;
        assert!(
            second
                .shared_files
                .iter()
                .any(|f| first.shared_files.contains(f)),
            "{name}: the second checkpoint refers to the first's files"
        );
        assert!(second.uploaded < second.state_size, "{name}: incremental");
        let mut uninterrupted = before.clone();
        uninterrupted.extend(run(op.as_mut(), &steps[at2..], &ctx, true));
        assert_eq!(sorted(uninterrupted), expected, "{name}: checkpoints");
        drop(op);

        let state = downloaded_state(&second, &tmp.path().join("r")).await;
        let ctx = rocksdb_context(ManualClock::new(0), &tmp.path().join("b"));
        let mut whole = before.clone();
        let mut restored = (case.make)();
        restored.restore_state(&state).unwrap();
        restored.open(&ctx).unwrap();
        whole.extend(run(restored.as_mut(), &steps[at2..], &ctx, true));
        assert_eq!(sorted(whole), expected, "{name}: restored whole");

        let mut split = before;
        for (i, (start, end)) in [(0, 63), (64, 127)].into_iter().enumerate() {
            let state = downloaded_state(&second, &tmp.path().join(format!("r{i}"))).await;
            let ctx = subtask_context(start, end, Some(&tmp.path().join(format!("s{i}"))));
            let mut half = (case.make)();
            half.restore_state(&state).unwrap();
            half.open(&ctx).unwrap();
            split.extend(run(
                half.as_mut(),
                &own(&steps[at2..], start, end),
                &ctx,
                true,
            ));
        }
        assert_eq!(sorted(split), expected, "{name}: restored split");

        let state = downloaded_state(&second, &tmp.path().join("h")).await;
        let mut on_heap = (case.make)();
        on_heap.restore_state(&state).unwrap();
        assert!(
            on_heap.open(&context(ManualClock::new(0))).is_err(),
            "{name}: a rocksdb checkpoint does not restore on the heap"
        );
    }
}

/// A savepoint is canonical: one taken on rocksdb restores on the heap, and one taken
/// on the heap restores on rocksdb, whole and split into two subtasks.
#[test]
fn savepoints_move_between_backends() {
    for case in cases() {
        let (name, steps) = (&case.name, &case.steps);
        let tmp = tempfile::tempdir().unwrap();
        let expected = reference(&case);
        let heap = context(ManualClock::new(0));
        let rocks = rocksdb_context(ManualClock::new(0), &tmp.path().join("from"));
        let at = 47;
        for (from, to_rocks) in [(&rocks, false), (&heap, true), (&rocks, true)] {
            let mut op = (case.make)();
            op.open(from).unwrap();
            let before = run(op.as_mut(), &steps[..at], from, false);
            let savepoint = op.snapshot_state(&barrier(7, true)).unwrap().unwrap();
            assert!(
                savepoint.starts_with(&[0xff, 0xff, 0xff, 0xff]),
                "{name}: an Arrow IPC stream (the canonical keyed snapshot)"
            );
            drop(op);
            let mut split = before.clone();
            for (start, end) in [(0, 63), (64, 127)] {
                let dir = tmp.path().join(format!("to-{start}"));
                let ctx = subtask_context(start, end, to_rocks.then_some(dir.as_path()));
                let mut half = (case.make)();
                half.restore_state(&savepoint).unwrap();
                half.open(&ctx).unwrap();
                split.extend(run(
                    half.as_mut(),
                    &own(&steps[at..], start, end),
                    &ctx,
                    true,
                ));
            }
            assert_eq!(sorted(split), expected, "{name} (onto rocksdb: {to_rocks})");
        }
    }
}

#[test]
fn stored_keys_keep_a_keys_rows_together_in_time_order() {
    let times = [i64::MIN, -5, -1, 0, 1, 7, i64::MAX];
    for pair in times.windows(2) {
        assert!(ordered(pair[0]) < ordered(pair[1]));
        assert_eq!(unordered(ordered(pair[0])), pair[0]);
    }
    // Join keys where one is a prefix of the other stay apart.
    let (a, ab): (KeyBytes, KeyBytes) = (b"a".as_slice().into(), b"ab".as_slice().into());
    let (pa, pab) = (prefix(0, &a).unwrap(), prefix(0, &ab).unwrap());
    assert!(!pab.starts_with(&pa));
    let mut stored = pa.clone();
    stored.extend_from_slice(&ordered(-3));
    stored.extend_from_slice(&9u64.to_be_bytes());
    let (side, key, time, seq) = decode_key::<KeyBytes>(&stored).unwrap();
    assert_eq!((side, &key[..], time, seq), (0, b"a".as_slice(), -3, 9));
    let window: (KeyBytes, (i64, i64)) = (a.clone(), (-10, 0));
    let mut stored = prefix(1, &window).unwrap();
    stored.extend_from_slice(&ordered(0));
    stored.extend_from_slice(&0u64.to_be_bytes());
    let (side, key, time, _) = decode_key::<(KeyBytes, (i64, i64))>(&stored).unwrap();
    assert_eq!((side, key, time), (1, window, 0));
    assert!(decode_key::<KeyBytes>(&stored).is_err(), "another layout");
    assert!(decode_key::<KeyBytes>(&stored[..7]).is_err(), "cut short");
}
