//! Helpers for operator tests: an `OperatorContext` as the brief prescribes and
//! collecting an `Output` into rows of text.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::key_groups::KeyGroupRange;
use crate::runtime::message::Timestamp;
use crate::runtime::metrics::SubtaskMetrics;
use crate::runtime::operator::{Emit, OperatorContext, Output, SubtaskInfo};
use crate::state::memory::MemoryBudget;
use crate::time::clock::ManualClock;

pub fn context(clock: Arc<ManualClock>) -> OperatorContext {
    OperatorContext {
        subtask: SubtaskInfo {
            job_name: "test".into(),
            vertex_name: "op".into(),
            index: 0,
            parallelism: 1,
            max_parallelism: 128,
            key_group_range: KeyGroupRange { start: 0, end: 127 },
        },
        clock,
        metrics: SubtaskMetrics::new(),
        memory: MemoryBudget::unlimited(),
        state_backend: crate::state::backend::StateBackend::HashMap,
    }
}

/// A context whose keyed state lives in RocksDB under `dir`.
pub fn rocksdb_context(clock: Arc<ManualClock>, dir: &std::path::Path) -> OperatorContext {
    let mut ctx = context(clock);
    let slot =
        crate::state::rocksdb::RocksDbSlot::new(dir.to_path_buf(), MemoryBudget::new(64 << 20))
            .expect("rocksdb slot");
    ctx.state_backend = crate::state::backend::StateBackend::RocksDb(slot);
    ctx
}

/// A checkpoint's (or with `savepoint`, a savepoint's) barrier.
pub fn barrier(checkpoint_id: u64, savepoint: bool) -> crate::runtime::message::CheckpointBarrier {
    crate::runtime::message::CheckpointBarrier {
        checkpoint_id,
        timestamp_ms: 0,
        savepoint,
    }
}

/// Every row emitted, as `col|col|…` text, and the watermarks, in order.
pub fn drain(out: &mut Output) -> (Vec<String>, Vec<Timestamp>) {
    let (mut rows, mut wms) = (Vec::new(), Vec::new());
    for e in out.drain() {
        match e {
            Emit::Batch(b) => rows.extend(batch_rows(&b)),
            Emit::Watermark(w) => wms.push(w),
        }
    }
    (rows, wms)
}

