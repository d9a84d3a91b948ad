//! Tests of `GroupAggregateOperator`: the exact changelog of insert-only and updating
//! inputs, keyed and global.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};

use super::*;
use crate::operators::aggregate::AggregateKind;
use crate::operators::test_util::{context, drain};
use crate::runtime::changelog::updating_schema;
use crate::time::clock::ManualClock;

fn batch(rows: &[(&str, i64)]) -> RecordBatch {
    RecordBatch::try_from_iter(vec![
        (
            "k",
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef,
        ),
        (
            "x",
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))) as ArrayRef,
        ),
    ])
    .unwrap()
}

/// The same rows with a row-kind column (an updating input).
fn changes(rows: &[(RowKind, &str, i64)]) -> RecordBatch {
    let plain = batch(&rows.iter().map(|r| (r.1, r.2)).collect::<Vec<_>>());
    let mut columns = plain.columns().to_vec();
    columns.push(row_kind_array(rows.iter().map(|r| r.0)));
    RecordBatch::try_new(Arc::new(updating_schema(&plain.schema())), columns).unwrap()
}

fn op(keys: Vec<usize>, updating: bool, min: bool) -> GroupAggregateOperator {
    let mut aggregates = vec![
        AggregateSpec::count_star("cnt"),
        AggregateSpec::new(AggregateKind::Sum, Some(1), "s"),
    ];
    if min {
        aggregates.push(AggregateSpec::new(AggregateKind::Min, Some(1), "m"));
    }
    let spec = GroupAggregateSpec {
        key_columns: keys,
        aggregates,
        input_updating: updating,
    };
    GroupAggregateOperator::new("GroupAggregate", spec, batch(&[]).schema()).unwrap()
}

/// Rows as `kind|col|col…` (the row kind moved to the front, as Flink prints it).
fn changelog(out: &mut Output) -> Vec<String> {
    drain(out)
        .0
        .into_iter()
        .map(|r| {
            let (rest, kind) = r.rsplit_once('|').unwrap();
            let kind = RowKind::from_i8(kind.parse().unwrap()).unwrap();
            format!("{}{rest}", kind.short_string())
        })
        .collect()
}

#[test]
fn emits_insert_then_update_pairs_per_batch_and_nothing_when_unchanged() {
    let ctx = context(ManualClock::new(0));
    let mut op = op(vec![0], false, false);
    let mut out = Output::default();
    op.process_batch(0, batch(&[("a", 5), ("b", 1), ("a", 2)]), &ctx, &mut out)
        .unwrap();
    assert_eq!(changelog(&mut out), vec!["+Ia|2|7", "+Ib|1|1"]);
    op.process_batch(0, batch(&[("a", 4), ("c", 3)]), &ctx, &mut out)
        .unwrap();
    assert_eq!(changelog(&mut out), vec!["-Ua|2|7", "+Ua|3|11", "+Ic|1|3"]);
    // Output schema: key, aggregates, row kind.
    let names: Vec<String> = op
        .output_schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, vec!["k", "cnt", "s", "__row_kind"]);
    op.finish(&ctx, &mut out).unwrap();
    assert!(changelog(&mut out).is_empty());
}

#[test]
fn unchanged_result_emits_nothing() {
    // Only SUM: adding 0 leaves the result as it was.
    let spec = GroupAggregateSpec {
        key_columns: vec![0],
        aggregates: vec![AggregateSpec::new(AggregateKind::Sum, Some(1), "s")],
        input_updating: false,
    };
    let mut op = GroupAggregateOperator::new("g", spec, batch(&[]).schema()).unwrap();
    let ctx = context(ManualClock::new(0));
    let mut out = Output::default();
    op.process_batch(0, batch(&[("a", 5)]), &ctx, &mut out)
        .unwrap();
    op.process_batch(0, batch(&[("a", 0)]), &ctx, &mut out)
        .unwrap();
    op.process_batch(0, batch(&[("a", 1)]), &ctx, &mut out)
        .unwrap();
    assert_eq!(changelog(&mut out), vec!["+Ia|5", "-Ua|5", "+Ua|6"]);
}

#[test]
fn global_aggregate_has_one_group_and_no_key_columns() {
    let ctx = context(ManualClock::new(0));
    let mut op = op(vec![], false, false);
    let mut out = Output::default();
    op.process_batch(0, batch(&[("a", 5), ("b", 1)]), &ctx, &mut out)
        .unwrap();
    op.process_batch(0, batch(&[("c", 10)]), &ctx, &mut out)
        .unwrap();
    assert_eq!(changelog(&mut out), vec!["+I2|6", "-U2|6", "+U3|16"]);
    assert_eq!(op.output_schema().fields().len(), 3);
}

