//! GROUP BY on the rocksdb backend: the same changelog as on the heap (keyed,
//! global, updating input; a retractable MIN with its multisets); an incremental
//! checkpoint restores it, whole or split by key group; savepoints move between
//! backends.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use eddy_storage::Location;

use super::*;
use crate::operators::aggregate::AggregateKind;
use crate::operators::test_util::{
    barrier, context, downloaded_state, drain, rocksdb_checkpoint, rocksdb_context, sorted,
    subtask_context,
};
use crate::runtime::changelog::updating_schema;
use crate::time::clock::ManualClock;

/// A change: row kind, key, value.
type Change = (RowKind, String, i64);

fn batch(rows: &[Change], updating: bool) -> RecordBatch {
    let plain = RecordBatch::try_from_iter(vec![
        (
            "k",
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.1))) as ArrayRef,
        ),
        (
            "x",
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))) as ArrayRef,
        ),
    ])
    .unwrap();
    if !updating {
        return plain;
    }
    let mut columns = plain.columns().to_vec();
    columns.push(row_kind_array(rows.iter().map(|r| r.0)));
    RecordBatch::try_new(Arc::new(updating_schema(&plain.schema())), columns).unwrap()
}

#[derive(Debug, Clone, Copy)]
struct Case {
    keyed: bool,
    updating: bool,
    min: bool,
}

const CASES: [Case; 4] = [
    Case {
        keyed: true,
        updating: false,
        min: true,
    },
    Case {
        keyed: false,
        updating: false,
        min: false,
    },
    Case {
        keyed: true,
        updating: true,
        min: false,
    },
    // A retractable MIN: its multisets are state columns (lists), in RocksDB too.
    Case {
        keyed: true,
        updating: true,
        min: true,
    },
];

fn op(case: Case) -> GroupAggregateOperator {
    let mut aggregates = vec![
        AggregateSpec::count_star("cnt"),
        AggregateSpec::new(AggregateKind::Sum, Some(1), "s"),
        AggregateSpec::new(AggregateKind::Avg, Some(1), "a"),
    ];
    if case.min {
        aggregates.push(AggregateSpec::new(AggregateKind::Min, Some(1), "m"));
    }
    let spec = GroupAggregateSpec {
        key_columns: if case.keyed { vec![0] } else { vec![] },
        aggregates,
        input_updating: case.updating,
    };
    let schema = batch(&[], false).schema();
    GroupAggregateOperator::new("GroupAggregate", spec, schema).unwrap()
}

/// 30 batches of 20 changes over 13 keys; an updating input retracts earlier rows
/// (every key loses all its rows at some point, and comes back).
fn batches(case: Case) -> Vec<Vec<Change>> {
    let mut live: Vec<(String, i64)> = Vec::new();
    (0..30)
        .map(|b| {
            (0..20)
                .map(|i| {
                    let n = b * 20 + i;
                    let retract = case.updating && n % 3 == 2 && !live.is_empty();
                    if retract {
                        let (k, x) = live.remove((n as usize * 7) % live.len());
                        (RowKind::Delete, k, x)
                    } else {
                        let (k, x) = (format!("k{}", n * 5 % 13), n * 31 % 97);
                        live.push((k.clone(), x));
                        (RowKind::Insert, k, x)
                    }
                })
                .collect()
        })
        .collect()
}

/// The changelog of `batches` through `op`.
fn run(
    op: &mut GroupAggregateOperator,
    ctx: &OperatorContext,
    case: Case,
    batches: &[Vec<Change>],
) -> Vec<String> {
    let mut out = Output::default();
    for b in batches {
        op.process_batch(0, batch(b, case.updating), ctx, &mut out)
            .unwrap();
    }
    drain(&mut out).0
}

fn reference(case: Case) -> Vec<String> {
    let ctx = context(ManualClock::new(0));
    let mut op = op(case);
    op.open(&ctx).unwrap();
    run(&mut op, &ctx, case, &batches(case))
}

