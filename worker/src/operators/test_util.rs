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