#[test]
fn retractions_update_and_delete_groups() {
    let ctx = context(ManualClock::new(0));
    let mut op = op(vec![0], true, true);
    let mut out = Output::default();
    use RowKind::*;
    op.process_batch(
        0,
        changes(&[(Insert, "a", 5), (Insert, "a", 2), (Insert, "b", 1)]),
        &ctx,
        &mut out,
    )
    .unwrap();
    assert_eq!(changelog(&mut out), vec!["+Ia|2|7|2", "+Ib|1|1|1"]);
    // a: the 2 is replaced by 9 (min goes back to 5); b is deleted; z is unknown.
    op.process_batch(
        0,
        changes(&[
            (UpdateBefore, "a", 2),
            (UpdateAfter, "a", 9),
            (Delete, "b", 1),
            (Delete, "z", 4),
        ]),
        &ctx,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        changelog(&mut out),
        vec!["-Ua|2|7|2", "+Ua|2|14|5", "-Db|1|1|1"]
    );
    // b's state is gone: it starts again with +I.
    op.process_batch(0, changes(&[(Insert, "b", 3)]), &ctx, &mut out)
        .unwrap();
    assert_eq!(changelog(&mut out), vec!["+Ib|1|3|3"]);
    // A key inserted and deleted within one batch emits nothing.
    op.process_batch(
        0,
        changes(&[(Insert, "q", 3), (Delete, "q", 3)]),
        &ctx,
        &mut out,
    )
    .unwrap();
    assert!(changelog(&mut out).is_empty());
}

#[test]
fn updating_spec_requires_row_kinds_and_state_is_freed() {
    let ctx = context(ManualClock::new(0));
    let mut op = op(vec![0], true, false);
    let mut out = Output::default();
    assert!(
        op.process_batch(0, batch(&[("a", 1)]), &ctx, &mut out)
            .is_err()
    );
    op.process_batch(0, changes(&[(RowKind::Insert, "a", 1)]), &ctx, &mut out)
        .unwrap();
    op.process_batch(0, changes(&[(RowKind::Delete, "a", 1)]), &ctx, &mut out)
        .unwrap();
    let st = op.state.as_ref().unwrap();
    assert!(st.groups.table.is_empty());
    assert_eq!(st.aggs.live_slots(), 0);
}

/// A restored operator goes on from the snapshot: updates, not fresh inserts, for the
/// keys it held; a retractable MIN restores its multisets.
#[test]
fn restores_its_groups_from_a_snapshot() {
    let ctx = context(ManualClock::new(0));
    let mut first = op(vec![0], false, true);
    let mut out = Output::default();
    first.open(&ctx).unwrap();
    first
        .process_batch(0, batch(&[("a", 5), ("b", 1), ("a", 2)]), &ctx, &mut out)
        .unwrap();
    let snapshot = first
        .snapshot_state(&crate::operators::test_util::barrier(1, false))
        .unwrap()
        .expect("groups");
    changelog(&mut out);

    let mut restored = op(vec![0], false, true);
    restored.restore_state(&snapshot).unwrap();
    restored.open(&ctx).unwrap();
    restored
        .process_batch(0, batch(&[("a", 1), ("c", 3)]), &ctx, &mut out)
        .unwrap();
    assert_eq!(
        changelog(&mut out),
        vec!["-Ua|2|7|2", "+Ua|3|8|1", "+Ic|1|3|3"]
    );

    let mut updating = op(vec![0], true, true);
    updating.open(&ctx).unwrap();
    let inserts = [
        (RowKind::Insert, "a", 1),
        (RowKind::Insert, "a", 4),
        (RowKind::Insert, "b", 2),
    ];
    updating
        .process_batch(0, changes(&inserts), &ctx, &mut out)
        .unwrap();
    changelog(&mut out);
    // A retractable MIN's multisets are state: retracting the minimum after a restore
    // finds the next one, as the uninterrupted operator does.
    let snapshot = updating
        .snapshot_state(&crate::operators::test_util::barrier(2, false))
        .unwrap()
        .expect("groups");
    let mut restored = op(vec![0], true, true);
    restored.restore_state(&snapshot).unwrap();
    restored.open(&ctx).unwrap();
    let retract = [(RowKind::Delete, "a", 1), (RowKind::UpdateBefore, "b", 2)];
    updating
        .process_batch(0, changes(&retract), &ctx, &mut out)
        .unwrap();
    let expected = changelog(&mut out);
    restored
        .process_batch(0, changes(&retract), &ctx, &mut out)
        .unwrap();
    assert_eq!(changelog(&mut out), expected);
    assert!(expected.iter().any(|r| r.contains("|4")), "{expected:?}");
}