#[test]
fn rocksdb_groups_give_the_heaps_changelog() {
    for case in CASES {
        let tmp = tempfile::tempdir().unwrap();
        let ctx = rocksdb_context(ManualClock::new(0), tmp.path());
        let mut op = op(case);
        op.open(&ctx).unwrap();
        let changelog = run(&mut op, &ctx, case, &batches(case));
        assert!(changelog.len() >= 59, "{case:?}");
        assert_eq!(changelog, reference(case), "{case:?}");
        let st = op.state.as_ref().unwrap();
        assert!(st.groups.table.is_empty(), "{case:?}: nothing on the heap");
        assert_eq!(
            st.aggs.live_slots(),
            0,
            "{case:?}: no slot outlives a batch"
        );
    }
}

/// An incremental checkpoint after 12 batches restores into one subtask (adopting
/// the database) and into two of half the key groups each (importing their
/// ranges): the changelog goes on as one uninterrupted run's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rocksdb_checkpoint_restores_whole_or_split_by_key_group() {
    for case in &CASES {
        let case = *case;
        let tmp = tempfile::tempdir().unwrap();
        let storage = tempfile::tempdir().unwrap();
        let job = Location::open(storage.path().to_str().unwrap())
            .unwrap()
            .child("job");
        let all = batches(case);
        let ctx = rocksdb_context(ManualClock::new(0), &tmp.path().join("a"));
        let mut first = op(case);
        first.open(&ctx).unwrap();
        let mut changelog = run(&mut first, &ctx, case, &all[..6]);
        let one = rocksdb_checkpoint(&mut first, 1, &job).await;
        first.notify_checkpoint_complete(1).unwrap();
        changelog.extend(run(&mut first, &ctx, case, &all[6..12]));
        let two = rocksdb_checkpoint(&mut first, 2, &job).await;
        assert!(
            two.shared_files
                .iter()
                .any(|f| one.shared_files.contains(f)),
            "{case:?}: the second checkpoint reuses the first's files"
        );
        drop(first);

        let state = downloaded_state(&two, &tmp.path().join("r")).await;
        let ctx = rocksdb_context(ManualClock::new(0), &tmp.path().join("b"));
        let mut restored = op(case);
        restored.restore_state(&state).unwrap();
        restored.open(&ctx).unwrap();
        let mut whole = changelog.clone();
        whole.extend(run(&mut restored, &ctx, case, &all[12..]));
        assert_eq!(whole, reference(case), "{case:?}");

        if !case.keyed {
            continue;
        }
        let mut split = changelog;
        for (i, (start, end)) in [(0, 63), (64, 127)].into_iter().enumerate() {
            let state = downloaded_state(&two, &tmp.path().join(format!("r{i}"))).await;
            let dir = tmp.path().join(format!("s{i}"));
            let ctx = subtask_context(start, end, Some(&dir));
            let mut half = op(case);
            half.restore_state(&state).unwrap();
            half.open(&ctx).unwrap();
            let own: Vec<Vec<Change>> = all[12..]
                .iter()
                .map(|b| own_changes(b, start, end))
                .collect();
            split.extend(run(&mut half, &ctx, case, &own));
        }
        assert_eq!(sorted(split), sorted(reference(case)), "{case:?}");
    }
}

/// The changes of key groups `start..=end`.
fn own_changes(changes: &[Change], start: u32, end: u32) -> Vec<Change> {
    let encoded = KeyEncoder::new(&batch(&[], false).schema(), &[0])
        .unwrap()
        .encode(&batch(changes, false), 128)
        .unwrap();
    changes
        .iter()
        .zip(&encoded.key_groups)
        .filter(|(_, kg)| (start..=end).contains(*kg))
        .map(|(c, _)| c.clone())
        .collect()
}

/// Savepoints are canonical: rocksdb → heap and heap → rocksdb.
#[test]
fn savepoints_move_between_backends() {
    let case = CASES[2];
    let tmp = tempfile::tempdir().unwrap();
    let all = batches(case);
    let heap = context(ManualClock::new(0));
    let rocks = rocksdb_context(ManualClock::new(0), tmp.path());
    for (from, to) in [(&rocks, &heap), (&heap, &rocks)] {
        let mut first = op(case);
        first.open(from).unwrap();
        let mut changelog = run(&mut first, from, case, &all[..15]);
        let savepoint = first
            .snapshot_state(&barrier(9, true))
            .unwrap()
            .expect("groups");
        drop(first);
        let mut restored = op(case);
        restored.restore_state(&savepoint).unwrap();
        restored.open(to).unwrap();
        changelog.extend(run(&mut restored, to, case, &all[15..]));
        assert_eq!(changelog, reference(case));
    }
}