pub fn batch_rows(b: &RecordBatch) -> Vec<String> {
    let opts = FormatOptions::default().with_null("NULL");
    let fmts: Vec<_> = b
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).unwrap())
        .collect();
    (0..b.num_rows())
        .map(|r| {
            fmts.iter()
                .map(|f| f.value(r).to_string())
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

/// Sorted rows (for results whose order within one firing is unspecified).
pub fn sorted(mut rows: Vec<String>) -> Vec<String> {
    rows.sort();
    rows
}

/// Takes checkpoint `id` of `op` on the rocksdb backend as a worker does: the
/// operator's snapshot, then the writer's upload of its RocksDB files under `job`.
pub async fn rocksdb_checkpoint(
    op: &mut dyn crate::runtime::operator::Operator,
    id: u64,
    job: &eddy_storage::Location,
) -> crate::state::rocksdb::transfer::Finalized {
    let state = op
        .snapshot_state(&barrier(id, false))
        .unwrap()
        .expect("state");
    let snapshot = eddy_api::snapshot::encode_snapshot(None, vec![Some(state)]);
    crate::state::rocksdb::transfer::finalize_snapshot(&snapshot, job, id, 0, 0)
        .await
        .unwrap()
}

/// The operator state a restore hands to `restore_state` for a checkpoint taken by
/// [`rocksdb_checkpoint`]: its files downloaded under `dir`, as the task executor does.
pub async fn downloaded_state(
    checkpoint: &crate::state::rocksdb::transfer::Finalized,
    dir: &std::path::Path,
) -> Vec<u8> {
    let sections = eddy_api::snapshot::decode_snapshot(&checkpoint.bytes).unwrap();
    let (kind, _, handle) = &sections[0];
    assert_eq!(*kind, eddy_api::snapshot::SECTION_OPERATOR);
    let uploaded = crate::state::rocksdb::handle::UploadedSnapshot::decode(handle)
        .expect("an uploaded rocksdb handle")
        .unwrap();
    let (downloaded, _) = crate::state::rocksdb::transfer::download(&uploaded, dir)
        .await
        .unwrap();
    downloaded.encode().unwrap()
}

/// A context of the subtask owning key groups `start..=end`, on rocksdb under `dir`
/// when given.
pub fn subtask_context(start: u32, end: u32, rocksdb: Option<&std::path::Path>) -> OperatorContext {
    let mut ctx = match rocksdb {
        Some(dir) => rocksdb_context(ManualClock::new(0), dir),
        None => context(ManualClock::new(0)),
    };
    ctx.subtask.key_group_range = KeyGroupRange { start, end };
    ctx
}

/// One step of an operator run: a batch into an input, or a watermark.
#[derive(Clone)]
pub enum Step {
    Batch(usize, RecordBatch),
    Watermark(Timestamp),
}

/// Runs `steps` (then `finish`) on `op`, returning the rows it emitted.
fn run_steps(
    op: &mut dyn crate::runtime::operator::Operator,
    steps: &[Step],
    ctx: &OperatorContext,
    finish: bool,
) -> Vec<String> {
    let mut out = Output::default();
    for step in steps {
        match step {
            Step::Batch(input, b) => op.process_batch(*input, b.clone(), ctx, &mut out).unwrap(),
            Step::Watermark(w) => op.process_watermark(*w, ctx, &mut out).unwrap(),
        }
    }
    if finish {
        op.finish(ctx, &mut out).unwrap();
    }
    drain(&mut out).0
}

/// `steps` with only the rows whose key (columns `keys[input]`) is in key groups
/// `start..=end` of 128.
fn own_steps(steps: &[Step], keys: &[Vec<usize>], start: u32, end: u32) -> Vec<Step> {
    steps
        .iter()
        .map(|s| match s {
            Step::Batch(input, b) => {
                let encoded = crate::operators::keys::KeyEncoder::new(&b.schema(), &keys[*input])
                    .unwrap()
                    .encode(b, 128)
                    .unwrap();
                let mask: arrow::array::BooleanArray = encoded
                    .key_groups
                    .iter()
                    .map(|kg| Some((start..=end).contains(kg)))
                    .collect();
                Step::Batch(
                    *input,
                    arrow::compute::filter_record_batch(b, &mask).unwrap(),
                )
            }
            w => w.clone(),
        })
        .collect()
}

/// The checkpoint test of a keyed operator: `steps` run uninterrupted by one operator
/// of `make` give the expected rows; snapshotted after `at` steps, the same operator
/// goes on unchanged; restored into a fresh one, and into two subtasks of half the
/// key groups each (given the rows of their key groups, by columns `keys[input]`),
/// the rows after the snapshot complete the same output. Returns the expected rows.
pub fn assert_restores_whole_and_split(
    make: &dyn Fn() -> Box<dyn crate::runtime::operator::Operator>,
    steps: &[Step],
    at: usize,
    keys: &[Vec<usize>],
) -> Vec<String> {
    let ctx = context(ManualClock::new(0));
    let mut reference = make();
    reference.open(&ctx).unwrap();
    let expected = sorted(run_steps(reference.as_mut(), steps, &ctx, true));

    let mut first = make();
    first.open(&ctx).unwrap();
    let before = run_steps(first.as_mut(), &steps[..at], &ctx, false);
    let snapshot = first
        .snapshot_state(&barrier(1, false))
        .unwrap()
        .expect("operator state");
    let mut uninterrupted = before.clone();
    uninterrupted.extend(run_steps(first.as_mut(), &steps[at..], &ctx, true));
    assert_eq!(
        sorted(uninterrupted),
        expected,
        "snapshotting changed the state"
    );

    let mut whole = before.clone();
    let mut restored = make();
    restored.restore_state(&snapshot).unwrap();
    restored.open(&ctx).unwrap();
    whole.extend(run_steps(restored.as_mut(), &steps[at..], &ctx, true));
    assert_eq!(sorted(whole), expected, "restored whole");

    let mut split = before;
    for (start, end) in [(0, 63), (64, 127)] {
        let ctx = subtask_context(start, end, None);
        let mut half = make();
        half.restore_state(&snapshot).unwrap();
        half.open(&ctx).unwrap();
        split.extend(run_steps(
            half.as_mut(),
            &own_steps(&steps[at..], keys, start, end),
            &ctx,
            true,
        ));
    }
    assert_eq!(sorted(split), expected, "restored split by key group");

    let mut corrupt = make();
    corrupt.restore_state(b"not a snapshot").unwrap();
    assert!(
        corrupt.open(&ctx).is_err(),
        "a corrupt snapshot is an error"
    );
    expected
}

/// The `rows` (the rows of `batch`, keyed by its first column) whose key groups of 128
/// lie in `start..=end`.
pub fn rows_in_key_groups<R: Copy>(
    rows: &[R],
    batch: &RecordBatch,
    (start, end): (u32, u32),
) -> Vec<R> {
    let encoded = crate::operators::keys::KeyEncoder::new(&batch.schema(), &[0])
        .unwrap()
        .encode(batch, 128)
        .unwrap();
    rows.iter()
        .zip(&encoded.key_groups)
        .filter(|(_, kg)| (start..=end).contains(*kg))
        .map(|(r, _)| *r)
        .collect()
}
